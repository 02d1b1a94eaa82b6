from django.urls import path

from exceptions import views

urlpatterns = [
    path("", views.queue, name="exception_queue"),
    path("badge", views.badge, name="exception_badge"),
    path("export.csv", views.export, name="exception_export"),
    path("bulk", views.bulk, name="exception_bulk"),
    path("<int:pk>/", views.detail, name="exception_detail"),
    path("<int:pk>/<str:action>", views.act, name="exception_action"),
]
