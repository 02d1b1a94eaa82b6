"""Every URL of the simulated Blue Cherry, all under /api/v1/ as behind Azure API Management."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from simulators.bluecherry import control, user_pages, views

api = [
    path("items", views.items),
    path("items/status", views.item_statuses),  # before items/<sku>, which would take it
    path("items/<str:sku>", views.item),
    path("items/<str:sku>/status", views.item_status),
    path("sales-orders", views.orders),
    path("sales-orders/<str:ord_num>", views.order),
    path("sales-orders/<str:ord_num>/pick-ticket", views.order_pick_ticket),
    path("shipments", views.shipments),
    path("shipments/<str:ship_num>", views.shipment),
    path("invoices", views.invoices),
    path("inventory", views.inventory),
    path("inventory/ats-updates", views.ats_updates),
    path("inventory/ats-updates/<str:batch_id>", views.ats_update),
    path("_sim/reset", control.sim_reset),
    path("_sim/state", control.sim_state),
    path("_sim/items", control.sim_items),
    path("_sim/inventory", control.sim_inventory),
    path("_sim/orders", control.sim_orders),
    path("_sim/orders/<str:ord_num>", control.sim_order),
    path("_sim/orders/<str:ord_num>/cancel", control.sim_order_cancel),
    path("_sim/notifications", control.sim_notifications),
    path("_sim/generate", control.sim_generate),
    path("_sim/order-times", control.sim_order_times),
    path("_sim/faults", control.sim_faults),
    # Planted differences for the reconciliation (issue 7).
    path("_sim/invoices", control.sim_invoices),
    path("_sim/invoices/<str:invoice_num>", control.sim_invoice),
    path("_sim/shipments/<str:ship_num>", control.sim_shipment),
]

# The demo's pages for the person playing the Blue Cherry user (HTML, not part of the contract).
user = [
    path("", user_pages.home),
    path("sign-in", user_pages.sign_in),
    path("orders/<str:ord_num>", user_pages.order_page),
    path("items/<str:sku>", user_pages.item_page),
]

urlpatterns = [path("api/v1/", include(api)), path("user/", include(user))]


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "not_found", "message": f"No such endpoint: {request.path}"}}, status=404
    )


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"error": {"code": "internal_error", "message": "Unexpected error."}}, status=500)


handler404 = not_found
handler500 = server_error
