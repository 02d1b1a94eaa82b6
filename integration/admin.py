from django.contrib import admin
from django.urls import path
from simple_history.admin import SimpleHistoryAdmin

from integration.models import (
    CarrierMapping,
    Item,
    MessageLog,
    Order,
    OrderEvent,
    OrderLine,
    StockBufferOverride,
    SyncCursor,
    WarehouseMapping,
)


class HistoryAdmin(SimpleHistoryAdmin):
    """The cross-reference tables and buffer overrides keep their history (who, when, before and
    after): SimpleHistoryAdmin adds a History page to each row, with the changes field by field.
    Its one version page is routed with named parts here (it uses unnamed regex groups), so the
    URL walk behind the access tests and docs/permissions.md can build a sample path for it."""

    def get_urls(self) -> list:
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}_simple_history"
        urls = [u for u in super().get_urls() if getattr(u, "name", None) != name]
        return [path("<path:object_id>/history/<str:version_id>/",
                     self.admin_site.admin_view(self.history_form_view), name=name), *urls]


@admin.register(WarehouseMapping)
class WarehouseMappingAdmin(HistoryAdmin):
    list_display = ["bc_location", "seko_dc_code", "description", "active", "updated_at"]
    list_filter = ["active"]
    search_fields = ["bc_location", "seko_dc_code"]


@admin.register(CarrierMapping)
class CarrierMappingAdmin(HistoryAdmin):
    list_display = ["bc_ship_via", "seko_courier_name", "seko_courier_service", "seko_service_description",
                    "service_level", "active"]
    list_filter = ["active", "seko_courier_name"]
    search_fields = ["bc_ship_via", "seko_courier_name", "seko_courier_service", "seko_service_description"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    readonly_fields = ["line_no", "sku", "upc", "qty_ordered", "qty_shipped", "qty_cancelled", "unit_price",
                       "seko_line_number"]
    can_delete = False


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    readonly_fields = ["at", "from_status", "to_status", "note"]
    can_delete = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["ord_num", "status", "bc_status", "location", "ship_via", "seko_guid", "sent_at", "updated_at"]
    list_filter = ["status", "location", "ship_via"]
    search_fields = ["ord_num", "customer", "seko_guid"]
    inlines = [OrderLineInline, OrderEventInline]
    readonly_fields = [f.name for f in Order._meta.fields]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["sku", "upc", "description", "bc_status", "bc_updated_at"]
    list_filter = ["bc_status"]
    search_fields = ["sku", "upc"]


@admin.register(MessageLog)
class MessageLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "system", "operation", "method", "status_code", "duration_ms", "order"]
    list_filter = ["system", "operation", "status_code"]
    search_fields = ["order__ord_num", "url"]
    list_select_related = ["order"]
    readonly_fields = [f.name for f in MessageLog._meta.fields]


@admin.register(SyncCursor)
class SyncCursorAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "last_run_at", "last_success_at", "last_error"]


# --- issue 10: a person's stock buffer for one SKU (docs/stock.md and the operations manual send
# people here to set one; the next publish uses it instead of the velocity buffer) ---------------
@admin.register(StockBufferOverride)
class StockBufferOverrideAdmin(HistoryAdmin):
    list_display = ["sku", "buffer", "note", "updated_at"]
    history_list_display = ["buffer", "note"]
    search_fields = ["sku"]
