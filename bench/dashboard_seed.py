"""Production-shaped data for the dashboard benchmark, seeded in bulk (executemany on SQLite, COPY
on PostgreSQL), a chunk of orders at a time so a million orders never sit in memory at once.

The shape of a year of trading, newest first: order number 0 is the newest. Each order has its
lines (1-4), the timeline its status history writes (OrderEvent) and the messages its life
exchanged with Blue Cherry and Seko (MessageLog, about six a dispatched order, request and
response bodies of about 2 KB together, shaped like the real bodies). Orders older than the
last ``IN_FLIGHT_AGE`` are settled; only recent ones are in flight. Exceptions carry their history
(ExceptionEvent); the item master and its stock positions, and a reconciliation row per trading
day, sit beside them.

Ids are given, not drawn: an order's id falls as its number rises (``order_id``), so ids grow
with time as in production even though the smaller size is seeded first and the year of history
behind it afterwards. Every other row takes the table's own sequence.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from exceptions import catalogue
from exceptions.models import ExceptionEvent, IntegrationException
from integration.models import Item, MessageLog, Order, OrderEvent, OrderLine, StockPosition
from reconciliation import rules
from reconciliation.models import Difference, ReconciliationDay

# The newest order: now, so the in-flight orders are as old as on a working day (the overdue page
# judges them against the real clock).
END = datetime.now(UTC).replace(second=0, microsecond=0)
YEAR = timedelta(days=365)
# By age, not by count, so both sizes of a run (and both scales) have the same work in flight.
IN_FLIGHT_AGE = timedelta(days=2)  # older orders are settled
OPEN_AGE = timedelta(days=4)  # younger exceptions may still be open (half are); older ones are resolved
ORDER_ID_BASE = 10_000  # ids below are left to rows the ORM writes (templates, users' rows)
CHUNK_ORDERS = 2_000  # orders per bulk write: ~12,000 message rows, ~25 MB of bodies
DC_CODE = "DCCL01"

Status = Order.Status
IN_FLIGHT = [(Status.DISPATCHED, 80), (Status.SENT, 12), (Status.QUARANTINED, 3), (Status.RECEIVED, 2),
             (Status.CANCELLED, 2), (Status.REJECTED, 1)]
# In flight but older than the dispatch SLA: most have left the warehouse, a few are late (the
# overdue page's rows), as on a working day; the young ones carry the in-flight mix.
PAST_SLA = [(Status.DISPATCHED, 96), (Status.SENT, 1.5), (Status.CANCELLED, 2), (Status.QUARANTINED, 0.5)]
SLA = timedelta(hours=24)
# Settled history: a few held orders were taken out of fulfilment for good (withdrawn by a person),
# the product's end for an order nobody will fix; their exceptions were resolved with them.
SETTLED = [(Status.DISPATCHED, 97), (Status.CANCELLED, 2.8), (Status.WITHDRAWN, 0.2)]
# The timeline each final status leaves behind: (from, to) steps as the order flow records them.
HISTORY: dict[str, list[tuple[str, str]]] = {
    Status.RECEIVED: [("", "received")],
    Status.QUARANTINED: [("", "received"), ("received", "quarantined")],
    Status.WITHDRAWN: [("", "received"), ("received", "quarantined"), ("quarantined", "withdrawn")],
    Status.SENT: [("", "received"), ("received", "sending"), ("sending", "sent")],
    Status.REJECTED: [("", "received"), ("received", "sending"), ("sending", "rejected")],
    Status.DISPATCHED: [("", "received"), ("received", "sending"), ("sending", "sent"), ("sent", "dispatched")],
    Status.CANCELLED: [("", "received"), ("received", "sending"), ("sending", "sent"), ("sent", "cancelled")],
}
# The exchanges an order's life makes, by how far it got: (system, operation, method, path, direction).
SUBMIT = ("seko", "submit_order", "POST", "http://seko.example/api/salesorders/v4/submit", "out")
PICK = ("bluecherry", "pick_ticket", "POST", "http://bc.example/api/v1/sales-orders/{o}/pick-ticket", "out")
STATUS_CHECK = ("seko", "order_status", "GET", "http://seko.example/api/salesorders/v4/{o}/status", "out")
DISPATCH_IN = ("seko", "order_dispatch", "POST", "webhooks/seko", "in")
SHIPMENT = ("bluecherry", "create_shipment", "POST", "http://bc.example/api/v1/shipments", "out")
TRACKING = ("bluecherry", "update_shipment_tracking", "PATCH", "http://bc.example/api/v1/shipments/{s}", "out")
CANCEL = ("seko", "cancel_order", "POST", "http://seko.example/api/salesorders/v4/{o}/cancel", "out")
EXCHANGES: dict[str, list[tuple[str, ...]]] = {
    Status.RECEIVED: [],
    Status.QUARANTINED: [],
    Status.WITHDRAWN: [],
    Status.SENT: [SUBMIT, PICK, STATUS_CHECK],
    Status.REJECTED: [SUBMIT],
    Status.DISPATCHED: [SUBMIT, PICK, STATUS_CHECK, DISPATCH_IN, SHIPMENT, TRACKING],
    Status.CANCELLED: [SUBMIT, PICK, CANCEL],
}
COLOURS = ("BLK", "WHT", "NVY", "RED", "GRN")
SIZES = ("XS", "S", "M", "L", "XL")


def order_id(number: int, total: int) -> int:
    """The id of order ``number`` of a history of ``total``: the newest (0) has the largest."""
    return ORDER_ID_BASE + total - number


def ord_num(number: int) -> str:
    return f"SO-{number:08d}"


def sku_of(index: int) -> str:
    return f"SKU{index // 25:06d}-{COLOURS[index % 5]}-{SIZES[index // 5 % 5]}"


def _stamp(moment: datetime) -> str:
    """A timestamp as the database takes it in text: SQLite stores naive UTC text."""
    if connection.vendor == "sqlite":
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")
    return moment.isoformat()


@dataclass
class Template:
    """A row every column of which is already in the database's own text format."""

    model: type
    columns: list[str]
    row: list[Any]
    at: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.at = {name: i for i, name in enumerate(self.columns)}

    def make(self, **values: Any) -> list[Any]:
        row = list(self.row)
        for name, value in values.items():
            row[self.at[name]] = value
        return row


def template(model: type, *, with_id: bool = False, **fields: Any) -> Template:
    """Write one row through the ORM, read it back as text columns, delete it."""
    instance = model.objects.create(**fields)
    columns = [f.column for f in model._meta.concrete_fields if with_id or f.column != "id"]
    cast = "" if connection.vendor == "sqlite" else "::text"
    quoted = ", ".join(f"{connection.ops.quote_name(c)}{cast}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quoted} FROM {model._meta.db_table} WHERE id = %s", [instance.pk])
        row = list(cursor.fetchone())
    model.objects.filter(pk=instance.pk).delete()
    return Template(model, columns, row)


def insert(tmpl: Template, rows: Iterable[list[Any]]) -> int:
    """One bulk write of ``rows`` (the caller holds the transaction): COPY or executemany."""
    table = tmpl.model._meta.db_table
    names = ", ".join(connection.ops.quote_name(c) for c in tmpl.columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            count = 0
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        batch = list(rows)
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(tmpl.columns))})", batch)
        return len(batch)


def bump_sequence(model: type) -> None:
    """After rows with given ids, the next id the ORM draws must be above them (PostgreSQL; SQLite
    already continues from the largest id)."""
    if connection.vendor == "postgresql":
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")


# --- message bodies, shaped like the real ones ------------------------------------------------

def _order_lines_json(lines: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    return [{"LineNumber": n, "ProductCode": sku, "Quantity": qty, "UnitPrice": float(price), "CurrencyCode": "GBP",
             "VAT": 20, "Description": f"{sku} jersey tee, organic cotton", "UPC": f"50{n:02d}{sku[3:9]}",
             "HSCode": "6109100010", "CountryOfOrigin": "PT", "Weight": 0.21, "DiscountAmount": 0.0}
            for n, (sku, qty, price) in enumerate(lines, 1)]


def sales_order(order_number: str, lines: list[tuple[str, int, str]], day: str, status: str) -> dict[str, Any]:
    """A sales order as Blue Cherry's API returns it: header, both addresses, every line priced."""
    address = {"name": "Stephen Jones", "company": "", "address1": "23 Victoria Street", "address2": "Flat 4",
               "city": "Windsor", "state": "Berkshire", "postcode": "SL4 1HE", "country": "GB",
               "phone": "0123 336 6676", "email": "stephen.jones@example.com"}
    return {"ord_num": order_number, "status": status, "customer": "C1001", "customer_name": "Web shop UK",
            "channel": "ECOM", "division": "01", "season": "AW26", "location": "UK3PL", "ship_via": "RMNDAY",
            "terms": "PREPAID", "currency": "GBP", "order_date": day, "start_ship": day, "cancel_date": day,
            "customer_po": f"WEB{order_number[-8:]}", "ship_to": address, "bill_to": address,
            "updated_at": f"{day}T09:14:03Z", "created_by": "WEBSHOP", "notes": "Leave with neighbour if out",
            "lines": [{"line_no": n, "sku": sku, "upc": f"50{n:02d}{sku[3:9]}", "style": sku[:9], "color": sku[10:13],
                       "size": sku[14:], "description": "Jersey tee, organic cotton", "qty_ordered": qty,
                       "qty_shipped": 0, "qty_cancelled": 0, "unit_price": price, "discount": "0.00",
                       "tax_code": "VAT20", "extended": price, "hs_number": "6109100010",
                       "country_of_origin": "PT", "weight_kg": "0.21", "warehouse_note": ""}
                      for n, (sku, qty, price) in enumerate(lines, 1)]}


def bodies(operation: str, order_number: str, lines: list[tuple[str, int, str]], moment: datetime) -> tuple[str, str]:
    """The request and response of one exchange, as the clients store them (secrets removed)."""
    day = moment.strftime("%Y-%m-%d")
    guid = f"7d3f0a1e-4c2b-9f1e-{order_number[-8:]}"
    ok = {"CallStatus": {"Success": True, "Code": 0, "Message": ""}}
    if operation == "submit_order":
        request = {"Request": {
            "DeliveryDetails": {"City": "Windsor", "CountryCode": "GB", "County": "Berkshire",
                                "EmailAddress": "stephen.jones@example.com", "FirstName": "Stephen",
                                "LastName": "Jones", "Line1": "23 Victoria Street", "Line2": "Flat 4",
                                "PhoneNumber": "0123 336 6676", "PostcodeZip": "SL4 1HE"},
            "List": {"SalesOrderLineItem": _order_lines_json(lines)},
            "SalesOrderHeader": {"DCCode": DC_CODE},
            "SalesOrder": {"SalesOrderDate": day, "SalesOrderNumber": order_number, "CourierName": "RoyalMail",
                           "CourierService": "TPN24", "SpecialInstructions": "Leave with neighbour if out"},
            "ShipToCompany": {"CompanyCode": "C1001", "CompanyDescription": "Web shop UK"}}}
        response = {**ok, "GUID": guid, "SalesOrderNumber": order_number}
    elif operation == "pick_ticket":
        request = {"wms_reference": guid}
        response = {**sales_order(order_number, lines, day, "PICKING"),
                    "pick_ticket": {"number": f"PT{order_number[-8:]}", "created": day, "wms_reference": guid}}
    elif operation == "order_status":
        request = {}
        response = {**ok, "SalesOrderHeader": {"SalesOrderNumber": order_number, "GUID": guid, "DCCode": DC_CODE,
                                               "Status": "Awaiting Dispatch", "StatusDate": day,
                                               "CourierName": "RoyalMail", "CourierService": "TPN24"},
                    "List": {"SalesOrderLineItem": _order_lines_json(lines)}}
    elif operation == "order_dispatch":
        request = {"DispatchConfirmation": {
            "InterfaceRecordId": guid, "SequenceNumber": 1, "MessageGroupId": f"g-{guid}", "MessagePart": 1,
            "MessageTotal": 1, "SalesOrderNumber": order_number, "DispatchId": f"DSP-{order_number}",
            "DispatchDate": moment.isoformat(), "CourierName": "RoyalMail", "CourierService": "TPN24",
            "TrackingNumber": f"JD{order_number[-8:]}GB",
            "List": {"DispatchLineItem": [{"LineNumber": n, "ProductCode": sku, "Quantity": qty}
                                          for n, (sku, qty, _) in enumerate(lines, 1)]}}}
        response = {"accepted": True}
    elif operation == "create_shipment":
        request = {"ord_num": order_number, "ship_date": day, "ship_via": "RMNDAY",
                   "tracking_numbers": [f"JD{order_number[-8:]}GB"], "wms_reference": f"DSP-{order_number}",
                   "lines": [{"line_no": n, "sku": sku, "qty_shipped": qty}
                             for n, (sku, qty, _) in enumerate(lines, 1)]}
        response = {"ship_num": f"SH{order_number[-8:]}", "invoice_num": f"IN{order_number[-8:]}", "status": "POSTED",
                    "ship_date": day, "order": sales_order(order_number, lines, day, "INVOICED")}
    elif operation == "update_shipment_tracking":
        request = {"tracking_numbers": [f"JD{order_number[-8:]}GB"]}
        response = {"ship_num": f"SH{order_number[-8:]}", "tracking_numbers": [f"JD{order_number[-8:]}GB"],
                    "status": "POSTED", "carrier": "Royal Mail Tracked 24",
                    "order": sales_order(order_number, lines, day, "INVOICED")}
    else:  # cancel_order
        request = {"ReasonCode": "001", "SalesOrderNumber": order_number}
        response = {**ok, "SalesOrderNumber": order_number, "Status": "Cancelled"}
    return json.dumps(request, indent=1), json.dumps(response, indent=1)


# --- orders with their lines, timeline and messages ------------------------------------------

@dataclass
class Counts:
    orders: int = 0
    lines: int = 0
    order_events: int = 0
    messages: int = 0
    exceptions: int = 0
    exception_events: int = 0
    stock_positions: int = 0
    items: int = 0
    reconciliation_days: int = 0
    differences: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class OrderTemplates:
    order: Template
    line: Template
    event: Template
    message: Template


def order_templates() -> OrderTemplates:
    parent = Order.objects.create(ord_num="TEMPLATE-PARENT", bc_updated_at=END, location="UK3PL", ship_via="RMNDAY")
    order = template(Order, with_id=True, ord_num="TEMPLATE", status=Status.DISPATCHED, bc_status="RELEASED",
                     bc_updated_at=END, customer="C1001", channel="ECOM", location="UK3PL", ship_via="RMNDAY",
                     currency="GBP", order_date=END, ship_to={"name": "A Customer", "city": "Leeds", "postcode": "LS1"},
                     raw={"ord_num": "TEMPLATE"})
    line = template(OrderLine, order=parent, line_no=1, sku="SKU", qty_ordered=1, unit_price="12.50")
    event = template(OrderEvent, order=parent, from_status="", to_status="received")
    message = template(MessageLog, system="seko", operation="submit_order", method="POST", url="u", status_code=200,
                       order=parent)
    parent.delete()
    return OrderTemplates(order, line, event, message)


def _status_of(age: timedelta, rng: random.Random) -> str:
    mix = SETTLED if age >= IN_FLIGHT_AGE else IN_FLIGHT if age < SLA else PAST_SLA
    return rng.choices([s for s, _ in mix], [w for _, w in mix])[0]


def order_rows(t: OrderTemplates, number: int, total: int, skus: int, rng: random.Random,
               spacing: timedelta) -> tuple[list[Any], list[list[Any]], list[list[Any]], list[list[Any]]]:
    """One order and its lines, timeline events and messages."""
    status = _status_of(number * spacing, rng)
    pk = order_id(number, total)
    created = END - number * spacing
    name = ord_num(number)
    sent = created + timedelta(minutes=2)
    dispatched = created + timedelta(hours=20)
    order = t.order.make(
        id=pk, ord_num=name, status=status, created_at=_stamp(created), updated_at=_stamp(created),
        order_date=_stamp(created), bc_updated_at=_stamp(created),
        sent_at=_stamp(sent) if status in (Status.SENT, Status.DISPATCHED, Status.CANCELLED) else None,
        seko_guid=f"guid-{number}" if status in (Status.SENT, Status.DISPATCHED, Status.CANCELLED) else "",
        dispatched_at=_stamp(dispatched) if status == Status.DISPATCHED else None,
        withdrawn_at=_stamp(dispatched) if status == Status.WITHDRAWN else None,
        withdrawn_by="ops" if status == Status.WITHDRAWN else "",
        withdrawn_reason="Customer's address could not be confirmed" if status == Status.WITHDRAWN else "")
    lines = [(sku_of(rng.randrange(skus)), rng.choice((1, 1, 1, 2, 3)), f"{rng.choice((12, 18, 25, 40))}.00")
             for _ in range(rng.randint(1, 4))]
    line_rows = [t.line.make(order_id=pk, line_no=n, sku=sku, qty_ordered=qty, unit_price=price,
                             qty_shipped=qty if status == Status.DISPATCHED else 0, seko_line_number=n)
                 for n, (sku, qty, price) in enumerate(lines, 1)]
    steps = HISTORY[status]
    event_rows = [t.event.make(order_id=pk, from_status=a, to_status=b, note="",
                               at=_stamp(created + (dispatched - created) * i / len(steps)))
                  for i, (a, b) in enumerate(steps)]
    message_rows = []
    for i, (system, operation, method, url, direction) in enumerate(EXCHANGES[status]):
        moment = sent + (dispatched - sent) * i / 6
        request, response = bodies(operation, name, lines, moment)
        message_rows.append(t.message.make(
            order_id=pk, system=system, operation=operation, method=method, direction=direction,
            url=url.format(o=name, s=f"SH{name[-8:]}"), status_code=200, request_body=request,
            response_body=response, duration_ms=rng.randint(40, 400), created_at=_stamp(moment)))
    return order, line_rows, event_rows, message_rows


def seed_orders(first: int, count: int, *, total: int, skus: int, rng: random.Random) -> Counts:
    """Orders ``first`` .. ``first + count - 1`` of a history of ``total`` spread over a year,
    with everything each carries, ``CHUNK_ORDERS`` at a time (each chunk one transaction)."""
    t = order_templates()
    spacing = YEAR / total
    counts = Counts()
    for start in range(first, first + count, CHUNK_ORDERS):
        orders, lines, events, messages = [], [], [], []
        for number in range(start, min(start + CHUNK_ORDERS, first + count)):
            order, line_rows, event_rows, message_rows = order_rows(t, number, total, skus, rng, spacing)
            orders.append(order)
            lines += line_rows
            events += event_rows
            messages += message_rows
        with transaction.atomic():
            counts.orders += insert(t.order, orders)
            counts.lines += insert(t.line, lines)
            counts.order_events += insert(t.event, events)
            counts.messages += insert(t.message, messages)
    bump_sequence(Order)
    return counts


# --- exceptions and their history -------------------------------------------------------------

def exception_kinds() -> list[catalogue.Kind]:
    return [k for k in catalogue.KINDS.values() if k.code.startswith(("order.", "mapping.", "dispatch."))] or \
        list(catalogue.KINDS.values())


def seed_exceptions(first: int, count: int, *, orders_total: int, exceptions_total: int, rng: random.Random,
                    chunk: int = 10_000) -> Counts:
    """Exceptions ``first`` .. over the same year, newest first: the old ones resolved (raised,
    some retried, resolved), half of those younger than ``OPEN_AGE`` still open. Exception ``n`` is
    about order ``n * orders_total // exceptions_total``, which exists at every size."""
    kinds = exception_kinds()
    exc = template(IntegrationException, with_id=True, kind=kinds[0].code, owner=str(kinds[0].owner),
                   category=str(kinds[0].category), trace_key="TEMPLATE", message="template")
    parent = IntegrationException.objects.create(kind="template", owner="ops", category="x", trace_key="T", message="")
    event = template(ExceptionEvent, exception=parent, action="raised")
    parent.delete()
    base = IntegrationException.objects.order_by("-id").values_list("id", flat=True).first() or 0
    spacing = YEAR / exceptions_total
    counts = Counts()
    for start in range(first, first + count, chunk):
        rows, events = [], []
        for number in range(start, min(start + chunk, first + count)):
            kind = kinds[number % len(kinds)]
            order_number = number * orders_total // exceptions_total
            seen = END - number * spacing
            is_open = number * spacing < OPEN_AGE and rng.random() < 0.5
            pk = base + 1 + number - first
            rows.append(exc.make(
                id=pk, kind=kind.code, owner=str(kind.owner), category=str(kind.category),
                trace_key=f"order:{ord_num(order_number)}", status="open" if is_open else "resolved",
                message=f"{kind.title} (order {ord_num(order_number)})", order_id=order_id(order_number, orders_total),
                first_seen_at=_stamp(seen), last_seen_at=_stamp(seen),
                resolved_at=None if is_open else _stamp(seen + timedelta(hours=3))))
            events.append(event.make(exception_id=pk, action="raised", at=_stamp(seen), note=""))
            if rng.random() < 0.3:
                events.append(event.make(exception_id=pk, action="retried", at=_stamp(seen + timedelta(hours=1)),
                                         note="retried by the integration"))
            if not is_open:
                events.append(event.make(exception_id=pk, action="resolved", at=_stamp(seen + timedelta(hours=3)),
                                         note="fixed in Blue Cherry and resent"))
        with transaction.atomic():
            counts.exceptions += insert(exc, rows)
            counts.exception_events += insert(event, events)
    bump_sequence(IntegrationException)
    return counts


# --- the item master and stock positions ------------------------------------------------------

def seed_catalogue(first: int, count: int, chunk: int = 10_000) -> Counts:
    """SKUs ``first`` .. : an Item each (live at Seko) and its stock position at the DC."""
    item = template(Item, sku="TEMPLATE", bc_status=Item.BCStatus.LIVE, bc_updated_at=END,
                    sync_status=Item.SyncStatus.LIVE, description="Jersey tee, organic cotton", style="TEE",
                    raw={"style_name": "Jersey tee", "status": "LIVE"}, seko_acknowledged_at=END, live_at=END)
    position = template(StockPosition, sku="TEMPLATE", dc_code=DC_CODE, free=10, snapshot_at=END, computed_at=END,
                        available=8, buffer=2, buffer_reason="velocity", published_qty=8, published_at=END)
    counts = Counts()
    for start in range(first, first + count, chunk):
        numbers = range(start, min(start + chunk, first + count))
        items = [item.make(sku=sku_of(n), upc=f"50{n:011d}", color_code=COLOURS[n % 5], size=SIZES[n // 5 % 5])
                 for n in numbers]
        positions = [position.make(sku=sku_of(n), free=n % 97, available=max(0, n % 97 - 2),
                                   published_qty=max(0, n % 97 - 2),
                                   held=json.dumps({"Quarantine": 1}) if n % 50 == 0 else "{}",
                                   held_units=1 if n % 50 == 0 else 0)
                     for n in numbers]
        with transaction.atomic():
            counts.items += insert(item, items)
            counts.stock_positions += insert(position, positions)
    return counts


# --- reconciliation: a row per trading day, a few differences each ------------------------------

def seed_reconciliation(days: int, *, orders_total: int, skip: int = 0) -> Counts:
    """Reconciliation days ``skip`` .. ``days - 1`` before END (day 0 is END's eve), each with the
    totals of its orders and a few difference lines."""
    row = template(ReconciliationDay, day=date(1999, 1, 1), reconciled_at=END)
    parent = ReconciliationDay.objects.create(day=date(1999, 1, 2), reconciled_at=END)
    line = template(Difference, day=parent, kind=next(iter(rules.KINDS)), ord_num="T", message="t")
    parent.delete()
    per_day = max(1, orders_total * 86_400 // int(YEAR.total_seconds()))
    kinds = list(rules.KINDS)
    counts = Counts()
    with transaction.atomic():
        for n in range(skip, days):
            day = (END - timedelta(days=n + 1)).date()
            totals = {f"{c}_orders": per_day for c in ("sent", "dispatched", "shipped", "invoiced")}
            totals |= {f"{c}_units": per_day * 2 for c in ("sent", "dispatched", "shipped", "invoiced")}
            totals |= {f"{c}_value": f"{per_day * 45}.00" for c in ("sent", "dispatched", "shipped", "invoiced")}
            differences = n % 3
            counts.reconciliation_days += insert(row, [row.make(day=day.isoformat(), reconciled_at=_stamp(END),
                                                                invoices=per_day, differences=differences, **totals)])
            day_id = ReconciliationDay.objects.get(day=day).pk
            counts.differences += insert(line, [
                line.make(day_id=day_id, kind=kinds[(n + k) % len(kinds)], ord_num=ord_num(n * per_day + k),
                          message="Shipped quantity differs from Seko's dispatch", seko_units=2, bc_units=1)
                for k in range(differences)])
    return counts


def detail_order_exception(number: int, total: int) -> None:
    """The order the bench opens carries an exception with its history, as a troubled one does."""
    kind = catalogue.ORDER_PICK_TICKET_FAILED
    exception = IntegrationException.objects.create(
        kind=kind.code, owner=str(kind.owner), category=str(kind.category), trace_key=f"order:{ord_num(number)}",
        message="Blue Cherry refused the pick ticket", order_id=order_id(number, total))
    ExceptionEvent.objects.bulk_create([ExceptionEvent(exception=exception, action=a) for a in ("raised", "retried")])
