"""The catalogue of exception kinds: who owns each, its category, and what to do about it.

This is the one place kinds are defined. docs/exception-kinds.md is generated from it
(``manage.py exception_kinds --markdown``), so the two cannot drift; ``--json`` prints it for
scripts, and a test fails when a kind's code is missing from the operations manual
(docs/operations.md, where each kind has its step-by-step section: add one with a new kind).
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
    """The customer's cancel reached Seko after packing started, so the parcel will ship: its
    shipment is posted to Blue Cherry against the cancelled order and invoiced, and it is not
    watched for lateness. Contact the customer (a return, or a refusal at the door); resolve
    this with a note when handled.""",
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
    line numbers...), or the integration failed on it (what it raised is named in the message).
    It was skipped and the rest of the pull went on; the raw record is kept on this exception.
    Have it corrected in Blue Cherry, or report a failure of ours to support: the next version
    is taken normally and this closes itself.""",
)


# --- Item master: Blue Cherry items -> Seko products (issue 4) ------------------------------
ITEM_INVALID = _kind(
    "item.invalid", "Item cannot become a Seko product: its data is incomplete or wrong",
    Owner.DATA, Category.DATA,
    """The item failed validation before anything was sent to Seko (every problem is listed:
    UPC missing or with a wrong GTIN check digit, description, HS code, country of origin,
    weight, price, currency). It is not LIVE, so orders for it are held. Correct the item in
    Blue Cherry: the change is picked up, the product created at Seko, the item set LIVE and
    the held orders sent, all on their own; this then closes itself.""",
)
ITEM_SYNC_FAILED = _kind(
    "item.sync_failed", "Seko refused the product (or Blue Cherry refused to set it LIVE)",
    Owner.DATA, Category.DATA,
    """The item passed our checks but Seko refused the ProductMaster (its message and the request
    are shown), or Seko accepted it and Blue Cherry refused to set it LIVE. The item is not
    sellable. Correct the item in Blue Cherry (it is then sent again on its own) or raise Seko's
    message with Seko; this closes itself when the product is accepted.""",
)
ITEM_MASTER_MISMATCH = _kind(
    "item.master_mismatch", "Blue Cherry's item master and Seko's products disagree",
    Owner.DATA, Category.DATA,
    """The item-master audit found this SKU different in the two systems (every finding is
    listed): LIVE in Blue Cherry but missing at Seko, a different EAN, description or weight, or
    a product at Seko that Blue Cherry does not know or has discontinued. The warehouse may pick
    or declare the wrong thing. Correct the item in Blue Cherry (the item flow then updates
    Seko) or have Seko correct or retire the product; this closes itself when a later audit no
    longer finds it.""",
)


# --- Dispatch confirmations and monitoring (issue 5) ------------------------------------------
DISPATCH_INCOMPLETE = _kind(
    "dispatch.incomplete", "Dispatch confirmation is missing its date, carrier or tracking number",
    Owner.OPS, Category.DATA,
    """Seko confirmed a dispatch without something Blue Cherry needs to ship and invoice it (the
    problems are listed). Nothing was posted, so the customer has not been invoiced or told. A
    later TrackingDetails from Seko fills in a missing tracking number and posts it on its own;
    otherwise get the carrier or tracking number from Seko, fill it in on the dispatch form linked
    here and release it: it is then posted once.""",
)
DISPATCH_UNKNOWN_ORDER = _kind(
    "dispatch.unknown_order", "Dispatch confirmation for an order we did not send",
    Owner.OPS, Category.DATA,
    """Seko confirmed a dispatch for an order number the integration never sent to Seko (or no
    order number at all, or one since cancelled). Nothing was posted. Check with Seko what was
    shipped; if it is a real order of ours, raise it with the integration admins.""",
)
DISPATCH_LINE_MISMATCH = _kind(
    "dispatch.line_mismatch", "Dispatch lines do not match the order",
    Owner.OPS, Category.DATA,
    """A dispatched line is for a SKU that is not on the order, or ships more than is still open
    on it (every problem is listed). Nothing was posted. Check with the warehouse what really
    left, and correct the order in Blue Cherry or have Seko correct the confirmation.""",
)
DISPATCH_REJECTED = _kind(
    "dispatch.rejected", "Blue Cherry refused the shipment",
    Owner.OPS, Category.BUSINESS,
    """The dispatch passed our checks but Blue Cherry refused the shipment (its message is shown;
    e.g. the order was cancelled or edited meanwhile). Nothing was invoiced. Fix the order in Blue
    Cherry and release the dispatch again from its form.""",
)
DISPATCH_TRACKING_REJECTED = _kind(
    "dispatch.tracking_rejected", "Blue Cherry refused a tracking number that came after the shipment",
    Owner.OPS, Category.BUSINESS,
    """Seko sent the dispatch's tracking number (or a newer one) after its shipment was posted, and
    Blue Cherry refused to add it to the shipment (its message is shown). The shipment and invoice
    stand; only CX's answer to "where is my order?" lacks the number. The integration tries again
    on its own every so often; if Blue Cherry keeps refusing, put the number on the shipment in
    Blue Cherry by hand. This closes itself once Blue Cherry takes it.""",
)
DISPATCH_OVERDUE = _kind(
    "dispatch.overdue", "Order sent for fulfilment and not dispatched within its SLA",
    Owner.CX, Category.MONITORING,
    """The order was released in Blue Cherry longer ago than its service level allows (or past
    the new time CX promised) and has not left the warehouse. Where it is (not yet at Seko, held
    here, at Seko with Seko's status) is shown. Chase whoever has it, and tell the customer if
    the delivery promise will be missed; agreed a later time: Promise new time on Overdue. This
    closes itself when the dispatch arrives.""",
)
SYNC_STALLED = _kind(
    "sync.stalled", "A flow has not succeeded within twice its interval",
    Owner.ADMIN, Category.MONITORING,
    """A scheduled flow (named in the message) has not completed successfully for more than twice
    its interval: the workers may be down, the schedule missing, or every run failing (see its
    last error). Check `manage.py qcluster` is running and the flow's log. This closes itself on
    the flow's next success.""",
)
SYNC_ENDPOINT_UNSUPPORTED = _kind(
    "sync.endpoint_unsupported", "Seko has no endpoint the integration asked",
    Owner.ADMIN, Category.MONITORING,
    """Seko answered that an endpoint we call does not exist there (HTTP 404 without its usual
    reply, or "No HTTP resource was found"). Only two calls can meet this, because no Seko page
    documents them: the order status by sales-order number and the dispatch of one order. The
    product keeps working without them: an order Seko reports as already received (our earlier
    submit reached it) is recorded as sent without its GUID (its pick ticket in Blue Cherry then
    carries the order number as the warehouse reference), and dispatches arrive by push only,
    since the dispatch poll can no longer fetch one whose push was lost (dispatch.overdue flags
    an order whose dispatch never comes). Ask Seko whether the endpoint exists under
    another path or version, and set it up; this closes itself once the call answers again.""",
)
HOLD_UNEXPLAINED = _kind(
    "hold.unexplained", "Held with no open exception saying why",
    Owner.OPS, Category.MONITORING,
    """The monitor found this order, dispatch or item held (an order quarantined or rejected, a
    dispatch quarantined, an item invalid or refused) with no open exception about it, so no one
    would ever have looked at it. Its state and last recorded problems are in the message. Open
    the object, find what holds it and fix that (or retry, which checks it again and raises the
    exception that names the cause); an order that should not go out can be withdrawn from
    fulfilment from here. This closes itself once the object is no longer held or another
    exception names its cause. Report how it happened to the integration admins.""",
)
PUSH_MALFORMED = _kind(
    "push.malformed", "Seko pushed a message that could not be read",
    Owner.ADMIN, Category.DATA,
    """An authenticated push from Seko was not valid JSON, was of a type we do not know, or did
    not have the shape of Seko's envelope. It was refused and its raw body is kept here. Raise it
    with Seko; whatever it carried is recovered by the dispatch poll if it was a dispatch.""",
)
PUSH_UNAUTHORIZED = _kind(
    "push.unauthorized", "Seko's pushes are being refused: wrong token or signature",
    Owner.ADMIN, Category.MAPPING,
    """Pushes to our webhook were refused with 401 because the bearer token (SEKO_PUSH_TOKEN) or
    the signature (SEKO_PUSH_SECRET) did not match; how many, since when and the last reason are
    in the message (nothing of a refused body is kept). While it lasts Seko's tracking numbers and
    stock movements are lost after Seko's three tries; only dispatches are recovered, by the
    dispatch poll. If Seko was not told of a token or secret change, give Seko the current ones
    (or set ours back) and restart the web processes; if the pushes are not Seko's, block their
    source. This closes itself once pushes are accepted again and none has been refused for ten
    minutes.""",
)


def dispatch_key(dispatch_id: str) -> str:
    return f"dispatch:{dispatch_id}"


def flow_key(flow: str) -> str:
    return f"flow:{flow}"


# --- Stock: Seko free stock -> Blue Cherry available-to-sell (issue 6) ------------------------
STOCK_DRIFT = _kind(
    "stock.drift", "Stock figures disagree beyond the tolerance",
    Owner.OPS, Category.MONITORING,
    """Either Seko's snapshot differs from our running position (a stock movement we never
    received: a lost or dropped StockAdjustment push) or Blue Cherry's channel_available differs
    from the figure it last applied from us (an update that never took effect, or someone edited
    ATS in Blue Cherry). Both figures and the difference are in the message. The snapshot has
    already corrected our position and the next push corrects Blue Cherry; check with the
    warehouse whether the movement is real (damage, loss, a miscount). This closes itself when
    the next snapshot or audit agrees.""",
)
STOCK_SYNC_FAILED = _kind(
    "stock.sync_failed", "Blue Cherry did not apply an available-to-sell update",
    Owner.ADMIN, Category.BUSINESS,
    """A batch of available-to-sell figures was refused or FAILED in Blue Cherry's batch cycle
    (its errors are shown, e.g. an unknown SKU), so the channels still see the old figures. The
    other SKUs of the batch are sent again on their own; a SKU Blue Cherry refused is retried
    after the next snapshot. Set the SKU up in Blue Cherry if it is missing. This closes itself
    when the next batch for the location is applied.""",
)
STOCK_ADJUSTMENT_UNREADABLE = _kind(
    "stock.adjustment_unreadable", "A stock adjustment from Seko could not be applied",
    Owner.ADMIN, Category.DATA,
    """A stock push from Seko could not be read: a StockAdjustment header (no InternalId, a type
    that is neither Increase nor Decrease, no DC) or one of its lines (no LineInternalId or SKU, a
    quantity that is not a whole number), a StockStatusMovement, or a line of a Stock Overnight
    Summary. It was not applied and its raw record is kept here; the other lines went on. The
    next snapshot corrects the position; ask Seko about the message if it repeats.""",
)


# --- Reconciliation: Seko dispatches against Blue Cherry shipments and invoices (issue 7) -----
RECON_DISCREPANCY = _kind(
    "recon.discrepancy", "The warehouse and Blue Cherry disagree about an order's dispatch or invoice",
    Owner.FINANCE, Category.BUSINESS,
    """The daily reconciliation, reading Seko's dispatches and Blue Cherry's shipments and
    invoices, found a difference for this order (every difference is listed): dispatched at Seko
    with no shipment in Blue Cherry (the customer was neither invoiced nor told), a Blue Cherry
    shipment or invoice with no Seko dispatch (raised by hand?), a shipped quantity or invoiced
    value that differs from what left the warehouse, an invoice raised twice, or an order sent to
    Seko and neither dispatched nor cancelled past its SLA. Check the order's timeline and the
    Reconciliation page; correct the shipment or invoice in Blue Cherry (credit a duplicate, post
    the missing shipment: a quarantined dispatch is released from the exception queue), or chase
    the warehouse. This closes itself when a later run no longer finds the difference.""",
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


def endpoint_key(system: str, operation: str) -> str:
    """One of a system's endpoints (``sync.endpoint_unsupported``): one exception per call."""
    return f"{system_key(system)}:{operation}"
