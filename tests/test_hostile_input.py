"""Issue 8, hostile input: property tests for the pure mappers (the envelope parser's own are
in test_seko_client.py, the consolidation's in test_order_mapper.py), and bodies no one should
send (oversized, not JSON, the wrong content type, nested thousands deep, wrongly typed) to the
webhook and the JSON API: each gets a clear 4xx, never a 5xx, and nothing half-written."""

from __future__ import annotations

import contextlib
import json
from collections import Counter

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from integration.clients.errors import MalformedPayload
from integration.clients.seko import parse_body, parse_push
from integration.dispatches.mapper import split_back
from integration.items import mapper as item_mapper
from integration.models import CarrierMapping, InboundPush
from integration.orders.mapper import map_order

SKUS = st.sampled_from(["A", "B", "C"])
TEXT = st.text(max_size=40)
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000


# --- mappers ------------------------------------------------------------------------------------

@given(st.lists(st.fixed_dictionaries({"sku": SKUS, "qty_ordered": st.integers(0, 20),
                                       "qty_shipped": st.integers(0, 5), "qty_cancelled": st.integers(0, 5)}),
                min_size=1, max_size=8),
       st.dictionaries(SKUS, st.integers(0, 60)))
def test_split_back_never_ships_more_than_is_open_nor_more_than_was_dispatched(lines, totals):
    numbered = [{**line, "line_no": index + 1} for index, line in enumerate(lines)]
    outcomes = split_back(totals, numbered)
    assert [o.line_no for o in outcomes] == sorted(line["line_no"] for line in numbered)
    assert all(0 <= o.shipped <= o.open and o.cancelled >= 0 for o in outcomes)
    shipped = Counter()
    for o in outcomes:
        shipped[o.sku] += o.shipped
    for sku in {line["sku"] for line in numbered}:
        room = sum(o.open for o in outcomes if o.sku == sku)
        assert shipped[sku] == min(room, totals.get(sku, 0))  # as much as fits, no more


ITEM = st.fixed_dictionaries({
    "sku": TEXT, "upc": TEXT, "style": TEXT, "style_name": TEXT, "color_name": TEXT, "size": TEXT,
    "division": TEXT, "country_of_origin": TEXT, "hs_number": TEXT, "currency": TEXT,
    "weight_kg": st.decimals(0, 1000, places=3).map(str), "retail_price": st.decimals(0, 10_000, places=2).map(str),
})


@given(ITEM, st.dictionaries(st.sampled_from(["status", "updated_at", "notes"]), TEXT))
def test_an_item_maps_to_a_json_product_and_its_fingerprint_ignores_key_order_and_other_fields(item, extra):
    product = item_mapper.map_product(item)
    assert json.loads(json.dumps(product)) == product
    assert product["ProductCode"] == item["sku"].strip()
    reordered = dict(reversed(list({**item, **extra}.items())))
    assert item_mapper.fingerprint(reordered) == item_mapper.fingerprint(item)


@given(ITEM, TEXT)
def test_the_fingerprint_changes_when_the_product_does(item, new_sku):
    if new_sku.strip() != item["sku"].strip():
        assert item_mapper.fingerprint({**item, "sku": new_sku}) != item_mapper.fingerprint(item)


ORDER = st.fixed_dictionaries({
    "ord_num": st.text(min_size=1, max_size=20), "customer": TEXT, "customer_name": TEXT,
    "channel": st.sampled_from(["ECOM", "RETAIL", "WHOLESALE", "", None]), "currency": TEXT,
    "order_date": TEXT,
    "ship_to": st.fixed_dictionaries({k: TEXT for k in ("name", "company", "address1", "address2", "address3",
                                                         "city", "county", "postcode", "country", "phone", "email")}),
    "lines": st.lists(st.fixed_dictionaries({"line_no": st.integers(1, 99), "sku": SKUS, "upc": TEXT,
                                             "qty_ordered": st.integers(1, 50), "unit_price": st.just("9.99")}),
                      min_size=1, max_size=6),
})


@given(ORDER)
def test_any_order_maps_to_a_json_body_that_keeps_its_number_and_quantities(order):
    body, lines = map_order(order, dc_code="DCCL01", courier_name="RoyalMail", courier_service="TPN24")
    assert json.loads(json.dumps(body)) == body
    assert body["SalesOrder"]["SalesOrderNumber"] == order["ord_num"]
    assert sum(line.quantity for line in lines) == sum(line["qty_ordered"] for line in order["lines"])


@pytest.mark.parametrize("raw", [DEEP, DEEP_OBJECT], ids=["deep-array", "deep-object"])
def test_a_body_nested_thousands_deep_is_malformed_not_a_crash(raw):
    for parser in (parse_push, parse_body):
        with pytest.raises(MalformedPayload):
            parser(raw)


@hsettings(max_examples=50)
@given(st.recursive(st.none() | st.booleans() | st.integers() | TEXT,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=20))
def test_wrongly_typed_push_records_raise_only_malformed_payload(fields):
    body = {"Responses": [{"Response": {"DispatchConfirmation": fields}}]}
    with contextlib.suppress(MalformedPayload):
        parse_push(json.dumps(body))


# --- the webhook --------------------------------------------------------------------------------

URL = "/webhooks/seko/"


@pytest.fixture
def push_token(settings):
    settings.SEKO_PUSH_TOKEN = "hostile-token"
    settings.SEKO_PUSH_SECRET = ""
    return settings


def _push(client, body: str | bytes, content_type: str = "application/json"):
    return client.post(URL, data=body, content_type=content_type, headers={"Authorization": "Bearer hostile-token"})


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "content_type", "status"), [
    (DEEP, "application/json", 400),
    (DEEP_OBJECT, "application/json", 400),
    (b"\xff\xfe\x00garbage", "application/json", 400),
    ("[1, 2, 3]", "application/json", 400),
    ('"just a string"', "application/json", 400),
    (json.dumps({"Responses": "not a list"}), "application/json", 400),
    (json.dumps({"Responses": [{"Response": {"DispatchConfirmation": [1, 2]}}]}), "application/json", 400),
    (json.dumps({"Responses": [{"Response": {"DispatchConfirmation": "x"}}]}), "application/json", 400),
    ("<xml/>", "application/xml", 415),
    ("a=1&b=2", "application/x-www-form-urlencoded", 415),
], ids=["deep-array", "deep-object", "not-utf8", "array", "string", "responses-string", "record-list",
        "record-string", "xml", "form"])
def test_a_hostile_push_gets_a_clear_4xx_and_is_kept_as_rejected(client, push_token, body, content_type, status):
    response = _push(client, body, content_type)
    assert response.status_code == status, response.content[:300]
    assert response.json()["error"]
    assert not InboundPush.objects.exclude(status=InboundPush.Status.REJECTED).exists()


# --- the JSON API -------------------------------------------------------------------------------

@pytest.fixture
def admin_client(db):
    user = User.objects.create_user("hostile-admin", password="pw")
    user.groups.add(Group.objects.get_or_create(name="integration-admin")[0])
    client = Client()
    client.force_login(user)
    return client


API_BODIES = [
    ("not json at all", "application/json"),
    (DEEP, "application/json"),
    (DEEP_OBJECT, "application/json"),
    ("[1, 2]", "application/json"),
    (json.dumps({"bc_ship_via": ["a"], "seko_courier_name": {"x": 1}, "active": "maybe"}), "application/json"),
    (json.dumps({"bc_ship_via": "X" * 10_000, "seko_courier_name": "RoyalMail"}), "application/json"),
    ("<xml/>", "application/xml"),
]


@pytest.mark.parametrize(("body", "content_type"), API_BODIES,
                         ids=["not-json", "deep-array", "deep-object", "array", "wrong-types", "too-long", "xml"])
@pytest.mark.parametrize("path", ["/api/mappings/carriers/", "/api/exceptions/bulk/"])
def test_a_hostile_api_body_gets_a_clear_4xx_and_writes_nothing(admin_client, path, body, content_type):
    before = CarrierMapping.objects.count()
    response = admin_client.post(path, data=body, content_type=content_type)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.content  # a message, not an empty answer
    assert CarrierMapping.objects.count() == before


@pytest.mark.django_db
def test_an_oversized_api_body_is_refused_with_a_4xx(admin_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"action": "resolve", "ids": list(range(5000))})
    response = admin_client.post("/api/exceptions/bulk/", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/exceptions/99999999999999999999999/", "/api/exceptions/-1/",
                                  "/api/orders/%00/", "/api/mappings/carriers/%2e%2e/"])
def test_an_out_of_range_or_odd_id_in_the_path_is_a_4xx(admin_client, path):
    assert 400 <= admin_client.get(path).status_code < 500


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/orders/?search=a%00b", "/api/exceptions/?kind=%00", "/orders/?q=%00",
                                 "/orders/SO%00X/"])
def test_a_nul_character_in_the_url_is_a_400_on_every_database(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 400 and "NUL" in response.json()["error"]


@pytest.mark.django_db
def test_a_push_with_nul_bytes_is_kept_with_them_replaced(client, push_token):
    response = _push(client, b'{"Responses": [\x00]}')
    assert response.status_code == 400
    assert InboundPush.objects.get().body == '{"Responses": [\ufffd]}'
