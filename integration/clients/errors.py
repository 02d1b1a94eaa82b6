"""Typed errors of the two clients. The flows decide what to do by type, never by string
matching: a Transient may succeed if tried again later, a Rejected will not until someone
fixes the data, Unauthorized needs new credentials, MalformedPayload means the remote system
answered something we cannot read.

No error text ever contains an API key: the clients build messages from sanitised URLs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Exchange:
    """One HTTP call as it is logged: URL without secrets, bodies as text, timing."""

    system: str
    operation: str
    method: str
    url: str
    request_body: str = ""
    status_code: int | None = None
    response_body: str = ""
    duration_ms: int = 0
    error: str = ""


class ClientError(Exception):
    """Base of every client failure. ``exchange`` is the last HTTP call that led to it."""

    def __init__(self, message: str, *, system: str = "", operation: str = "", exchange: Exchange | None = None):
        super().__init__(message)
        self.message = message
        self.system = system
        self.operation = operation
        self.exchange = exchange

    def __str__(self) -> str:
        return self.message


class Transient(ClientError):
    """Timeouts, connection failures, 5xx, 429: trying again later may work.
    ``retry_after`` is the remote system's hint in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Rejected(ClientError):
    """The remote system understood the request and refused it; ``remote_message`` is its
    own text (for Seko the CallStatus message, for Blue Cherry the error message)."""

    def __init__(self, message: str, *, remote_message: str = "", code: int | str | None = None,
                 status_code: int | None = None, details: list | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.remote_message = remote_message or message
        self.code = code
        self.status_code = status_code
        self.details = details or []


class NotFound(Rejected):
    """The object asked for does not exist (HTTP 404, or Seko's "No results found")."""


class Unsupported(ClientError):
    """The remote system has no such endpoint at all (Seko: HTTP 404 without its envelope, or
    "No HTTP resource was found that matches the request URI"). Not a ``NotFound``: the object
    may well exist, we just cannot ask about it, and nobody must read the answer as "none"."""

    def __init__(self, message: str, *, status_code: int | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.status_code = status_code


class Unauthorized(ClientError):
    """HTTP 401/403: the key is wrong, missing or expired."""


class MalformedPayload(ClientError):
    """The response could not be parsed or lacks what the contract promises."""
