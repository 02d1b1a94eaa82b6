"""URLs of the Items screen: sync status per SKU, audit findings, CSV."""

from django.urls import path

from integration.items import views

urlpatterns = [
    path("items/", views.item_list, name="item_list"),
    path("items/export.csv", views.item_export, name="item_export"),
    path("items/findings.csv", views.finding_export, name="item_findings_export"),
    path("items/<str:sku>/", views.item_detail, name="item_detail"),
]
