"""The two systems' clients as the flows use them: built from settings at call time (so tests
can point them elsewhere), every exchange they make written to the message log. The clients
themselves (integration/clients/) know nothing of settings or the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integration.clients.bluecherry import BlueCherryClient
    from integration.clients.seko import SekoClient


def _common() -> dict:
    from django.conf import settings

    from integration.shared.messagelog import record_exchange  # lazily: messagelog imports the models

    return {
        "timeout": (settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT),
        "max_retries": settings.HTTP_MAX_RETRIES,
        "backoff": settings.HTTP_BACKOFF_SECONDS,
        "on_exchange": record_exchange,
    }


def seko_client() -> SekoClient:
    from django.conf import settings

    from integration.clients.seko import SekoClient

    return SekoClient(settings.SEKO_BASE_URL, settings.SEKO_API_KEY, **_common())


def bluecherry_client() -> BlueCherryClient:
    from django.conf import settings

    from integration.clients.bluecherry import BlueCherryClient

    return BlueCherryClient(settings.BLUECHERRY_BASE_URL, settings.BLUECHERRY_API_KEY, **_common())
