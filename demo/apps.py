from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Everything that exists to run the product without the real systems: the demo, chaos and
    bench commands, their helpers, and the simulators' launcher. Production code never imports
    it, and production settings do not install it."""

    name = "demo"
    verbose_name = "Demo, chaos and benchmarks"
