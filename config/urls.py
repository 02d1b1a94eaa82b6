from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from integration import metrics, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/workers", views.healthz_workers, name="healthz_workers"),
    path("metrics", metrics.metrics_view, name="metrics"),  # Prometheus; Bearer METRICS_TOKEN
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Dispatch confirmations (issue 5): Seko's webhook, the overdue page, a dispatch's release form.
    path("", include("integration.dispatch_urls")),
    # Stock (issue 6): positions, buffers, last published, drift.
    path("", include("integration.stock_urls")),
    # Reconciliation (issue 7): finance's days, differences, month-end, CSV.
    path("", include("reconciliation.urls")),
    # The operations manual (issue 10): docs/operations.md and its pages and images, at /help/.
    path("", include("integration.help_urls")),
    # Items (issue 4): sync status per SKU, audit findings, CSV.
    path("", include("integration.item_urls")),
    # The dashboard (issue 3): exception queue, orders, cross-reference tables, the JSON API.
    path("exceptions/", include("exceptions.urls")),
    path("", include("integration.urls")),
    path("api/", include("config.api_urls")),
]
