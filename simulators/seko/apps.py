from django.apps import AppConfig


class SekoSimulatorConfig(AppConfig):
    """The Seko (iHub) warehouse simulator: its own process, its own SQLite file."""

    name = "simulators.seko"
    label = "seko"
    default_auto_field = "django.db.models.BigAutoField"
