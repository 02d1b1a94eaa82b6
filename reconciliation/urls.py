from django.urls import path

from reconciliation import views

urlpatterns = [
    path("reconciliation/", views.day_list, name="recon_days"),
    path("reconciliation/run", views.run_now, name="recon_run"),
    path("reconciliation/month/<str:month>/", views.month_detail, name="recon_month"),
    path("reconciliation/month/<str:month>/export.csv", views.month_export, name="recon_month_export"),
    path("reconciliation/<str:day>/", views.day_detail, name="recon_day"),
    path("reconciliation/<str:day>/export.csv", views.day_export, name="recon_day_export"),
]
