"""Every sandbox API held to its official definition (fixtures/api_models/, provenance in its README).

What the project's real clients send over HTTP (the sandbox's request journal) is checked against the
definitions too, and the sandbox's answers to exactly those requests. A sandbox that drifted from the real API,
or a client that relied on such a drift, fails here.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import httpx
import openai
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLObjectType,
    GraphQLScalarType,
    parse,
    validate,
)

from y3d_pipeline.print_queue.ai import RESPONSE_FORMAT, PersonalizationExtractor
from y3d_pipeline.print_queue.models import AiInputItem, AiOption, AiOrderInput
from y3d_pipeline.sandbox.openai_strict import KNOWN_MODELS, strict_schema_problem
from y3d_pipeline.sandbox.shopify import PROTECTED_FIELDS, SCHEMA
from y3d_pipeline.sources.amazon.client import AmazonClient
from y3d_pipeline.sources.shipstation.client import ShipStationClient
from y3d_pipeline.sources.shopify import client as shopify_client
from y3d_pipeline_tests.api_definitions import (
    amazon_model,
    amazon_request_problems,
    amazon_validator,
    answer_problems,
    openai_spec,
    openai_validator,
    problems,
    selected_fields,
    shipstation_airbyte_validator,
    shipstation_example,
    shopify_protected_fields,
    shopify_schema,
)
from y3d_pipeline_tests.sandbox.helpers import all_orders, amazon, shipstation

V2026, V0 = "orders_2026-01-01", "ordersV0"
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
# Documented deviations of the live API from its model, which the sandbox reproduces on purpose.
LIVE_DEVIATIONS = {
    # "v0 IsReplacementOrder is documented as boolean but the live API returns a string" (api-models README)
    (V0, "IsReplacementOrder"): re.compile(r"IsReplacementOrder: '(true|false)' is not of type 'boolean'"),
}


def _amazon_client(sb, version: str) -> AmazonClient:
    env = sb.env()
    return AmazonClient(client_id=env["AMAZON_LWA_CLIENT_ID"], client_secret=env["AMAZON_LWA_CLIENT_SECRET"],
                        refresh_token=env["AMAZON_LWA_REFRESH_TOKEN"], token_url=env["AMAZON_LWA_TOKEN_URL"],
                        base_url=env["AMAZON_SP_API_BASE_URL"], marketplace_ids=["A1F83G8C2ARO7P"], now=sb.now,
                        api_version=version)


def _amazon_problems(model: str, definition: str, body: dict) -> list[str]:
    found = problems(amazon_validator(model, definition), body)
    allowed = [pattern for (m, _), pattern in LIVE_DEVIATIONS.items() if m == model]
    return [p for p in found if not any(pattern.search(p) for pattern in allowed)]


def _journal_path(entry: dict) -> str:
    return entry["path"].removeprefix("/amazon")


# ----------------------------------------------------------------------------------------------- Amazon
@pytest.mark.parametrize("model", [V2026, V0])
def test_the_amazon_validators_accept_the_models_own_examples_and_catch_invented_fields(model):
    checked = 0
    for operations in amazon_model(model)["paths"].values():
        for operation in operations.values():
            if operation["operationId"] not in ("searchOrders", "getOrder", "getOrders", "getOrderItems"):
                continue
            response = operation["responses"]["200"]
            definition = response["schema"]["$ref"].rsplit("/", 1)[1]
            examples = [response.get("examples", {}).get("application/json")] + [
                case["response"] for case in response.get("x-amzn-api-sandbox", {}).get("static", [])]
            for example in filter(None, examples):
                assert _amazon_problems(model, definition, example) == [], operation["operationId"]
                checked += 1
    assert checked >= 3
    invented = {"orders": [{"orderId": "1", "createdTime": "2026-01-01T00:00:00Z", "sparkle": True,
                            "lastUpdatedTime": "yesterday", "salesChannel": {"channelName": "AMAZON"},
                            "orderItems": []}]}
    if model == V2026:
        found = _amazon_problems(model, "SearchOrdersResponse", invented)
        assert any("sparkle" in p for p in found) and any("yesterday" in p for p in found)


def test_sp_api_v2026_requests_and_answers_match_the_model(fresh_sandbox):
    truth = fresh_sandbox.truth(marketplace="amazon", visible_only=True)
    with _amazon_client(fresh_sandbox, "2026-01-01") as client:
        page = client.search_orders(START, fresh_sandbox.now())
        client.get_order(truth[0]["amazon_order_id"])
        client.changed_since(fresh_sandbox.now() - dt.timedelta(days=1))
        token = client.access_token()
    assert page.orders and not page.invalid
    sent = [e for e in fresh_sandbox.requests("amazon") if "/orders/2026-01-01/" in e["path"]]
    assert len(sent) >= 5
    for entry in sent:  # what the project's client sent, as the model declares it
        assert amazon_request_problems(V2026, entry["method"], _journal_path(entry), entry["query"]) == [], entry
    # the sandbox's answers to those requests, and to the datasets the pipeline does not ask for
    every_dataset = "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES"
    pending_id = next(o.amazon_order_id for o in page.orders if o.order_status in ("PENDING", "SHIPPED"))
    with amazon(fresh_sandbox, token) as sp:
        answers = {
            "SearchOrdersResponse": [sp.get("/orders/2026-01-01/orders", params=dict(httpx.QueryParams(e["query"])))
                                     for e in sent if e["path"].endswith("/orders")]
            + [sp.get("/orders/2026-01-01/orders", params={"createdAfter": "2026-03-10T00:00:00Z",
                                                           "includedData": every_dataset})],
            "GetOrderResponse": [sp.get(f"/orders/2026-01-01/orders/{o['amazon_order_id']}",
                                        params={"includedData": every_dataset}) for o in truth[:40]]
            + [sp.get(f"/orders/2026-01-01/orders/{pending_id}")],
            "ErrorList": [sp.get("/orders/2026-01-01/orders", params={"lastUpdatedAfter": "nope"}),
                          sp.get("/orders/2026-01-01/orders/206-0000000-0000000"),
                          httpx.get(f"{fresh_sandbox.base_url}/amazon/orders/2026-01-01/orders")],
        }
    for definition, responses in answers.items():
        for response in responses:
            assert (response.status_code == 200) == (definition != "ErrorList"), response.text[:300]
            assert _amazon_problems(V2026, definition, response.json()) == [], (definition, response.url)
    custom_urls = [i["product"]["customization"]["customizedUrl"] for r in answers["GetOrderResponse"]
                   for i in r.json()["order"]["orderItems"] if "customization" in i["product"]]
    assert custom_urls


def test_sp_api_v0_requests_and_answers_match_the_model(fresh_sandbox):
    with _amazon_client(fresh_sandbox, "v0") as client:
        page = client.fetch_orders(dt.datetime(2026, 3, 18, tzinfo=dt.UTC), fresh_sandbox.now())
        token = client.access_token()
    assert page.orders
    sent = [e for e in fresh_sandbox.requests("amazon") if "/orders/v0/" in e["path"]]
    for entry in sent:
        assert amazon_request_problems(V0, entry["method"], _journal_path(entry), entry["query"]) == [], entry
    order_id = page.orders[0].amazon_order_id
    with amazon(fresh_sandbox, token) as sp:
        answers = {
            "GetOrdersResponse": [sp.get("/orders/v0/orders", params=dict(httpx.QueryParams(e["query"])))
                                  for e in sent if e["path"].endswith("/orders")]
            + [sp.get("/orders/v0/orders", params={"MarketplaceIds": "A1F83G8C2ARO7P", "LastUpdatedAfter": "x"})],
            "GetOrderResponse": [sp.get(f"/orders/v0/orders/{order_id}"), sp.get("/orders/v0/orders/nope")],
            "GetOrderItemsResponse": [sp.get(f"/orders/v0/orders/{o.amazon_order_id}/orderItems")
                                      for o in page.orders[:30]],
        }
    for definition, responses in answers.items():
        for response in responses:
            assert _amazon_problems(V0, definition, response.json()) == [], (definition, response.url)
    # the documented live deviation is there, and is the only one
    raw = answers["GetOrderResponse"][0].json()
    assert raw["payload"]["IsReplacementOrder"] in ("true", "false")
    assert problems(amazon_validator(V0, "GetOrderResponse"), raw) == [
        "payload/IsReplacementOrder: 'false' is not of type 'boolean'"]


# ---------------------------------------------------------------------------------------------- Shopify
def _type_text(field_type) -> str:
    return str(field_type)


def test_the_sandbox_schema_is_a_faithful_subset_of_admin_2026_01():
    real = shopify_schema()
    compared = 0
    for name, sandbox_type in SCHEMA.type_map.items():
        if name.startswith("__"):
            continue
        real_type = real.type_map.get(name)
        assert real_type is not None, f"{name} is no Shopify type"
        assert type(real_type) is type(sandbox_type), name
        if isinstance(sandbox_type, GraphQLEnumType):
            assert set(sandbox_type.values) <= set(real_type.values), name
        if isinstance(sandbox_type, GraphQLObjectType):
            for field_name, field in sandbox_type.fields.items():
                real_field = real_type.fields.get(field_name)
                assert real_field is not None, f"{name}.{field_name} is no Shopify field"
                assert _type_text(field.type) == _type_text(real_field.type), f"{name}.{field_name}"
                for arg_name, arg in field.args.items():
                    real_arg = real_field.args.get(arg_name)
                    assert real_arg is not None, f"{name}.{field_name}({arg_name})"
                    assert _type_text(arg.type) == _type_text(real_arg.type), f"{name}.{field_name}({arg_name})"
                    assert arg.default_value == real_arg.default_value, f"{name}.{field_name}({arg_name})"
                compared += 1
        if isinstance(sandbox_type, GraphQLScalarType):
            assert isinstance(real_type, GraphQLScalarType)
    assert compared > 60
    # protected customer data: the sandbox guards exactly the fields Shopify marks isProtected
    real_protected = {key: content for key, content in shopify_protected_fields().items()
                      if key[0] in SCHEMA.type_map and key[1] in getattr(SCHEMA.type_map[key[0]], "fields", {})}
    assert PROTECTED_FIELDS == real_protected


def test_the_answer_walker_catches_what_shopify_would_never_answer():
    document = "query Q { shop { id name currencyCode } orders(first: 1) { nodes { updatedAt legacyResourceId } } }"
    found = answer_problems(document, {"shop": {"id": "gid://shopify/Shop/1", "name": None, "currencyCode": "ZZZ",
                                                "extra": 1},
                                       "orders": {"nodes": [{"updatedAt": "yesterday", "legacyResourceId": 5}]}})
    assert sorted(found) == ["data.orders.nodes[0].legacyResourceId: 5 is not a UnsignedInt64",
                             "data.orders.nodes[0].updatedAt: 'yesterday' is not a DateTime",
                             "data.shop.currencyCode: 'ZZZ' is not a CurrencyCode value",
                             "data.shop.extra: not asked for", "data.shop.name: null for non-null String!"]


CLIENT_DOCUMENTS = {"Orders": shopify_client.ORDERS_QUERY, "OrdersBasic": shopify_client.ORDERS_QUERY_BASIC,
                    "OrderLineItems": shopify_client.ORDER_LINE_ITEMS_QUERY,
                    "Products": shopify_client.PRODUCTS_QUERY,
                    "ProductVariants": shopify_client.PRODUCT_VARIANTS_QUERY}


@pytest.mark.parametrize("name", CLIENT_DOCUMENTS)
def test_client_documents_validate_against_the_real_schema(name):
    document = CLIENT_DOCUMENTS[name]
    assert validate(shopify_schema(), parse(document)) == []
    protected = set(shopify_protected_fields())
    asked = selected_fields(document)
    if name == "OrdersBasic":  # the fallback for an app without protected customer data approval
        assert not asked & protected
    if name == "Orders":
        assert asked & protected == {("Order", "email"), ("Order", "phone"), ("Customer", "firstName"),
                                     ("Customer", "lastName"), ("Customer", "displayName"),
                                     ("MailingAddress", "name"), ("MailingAddress", "address1"),
                                     ("MailingAddress", "address2"), ("MailingAddress", "zip"),
                                     ("MailingAddress", "phone")}
        assert asked - protected >= {("Order", "customer"), ("Order", "shippingAddress"),
                                     ("Order", "totalShippingPriceSet"), ("MailingAddress", "countryCodeV2")}


def _replay_shopify(sb) -> list[tuple[dict, dict]]:
    """(request body, answer) for every GraphQL request the client sent, asked again of the sandbox."""
    env = sb.env()
    pairs = []
    with httpx.Client(timeout=10, headers={"X-Shopify-Access-Token": env["SHOPIFY_ACCESS_TOKEN"]}) as http:
        for entry in sb.requests("shopify"):
            body = json.loads(entry["body"])
            answer = http.post(f"{sb.base_url}{entry['path']}", json=body).json()
            pairs.append((body, answer))
    return pairs


@pytest.mark.parametrize("approved", [True, False])
def test_sandbox_answers_to_the_client_conform_to_the_real_types(fresh_sandbox, approved):
    fresh_sandbox.config(shopify_protected_customer_data=approved)
    env = fresh_sandbox.env()
    with shopify_client.ShopifyClient(base_url=env["SHOPIFY_BASE_URL"], access_token=env["SHOPIFY_ACCESS_TOKEN"],
                                      orders_page_size=20, line_items_page_size=1, products_page_size=5,
                                      variants_page_size=1) as client:
        orders = client.fetch_orders(dt.datetime(2026, 3, 15, tzinfo=dt.UTC), dt.datetime(2026, 3, 18, tzinfo=dt.UTC))
        products = client.fetch_products()
        assert client.extended_order_fields is approved
    assert orders and products
    operations = set()
    for body, answer in _replay_shopify(fresh_sandbox):
        operations.add(body["operationName"])
        assert validate(shopify_schema(), parse(body["query"])) == []
        assert answer_problems(body["query"], answer["data"], body["operationName"]) == [], body["operationName"]
        for error in answer.get("errors") or []:  # Shopify's access error shape, on a protected field only
            assert not approved and error["extensions"]["code"] == "ACCESS_DENIED"
            assert error["path"][-1] in {f for _, f in shopify_protected_fields()} and error["locations"]
            assert "not approved" in error["message"]
    assert operations == {"Orders", "OrderLineItems", "Products", "ProductVariants"}


# ----------------------------------------------------------------------------------------------- OpenAI
def test_sandbox_models_are_openai_models():
    listed = next(s for s in openai_spec()["components"]["schemas"]["ModelIdsShared"]["anyOf"] if "enum" in s)
    assert KNOWN_MODELS <= set(listed["enum"])


def _order_input() -> AiOrderInput:
    return AiOrderInput(order_number="3100000001", marketplace="etsy", customer_notes=None, items=[
        AiInputItem(item_id="4000000001", sku="KEY-1", product_name="Name Keyring", quantity=2,
                    options=[AiOption(name="Personalization", value="emily and jack"),
                             AiOption(name="Color", value="Navy")])])


def test_the_project_request_and_the_sandbox_answer_match_the_openapi_spec(fresh_sandbox):
    env = fresh_sandbox.env()
    client = openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0)
    result = PersonalizationExtractor(client, "gpt-4.1-mini").extract(_order_input(), ("Dark Blue", "Red"))
    assert result.success, result.error
    (entry,) = [e for e in fresh_sandbox.requests("openai") if e["path"].endswith("/chat/completions")]
    request = json.loads(entry["body"])
    assert problems(openai_validator("CreateChatCompletionRequest"), request) == []
    assert request["response_format"] == json.loads(json.dumps(RESPONSE_FORMAT))
    assert strict_schema_problem(RESPONSE_FORMAT["json_schema"]["schema"]) is None
    answer = httpx.post(f"{env['OPENAI_BASE_URL']}/chat/completions", json=request,
                        headers={"Authorization": f"Bearer {env['OPENAI_API_KEY']}"})
    assert answer.status_code == 200
    assert problems(openai_validator("CreateChatCompletionResponse"), answer.json()) == []
    refusals = [httpx.post(f"{env['OPENAI_BASE_URL']}/chat/completions", json=body,
                           headers={"Authorization": f"Bearer {key}"}) for body, key in [
        (request, "sk-wrong"),
        ({**request, "model": "gpt-9-ultra"}, env["OPENAI_API_KEY"]),
        ({**request, "response_format": {"type": "json_schema", "json_schema": {
            "name": "x", "strict": True, "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}},
         env["OPENAI_API_KEY"])]]
    assert [r.status_code for r in refusals] == [401, 404, 400]
    for refusal in refusals:
        assert problems(openai_validator("ErrorResponse"), refusal.json()) == []


NOT_STRICT = {
    "additionalProperties missing": ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                                     "'additionalProperties' is required to be supplied and to be false"),
    "a property not required": ({"type": "object", "additionalProperties": False,
                                 "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                                 "required": ["a"]}, "Missing 'b'"),
    "nested object open": ({"type": "object", "additionalProperties": False, "required": ["a"], "properties": {
        "a": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}},
                                         "required": ["x"]}}}}, "context=('properties', 'a', 'items')"),
    "unsupported keyword": ({"type": "object", "additionalProperties": False, "required": ["a"],
                             "properties": {"a": {"type": "string", "default": "x"}}}, "'default' is not permitted"),
    "unsupported format": ({"type": "object", "additionalProperties": False, "required": ["a"],
                            "properties": {"a": {"type": "string", "format": "color"}}}, "format 'color'"),
    "root anyOf": ({"anyOf": [{"type": "object"}]}, "schema must be a JSON Schema of 'type: \"object\"'"),
    "allOf": ({"type": "object", "additionalProperties": False, "required": ["a"],
               "properties": {"a": {"allOf": [{"type": "string"}]}}}, "'allOf' is not permitted"),
}


@pytest.mark.parametrize("case", NOT_STRICT)
def test_openai_refuses_schemas_outside_strict_mode_and_the_extractor_copes(sandbox, case):
    schema, message = NOT_STRICT[case]
    env = sandbox.env()
    client = openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "{}"}],
                                       response_format={"type": "json_schema", "json_schema": {
                                           "name": "order_personalizations", "strict": True, "schema": schema}})
    assert refused.value.status_code == 400 and message in refused.value.message
    assert refused.value.body["param"] == "response_format"
    assert "Invalid schema for response_format 'order_personalizations'" in refused.value.message
    # the same schema without strict mode is accepted, as OpenAI accepts it
    loose = client.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "{}"}],
                                           response_format={"type": "json_schema", "json_schema": {
                                               "name": "order_personalizations", "schema": schema}})
    assert loose.choices[0].finish_reason == "stop"


def test_an_unknown_or_unsuitable_model_fails_the_extraction_clearly(sandbox):
    env = sandbox.env()
    client = openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0)
    unknown = PersonalizationExtractor(client, "gpt-4.1-mimi").extract(_order_input(), ("Red",))
    old = PersonalizationExtractor(client, "gpt-3.5-turbo").extract(_order_input(), ("Red",))
    assert not unknown.success and unknown.attempts == 1
    assert unknown.error.startswith("NotFoundError 404") and "gpt-4.1-mimi" in unknown.error
    assert not old.success and old.error.startswith("BadRequestError 400") and "json_schema" in old.error


# ------------------------------------------------------------------------------------------ ShipStation
ORDER_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$")
ITEM_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?$")


def _json_kind(value) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "null")


def _same_shape(documented: dict, sandbox: dict, where: str) -> list[str]:
    found = []
    for key, expected in documented.items():
        if key not in sandbox:
            found.append(f"{where}.{key}: missing")
            continue
        actual = sandbox[key]
        if None in (expected, actual):
            continue
        if _json_kind(expected) != _json_kind(actual):
            found.append(f"{where}.{key}: {_json_kind(actual)}, documented {_json_kind(expected)}")
        elif isinstance(expected, dict):
            found.extend(_same_shape(expected, actual, f"{where}.{key}"))
    return found


def test_shipstation_orders_match_the_documented_example_and_airbyte_schema(sandbox):
    example = shipstation_example()
    assert ITEM_DATE.match(example["items"][0]["createDate"]) and ORDER_DATE.match(example["createDate"])
    with shipstation(sandbox) as ss:
        orders = all_orders(ss)
    assert len(orders) > 100 and any(o["advancedOptions"]["parentId"] for o in orders)
    for order in orders:
        assert problems(shipstation_airbyte_validator(), order) == [], order["orderId"]
        items = order.pop("items")
        assert _same_shape({k: v for k, v in example.items() if k != "items"}, order, "order") == []
        for item in items:
            assert _same_shape(example["items"][0], item, "item") == []
            assert ITEM_DATE.match(item["createDate"]) and ITEM_DATE.match(item["modifyDate"]), item["createDate"]
        for key in ("orderDate", "createDate", "modifyDate", "paymentDate", "shipByDate"):
            assert order[key] is None or ORDER_DATE.match(order[key]), (key, order[key])


def test_shipstation_client_parses_item_dates_with_millisecond_fractions(sandbox):
    env = sandbox.env()
    with ShipStationClient(env["SHIPSTATION_API_KEY"], env["SHIPSTATION_API_SECRET"],
                           base_url=env["SHIPSTATION_BASE_URL"]) as client:
        records = client.list_orders(dt.datetime(2026, 3, 10, tzinfo=dt.UTC),
                                     dt.datetime(2026, 3, 11, tzinfo=dt.UTC)).records
    fractions = set()
    for record in records:
        for item, raw in zip(record.model.items, record.payload["items"], strict=True):
            fractions.add(len(raw["createDate"].partition(".")[2]))
            created = record.model.create_date
            assert item.create_date == created.replace(microsecond=created.microsecond // 1000 * 1000)
    assert 3 in fractions and records
