"""Client of the Blue Cherry API (behind Azure API Management): the only code that speaks to it.

Errors come as ``{"error": {"code", "message", "details"}}``: 404 is ``NotFound``, any other
4xx ``Rejected`` with the message and details; transient failures and 401/403 are handled by
the shared HTTP layer. Lists are paged with ``next_page``; the iterators follow it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from integration.clients.errors import MalformedPayload, NotFound, Rejected, Transient
from integration.clients.http import HttpClient, OnExchange, Reply, utc_iso


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _day(value: date | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        raise ValueError("give a date, not a datetime")
    return value.isoformat()


# Largest batch ``POST items/status`` takes (docs/contracts/bluecherry.md).
MAX_STATUS_UPDATES = 500


class BlueCherryClient(HttpClient):
    """Blue Cherry over HTTP. Methods return decoded JSON or raise the errors of ``errors.py``."""

    system = "bluecherry"

    def __init__(self, base_url: str, api_key: str, *, timeout: tuple[float, float] = (3.0, 20.0),
                 max_retries: int = 2, backoff: float = 0.5, on_exchange: OnExchange | None = None,
                 **kwargs: Any):
        super().__init__(base_url, timeout=timeout, max_retries=max_retries, backoff=backoff,
                         on_exchange=on_exchange, headers={"Ocp-Apim-Subscription-Key": api_key},
                         secrets=[api_key], **kwargs)

    def _call(self, operation: str, method: str, path: str, *, params: dict[str, Any] | None = None,
              body: Any = None, idempotent: bool = True, read: Callable[[Any], Any] | None = None) -> Any:
        """One call: the decoded JSON of a 2xx reply (through ``read`` when given)."""

        def parse(reply: Reply) -> Any:
            http = reply.status_code
            if http >= 400:
                raise self._refusal(path, reply)
            if http < 200 or http >= 300:
                raise self.error(MalformedPayload, f"Blue Cherry {path}: unexpected HTTP {http}", reply)
            data = self.decode_json(reply) if reply.text.strip() else None
            if read is None:
                return data
            try:
                return read(data)
            except MalformedPayload as exc:
                raise self.error(MalformedPayload, f"Blue Cherry {operation}: {exc}", reply) from None

        return self.request(operation, method, path, params=params, json_body=body, idempotent=idempotent,
                            parse=parse)

    def _refusal(self, path: str, reply: Reply) -> Rejected | Transient:
        http = reply.status_code
        try:
            error = self.decode_json(reply).get("error")
        except (MalformedPayload, AttributeError):
            error = None
        if not isinstance(error, dict):
            # Not Blue Cherry's error envelope: a proxy's or gateway's page. Blue Cherry has not
            # judged the request, so it is never a refusal: try again later.
            return self.error(Transient, f"Blue Cherry {path}: HTTP {http} without Blue Cherry's answer (a proxy "
                                         f"or gateway in between?): {reply.text[:200]}", reply)
        message = str(error.get("message") or f"HTTP {http}")
        code, details = error.get("code"), error.get("details")
        cls = NotFound if http == 404 else Rejected
        return self.error(cls, f"Blue Cherry rejected {path}: {message}", reply, remote_message=message,
                          code=code, status_code=http, details=details if isinstance(details, list) else None)

    @staticmethod
    def _object(data: Any) -> dict:
        if not isinstance(data, dict):
            raise MalformedPayload(f"expected a JSON object, got {str(data)[:200]!r}")
        return data

    def _get_object(self, operation: str, path: str) -> dict:
        return self._call(operation, "GET", path, read=self._object)

    def _read_page(self, page: int) -> Callable[[Any], tuple[list, int | None]]:
        def read(data: Any) -> tuple[list, int | None]:
            results = self._object(data).get("results")
            if not isinstance(results, list):
                raise MalformedPayload("no results list in the page")
            next_page = data.get("next_page")
            if next_page is None:
                return results, None
            if not isinstance(next_page, int) or isinstance(next_page, bool) or next_page <= page:
                raise MalformedPayload(f"next_page {next_page!r} after page {page}")
            return results, next_page

        return read

    def _pages(self, operation: str, path: str, params: dict[str, Any], page_size: int) -> Iterator[dict]:
        """Every result of a paged list, following ``next_page`` until it is null."""
        page: int | None = 1
        while page is not None:
            results, page = self._call(operation, "GET", path, params={**params, "page": page,
                                                                        "page_size": page_size},
                                       read=self._read_page(page))
            yield from results

    def _changed_since(self, operation: str, path: str, params: dict[str, Any], page_size: int,
                       key: str) -> Iterator[dict]:
        """Every result of an ``updated_since`` list (ordered by updated_at, then ``key``),
        read so that rows leaving the list meanwhile cannot hide others.

        Following ``next_page`` over such a list skips rows: when an order on a page already
        read leaves the list (picked, by another worker, while this pull runs), every later row
        moves up one place and the first row of the next page is never seen (issue 9, measured:
        part of a burst came a heartbeat late). So after each full page the next request asks
        again from the newest ``updated_at`` on it; rows at that instant come again and are
        dropped here. Only when a whole page shares one instant are page numbers followed
        within it (asking from it again would return the same page)."""
        since: str | None = params.get("updated_since")
        page = 1
        yielded: set[tuple[Any, Any]] = set()
        while True:
            results, next_page = self._call(
                operation, "GET", path, params={**params, "updated_since": since, "page": page, "page_size": page_size},
                read=self._read_page(page))
            fresh = 0
            for record in results:
                identity = (record.get(key), record.get("updated_at")) if isinstance(record, dict) else None
                if identity is not None and identity in yielded:
                    continue
                if identity is not None:
                    yielded.add(identity)
                fresh += 1
                yield record
            if next_page is None:
                return
            newest = _stamp(results[-1]) if results else None
            if newest is None or not fresh or (newest == since and newest == _stamp(results[0])):
                # One instant fills the page, the page brought nothing new (a server that does
                # not move on), or the row cannot be read: go on by page number, which ends.
                page = next_page
            else:
                since, page = newest, 1

    # --- items --------------------------------------------------------------------------

    def iter_items(self, updated_since: datetime | None = None, status: str | None = None,
                   page_size: int = 200) -> Iterator[dict]:
        params = {"updated_since": utc_iso(updated_since) if updated_since else None, "status": status}
        return self._changed_since("iter_items", "items", params, page_size, key="sku")

    def get_item(self, sku: str) -> dict:
        return self._get_object("get_item", f"items/{_segment(sku)}")

    def set_item_status(self, sku: str, status: str, wms_reference: str | None = None) -> dict:
        """Set the item's status (``LIVE`` once Seko has it); returns the item."""
        return self._call("set_item_status", "POST", f"items/{_segment(sku)}/status",
                          body={"status": status, "wms_reference": wms_reference}, read=self._object)

    def set_item_statuses(self, updates: list[tuple[str, str, str | None]]) -> list[dict | Rejected]:
        """Set the status of many items in one call (``POST items/status``, at most
        ``MAX_STATUS_UPDATES``): ``updates`` are (sku, status, wms_reference). Returns, in the
        order asked, the item for each applied update or the ``Rejected`` (``NotFound`` for an
        unknown SKU) that Blue Cherry answered for it in its place; a request Blue Cherry refuses
        whole raises, as any call does."""
        body = {"updates": [{"sku": sku, "status": status, "wms_reference": reference}
                            for sku, status, reference in updates]}
        asked = [sku for sku, _, _ in updates]

        def read(data: Any) -> list[dict | Rejected]:
            results = self._object(data).get("results")
            if not isinstance(results, list) or len(results) != len(asked):
                raise MalformedPayload(f"expected {len(asked)} results, got {str(results)[:200]!r}")
            return [self._status_result(sku, result) for sku, result in zip(asked, results, strict=True)]

        return self._call("set_item_statuses", "POST", "items/status", body=body, read=read)

    def _status_result(self, sku: str, result: Any) -> dict | Rejected:
        if not isinstance(result, dict) or result.get("sku") != sku:
            raise MalformedPayload(f"result for {sku} expected, got {str(result)[:200]!r}")
        if isinstance(result.get("item"), dict):
            return result["item"]
        error = result.get("error")
        if not isinstance(error, dict):
            raise MalformedPayload(f"result for {sku} has neither an item nor an error")
        message = str(error.get("message") or "refused")
        cls = NotFound if error.get("code") == "not_found" else Rejected
        return cls(f"Blue Cherry rejected the status of {sku}: {self.sanitize(message)}", system=self.system,
                   operation="set_item_statuses", remote_message=self.sanitize(message), code=error.get("code"))

    # --- sales orders -------------------------------------------------------------------

    def iter_sales_orders(self, status: str, updated_since: datetime | None = None,
                          page_size: int = 200) -> Iterator[dict]:
        params = {"status": status, "updated_since": utc_iso(updated_since) if updated_since else None}
        return self._changed_since("iter_sales_orders", "sales-orders", params, page_size, key="ord_num")

    def get_sales_order(self, ord_num: str) -> dict:
        return self._get_object("get_sales_order", f"sales-orders/{_segment(ord_num)}")

    def pick_ticket(self, ord_num: str, wms_reference: str) -> dict:
        """Tell Blue Cherry the warehouse has the order (status PICKING). Repeating it with the
        same reference is a no-op, so it is safe to retry."""
        return self._call("pick_ticket", "POST", f"sales-orders/{_segment(ord_num)}/pick-ticket",
                          body={"wms_reference": wms_reference}, read=self._object)

    # --- shipments, invoices --------------------------------------------------------------

    def create_shipment(self, payload: dict) -> dict:
        """Create the order's shipment (and with it the invoice). Blue Cherry dedupes on
        ``wms_dispatch_id``: a repeat answers 200 with the same numbers, so retrying is safe.
        ``"cancel_refused": true`` in the payload: the warehouse refused the order's cancel and
        shipped it, so Blue Cherry takes the shipment against the cancelled order."""
        return self._call("create_shipment", "POST", "shipments", body=payload, read=self._object)

    def update_shipment_tracking(self, ship_num: str, tracking_numbers: list[str]) -> dict:
        """Set a posted shipment's tracking numbers (a number Seko sent after the shipment was
        posted); returns the shipment. The list replaces the old one, so repeating it is safe."""
        return self._call("update_shipment_tracking", "PATCH", f"shipments/{_segment(ship_num)}",
                          body={"tracking_numbers": list(tracking_numbers)}, read=self._object)

    def iter_shipments(self, ord_num: str | None = None, ship_date: date | str | None = None,
                       page_size: int = 200) -> Iterator[dict]:
        return self._pages("iter_shipments", "shipments", {"ord_num": ord_num, "ship_date": _day(ship_date)},
                           page_size)

    def iter_invoices(self, invoice_date: date | str | None = None, page_size: int = 200,
                      ord_num: str | None = None) -> Iterator[dict]:
        """Invoices of a day, or of one order (the reconciliation looks an order up across days)."""
        return self._pages("iter_invoices", "invoices", {"invoice_date": _day(invoice_date), "ord_num": ord_num},
                           page_size)

    # --- inventory ----------------------------------------------------------------------

    def iter_inventory(self, location: str, page_size: int = 200) -> Iterator[dict]:
        return self._pages("iter_inventory", "inventory", {"location": location}, page_size)

    def post_ats_update(self, location: str, as_of: datetime, positions: list[dict]) -> dict:
        """Queue available-to-sell figures; returns ``{"batch_id", "accepted"}``. Not repeated
        once it may have reached Blue Cherry: a second batch would be applied too."""
        body = {"location": location, "as_of": utc_iso(as_of), "positions": positions}
        return self._call("post_ats_update", "POST", "inventory/ats-updates", body=body, idempotent=False,
                          read=self._object)

    def ats_batch(self, batch_id: str) -> dict:
        return self._get_object("ats_batch", f"inventory/ats-updates/{_segment(batch_id)}")


def _stamp(record: Any) -> str | None:
    """A listed row's ``updated_at`` as Blue Cherry wrote it, to ask again from; None if absent."""
    stamp = record.get("updated_at") if isinstance(record, dict) else None
    return stamp if isinstance(stamp, str) and stamp else None
