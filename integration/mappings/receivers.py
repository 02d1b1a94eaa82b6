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
        _release_on_commit(location=instance.bc_location)


@receiver(post_save, sender=CarrierMapping)
def carrier_mapping_saved(sender, instance: CarrierMapping, **kwargs) -> None:
    if instance.active:
        _release_on_commit(ship_via=instance.bc_ship_via)


def _release_on_commit(**mapped: str) -> None:
    """Once the save is committed (a rolled-back save released nothing), a worker releases the
    orders the row's code blocked (``location=`` or ``ship_via=``)."""
    transaction.on_commit(lambda: async_task(
        "integration.tasks.release_after_mapping_change", **mapped, task_name="release_after_mapping_change",
    ))
