"""The address a login attempt came from, for the failed-login lockout (django-axes).

Behind the TLS proxy every request's REMOTE_ADDR is the proxy's own. When
``CLIENT_IP_HEADER_NAME`` names the header the proxy sets (``HTTP_X_FORWARDED_FOR``), the
address is the last entry of that header: the one the proxy itself appended. Entries before it
are whatever the client sent and could be forged to dodge the lock.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    header = getattr(settings, "CLIENT_IP_HEADER_NAME", "")
    forwarded = request.META.get(header, "") if header else ""
    entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    return entries[-1] if entries else request.META.get("REMOTE_ADDR", "")
