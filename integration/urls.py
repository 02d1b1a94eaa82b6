"""The integration app's URLs: each room's own, mounted at the root by config/urls.py."""

from django.urls import include, path

urlpatterns = [
    path("", include("integration.overview.urls")),
    path("", include("integration.pushes.urls")),
    path("", include("integration.orders.urls")),
    path("", include("integration.items.urls")),
    path("", include("integration.dispatches.urls")),
    path("", include("integration.stock.urls")),
    path("", include("integration.mappings.urls")),
]
