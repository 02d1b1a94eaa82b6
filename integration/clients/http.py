"""The HTTP layer shared by the Seko and Blue Cherry clients.

One ``requests.Session`` per client (pooled connections), a (connect, read) timeout on every
call, and retries for transient failures only, with exponential backoff and full jitter. Every
attempt is reported as an ``Exchange`` with secrets removed. What a response *means* (an
envelope, an error body) is left to the client built on top: this layer only separates
"try again" (raised as ``Transient``) and "wrong credentials" (``Unauthorized``) from a reply
the caller must read.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import re
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, urlencode

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

from integration.clients.errors import ClientError, Exchange, MalformedPayload, Transient, Unauthorized

logger = logging.getLogger("integration.clients")

TRANSIENT_STATUSES = frozenset({408, 429})  # plus every 5xx
MAX_RETRY_AFTER_SECONDS = 30.0  # a longer hint is left to the caller's own backoff
REDACTED = "***"

OnExchange = Callable[[Exchange], None]
T = TypeVar("T")
E = TypeVar("E", bound=ClientError)


@dataclass
class Reply:
    """A response the caller must interpret (anything not transient and not 401/403)."""

    status_code: int
    text: str
    headers: Mapping[str, str]
    exchange: Exchange


@dataclass
class _Failure:
    """One attempt that failed in a way that may be retried (internal to the retry loop)."""

    message: str
    retryable: bool
    retry_after: float | None = None


class _RedactLibraryLogs(logging.Filter):
    """Sanitises what urllib3 logs at DEBUG (it logs every URL, query string and key included)
    with the ``sanitize`` of every live client."""

    LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "urllib3.poolmanager")

    def __init__(self) -> None:
        super().__init__()
        self.clients: weakref.WeakSet[HttpClient] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        message = clean = record.getMessage()
        for client in list(self.clients):
            clean = client.sanitize(clean)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_library_log_filter = _RedactLibraryLogs()
for _name in _RedactLibraryLogs.LOGGERS:
    logging.getLogger(_name).addFilter(_library_log_filter)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def never_reached_server(exc: requests.RequestException) -> bool:
    """True when the request surely was not sent: the TCP connection was never made.
    A connection dropped after sending, or a read timeout, does not count."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError)
    return False


class HttpClient:
    """Base of both clients. Subclasses set ``system`` and call ``request``."""

    system = "http"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: tuple[float, float] = (3.0, 20.0),
        max_retries: int = 2,
        backoff: float = 0.5,
        on_exchange: OnExchange | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        secret_params: Iterable[str] = (),
        pool_size: int = 10,
        max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.on_exchange = on_exchange
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._params = dict(params or {})
        self._secret_params = tuple(p.lower() for p in secret_params)
        # The literal values and their URL-encoded forms, longest first so no fragment is left.
        forms = {form for s in secrets if s for form in (s, quote(s, safe=""), quote_plus(s, safe=""))}
        self._secrets = sorted(forms, key=len, reverse=True)
        self._param_pattern = (
            re.compile(r"(?i)\b(" + "|".join(re.escape(p) for p in self._secret_params) + r")=[^&\s'\"#)]*")
            if self._secret_params else None
        )
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", **(headers or {})})
        # Issue 9: with trust_env, requests re-reads the proxy environment on every call (a scan
        # of os.environ per request: about a third of a call's CPU, profiled). The environment
        # is read once here instead: the proxies for this base URL (none when NO_PROXY covers
        # it) and a CA bundle named the way requests names it.
        self.session.trust_env = False
        self.session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
        # Only for an https base URL: with a bundle path set, requests looks at the file on
        # every call, plain http too (a stat per call: a few percent of a peak day's worker CPU).
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle and self.base_url.startswith("https://"):
            self.session.verify = ca_bundle
        _library_log_filter.clients.add(self)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- secrets ----------------------------------------------------------------------------

    def sanitize(self, text: str) -> str:
        """``text`` without any secret: secret query parameters redacted, secret values replaced."""
        if not text:
            return text
        if self._param_pattern is not None:
            text = self._param_pattern.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def sanitize_url(self, url: str) -> str:
        """``url`` with the secret query parameters removed (then sanitised as text)."""
        base, sep, rest = url.partition("?")
        if sep:
            query, hash_sep, fragment = rest.partition("#")
            secret = self._secret_params
            kept = [p for p in query.split("&") if p and p.split("=", 1)[0].lower() not in secret]
            url = base + ("?" + "&".join(kept) if kept else "") + hash_sep + fragment
        return self.sanitize(url)

    # --- requests ---------------------------------------------------------------------------

    def build_url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """Absolute URL for ``path`` with ``params`` and the client's own parameters (the key).
        Commas stay literal: iHub separates list values with them."""
        query = [(k, v) for k, v in {**(params or {}), **self._params}.items() if v is not None]
        url = self.base_url + path.lstrip("/")
        return url + "?" + urlencode(query, safe=",") if query else url

    def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        parse: Callable[[Reply], T],
    ) -> T:
        """Send one logical call, retrying transient failures, and return ``parse(reply)``.
        ``parse`` reads the reply and raises the client's typed errors; it runs before the
        exchange is reported, so a rejection is recorded with its reason. Raise ``Transient``
        when the retries are spent and ``Unauthorized`` on 401/403.

        A call that is not ``idempotent`` is repeated only when it surely never reached the
        server (the connection could not be made)."""
        url = self.build_url(path, params)
        body_text = json.dumps(json_body, ensure_ascii=False) if json_body is not None else ""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            exchange = Exchange(system=self.system, operation=operation, method=method,
                                url=self.sanitize_url(url), request_body=self.sanitize(body_text))
            failure = self._attempt(exchange, method, url, body_text, idempotent, parse)
            if not isinstance(failure, _Failure):
                return failure
            if not failure.retryable or attempt + 1 == attempts:
                # Raised outside any except block: no chained exception carries an unsanitised URL.
                raise Transient(
                    f"{self.system} {operation} failed after {attempt + 1} attempt(s): {failure.message}",
                    retry_after=failure.retry_after, system=self.system, operation=operation,
                    exchange=exchange,
                )
            delay = self._delay(attempt, failure.retry_after)
            logger.warning("%s %s: %s; retry %d/%d in %.2fs", self.system, operation, failure.message,
                           attempt + 1, self.max_retries, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        # Full jitter: spreads the retries of many workers hit by the same outage.
        return random.uniform(0, min(self.backoff * 2**attempt, self.max_retry_after))

    def _attempt(self, exchange: Exchange, method: str, url: str, body_text: str, idempotent: bool,
                 parse: Callable[[Reply], T]) -> T | _Failure:
        headers = {"Content-Type": "application/json"} if body_text else {}
        started = time.monotonic()
        response = None
        try:
            response = self.session.request(method, url, data=body_text.encode() if body_text else None,
                                            headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            exchange.error = self.sanitize(f"{type(exc).__name__}: {exc}")
            retryable = idempotent or never_reached_server(exc)
        if response is None:
            exchange.duration_ms = int((time.monotonic() - started) * 1000)
            self._report(exchange)
            return _Failure(exchange.error, retryable=retryable)
        exchange.duration_ms = int((time.monotonic() - started) * 1000)
        exchange.status_code = response.status_code
        exchange.response_body = self.sanitize(response.text)
        status = response.status_code
        if status >= 500 or status in TRANSIENT_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            exchange.error = f"HTTP {status}"
            self._report(exchange)
            return _Failure(f"HTTP {status}", retryable=idempotent, retry_after=retry_after)
        if status in (401, 403):
            exchange.error = f"HTTP {status}"
            self._report(exchange)
            raise Unauthorized(
                f"{self.system} {exchange.operation}: HTTP {status}, the API key was refused",
                system=self.system, operation=exchange.operation, exchange=exchange,
            )
        reply = Reply(status_code=status, text=response.text, headers=response.headers, exchange=exchange)
        try:
            result = parse(reply)
        except Exception as exc:
            exchange.error = self.sanitize(str(exc) or type(exc).__name__)
            self._report(exchange)
            raise
        self._report(exchange)
        return result

    def _report(self, exchange: Exchange) -> None:
        # Every call is in the message log already; here a success is DEBUG, a failure INFO.
        logger.log(logging.INFO if exchange.error else logging.DEBUG, "%s %s %s %s -> %s in %d ms%s",
                   self.system, exchange.operation, exchange.method, exchange.url, exchange.status_code,
                   exchange.duration_ms, f" ({exchange.error})" if exchange.error else "")
        if self.on_exchange is None:
            return
        try:
            self.on_exchange(exchange)
        except Exception:
            # Logging a call must never change its outcome (an order Seko accepted stays accepted).
            logger.exception("%s %s: recording the exchange failed", self.system, exchange.operation)

    def error(self, cls: type[E], message: str, reply: Reply, **kwargs: Any) -> E:
        """A typed error about ``reply``, its texts sanitised."""
        if isinstance(kwargs.get("remote_message"), str):
            kwargs["remote_message"] = self.sanitize(kwargs["remote_message"])
        return cls(self.sanitize(message), system=self.system, operation=reply.exchange.operation,
                   exchange=reply.exchange, **kwargs)

    def decode_json(self, reply: Reply) -> Any:
        """The reply's body as JSON; ``MalformedPayload`` when it is not JSON."""
        try:
            return json.loads(reply.text)
        except ValueError:
            pass
        raise self.error(MalformedPayload, f"{self.system} {reply.exchange.operation}: response is not JSON "
                         f"(HTTP {reply.status_code}): {reply.text[:200]!r}", reply)


def utc_iso(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``; naive datetimes are refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: give a timezone-aware one")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
