"""Pure helpers of the Amazon store: where CustomizedURLs are found, and when a URL is the same file."""

from __future__ import annotations

from y3d_pipeline.sources.amazon.custom.candidates import Candidate, shipstation_candidates, sp_api_candidates
from y3d_pipeline.sources.amazon.custom.store import same_file


def test_shipstation_options_any_case_and_object_form() -> None:
    payload = {"orderNumber": "206-1", "items": [
        {"lineItemKey": "11", "options": [{"name": "Colour 1", "value": "Red"},
                                          {"name": "CUSTOMIZEDURL", "value": " https://a.amazon.com/1.zip "}]},
        {"lineItemKey": 12, "options": {"customizedUrl": "https://a.amazon.com/2.zip"}},
        {"lineItemKey": None, "options": [{"name": "CustomizedURL", "value": "https://a.amazon.com/3.zip"}]},
        {"lineItemKey": "14", "options": [{"name": "CustomizedURL", "value": None}]},
        {"lineItemKey": "15", "options": None},
    ]}
    assert shipstation_candidates(payload) == [
        Candidate("206-1", "11", "https://a.amazon.com/1.zip", "shipstation"),
        Candidate("206-1", "12", "https://a.amazon.com/2.zip", "shipstation"),
    ]


def test_sp_api_buyer_customized_info() -> None:
    payload = {"AmazonOrderId": "206-2", "OrderItems": [
        {"OrderItemId": "21", "BuyerInfo": {"BuyerCustomizedInfo": {"CustomizedURL": "https://a.amazon.com/x"}}},
        {"OrderItemId": "22", "BuyerInfo": {"BuyerCustomizedInfo": {"CustomizedURL": ""}}},
        {"OrderItemId": "23"},
    ]}
    assert sp_api_candidates(payload) == [Candidate("206-2", "21", "https://a.amazon.com/x", "sp_api")]


def test_re_signed_url_is_the_same_file() -> None:
    base = "https://s3.amazonaws.com/b/206-1_11.zip"
    assert same_file(base + "?X-Amz-Signature=a&X-Amz-Expires=300", base + "?X-Amz-Signature=b")
    assert not same_file(base, "https://s3.amazonaws.com/b/206-1_12.zip")
    assert not same_file("https://a.amazon.com/?k=1", "https://a.amazon.com/?k=2")  # no path: query is the id
    assert not same_file(None, base)
