"""URLs of the cross-reference tables. <kind> is "warehouses" or "carriers"
(integration.mappings.tables.TABLES); anything else is a 404."""

from django.urls import path

from integration.mappings import views

urlpatterns = [
    path("mappings/warehouses/", views.mapping_list, {"kind": "warehouses"}, name="mapping_list_warehouses"),
    path("mappings/<str:kind>/", views.mapping_list, name="mapping_list"),
    path("mappings/<str:kind>/new", views.mapping_edit, name="mapping_new"),
    path("mappings/<str:kind>/preview", views.mapping_preview, name="mapping_preview"),
    path("mappings/<str:kind>/export.csv", views.mapping_export, name="mapping_export"),
    path("mappings/<str:kind>/import", views.mapping_import, name="mapping_import"),
    path("mappings/<str:kind>/<int:pk>/", views.mapping_edit, name="mapping_edit"),
    path("mappings/<str:kind>/<int:pk>/active", views.mapping_set_active, name="mapping_set_active"),
    path("mappings/<str:kind>/<int:pk>/history", views.mapping_history, name="mapping_history"),
]
