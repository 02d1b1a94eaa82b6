"""The catalogue of exception kinds: who owns each, its category, and what to do about it.

This is the one place kinds are defined. The operations manual (docs/exception-kinds.md) is
generated from it (``manage.py exception_kinds --markdown``), so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Owner(StrEnum):
    OPS = "ops"
    CX = "cx"
    FINANCE = "finance"
    DATA = "data"
    ADMIN = "integration-admin"


class Category(StrEnum):
    DATA = "data"
    MAPPING = "mapping"
    TRANSIENT = "transient"
    BUSINESS = "business"
    MONITORING = "monitoring"


@dataclass(frozen=True)
class Kind:
    code: str
    title: str
    owner: Owner
    category: Category
    playbook: str

    @property
    def retries_on_its_own(self) -> bool:
        return self.category == Category.TRANSIENT


KINDS: dict[str, Kind] = {}


def _kind(code: str, title: str, owner: Owner, category: Category, playbook: str) -> Kind:
    kind = Kind(code, title, owner, category, " ".join(playbook.split()))
    KINDS[code] = kind
    return kind


# --- Order pre-validation (nothing was sent) -----------------------------------------------
MAPPING_WAREHOUSE_UNKNOWN = _kind(
    "mapping.warehouse_unknown", "Blue Cherry location has no active warehouse mapping",
    Owner.ADMIN, Category.MAPPING,
    """The order's Blue Cherry location has no active row in the warehouse cross-reference
    table, so we do not know which Seko DC should ship it. If the location is right, add or
    reactivate the mapping row: every order it blocked is then sent on its own. If the
    location is wrong, correct it on the order in Blue Cherry.""",
)
MAPPING_CARRIER_UNKNOWN = _kind(
    "mapping.carrier_unknown", "Blue Cherry ship-via has no active carrier mapping",
    Owner.ADMIN, Category.MAPPING,
    """The order's ship-via code has no active row in the carrier/service cross-reference
    table. Add or reactivate the row (Seko courier name and service): every order it blocked
    is then sent on its own. If the ship-via is wrong, correct it on the order in Blue Cherry.""",
)
ORDER_SKU_NOT_LIVE = _kind(
    "order.sku_not_live", "Order has a SKU that is not live",
    Owner.DATA, Category.DATA,
    """A line is for a SKU that is unknown or not LIVE, so Seko would refuse it or could not
    pick it. Get the item set up and LIVE (the item flow does that once Seko has accepted the
    product), or change the line in Blue Cherry. The order is re-checked and sent on its own.""",
)
ORDER_ADDRESS_INCOMPLETE = _kind(
    "order.address_incomplete", "Ship-to address is missing fields Seko requires",
    Owner.OPS, Category.DATA,
    """Seko needs address line 1, city, postcode and country. Complete the ship-to address on
    the order in Blue Cherry; the change is picked up and the order sent on its own.""",
)
ORDER_INVALID_LINES = _kind(
    "order.invalid_lines", "Order has no lines or a non-positive quantity",
    Owner.OPS, Category.DATA,
    """Every line must order a positive quantity and the order must have at least one line.
    Correct the order in Blue Cherry; it is re-checked and sent on its own.""",
)

# --- Seko refused the order (it was sent, and not accepted) --------------------------------
ORDER_REJECTED_MAPPING = _kind(
    "order.rejected_mapping", "Seko rejected the DC or courier service",
    Owner.ADMIN, Category.MAPPING,
    """Seko does not know the DC or courier service our cross-reference table sent. Check the
    mapping row against Seko's reference lists and correct it; saving the row re-sends the
    orders it blocked.""",
)
ORDER_REJECTED_PRODUCT = _kind(
    "order.rejected_product", "Seko does not know a product on the order",
    Owner.DATA, Category.DATA,
    """Blue Cherry says the SKU is live but Seko has no such product. Get the product created at
    Seko (the item flow), then retry the exception.""",
)
ORDER_REJECTED_STOCK = _kind(
    "order.rejected_stock", "Seko has no free stock for a line",
    Owner.OPS, Category.BUSINESS,
    """Seko rejects the whole order when any line has no free stock. Wait for stock to arrive
    and retry, or amend or cancel the line in Blue Cherry.""",
)
ORDER_REJECTED_DATA = _kind(
    "order.rejected_data", "Seko rejected the order's data",
    Owner.OPS, Category.DATA,
    """Seko refused the order for the reason shown in its message. Correct the order in Blue
    Cherry (it is then re-sent on its own) or retry the exception once the cause is fixed.""",
)

# --- Cancels -------------------------------------------------------------------------------
ORDER_CANCEL_REFUSED = _kind(
    "order.cancel_refused", "Cancelled in Blue Cherry, but Seko is already packing it",
    Owner.CX, Category.BUSINESS,
    """The customer's cancel reached Seko after packing started, so the parcel will probably
    ship. Contact the customer (a return, or a refusal at the door) and check the order's
    dispatch; resolve this with a note when handled.""",
)

# --- The systems themselves ----------------------------------------------------------------
TRANSPORT_SEKO_UNAVAILABLE = _kind(
    "transport.seko_unavailable", "Seko is not answering",
    Owner.ADMIN, Category.TRANSIENT,
    """Calls to Seko keep failing (timeouts, 5xx, rate limits). The integration retries on its
    own with backoff; nothing is sent twice. If it lasts, check Seko's status and our network
    and credentials. This closes itself when a call succeeds.""",
)
TRANSPORT_BLUECHERRY_UNAVAILABLE = _kind(
    "transport.bluecherry_unavailable", "Blue Cherry is not answering",
    Owner.ADMIN, Category.TRANSIENT,
    """Calls to Blue Cherry keep failing. The integration retries on its own with backoff. If it
    lasts, check Blue Cherry's API status and our subscription key. This closes itself when a
    call succeeds.""",
)
TRANSPORT_UNAUTHORIZED = _kind(
    "transport.unauthorized", "A system refused our credentials",
    Owner.ADMIN, Category.MAPPING,
    """Seko or Blue Cherry answered 401: the API key or subscription key is wrong or expired.
    Fix the key in the configuration and restart; work resumes on its own.""",
)
ORDER_PICK_TICKET_FAILED = _kind(
    "order.pick_ticket_failed", "Blue Cherry refused the pick ticket",
    Owner.OPS, Category.BUSINESS,
    """Seko accepted the order, but Blue Cherry refused to move it to PICKING (its message is
    shown). The pick slip exists at Seko; check the order in Blue Cherry, then retry.""",
)


RECORD_MALFORMED = _kind(
    "integration.malformed_record", "A record from Blue Cherry could not be read",
    Owner.ADMIN, Category.DATA,
    """A pulled record breaks the contract (a missing key, an unreadable timestamp, repeated
    line numbers...). It was skipped and the rest of the pull went on; the raw record is kept
    on this exception. Have it corrected in Blue Cherry: the next version is taken normally and
    this closes itself.""",
)


def get(code: str) -> Kind:
    """Return the kind for ``code``; an unknown code is a programming error."""
    return KINDS[code]


def order_key(ord_num: str) -> str:
    return f"order:{ord_num}"


def sku_key(sku: str) -> str:
    return f"sku:{sku}"


def system_key(system: str) -> str:
    return f"system:{system}"
