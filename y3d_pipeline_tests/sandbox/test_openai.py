"""Contract tests: the official `openai` client talks to the sandbox's chat completions unchanged."""

from __future__ import annotations

import json

import openai
import pydantic
import pytest

from y3d_pipeline_tests.sandbox.helpers import all_orders, shipstation

OUTPUT_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["items"],
    "properties": {"items": {"type": "array", "items": {
        "type": "object", "additionalProperties": False, "required": ["item_id", "personalizations"],
        "properties": {
            "item_id": {"type": "string"},
            "personalizations": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["custom_text", "color_1", "color_2", "quantity", "needs_review", "review_reason",
                             "annotation"],
                "properties": {
                    "custom_text": {"type": ["string", "null"]}, "color_1": {"type": ["string", "null"]},
                    "color_2": {"type": ["string", "null"]}, "quantity": {"type": "integer"},
                    "needs_review": {"type": "boolean"}, "review_reason": {"type": ["string", "null"]},
                    "annotation": {"type": ["string", "null"]}}}}}}}},
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "order_personalizations", "schema": OUTPUT_SCHEMA,
                                                          "strict": True}}


class Personalization(pydantic.BaseModel):
    custom_text: str | None
    color_1: str | None
    color_2: str | None
    quantity: int
    needs_review: bool
    review_reason: str | None
    annotation: str | None


class ItemResult(pydantic.BaseModel):
    item_id: str
    personalizations: list[Personalization]


class OrderResult(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    items: list[ItemResult]


def _client(sb) -> openai.OpenAI:
    env = sb.env()
    return openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0)


def _model_input(order: dict, marketplace: str) -> dict:
    return {"order_number": order["orderNumber"], "marketplace": marketplace,
            "customer_notes": order["customerNotes"],
            "items": [{"item_id": i["lineItemKey"], "sku": i["sku"], "product_name": i["name"],
                       "quantity": i["quantity"], "options": i["options"]}
                      for i in order["items"] if i["lineItemKey"]]}


def _ask(client: openai.OpenAI, order_input: dict, **kwargs):
    return client.chat.completions.create(
        model="gpt-4.1-mini", temperature=0,
        messages=[{"role": "system", "content": "Extract personalisation as JSON."},
                  {"role": "user", "content": f"## Order\n```json\n{json.dumps(order_input)}\n```"}],
        response_format=kwargs.pop("response_format", RESPONSE_FORMAT), **kwargs)


ETSY_ORDER = {"order_number": "3100000001", "marketplace": "etsy", "customer_notes": None, "items": [
    {"item_id": "4000000001", "sku": "Y3D-KEY-NAME-S", "product_name": "Personalised Name Keyring", "quantity": 3,
     "options": [{"name": "Personalization", "value": "emily, Jack and ZOË"}, {"name": "Color", "value": "Navy"},
                 {"name": "Secondary color", "value": "light blue"}]},
    {"item_id": "4000000002", "sku": None, "product_name": "Pet Tag", "quantity": 1,
     "options": [{"name": "Color", "value": "Random"}]}]}


def test_json_schema_reply_through_the_official_client(sandbox):
    completion = _ask(_client(sandbox), ETSY_ORDER)
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0
    result = OrderResult.model_validate_json(completion.choices[0].message.content)
    first, second = result.items
    assert [(p.custom_text, p.quantity) for p in first.personalizations] == [("Emily", 1), ("Jack", 1), ("ZOË", 1)]
    assert {(p.color_1, p.color_2) for p in first.personalizations} == {("Dark Blue", "Light Blue")}
    assert not any(p.needs_review for p in first.personalizations)
    (missing,) = second.personalizations
    assert missing.custom_text is None and missing.needs_review and missing.quantity == 1


def test_parse_with_a_pydantic_model(sandbox):
    completion = _client(sandbox).chat.completions.parse(
        model="gpt-4.1-mini", response_format=OrderResult,
        messages=[{"role": "user", "content": json.dumps(ETSY_ORDER)}])
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, OrderResult) and parsed.items[0].item_id == "4000000001"


def test_json_object_mode_and_responses_api(sandbox):
    client = _client(sandbox)
    plain = _ask(client, ETSY_ORDER, response_format={"type": "json_object"})
    assert json.loads(plain.choices[0].message.content)["items"]
    response = client.responses.create(model="gpt-4.1-mini", input=json.dumps(ETSY_ORDER))
    assert OrderResult.model_validate_json(response.output_text).items[0].personalizations[0].custom_text == "Emily"


def test_wrong_api_key(sandbox):
    client = openai.OpenAI(base_url=sandbox.env()["OPENAI_BASE_URL"], api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        _ask(client, ETSY_ORDER)


def test_malformed_and_wrong_quantity_faults(fresh_sandbox):
    client = _client(fresh_sandbox)
    fresh_sandbox.set_faults("openai", "malformed", count=2)
    broken = [_ask(client, ETSY_ORDER).choices[0].message.content for _ in range(2)]
    for content in broken:
        with pytest.raises(pydantic.ValidationError):
            OrderResult.model_validate_json(content)
    fresh_sandbox.set_faults("openai", "wrong_quantity")
    wrong = OrderResult.model_validate_json(_ask(client, ETSY_ORDER).choices[0].message.content)
    assert sum(p.quantity for p in wrong.items[0].personalizations) != 3
    fresh_sandbox.set_openai(malformed_rate=1.0)
    with pytest.raises(pydantic.ValidationError):
        OrderResult.model_validate_json(_ask(client, ETSY_ORDER).choices[0].message.content)
    fresh_sandbox.set_openai(malformed_rate=0.0)
    assert OrderResult.model_validate_json(_ask(client, ETSY_ORDER).choices[0].message.content)


def test_model_recovers_the_ground_truth_from_shipstation_orders(sandbox):
    """The deterministic model reading real-shaped orders gets most personalisations right."""
    truth = {(o["order_number"], i["line_item_key"]): i["personalisations"]
             for o in sandbox.truth() for i in o["items"] if i["line_item_key"]}
    stores = {}
    client = _client(sandbox)
    total = correct = 0
    with shipstation(sandbox) as ss:
        for store in ss.get("/stores").json():
            stores[store["storeId"]] = store["marketplaceName"].lower()
        orders = all_orders(ss, orderDateStart="2026-03-19 00:00:00")
    for order in orders[:40]:
        marketplace = stores[order["advancedOptions"]["storeId"]]
        if marketplace == "amazon":
            continue  # Amazon text lives in the customisation zip, not in the order
        result = OrderResult.model_validate_json(_ask(client, _model_input(order, marketplace)).choices[0].message.content)
        for item in result.items:
            expected = truth[(order["orderNumber"], item.item_id)]
            got = [{"text": p.custom_text, "color_1": p.color_1, "color_2": p.color_2, "quantity": p.quantity}
                   for p in item.personalizations]
            total += 1
            correct += got == expected
    assert total >= 15 and correct / total >= 0.75


def test_max_tokens_cuts_the_answer(sandbox):
    completion = _ask(_client(sandbox), ETSY_ORDER, max_tokens=20)
    assert completion.choices[0].finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(completion.choices[0].message.content)
