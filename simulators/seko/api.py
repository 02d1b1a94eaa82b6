"""Plumbing shared by the iHub views and the _sim views: the api_key check, JSON in and out,
the CallStatus envelope, and (iHub views only) faults and quirks around the view."""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import faults, quirks


class BadRequest(Exception):
    """The body is not JSON (or not the JSON shape the endpoint needs): HTTP 400."""


@dataclass
class Reply:
    body: dict[str, Any]
    status: int = 200
    # Endpoint-specific quirk (stock lines, dispatch poll), applied before the generic ones.
    quirk: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    headers: dict[str, str] | None = None


def call_status(message: str = "", *, success: bool | None = None, code: int | None = None) -> dict[str, Any]:
    success = (not message) if success is None else success
    return {"Success": success, "Code": (0 if success else 100) if code is None else code, "Message": message}


def error(message: str, *, status: int = 200, code: int = 100, **extra: Any) -> Reply:
    """A business error: HTTP 200 with Success false, as iHub does."""
    return Reply({"CallStatus": call_status(message, success=False, code=code), **extra}, status=status)


def ok(message: str = "", **fields: Any) -> Reply:
    return Reply({"CallStatus": call_status(message, success=True), **fields})


def read_json(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The request is invalid.") from exc


def _authorised(request: HttpRequest) -> bool:
    given = request.GET.get("api_key", "")
    return hmac.compare_digest(given.encode(), str(settings.SIM_API_KEY).encode())


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JsonResponse:
    response = JsonResponse(body, status=status, safe=False)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _guard(request: HttpRequest, methods: tuple[str, ...]) -> JsonResponse | None:
    if not _authorised(request):
        return _json({"CallStatus": call_status("Authorization has been denied for this request.",
                                                success=False, code=401)}, 401)
    if request.method not in methods:
        return _json({"CallStatus": call_status(f"The requested resource does not support http method "
                                                f"'{request.method}'.", success=False, code=405)}, 405)
    return None


# One writing request at a time in this process (issue 9): SQLite allows one writer, and a
# caller waiting for it sleeps in growing steps (up to 100 ms) however soon it is free; under
# 32 concurrent submits that made a submit's p90 ~0.9 s. Waiting on a lock wakes at once.
WRITES = threading.Lock()


Handler = Callable[[HttpRequest, Callable[..., Any], tuple[Any, ...], dict[str, Any]], HttpResponse]


def _guarded(methods: tuple[str, ...], handle: Handler) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """A decorator that checks the key and the method, then lets ``handle`` run the view."""

    def decorate(view: Callable[..., Any]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return _guard(request, methods) or handle(request, view, args, kwargs)

        return wrapper

    return decorate


def ihub(*methods: str) -> Callable[[Callable[..., Reply]], Callable[..., HttpResponse]]:
    """An iHub endpoint: auth, then the configured faults, the view, and the quirks."""
    return _guarded(methods, _serve_ihub)


def _serve_ihub(request: HttpRequest, view: Callable[..., Reply], args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> HttpResponse:
    decision = faults.decide(request.path)
    if decision.latency_ms:
        time.sleep(decision.latency_ms / 1000)
    if decision.hang_before_seconds:  # nothing is done; the gateway gives up
        time.sleep(decision.hang_before_seconds)
        return _json({"Message": "The gateway timed out."}, 504)
    if decision.status == 429:
        return _json({"CallStatus": call_status("Too many requests.", success=False, code=429)}, 429,
                     {"Retry-After": "1"})
    if decision.status:
        return _json({"Message": "An error has occurred."}, decision.status)
    if decision.proxy_page_status:
        status = decision.proxy_page_status
        return HttpResponse(f"<html><head><title>{status}</title></head><body><center><h1>{status}</h1>"
                            "</center><hr><center>nginx</center></body></html>", status=status,
                            content_type="text/html")
    try:
        if request.method == "GET":
            reply = view(request, *args, **kwargs)
        else:
            with WRITES:
                reply = view(request, *args, **kwargs)
    except BadRequest as exc:
        reply = error(str(exc), status=400)
    if decision.hang_after_seconds:  # committed already; the caller has given up by now
        time.sleep(decision.hang_after_seconds)
    body = reply.body
    if decision.quirks:
        body = quirks.response(reply.quirk(body) if reply.quirk else body)
    return _json(body, reply.status, reply.headers)


def control(*methods: str) -> Callable[[Callable[..., Any]], Callable[..., HttpResponse]]:
    """A _sim endpoint: same key, never faults or quirks. The view returns plain JSON data."""
    return _guarded(methods, _serve_control)


def _serve_control(request: HttpRequest, view: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> HttpResponse:
    try:
        result = view(request, *args, **kwargs)
    except (BadRequest, ValueError, TypeError, KeyError) as exc:
        return _json({"error": str(exc)}, 400)
    return result if isinstance(result, HttpResponse) else _json(result)
