"""Item validation and the ProductMaster mapping, one rule at a time (pure, no database)."""

from __future__ import annotations

import pytest

from exceptions import catalogue
from integration.items.mapper import describe, fingerprint, map_product
from integration.items.rules import gtin_check_digit, gtin_problem, validate_item
from tests.factories import BlueCherryItemFactory, valid_upc

GOOD = BlueCherryItemFactory(upc=valid_upc(17))


def fields(item: dict) -> list[str]:
    return [p.field for p in validate_item(item)]


def test_a_complete_item_has_no_problems():
    assert validate_item(GOOD) == []


@pytest.mark.parametrize("upc", ["5056000000019", "036000291452", "96385074", "15056000000016"])
def test_gtins_of_every_length_with_a_right_check_digit_pass(upc):
    assert gtin_problem(upc) is None


def test_the_check_digit_is_the_gs1_one():
    assert gtin_check_digit("505600000001") == "9"
    assert gtin_check_digit("03600029145") == "2"  # a UPC-A from GS1's examples


def test_an_item_without_a_upc_is_invalid():
    problems = validate_item({**GOOD, "upc": ""})
    assert [p.field for p in problems] == ["upc"] and "no UPC" in problems[0].message


def test_a_upc_with_a_wrong_check_digit_names_the_digit_it_should_have():
    problems = validate_item({**GOOD, "upc": "5056000000017"})
    assert [p.field for p in problems] == ["upc"]
    assert "check digit 7" in problems[0].message and "give 9" in problems[0].message
    assert problems[0].value == "5056000000017"


@pytest.mark.parametrize("upc", ["505600000001X", "12345", "50560000000190"])
def test_a_upc_that_is_not_a_gtin_shape_is_invalid(upc):
    assert fields({**GOOD, "upc": upc}) == ["upc"]


def test_an_item_without_a_description_is_invalid():
    assert fields({**GOOD, "style_name": "  "}) == ["style_name"]


@pytest.mark.parametrize("hs", ["", "61091", "6109.10.00", "61091000101"])
def test_an_hs_code_must_be_6_to_10_digits(hs):
    assert fields({**GOOD, "hs_number": hs}) == ["hs_number"]


@pytest.mark.parametrize("country", ["", "UK1", "pt", "PRT"])
def test_the_country_of_origin_must_be_a_2_letter_code(country):
    assert fields({**GOOD, "country_of_origin": country}) == ["country_of_origin"]


@pytest.mark.parametrize("weight", [None, "", "0", "-0.2", "heavy", "NaN"])
def test_the_weight_must_be_a_positive_number(weight):
    assert fields({**GOOD, "weight_kg": weight}) == ["weight_kg"]


@pytest.mark.parametrize("price", [None, "0.00", "-1", "thirty"])
def test_the_price_must_be_a_positive_amount(price):
    assert fields({**GOOD, "retail_price": price}) == ["retail_price"]


@pytest.mark.parametrize("currency", ["", "GB", "POUND", "£££"])
def test_the_currency_must_be_a_3_letter_code(currency):
    assert fields({**GOOD, "currency": currency}) == ["currency"]


def test_a_sku_longer_than_seko_takes_is_invalid():
    assert fields({**GOOD, "sku": "X" * 101}) == ["sku"]


def test_every_problem_is_listed_at_once_with_the_item_invalid_kind():
    problems = validate_item({**GOOD, "upc": "", "hs_number": "", "country_of_origin": "UK1", "currency": "GB"})
    assert [p.field for p in problems] == ["upc", "hs_number", "country_of_origin", "currency"]
    assert {p.as_dict()["kind"] for p in problems} == {catalogue.ITEM_INVALID.code}


def test_an_item_maps_to_the_contracts_product_master():
    assert map_product({**GOOD, "currency": "gbp"}) == {
        "ProductCode": "10023-NAVY-M", "ProductDescription": "Training Tee Navy M", "EAN": valid_upc(17),
        "StyleCode": "10023", "Colour": "Navy", "Size": "M", "Brand": "CAS", "CountryOfOrigin": "PT",
        "HTSCode": "6109100010", "GrossWeight": 0.25, "GrossWeightUOM": "KG", "UnitPrice": 30.0, "Currency": "GBP",
    }


def test_the_description_leaves_out_what_is_blank():
    assert describe({"style_name": "Tote", "color_name": "", "size": None}) == "Tote"


def test_the_fingerprint_ignores_status_and_timestamps_but_not_product_fields():
    assert fingerprint(GOOD) == fingerprint({**GOOD, "status": "PENDING_WMS", "updated_at": "2027-01-01T00:00:00Z"})
    assert fingerprint(GOOD) != fingerprint({**GOOD, "weight_kg": "0.260"})
