"""Every path is under /api/, like the real base URL ``https://ihub.../api/``; _sim beside it."""

from django.urls import include, path, re_path

from . import control, views

sim = [
    path("reset", control.reset),
    path("state", control.state),
    path("dcs", control.dcs),
    path("services", control.services),
    path("products", control.products),
    path("stock", control.stock),
    path("stock/config", control.stock_config),
    path("orders", control.orders),
    path("order-times", control.order_times),
    path("orders/<str:so>/status", control.order_set_status),
    path("submit-attempts", control.submit_attempts),
    path("warehouse/advance", control.warehouse_advance),
    path("warehouse/adjust", control.warehouse_adjust),
    path("warehouse/move", control.warehouse_move),
    path("warehouse/overnight", control.warehouse_overnight),
    path("config", control.config),
    path("push/flush", control.push_flush),
    path("pushes", control.push_outbox),
    path("faults", control.fault_config),
]

ihub = [
    path("products/v4/submit", views.product_submit),
    path("products/v4/update", views.product_update),
    path("products/v4/all", views.product_list),
    path("products/v4/<str:product_code>", views.product_detail),
    path("salesorders/v4/submit", views.order_submit),
    path("salesorders/v4/<str:so>/status", views.order_status),
    path("salesorders/v4/<str:so>/dispatch", views.order_dispatch),
    path("salesorders/v3/<str:so>/cancel", views.order_cancel),
    path("stock/v3/quantity", views.stock_quantity),
    path("dispatches/v1/status/<str:start>/<str:end>", views.dispatch_poll),
    path("reference/v1/dcs", views.reference_dcs),
    path("reference/v1/courierservices", views.reference_courier_services),
]

urlpatterns = [
    path("api/_sim/", include(sim)),
    path("api/", include(ihub)),
    re_path(r"^(?P<path>.*)$", views.not_found),
]
