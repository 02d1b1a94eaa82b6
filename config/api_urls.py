"""The JSON API (DRF) and its OpenAPI schema. Register new viewsets on ``router`` here."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from exceptions.api import ExceptionViewSet
from integration.api import CarrierMappingViewSet, OrderViewSet, WarehouseMappingViewSet
from integration.shared.roles import HasCapability


class SchemaView(SpectacularAPIView):
    permission_classes = [HasCapability]
    capability = "view_api_schema"


class DocsView(SpectacularSwaggerView):
    permission_classes = [HasCapability]
    capability = "view_api_schema"


class RootView(DefaultRouter.APIRootView):
    permission_classes = [HasCapability]
    capability = "view_api_schema"


router = DefaultRouter()
router.APIRootView = RootView
router.register("exceptions", ExceptionViewSet, basename="api-exception")
router.register("orders", OrderViewSet, basename="api-order")
router.register("mappings/warehouses", WarehouseMappingViewSet, basename="api-warehouse-mapping")
router.register("mappings/carriers", CarrierMappingViewSet, basename="api-carrier-mapping")

urlpatterns = [
    path("schema/", SchemaView.as_view(), name="api_schema"),
    path("docs/", DocsView.as_view(url_name="api_schema"), name="api_docs"),
    path("", include(router.urls)),
]
