"""A dispatch Seko pushed with iHub's quirks and the plain copy the poll reads of it are the same
dispatch: only a real correction counts as one (a held dispatch is replaced and checked again)."""

from __future__ import annotations

from integration.dispatches.intake import content_of

PLAIN = {"SalesOrderNumber": "SO-1", "DispatchId": "d-1", "CourierName": "DPD", "CourierService": "Next Day",
         "TrackingNumber": "", "TrackingUrl": "", "Weight": 1.2,
         "List": {"DispatchLineItem": [{"LineNumber": 1, "ProductCode": "SKU-1", "EAN": "5012345678900",
                                        "LotNo": "", "Quantity": 2}]},
         "InterfaceRecordId": "880001", "SequenceNumber": 7}
QUIRKY = {**PLAIN, "TrackingNumber": {}, "TrackingUrl": {}, "InterfaceRecordId": "880002", "SequenceNumber": 9,
          "List": {"DispatchLineItem": {"LineNumber": 1, "ProductCode": "SKU-1", "EAN": 5012345678900,
                                        "LotNo": {}, "Quantity": 2}}}


def test_the_quirky_push_and_the_plain_copy_are_the_same_content():
    assert content_of(QUIRKY) == content_of(PLAIN)


def test_a_real_correction_is_different_content():
    corrected = {**PLAIN, "TrackingNumber": "JD0001GB"}
    assert content_of(corrected) != content_of(PLAIN)
    short = {**PLAIN, "List": {"DispatchLineItem": [{**PLAIN["List"]["DispatchLineItem"][0], "Quantity": 1}]}}
    assert content_of(short) != content_of(QUIRKY)
