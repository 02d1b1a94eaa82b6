"""The dashboard's order and cross-reference screens (issue 3)."""

from django.urls import path

from integration import mapping_views, order_views

urlpatterns = [
    path("orders/", order_views.order_list, name="order_list"),
    path("orders/<str:ord_num>/", order_views.order_detail, name="order_detail"),
    path("orders/<str:ord_num>/retransmit", order_views.order_retransmit, name="order_retransmit"),
    # <kind> is "warehouses" or "carriers" (integration.mappings.TABLES); anything else is a 404.
    path("mappings/warehouses/", mapping_views.mapping_list, {"kind": "warehouses"}, name="mapping_list_warehouses"),
    path("mappings/<str:kind>/", mapping_views.mapping_list, name="mapping_list"),
    path("mappings/<str:kind>/new", mapping_views.mapping_edit, name="mapping_new"),
    path("mappings/<str:kind>/preview", mapping_views.mapping_preview, name="mapping_preview"),
    path("mappings/<str:kind>/export.csv", mapping_views.mapping_export, name="mapping_export"),
    path("mappings/<str:kind>/import", mapping_views.mapping_import, name="mapping_import"),
    path("mappings/<str:kind>/<int:pk>/", mapping_views.mapping_edit, name="mapping_edit"),
    path("mappings/<str:kind>/<int:pk>/active", mapping_views.mapping_set_active, name="mapping_set_active"),
    path("mappings/<str:kind>/<int:pk>/history", mapping_views.mapping_history, name="mapping_history"),
]
