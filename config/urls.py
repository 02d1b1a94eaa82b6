from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

# One URL module per app; each app's rooms keep their own routes.
urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("exceptions/", include("exceptions.urls")),
    path("", include("reconciliation.urls")),
    path("", include("integration.urls")),
    path("api/", include("config.api_urls")),
]
