"""URLs of the stock screens (issue 6), included from config/urls.py."""

from django.urls import path

from integration import stock_views

urlpatterns = [
    path("stock/", stock_views.stock_positions, name="stock_positions"),
]
