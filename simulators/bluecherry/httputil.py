"""The HTTP edge shared by the API and the control API: the subscription-key check, JSON in
and out, the error envelope, paging, and the time format. No business logic here."""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt

from simulators.bluecherry import faults

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 500

View = Callable[..., HttpResponse]
# Per-field error details: [{"field": "lines[0].sku", "message": "must be a string"}].
Details = list[dict[str, str]]
T = TypeVar("T")


class ApiError(Exception):
    """Raised anywhere below a view to answer with the contract's error envelope."""

    def __init__(self, status: int, code: str, message: str, details: Details | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def error_response(
    status: int,
    code: str,
    message: str,
    details: Details | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response = JsonResponse(body, status=status)
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def ok(body: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, safe=False)


# One writing request at a time in this process (issue 9): SQLite allows one writer, and a
# caller waiting for it sleeps in growing steps (up to 100 ms) however soon it is free.
# Waiting on a lock wakes at once.
WRITES = threading.Lock()


def endpoint(methods: dict[str, View], *, control: bool = False) -> View:
    """One URL: check the key, inject faults (never on the control API), route by method,
    and turn ApiError and crashes into the JSON error envelope."""

    @csrf_exempt
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not _key_ok(request):
            return error_response(401, "unauthorized", "Missing or invalid Ocp-Apim-Subscription-Key header.")
        handler = methods.get(request.method or "")
        if handler is None:
            response = error_response(405, "method_not_allowed", f"{request.method} is not allowed here.")
            response["Allow"] = ", ".join(methods)
            return response
        if not control:
            injected = faults.inject(request.path)
            if injected is not None and injected[1] == faults.PROXY_PAGE:
                return proxy_page(injected[0])
            if injected is not None:
                return error_response(*injected)
        try:
            if request.method == "GET":
                return handler(request, **kwargs)
            with WRITES:
                return handler(request, **kwargs)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.details)
        except Exception:  # a simulator bug must still answer in the contract's shape
            log.exception("unhandled error in %s %s", request.method, request.path)
            return error_response(500, "internal_error", "Unexpected error in the Blue Cherry simulator.")

    return view


def proxy_page(status: int) -> HttpResponse:
    """What a proxy or gateway in front of the API answers: its own HTML, no envelope."""
    return HttpResponse(f"<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>"
                        "<hr><center>nginx</center></body></html>", status=status, content_type="text/html")


def _key_ok(request: HttpRequest) -> bool:
    given = request.headers.get("Ocp-Apim-Subscription-Key", "")
    return bool(given) and hmac.compare_digest(given.encode(), str(settings.SIM_API_KEY).encode())


# ---- request bodies and parameters -------------------------------------------------------


def json_body(request: HttpRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"The request body is not valid JSON: {exc}") from exc


def json_object(request: HttpRequest) -> dict[str, Any]:
    body = json_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(422, "validation_failed", "The request body must be a JSON object.")
    return body


def json_list(request: HttpRequest) -> list[Any]:
    body = json_body(request)
    if not isinstance(body, list):
        raise ApiError(422, "validation_failed", "The request body must be a JSON array.")
    return body


def validation_error(details: Details, message: str = "The request is not valid.") -> ApiError:
    return ApiError(422, "validation_failed", message, details)


def query_datetime(request: HttpRequest, name: str) -> datetime | None:
    # An unencoded "+01:00" arrives as " 01:00" after form decoding.
    return _query_value(
        request, name, lambda raw: parse_iso_datetime(raw.replace(" ", "+")), "an ISO 8601 date-time"
    )


def query_date(request: HttpRequest, name: str) -> date | None:
    return _query_value(request, name, _parse_date, "a date", must_be="a date (YYYY-MM-DD)")


def _parse_date(raw: str) -> date | None:
    try:
        return parse_date(raw)
    except ValueError:
        return None


def _query_value(
    request: HttpRequest, name: str, parse: Callable[[str], T | None], what: str, must_be: str | None = None
) -> T | None:
    """The parameter read by ``parse``; None when it is absent, a 400 naming it when unreadable."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    parsed = parse(raw)
    if parsed is None:
        raise ApiError(
            400,
            "bad_request",
            f"{name} must be {must_be or what}.",
            [{"field": name, "message": f"not {what}: {raw!r}"}],
        )
    return parsed


def query_list(request: HttpRequest, name: str) -> list[str]:
    """A comma list parameter (``status=RELEASED,PICKING``); repeated parameters also count."""
    values: list[str] = []
    for raw in request.GET.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def paginate(
    request: HttpRequest, queryset: QuerySet, serialize: Callable[[Any], dict[str, Any]]
) -> JsonResponse:
    page = _positive_int(request, "page", 1)
    page_size = min(_positive_int(request, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    count = queryset.count()
    start = (page - 1) * page_size
    rows = list(queryset[start : start + page_size]) if start < count else []
    next_page = page + 1 if start + page_size < count else None
    return ok({"results": [serialize(row) for row in rows], "count": count, "next_page": next_page})


def _positive_int(request: HttpRequest, name: str, default: int) -> int:
    value = _query_value(request, name, _positive_or_none, "a positive whole number")
    return default if value is None else value


def _positive_or_none(raw: str) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 1 else None


# ---- time ----------------------------------------------------------------------------------


def parse_iso_datetime(value: Any) -> datetime | None:
    """Aware UTC datetime from ISO 8601 text; naive text is taken as UTC; None if unreadable."""
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    else:
        parsed = None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def fmt_dt(value: datetime | None) -> str | None:
    """Always with microseconds and "Z", so equal instants are equal strings."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_date(value: date | None) -> str | None:
    return value.isoformat() if value else None
