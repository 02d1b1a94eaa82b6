from django.apps import AppConfig


class BlueCherryConfig(AppConfig):
    """The simulated CGS Blue Cherry ERP: its own process, its own SQLite file."""

    name = "simulators.bluecherry"
    label = "bluecherry"
    verbose_name = "Blue Cherry simulator"
    default_auto_field = "django.db.models.BigAutoField"
