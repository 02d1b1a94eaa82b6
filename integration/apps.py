from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def keep_status_counters(sender, using: str = "default", **kwargs) -> None:
    """After every migrate: a later migration that rebuilds a counted table on SQLite drops the
    status counter's triggers with the old table; put them back and recount."""
    from integration.status_counters import COUNTERS

    for counter in COUNTERS:
        counter.ensure(connections[using])


class IntegrationConfig(AppConfig):
    name = "integration"
    verbose_name = "Integration"

    def ready(self) -> None:
        from exceptions import registry
        from integration.dispatches import queue_actions as dispatch_actions
        from integration.items import queue_actions as item_actions
        from integration.items.signals import skus_went_live
        from integration.mappings import receivers  # noqa: F401  (connects the receivers)
        from integration.mappings.links import map_code_links
        from integration.orders import flow as order_flow
        from integration.orders import queue_actions as order_actions

        # The queue reaches the flows only through what they register (exceptions/registry.py);
        # the item handler is asked before the order ones.
        item_actions.register()
        order_actions.register()
        dispatch_actions.register()
        registry.register_links("mappings", map_code_links)
        skus_went_live.connect(order_flow.release_when_skus_go_live, dispatch_uid="release_when_skus_go_live")

        post_migrate.connect(keep_status_counters, sender=self)
        from django_q.signals import post_spawn

        from integration.schedules import ensure_schedules_on_worker_start

        # Each worker, as it starts, brings the schedules in line with the settings.
        post_spawn.connect(ensure_schedules_on_worker_start, dispatch_uid="ensure_schedules_on_worker_start")
