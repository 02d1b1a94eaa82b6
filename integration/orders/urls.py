"""URLs of the orders screens: the list, an order's detail, a retransmit."""

from django.urls import path

from integration.orders import views

urlpatterns = [
    path("orders/", views.order_list, name="order_list"),
    path("orders/<str:ord_num>/", views.order_detail, name="order_detail"),
    path("orders/<str:ord_num>/retransmit", views.order_retransmit, name="order_retransmit"),
]
