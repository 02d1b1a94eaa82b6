"""Filling the dashboard's forms the way a person does, for the journeys that share them."""

from __future__ import annotations

from playwright.sync_api import Page


def fill_seko_service(page: Page, courier_name: str, courier_service: str, *, description: str | None = None,
                      service_level: str | None = None) -> None:
    """The Seko side of a carrier mapping row's form (the page is on the form)."""
    page.fill("#id_seko_courier_name", courier_name)
    page.fill("#id_seko_courier_service", courier_service)
    if description is not None:
        page.fill("#id_seko_service_description", description)
    if service_level is not None:
        page.select_option("#id_service_level", service_level)
