from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def keep_order_status_counter(sender, using: str = "default", **kwargs) -> None:
    """After every migrate: a later migration that rebuilds the orders table on SQLite drops the
    status counter's triggers with the old table; put them back and recount (issue 9)."""
    from integration import status_counts

    status_counts.ensure(connections[using])


class IntegrationConfig(AppConfig):
    name = "integration"
    verbose_name = "Integration"

    def ready(self) -> None:
        from integration import signals  # noqa: F401  (connects the receivers)

        post_migrate.connect(keep_order_status_counter, sender=self)
        from django_q.signals import post_spawn

        from integration.schedules import ensure_schedules_on_worker_start

        # Each worker, as it starts, brings the schedules in line with the settings.
        post_spawn.connect(ensure_schedules_on_worker_start, dispatch_uid="ensure_schedules_on_worker_start")
