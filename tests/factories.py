"""factory-boy factories: the integration's own rows, and Blue Cherry / Seko payloads as dicts."""

from __future__ import annotations

import factory

from integration.models import CarrierMapping, WarehouseMapping


class WarehouseMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WarehouseMapping
        django_get_or_create = ("bc_location",)

    bc_location = "UK3PL"
    seko_dc_code = "DCCL01"
    active = True


class CarrierMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CarrierMapping
        django_get_or_create = ("bc_ship_via",)

    bc_ship_via = "RMNDAY"
    seko_courier_name = "RoyalMail"
    seko_courier_service = "TPN24"
    service_level = "NEXTDAY"
    active = True


class ShipToFactory(factory.DictFactory):
    name = "Ana Silva"
    company = ""
    address1 = "23 Victoria Street"
    address2 = ""
    address3 = ""
    city = "Windsor"
    county = ""
    postcode = "SL4 1HE"
    country = "GB"
    phone = "0123 336 6676"
    email = "ana@example.com"


class LineFactory(factory.DictFactory):
    line_no = factory.Sequence(lambda n: n + 1)
    sku = "10023-NAVY-M"
    upc = "5056000000017"
    qty_ordered = 2
    qty_shipped = 0
    qty_cancelled = 0
    unit_price = "30.00"


class BlueCherryOrderFactory(factory.DictFactory):
    """A RELEASED Blue Cherry order as its API returns it (contracts/bluecherry.md)."""

    ord_num = factory.Sequence(lambda n: f"SO-{200000 + n}")
    division = "CAS"
    season = "AW26"
    customer = "C1001"
    customer_name = "Ana Silva"
    channel = "ECOM"
    location = "UK3PL"
    ship_via = "RMNDAY"
    order_date = "2026-11-27T09:12:00Z"
    start_date = "2026-11-27"
    cancel_date = "2026-12-04"
    currency = "GBP"
    status = "RELEASED"
    ship_to = factory.SubFactory(ShipToFactory)
    lines = factory.LazyFunction(lambda: [LineFactory(line_no=1)])
    updated_at = "2026-11-27T09:12:00Z"


class BlueCherryItemFactory(factory.DictFactory):
    sku = "10023-NAVY-M"
    division = "CAS"
    style = "10023"
    style_name = "Training Tee"
    color_code = "NAVY"
    color_name = "Navy"
    label = ""
    dimension = ""
    size = "M"
    size_bucket = 3
    upc = "5056000000017"
    season = "AW26"
    hs_number = "6109100010"
    country_of_origin = "PT"
    weight_kg = "0.250"
    wholesale_price = "12.00"
    retail_price = "30.00"
    currency = "GBP"
    status = "LIVE"
    updated_at = "2026-11-27T08:00:00Z"


# --- Item master (issue 4) --------------------------------------------------------------------

def valid_upc(n: int) -> str:
    """A GTIN-13 with a correct check digit, distinct per ``n`` (5056: a GS1 UK prefix)."""
    from integration.items.rules import gtin_check_digit

    body = f"5056{n:08d}"
    return body + gtin_check_digit(body)
