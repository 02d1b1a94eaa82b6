"""Orders and the cross-reference tables over JSON, with the screens' role checks."""

from __future__ import annotations

from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from integration.mappings.releases import release_preview
from integration.mappings.tables import TABLES
from integration.models import CarrierMapping, Order, OrderEvent, OrderLine, WarehouseMapping
from integration.orders import flow as order_flow
from integration.orders.filters import OrderFilter
from integration.shared.roles import HasCapability


class NewestFirst(CursorPagination):
    """Keyset pages: the same cost on the first page and the ten-thousandth, no COUNT(*)."""

    ordering = "-id"
    page_size = 50


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["line_no", "sku", "qty_ordered", "qty_shipped", "qty_cancelled", "seko_line_number"]


class OrderEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["at", "from_status", "to_status", "note"]


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["ord_num", "status", "bc_status", "customer", "channel", "location", "ship_via", "problems",
                  "attempts", "last_error", "seko_guid", "seko_dc_code", "created_at", "sent_at", "pick_ticket_at",
                  "dispatched_at", "cancelled_at", "updated_at"]


class OrderDetailSerializer(OrderSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    events = OrderEventSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = [*OrderSerializer.Meta.fields, "ship_to", "lines", "events"]


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Orders, newest first. Filters: status, location, ship_via, q (order-number prefix or customer)."""

    permission_classes = [HasCapability]
    capability = "view_orders"
    write_capability = "retransmit_orders"
    lookup_field = "ord_num"
    lookup_value_regex = "[^/]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter
    pagination_class = NewestFirst
    queryset = Order.objects.all()

    def get_queryset(self):
        if self.action == "retrieve":
            return Order.objects.prefetch_related("lines", "events")
        return super().get_queryset()

    def get_serializer_class(self):
        return OrderDetailSerializer if self.action == "retrieve" else OrderSerializer

    @extend_schema(request=None, responses={200: OrderSerializer, 409: inline_serializer(
        "Refusal", {"detail": serializers.CharField()})})
    @action(detail=True, methods=["post"])
    def retransmit(self, request: Request, ord_num: str | None = None) -> Response:
        """Re-fetch from Blue Cherry, re-validate and send now (orders not yet at Seko)."""
        order = self.get_object()
        try:
            after = order_flow.retransmit_order(order, who=request.user.username)
        except order_flow.ActionRefused as refused:
            return Response({"detail": str(refused)}, status=status.HTTP_409_CONFLICT)
        return Response(OrderSerializer(after).data)


class _MappingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """A cross-reference table. No DELETE: set ``active`` false to deactivate (history stays).
    Saving an active row releases the orders it blocked; the response says how many
    (``released_orders``)."""

    permission_classes = [HasCapability]
    capability = "view_mappings"
    write_capability = "edit_mappings"
    table_slug = ""

    def perform_save(self, serializer) -> None:
        table = TABLES[self.table_slug]
        data = {**({} if serializer.instance is None else serializer.to_representation(serializer.instance)),
                **serializer.validated_data}
        self.released = release_preview(table, data.get(table.key_field, ""), data.get("active", True))
        with transaction.atomic():
            serializer.save()

    perform_create = perform_save
    perform_update = perform_save

    def finalize_response(self, request, response, *args, **kwargs):
        if request.method in ("POST", "PUT", "PATCH") and response.status_code < 300 and hasattr(self, "released"):
            response.data["released_orders"] = self.released
        return super().finalize_response(request, response, *args, **kwargs)


class WarehouseMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = WarehouseMapping
        fields = ["id", "bc_location", "seko_dc_code", "description", "active", "updated_at"]


class CarrierMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = CarrierMapping
        fields = ["id", "bc_ship_via", "seko_courier_name", "seko_courier_service", "service_level", "description",
                  "active", "updated_at"]


class WarehouseMappingViewSet(_MappingViewSet):
    table_slug = "warehouses"
    serializer_class = WarehouseMappingSerializer
    queryset = WarehouseMapping.objects.order_by("bc_location")


class CarrierMappingViewSet(_MappingViewSet):
    table_slug = "carriers"
    serializer_class = CarrierMappingSerializer
    queryset = CarrierMapping.objects.order_by("bc_ship_via")
