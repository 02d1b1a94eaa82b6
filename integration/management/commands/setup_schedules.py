from django.core.management.base import BaseCommand

from integration.schedules import ensure_schedules


class Command(BaseCommand):
    help = "Create or update every django-q2 schedule of the integration (idempotent)."

    def handle(self, *args, **options) -> None:
        for name in ensure_schedules():
            self.stdout.write(f"schedule ready: {name}")
