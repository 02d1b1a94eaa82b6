"""Items and administration without dead ends: exactly the fields Seko's product is made of
resend an item; Retry on item.sync_failed sends the item as Blue Cherry has it now; schedule
timings in the settings take effect as the workers start; the integration-admin group is enough
for the Admin link and the admin; the manual says where digests go and what to set."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django_q.models import Schedule
from django_q.signals import post_spawn

from exceptions import catalogue
from exceptions import services as queue
from exceptions.models import IntegrationException
from integration.items import flow as items
from integration.items.mapper import PRODUCT_FIELDS, fingerprint, map_product
from integration.models import Item
from integration.schedules import ensure_schedules
from tests.factories import BlueCherryItemFactory, valid_upc
from tests.test_order_flow import world  # noqa: F401

pytestmark = pytest.mark.django_db
MANUAL = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


def member(group: str, **fields) -> User:
    user = User.objects.create_user(f"{group}-user", **fields)
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


# --- Items: which fields resend, and Retry -------------------------------------------------------

def full_item() -> dict:
    return {**BlueCherryItemFactory(sku="10023-NAVY-M", upc=valid_upc(1)), "status": "LIVE"}


def changed(item: dict, field: str) -> dict:
    value = item.get(field)
    if field in ("weight_kg", "retail_price"):
        return {**item, field: str(float(value) + 1)}
    if field == "upc":
        return {**item, field: valid_upc(2)}
    if field == "country_of_origin":
        return {**item, field: "PT" if value != "PT" else "GB"}
    if field == "currency":
        return {**item, field: "EUR" if value != "EUR" else "GBP"}
    return {**item, field: f"{value}X"}


def test_exactly_the_fields_seko_s_product_is_made_of_send_an_item_again():
    item = full_item()
    product = map_product(item)
    reaching_seko = {field for field in item if map_product(changed(item, field)) != product}
    assert set(PRODUCT_FIELDS) == reaching_seko
    for field in item:
        assert (fingerprint(changed(item, field)) != fingerprint(item)) == (field in reaching_seko), field


def refused_at_seko(sku: str) -> IntegrationException:
    """The item Seko once refused: FAILED, with its open item.sync_failed."""
    Item.objects.filter(sku=sku).update(sync_status=Item.SyncStatus.FAILED, last_error="Seko said no")
    queue.raise_exception(catalogue.ITEM_SYNC_FAILED, catalogue.sku_key(sku), f"Seko refused the product for {sku}",
                          sku=sku)
    return IntegrationException.objects.get(kind=catalogue.ITEM_SYNC_FAILED.code, status="open")


def test_retry_on_item_sync_failed_sends_the_item_as_blue_cherry_has_it_now_and_closes_it(world, monkeypatch):
    bluecherry, seko = world
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: queued.append(args))
    exception = refused_at_seko("10023-NAVY-S")
    bluecherry.control("POST", "_sim/items", [{"sku": "10023-NAVY-S", "style_name": "Training Tee Mk2"}])

    outcome = queue.retry(exception, member("data"))

    assert "queued to be sent to Seko as Blue Cherry has it now" in outcome
    item = Item.objects.get(sku="10023-NAVY-S")
    assert item.sync_status == Item.SyncStatus.PENDING and item.raw["style_name"] == "Training Tee Mk2"
    items.send_pending_items()
    items.set_owed_items_live()
    exception.refresh_from_db()
    assert exception.status == "resolved"
    assert Item.objects.get(sku="10023-NAVY-S").sync_status == Item.SyncStatus.LIVE
    product = seko.control("GET", "products/v4/10023-NAVY-S")["ProductMaster"]
    assert product["ProductDescription"].startswith("Training Tee Mk2")


def test_retry_is_still_refused_on_item_invalid_where_only_a_fix_in_blue_cherry_helps(world):
    queue.raise_exception(catalogue.ITEM_INVALID, catalogue.sku_key("10023-NAVY-S"), "no HS code",
                          sku="10023-NAVY-S")
    exception = IntegrationException.objects.get(kind=catalogue.ITEM_INVALID.code)
    assert not queue.retry_possible(exception)
    with pytest.raises(queue.ActionRefused):
        queue.retry(exception, member("data"))


# --- Schedules take effect as the workers start ---------------------------------------------------

def test_a_schedule_timing_changed_in_the_settings_takes_effect_when_a_worker_starts(settings):
    ensure_schedules()
    settings.RECON_INTERVAL_MINUTES = 720
    assert Schedule.objects.get(name="reconcile").minutes == 1440
    post_spawn.send(sender="django_q", proc_name="Process-1")  # what django-q2 sends as a worker starts
    assert Schedule.objects.get(name="reconcile").minutes == 720


def test_a_worker_start_recreates_a_schedule_deleted_by_hand():
    ensure_schedules()
    Schedule.objects.filter(name="poll dispatches").delete()
    post_spawn.send(sender="django_q", proc_name="Process-1")
    assert Schedule.objects.filter(name="poll dispatches").exists()


# --- The integration-admin group is enough for the admin ------------------------------------------

def test_the_integration_admin_group_sees_the_admin_link_and_may_use_the_admin_for_the_integration(client):
    client.force_login(member("integration-admin"))  # not staff
    assert '>Admin</a>' in client.get("/").content.decode()
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/integration/warehousemapping/").status_code == 200
    assert client.get("/admin/integration/stockbufferoverride/add/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 200  # membership and addresses: to look at
    assert client.get("/admin/auth/user/add/").status_code == 403  # making users (or superusers): not theirs


def test_other_groups_see_no_admin_link_and_are_kept_out_of_the_admin(client):
    client.force_login(member("ops"))
    assert '>Admin</a>' not in client.get("/").content.decode()
    assert client.get("/admin/").status_code == 302


def test_staff_still_see_the_admin_link():
    from django.test import Client

    client = Client()
    client.force_login(User.objects.create_user("staff", is_staff=True))
    assert '>Admin</a>' in client.get("/").content.decode()


# --- The manual: digests, schedules, the group, the business's time zone ---------------------------

def test_the_manual_says_digests_print_to_the_console_until_email_is_configured_and_what_to_set():
    manual = MANUAL.read_text()
    for setting in ("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST",
                    "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "DEFAULT_FROM_EMAIL"):
        assert setting in manual, setting
    assert "printed to the workers' console" in manual


def test_the_manual_says_schedules_follow_the_settings_on_a_worker_restart_and_the_group_is_enough():
    manual = MANUAL.read_text()
    assert "as each worker starts" in manual
    assert "members of the `integration-admin` group" in manual
    assert "BUSINESS_TIME_ZONE" in manual
