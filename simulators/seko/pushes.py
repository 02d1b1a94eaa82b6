"""The push outbox (Seko -> integration) and its delivery.

Each outbox row is one record (one part of a message). Delivery batches up to 500 records into
``{"Responses": [{"Response": {kind: record}}, ...]}``, POSTs them to the configured URL with a
bearer token and, when a secret is set, Standard Webhooks signature headers. A failed POST is
retried 3 times, one push interval apart, then the records are dropped. The background thread
and ``_sim/push/flush`` may run at once: a row is claimed with a compare-and-swap UPDATE on its
status, so each delivery attempt of a row happens once.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks import Webhook

from . import faults, quirks
from .models import Push
from .state import get_setting, next_value, put_setting

log = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_RETRIES = 3
RECORD_ID_BASE = 880000  # InterfaceRecordIds look like the real ones (six digits), still increasing
CONFIG_KEYS = ("push_url", "push_token", "push_secret", "push_interval_seconds")


# --- config -----------------------------------------------------------------------------------


def env_config() -> dict[str, Any]:
    return {
        "push_url": os.environ.get("SEKO_SIM_PUSH_URL", ""),
        "push_token": os.environ.get("SEKO_SIM_PUSH_TOKEN", ""),
        "push_secret": os.environ.get("SEKO_SIM_PUSH_SECRET", ""),
        "push_interval_seconds": float(os.environ.get("SEKO_SIM_PUSH_INTERVAL_SECONDS", "900")),
    }


def get_config() -> dict[str, Any]:
    return get_setting("push") or env_config()


def update_config(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(CONFIG_KEYS)
    if unknown:
        raise ValueError(f"unknown push config keys: {sorted(unknown)}")
    config = {**get_config(), **changes}
    for key in ("push_url", "push_token", "push_secret"):
        config[key] = config[key] or ""
    config["push_interval_seconds"] = max(0.1, float(config["push_interval_seconds"]))
    put_setting("push", config)
    return config


# --- outbox -----------------------------------------------------------------------------------


def emit(kind: str, body: dict[str, Any], *, shapes: bool = False, not_before: datetime | None = None,
         record_id: str | None = None) -> dict[str, Any]:
    """Queue one record. ``record_id`` is its InterfaceRecordId: Seko's pages give an order
    message the order's GUID; other records get a number of their own. ``shapes`` applies the
    value quirks to the stored record; ``not_before`` holds it back until then (a later push
    cycle). Returns the record as first stored (what ``salesorders/v4/{SO}/dispatch`` serves)."""
    with transaction.atomic():
        record = {"IntegrationId": "BC", "InterfaceRecordId": "", "SequenceNumber": next_value("sequence"),
                  "MessageGroupId": "", "MessagePart": 1, "MessageTotal": 1, **body}
        record["InterfaceRecordId"] = record_id or str(RECORD_ID_BASE + next_value("record"))
        # A message sent in several parts (an overnight summary) names its own group.
        record["MessageGroupId"] = body.get("MessageGroupId") or f"g-{record['InterfaceRecordId']}"
        now = timezone.now()
        Push.objects.create(kind=kind, record=quirks.record_shapes(record) if shapes else record,
                            next_attempt_at=max(now, not_before or now), not_before=not_before)
        return record


# --- delivery ---------------------------------------------------------------------------------


# Kinds whose lines Seko puts in a List beside the header inside Response ("Push Stock
# Adjustment"), not in it; the outbox keeps them in the record, for one place to look.
SIBLING_LIST_KINDS = frozenset({"StockAdjustment", "StockOvernightSummary"})


def response_entry(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """One ``{"Response": ...}`` of a push body as Seko lays the record's kind out."""
    if kind in SIBLING_LIST_KINDS and isinstance(record, dict) and "List" in record:
        header = {key: value for key, value in record.items() if key != "List"}
        return {"Response": {kind: header, "List": record["List"]}}
    return {"Response": {kind: record}}


def signature_headers(secret: str, body: str, msg_id: str, timestamp: int) -> dict[str, str]:
    """Standard Webhooks, signed by the specification's reference library: a "whsec_" secret is
    base64 after the prefix, any other is used as its UTF-8 bytes."""
    signer = Webhook(secret if secret.startswith("whsec_") else secret.encode())
    signature = signer.sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def push_urls(config: dict[str, Any]) -> list[str]:
    """``push_url`` may list several URLs, comma-separated (web servers on two machines, as a load
    balancer in front of them would spread Seko's pushes); none configured: nothing is pushed."""
    return [url.strip() for url in (config.get("push_url") or "").split(",") if url.strip()]


def push_target(config: dict[str, Any]) -> str:
    """Where this batch goes: the listed URLs taken in turn."""
    urls = push_urls(config)
    return urls[next_value("push_target") % len(urls)] if len(urls) > 1 else urls[0]


def _post(config: dict[str, Any], rows: list[Push]) -> str | None:
    """POST one batch; None on a 2xx, else the error text."""
    body = json.dumps({"Responses": [response_entry(row.kind, row.record) for row in rows]})
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.get("push_token"):
        headers["Authorization"] = f"Bearer {config['push_token']}"
    if config.get("push_secret"):
        msg_id = f"msg_{uuid.uuid4().hex}"
        headers.update(signature_headers(config["push_secret"], body, msg_id, int(time.time())))
    try:
        response = requests.post(push_target(config), data=body.encode(), headers=headers, timeout=10)
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def _claim(ids: list[int]) -> list[Push]:
    claim = str(uuid.uuid4())
    Push.objects.filter(id__in=ids, status=Push.PENDING).update(status=Push.SENDING, claim=claim)
    return list(Push.objects.filter(claim=claim, status=Push.SENDING).order_by("id"))


def _deliver_batch(config: dict[str, Any], rows: list[Push], counts: dict[str, int]) -> None:
    now = timezone.now()
    send, duplicates = [], []
    for row in rows:
        fate = faults.push_fate(row.id)
        if fate == "drop":  # lost on the way: the receiver never sees it, Seko thinks it went
            Push.objects.filter(id=row.id).update(status=Push.DROPPED, drop_reason="fault", claim="")
            counts["dropped"] += 1
            continue
        send.append(row)
        if fate == "duplicate":
            duplicates.append(row)
    if not send:
        return
    error = _post(config, send)
    if error is None:
        Push.objects.filter(id__in=[r.id for r in send]).update(
            status=Push.DELIVERED, delivered_at=now, delivered_count=1, claim="", last_error="")
        counts["delivered"] += len(send)
        if duplicates and _post(config, duplicates) is None:  # the same records again, later
            Push.objects.filter(id__in=[r.id for r in duplicates]).update(delivered_count=2)
            counts["duplicated"] += len(duplicates)
        return
    retry_at = now + timedelta(seconds=config["push_interval_seconds"])
    for row in send:
        if row.failures + 1 > MAX_RETRIES:
            Push.objects.filter(id=row.id).update(status=Push.DROPPED, failures=row.failures + 1,
                                                  drop_reason="retries_exhausted", claim="", last_error=error)
            counts["dropped"] += 1
        else:
            Push.objects.filter(id=row.id).update(status=Push.PENDING, failures=row.failures + 1,
                                                  next_attempt_at=retry_at, claim="", last_error=error)
            counts["failed"] += 1


def deliver(*, due_only: bool) -> dict[str, int]:
    """One delivery pass over the rows pending now (``due_only``: only those whose retry time has
    come). A row that fails is not retried in the same pass."""
    counts = {"delivered": 0, "failed": 0, "dropped": 0, "duplicated": 0}
    config = get_config()
    if push_urls(config):
        # A row held back (not_before) waits even for a flush: it belongs to a later push cycle.
        pending = Push.objects.filter(status=Push.PENDING).filter(
            Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()))
        if due_only:
            pending = pending.filter(next_attempt_at__lte=timezone.now())
        ids = list(pending.order_by("id").values_list("id", flat=True))
        for start in range(0, len(ids), BATCH_SIZE):
            rows = _claim(ids[start:start + BATCH_SIZE])
            if rows:
                _deliver_batch(config, rows, counts)
    counts["pending"] = Push.objects.filter(status__in=[Push.PENDING, Push.SENDING]).count()
    return counts


def release_stale_claims() -> None:
    """Rows left "sending" by a process that died mid-delivery go back to pending."""
    Push.objects.filter(status=Push.SENDING).update(status=Push.PENDING, claim="")
