"""URLs of the home page, the health checks, /metrics and the operations manual."""

from django.urls import path

from integration.overview import help, metrics, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/workers", views.healthz_workers, name="healthz_workers"),
    path("metrics", metrics.metrics_view, name="metrics"),  # Prometheus; Bearer METRICS_TOKEN
    # docs/operations.md and its pages and images, rendered server-side.
    path("help/", help.manual, name="help"),
    path("help/screenshots/<str:name>", help.image, {"folder": "screenshots"}, name="help_screenshot"),
    path("help/<str:page>.md", help.manual, name="help_page"),
    path("help/<str:name>", help.image, name="help_image"),
]
