"""A saved cross-reference row releases the orders it blocked, however it was saved (admin,
API, CSV import): no one has to press a button."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django_q.tasks import async_task

from integration.models import CarrierMapping, WarehouseMapping


@receiver(post_save, sender=WarehouseMapping)
def warehouse_mapping_saved(sender, instance: WarehouseMapping, **kwargs) -> None:
    if instance.active:
        transaction.on_commit(lambda: async_task(
            "integration.tasks.release_after_mapping_change", location=instance.bc_location,
            task_name="release_after_mapping_change",
        ))


@receiver(post_save, sender=CarrierMapping)
def carrier_mapping_saved(sender, instance: CarrierMapping, **kwargs) -> None:
    if instance.active:
        transaction.on_commit(lambda: async_task(
            "integration.tasks.release_after_mapping_change", ship_via=instance.bc_ship_via,
            task_name="release_after_mapping_change",
        ))
