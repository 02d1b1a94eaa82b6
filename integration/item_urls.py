"""URLs of the Items screen (issue 4), included from config/urls.py."""

from django.urls import path

from integration import item_views

urlpatterns = [
    path("items/", item_views.item_list, name="item_list"),
    path("items/export.csv", item_views.item_export, name="item_export"),
    path("items/findings.csv", item_views.finding_export, name="item_findings_export"),
    path("items/<str:sku>/", item_views.item_detail, name="item_detail"),
]
