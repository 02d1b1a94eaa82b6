"""URLs of the stock screen: positions, buffers, last published, drift."""

from django.urls import path

from integration.stock import views

urlpatterns = [
    path("stock/", views.stock_positions, name="stock_positions"),
]
