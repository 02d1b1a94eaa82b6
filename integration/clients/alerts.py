"""Alerts to where a team already looks (Slack, Microsoft Teams, a webhook, email, ...), through
Apprise: one URL per destination, whose form says the service (``slack://…``, ``msteams://…``,
``json://host/path``). The URLs carry the services' secrets, so nothing here logs or returns one:
errors name the service only, with every part of the URL blanked out of what Apprise said."""

from __future__ import annotations

import re
from dataclasses import dataclass

import apprise

from integration.clients.errors import ClientError


class AlertNotSent(ClientError):
    """The service refused the alert or could not be reached; the message holds no secret."""


def masked(url: str) -> str:
    """What may be shown of a destination URL: its service and its last four characters."""
    scheme, sep, rest = (url or "").partition("://")
    if not sep:
        return "…"
    return f"{scheme}://…{rest[-4:]}" if len(rest) > 8 else f"{scheme}://…"


def without_secrets(text: str, url: str) -> str:
    """``text`` with every piece of ``url`` longer than three characters blanked out."""
    for piece in sorted(set(re.split(r"[/:@?&=#.]+", url.partition("://")[2])), key=len, reverse=True):
        if len(piece) > 3:
            text = text.replace(piece, "…")
    return text


def url_problem(url: str) -> str | None:
    """Why Apprise cannot use ``url`` (None when it can), without repeating the URL."""
    if not (url or "").strip():
        return "Enter the destination's Apprise URL."
    if not apprise.Apprise().add(url.strip()):
        return (f"Apprise does not recognise this URL (service '{url.partition('://')[0] or '?'}'): see Apprise's "
                "list of services for the form each one takes.")
    return None


@dataclass(frozen=True)
class AlertSender:
    """Sends one alert to one destination; raises ``AlertNotSent`` when it did not arrive."""

    timeout_seconds: float = 10.0

    def send(self, url: str, title: str, body: str) -> None:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            raise AlertNotSent(url_problem(url) or "Apprise does not recognise this URL.")
        said: list[str] = []
        result = notifier.notify(body, title=title, timeout=self.timeout_seconds,
                                 log_callback=lambda entry, _service: said.append(str(entry.message)))
        if not result:
            reason = " ".join(said)[-500:] or "the service did not accept the alert"
            raise AlertNotSent(f"{masked(url)}: {without_secrets(reason, url)}")
