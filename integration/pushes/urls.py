"""Seko's push door: the one URL open to anonymous callers besides login (Seko authenticates
with its token and, where it can, a Standard Webhooks signature)."""

from django.urls import path

from integration.pushes import views

urlpatterns = [
    path("webhooks/seko/", views.seko_push, name="seko_webhook"),
]
