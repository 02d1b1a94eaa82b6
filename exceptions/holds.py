"""What the integration holds, and the rule that nothing is held without an open exception saying why.

An order, a dispatch or an item the integration holds waits for a person: the open exceptions
about it (same trace key) are the only way anyone finds it. So a person may not close the last
of them by hand while the object is still held, unless they choose what becomes of it (for an
order: withdraw it from fulfilment). The monitor (integration/dispatches/overdue.py) raises
``hold.unexplained`` for any held object that has no open exception all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from exceptions import catalogue
from exceptions.models import IntegrationException
from integration.models import Dispatch, Item, Order

# The states in which an object waits for a person (nothing in the integration moves it on by
# itself). A CANCEL_REFUSED order is not among them: it is at Seko waiting for its dispatch like
# any sent order, and dispatch.overdue watches it.
HELD_ORDER_STATUSES = (Order.Status.QUARANTINED, Order.Status.REJECTED)
HELD_DISPATCH_STATUSES = (Dispatch.Status.QUARANTINED,)
HELD_ITEM_STATUSES = (Item.SyncStatus.INVALID, Item.SyncStatus.FAILED)

ITEM_STATE_WORDS = {Item.SyncStatus.INVALID: "invalid", Item.SyncStatus.FAILED: "refused"}

WITHDRAW = "withdraw"  # the one choice a person has for a held order: take it out of fulfilment
# ... and for a held dispatch: set it aside, settled by hand outside the integration, never posted.
SET_ASIDE = "set_aside"


@dataclass(frozen=True)
class Held:
    """An object the integration holds: what it is, in words, and what a person may choose for it."""

    what: str  # "order SO-1", "dispatch D-9", "item 100-RED-M"
    state: str  # its status, one word: "quarantined", "rejected", "invalid"...
    way_out: str  # how it leaves the hold without anyone choosing for it
    choices: tuple[str, ...] = ()  # WITHDRAW for an order

    @property
    def can_withdraw(self) -> bool:
        return WITHDRAW in self.choices

    @property
    def can_set_aside(self) -> bool:
        return SET_ASIDE in self.choices


def held_object(trace_key: str) -> Held | None:
    """The held object an exception's trace key names, or None when it names nothing held."""
    prefix, _, ident = trace_key.partition(":")
    if prefix == "order":
        status = Order.objects.filter(ord_num=ident).values_list("status", flat=True).first()
        if status in HELD_ORDER_STATUSES:
            return Held(f"order {ident}", status,
                        "fix its cause (the playbook says how) and it is sent on its own", (WITHDRAW,))
    elif prefix == "dispatch":
        status = Dispatch.objects.filter(dispatch_id=ident).values_list("status", flat=True).first()
        if status in HELD_DISPATCH_STATUSES:
            return Held(f"dispatch {ident}", status,
                        "fill it in and release it from its form, or have Seko correct the confirmation",
                        (SET_ASIDE,))
    elif prefix == "sku":
        status = Item.objects.filter(sku=ident).values_list("sync_status", flat=True).first()
        if status in HELD_ITEM_STATUSES:
            return Held(f"item {ident}", ITEM_STATE_WORDS[status],
                        "correct the item in Blue Cherry (or discontinue it there) and this closes on its own")
    return None


def last_open_about(exception: IntegrationException) -> bool:
    """True when ``exception`` is the only open exception about its object."""
    return not IntegrationException.objects.filter(
        trace_key=exception.trace_key, status=IntegrationException.Status.OPEN).exclude(pk=exception.pk).exists()


def hold_left_unexplained(exception: IntegrationException) -> Held | None:
    """The held object that closing ``exception`` would leave with no open exception, or None
    when closing it hides nothing."""
    held = held_object(exception.trace_key)
    if held is None or not last_open_about(exception):
        return None
    return held


def refusal_text(exception: IntegrationException, held: Held) -> str:
    """Why closing the exception is refused, and what the person may do instead, in words."""
    text = (f"Exception #{exception.pk} is the last open one about {held.what}, which is still {held.state}: "
            f"closing it would leave the {held.what.split()[0]} held with nothing in any queue saying why. ")
    if held.can_withdraw:
        return text + (f"Either {held.way_out}, or choose to withdraw the order from fulfilment "
                       "(it is then not sent, and this closes with your note).")
    return text + f"To end the hold, {held.way_out}."


def order_number(trace_key: str) -> str:
    return trace_key.removeprefix("order:") if trace_key.startswith(catalogue.order_key("")) else ""
