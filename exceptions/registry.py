"""What the queue's actions do to the thing an exception is about, filled in by the flows.

The queue knows exceptions; the flows know orders, items and dispatches. So that the queue never
imports a flow (which imports the queue to raise exceptions), each flow registers here, when the
app is ready (integration/apps.py), the handlers for what it owns:

- retry: who can try an exception's object again, and how (an item sent again, an order checked
  and sent again, every order waiting out a backoff due at once);
- settle: what a person may choose to become of a held object when closing its last exception
  (withdraw an order, set a dispatch aside);
- reopen checks: a kind whose exception would only be raised again by its monitor, and why;
- links: where to fix what an exception names (the cross-reference tables: "Map this code").

A handler refuses with ``exceptions.services.ActionRefused`` (the message says why, nothing was
written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exceptions.models import IntegrationException


@dataclass(frozen=True)
class RetryHandler:
    name: str
    handles: Callable[[IntegrationException], bool]  # whether this exception's retry is this handler's
    possible: Callable[[IntegrationException], bool]  # whether a retry can do anything now
    run: Callable[[IntegrationException, str], str]  # (exception, who) -> what was done


Settle = Callable[["IntegrationException", str, str], str]  # (exception, who, note) -> what was done
ReopenCheck = Callable[["IntegrationException"], str | None]  # the refusal, or None when closing is fine

_retry_handlers: dict[str, RetryHandler] = {}
_settlers: dict[str, Settle] = {}
_reopen_checks: dict[str, ReopenCheck] = {}

WITHDRAW_ORDER = "withdraw_order"
SET_ASIDE_DISPATCH = "set_aside_dispatch"


def register_retry(handler: RetryHandler) -> None:
    """Handlers are asked in the order they registered; the first that handles an exception owns
    its retry. Registering a name again replaces it (the app can be made ready more than once)."""
    _retry_handlers[handler.name] = handler


def retry_handler(exception: IntegrationException) -> RetryHandler | None:
    return next((h for h in _retry_handlers.values() if h.handles(exception)), None)


def register_settle(choice: str, settle: Settle) -> None:
    _settlers[choice] = settle


def settler(choice: str) -> Settle:
    try:
        return _settlers[choice]
    except KeyError:
        raise LookupError(f"No flow registered '{choice}': is the integration app installed?") from None


def register_reopen_check(kind_code: str, check: ReopenCheck) -> None:
    _reopen_checks[kind_code] = check


def reopen_refusal(exception: IntegrationException) -> str | None:
    check = _reopen_checks.get(exception.kind)
    return check(exception) if check is not None else None


# (label, url) pairs an exception's page offers to fix it, e.g. "Map this code" (a person's own
# permission to follow them is checked by the provider and again by the page they lead to).
LinkProvider = Callable[["IntegrationException", Any], list[tuple[str, str]]]
_link_providers: dict[str, LinkProvider] = {}


def register_links(name: str, provider: LinkProvider) -> None:
    _link_providers[name] = provider


def links_for(exception: IntegrationException, user: Any) -> list[tuple[str, str]]:
    return [link for provider in _link_providers.values() for link in provider(exception, user)]
