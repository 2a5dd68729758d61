"""Shopify Admin GraphQL subset (orders, products) as a real graphql-core schema, with
Shopify-style query costs, a leaky bucket and THROTTLED errors.

The schema is a faithful subset of the real Admin API 2026-01 (tests compare every type, field, argument,
default and enum value with Shopify's introspection). Fields Shopify marks as protected customer data
(``PROTECTED_FIELDS``, from the introspection's ``isProtected``) answer Shopify's ``ACCESS_DENIED`` error, with
the field null, when the shop's app lacks protected customer data approval (``shopify_protected_customer_data``
off).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    build_schema,
    execute,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from y3d_pipeline.sandbox.clock import iso_z, parse_iso_utc
from y3d_pipeline.sandbox.core import SandboxState, json_response, with_faults
from y3d_pipeline.sandbox.data import LineItem, RealOrder, ShopData, Version

PREFIX = "/shopify"
API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
MAX_QUERY_COST = 1000

SDL = """
scalar DateTime
scalar Decimal
scalar UnsignedInt64
scalar URL
scalar Money

enum OrderSortKeys { CREATED_AT CUSTOMER_NAME ID ORDER_NUMBER PROCESSED_AT TOTAL_PRICE UPDATED_AT RELEVANCE }
enum ProductSortKeys { CREATED_AT ID TITLE UPDATED_AT PRODUCT_TYPE VENDOR RELEVANCE }
enum CurrencyCode { GBP EUR USD }
enum CountryCode { GB IE US DE FR ES IT NL }
enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
enum OrderDisplayFulfillmentStatus { FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT
  RESTOCKED SCHEDULED UNFULFILLED REQUEST_DECLINED }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
enum ProductStatus { ACTIVE ARCHIVED DRAFT }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Attribute { key: String! value: String }

type Shop { id: ID! name: String! myshopifyDomain: String! currencyCode: CurrencyCode! ianaTimezone: String! }

type Customer {
  id: ID! legacyResourceId: UnsignedInt64! firstName: String lastName: String displayName: String!
  email: String phone: String
}
type MailingAddress {
  name: String firstName: String lastName: String company: String address1: String address2: String city: String
  province: String provinceCode: String zip: String countryCodeV2: CountryCode phone: String
}

type Product {
  id: ID! legacyResourceId: UnsignedInt64! title: String! handle: String! vendor: String! productType: String!
  status: ProductStatus! tags: [String!]! createdAt: DateTime! updatedAt: DateTime!
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ProductVariantConnection!
}
type ProductVariant {
  id: ID! legacyResourceId: UnsignedInt64! sku: String title: String! displayName: String! price: Money!
  product: Product! createdAt: DateTime! updatedAt: DateTime!
}
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }
type ProductEdge { cursor: String! node: Product! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }
type ProductVariantEdge { cursor: String! node: ProductVariant! }

type LineItem {
  id: ID! sku: String name: String! title: String! quantity: Int! currentQuantity: Int!
  variant: ProductVariant product: Product customAttributes: [Attribute!]! originalUnitPriceSet: MoneyBag!
  requiresShipping: Boolean!
}
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }
type LineItemEdge { cursor: String! node: LineItem! }

type Order {
  id: ID! legacyResourceId: UnsignedInt64! name: String! createdAt: DateTime! updatedAt: DateTime!
  processedAt: DateTime! cancelledAt: DateTime cancelReason: OrderCancelReason closed: Boolean! closedAt: DateTime
  displayFinancialStatus: OrderDisplayFinancialStatus displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  email: String phone: String note: String tags: [String!]! customAttributes: [Attribute!]!
  totalPriceSet: MoneyBag! currencyCode: CurrencyCode!
  subtotalPriceSet: MoneyBag totalTaxSet: MoneyBag totalShippingPriceSet: MoneyBag!
  customer: Customer shippingAddress: MailingAddress
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
}
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }
type OrderEdge { cursor: String! node: Order! }

type QueryRoot {
  shop: Shop!
  order(id: ID!): Order
  orders(first: Int, after: String, last: Int, before: String, query: String,
         sortKey: OrderSortKeys = PROCESSED_AT, reverse: Boolean = false): OrderConnection!
  product(id: ID!): Product
  products(first: Int, after: String, last: Int, before: String, query: String,
           sortKey: ProductSortKeys = ID, reverse: Boolean = false): ProductConnection!
}
schema { query: QueryRoot }
"""

SCHEMA = build_schema(SDL)

# Shopify's protected customer data among the fields above: (type, field) -> protectedContent.
PROTECTED_FIELDS = {
    ("Order", "email"): "email", ("Order", "phone"): "phone",
    ("Customer", "firstName"): "name", ("Customer", "lastName"): "name", ("Customer", "displayName"): "name",
    ("Customer", "email"): "email", ("Customer", "phone"): "phone",
    ("MailingAddress", "name"): "name", ("MailingAddress", "firstName"): "name",
    ("MailingAddress", "lastName"): "name", ("MailingAddress", "address1"): "address",
    ("MailingAddress", "address2"): "address", ("MailingAddress", "zip"): "address",
    ("MailingAddress", "phone"): "phone",
}
PROTECTED_DATA_DOCS = "https://shopify.dev/docs/apps/launch/protected-customer-data"


def _protected(type_name: str, field_name: str):
    """A resolver that answers Shopify's access error unless the app has protected customer data approval."""
    def resolve(source: Any, info: Any, **_args: Any) -> Any:
        if not info.context.get("protected_customer_data"):
            subject = "email" if field_name == "email" else "phone" if field_name == "phone" else field_name
            raise GraphQLError(
                f"This app is not approved to use the {subject} field. See {PROTECTED_DATA_DOCS} for more details.",
                extensions={"code": "ACCESS_DENIED", "documentation": PROTECTED_DATA_DOCS})
        return source.get(field_name) if isinstance(source, dict) else getattr(source, field_name, None)

    return resolve


for (_type, _field) in PROTECTED_FIELDS:
    SCHEMA.type_map[_type].fields[_field].resolve = _protected(_type, _field)  # type: ignore[union-attr]

_TERM = re.compile(r"""(-?)(\w+):(>=|<=|>|<|)('([^']*)'|"([^"]*)"|\S+)""")


def parse_search(query: str | None) -> list[tuple[str, str, str, bool]]:
    """Shopify search syntax subset: [(field, op, value, negated)], implicit AND."""
    if not query:
        return []
    terms = []
    for match in _TERM.finditer(query):
        negated, field, op, raw, single, double = match.groups()
        value = single if single is not None else double if double is not None else raw
        terms.append((field.lower(), op or "=", value, negated == "-"))
    return terms


def _compare(left: Any, op: str, right: Any) -> bool:
    return {"=": left == right, ">": left > right, ">=": left >= right, "<": left < right,
            "<=": left <= right}[op]


def _cursor(key: list) -> str:
    return base64.b64encode(json.dumps({"last": key}, separators=(",", ":")).encode()).decode()


def _uncursor(cursor: str) -> list:
    try:
        return json.loads(base64.b64decode(cursor))["last"]
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from exc


def connection(rows: list[tuple[list, dict]], args: dict, max_page: int = 250) -> dict:
    """Cursor pagination over rows pre-sorted by their key. Keyset cursors, so rows that move
    while a client pages are neither skipped nor repeated by the cursor itself."""
    first, last, after, before = args.get("first"), args.get("last"), args.get("after"), args.get("before")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= max_page:
            raise GraphQLError(f"The {name} argument must be between 0 and {max_page}")
    if args.get("reverse"):
        rows = list(reversed(rows))
        descending = True
    else:
        descending = False

    def beyond(key: list, cursor_key: list) -> bool:
        return key < cursor_key if descending else key > cursor_key

    if after:
        cursor_key = _uncursor(after)
        rows = [r for r in rows if beyond(r[0], cursor_key)]
    if before:
        cursor_key = _uncursor(before)
        rows = [r for r in rows if beyond(cursor_key, r[0])]
    has_next = has_previous = False
    if first is not None:
        has_next = len(rows) > first
        rows = rows[:first]
    if last is not None:
        has_previous = len(rows) > last
        rows = rows[-last:] if last else []
    edges = [{"cursor": _cursor(key), "node": node} for key, node in rows]
    return {
        "edges": edges, "nodes": [e["node"] for e in edges],
        "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_previous or bool(after),
                     "startCursor": edges[0]["cursor"] if edges else None,
                     "endCursor": edges[-1]["cursor"] if edges else None},
    }


def _money(amount: float) -> dict:
    money = {"amount": f"{amount:.2f}", "currencyCode": "GBP"}
    return {"shopMoney": money, "presentmentMoney": money}


# ---------------------------------------------------------------------- query cost
def _selections(selection_set, fragments: dict[str, FragmentDefinitionNode]):
    for selection in selection_set.selections if selection_set else []:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _selections(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _selections(fragments[selection.name.value].selection_set, fragments)


def query_cost(selection_set, parent: GraphQLObjectType, variables: dict, fragments: dict,
               data: Any = None, actual: bool = False) -> int:
    """Shopify's model: scalars 0, objects 1, connections 2 + size x node cost; `size` is `first`
    (requested cost) or the number of nodes returned (actual cost, when `data` is given)."""
    total = 0
    for field in _selections(selection_set, fragments):
        name = field.name.value
        if name.startswith("__") or name not in parent.fields:
            continue
        definition = parent.fields[name]
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            continue
        value = None
        if actual:
            value = (data or {}).get(field.alias.value if field.alias else name) if isinstance(data, dict) else None
            if value is None:
                continue
        if named.name.endswith("Connection"):
            args = get_argument_values(definition, field, variables)
            per_node = 0
            for inner in _selections(field.selection_set, fragments):
                inner_name = inner.name.value
                if inner_name == "nodes":
                    node_type = get_named_type(named.fields["nodes"].type)
                    per_node = max(per_node, 1 + query_cost(inner.selection_set, node_type, variables, fragments))
                elif inner_name == "edges":  # the edge is free; its `node` costs like a node
                    edge_type = get_named_type(named.fields["edges"].type)
                    per_node = max(per_node, query_cost(inner.selection_set, edge_type, variables, fragments))
            if actual:
                key_nodes = value.get("nodes") or value.get("edges") or []
                nested = 0
                for inner in _selections(field.selection_set, fragments):
                    if inner.name.value in ("nodes", "edges"):
                        inner_type = get_named_type(named.fields[inner.name.value].type)
                        items = value.get(inner.alias.value if inner.alias else inner.name.value) or []
                        own = 1 if inner.name.value == "nodes" else 0
                        nested = max(nested, sum(own + query_cost(inner.selection_set, inner_type, variables,
                                                                  fragments, item, True) for item in items))
                total += 2 + (nested if nested else len(key_nodes))
            else:
                size = args.get("first") or args.get("last") or 0
                total += 2 + size * per_node
        else:
            total += 1 + query_cost(field.selection_set, named, variables, fragments,
                                    value if actual else None, actual)
    return total


class ShopifyApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [Route(PREFIX + "/admin/api/{version}/graphql.json", self.graphql, methods=["POST"])]

    def _throttle_status(self) -> dict:
        bucket = self.state.shopify_bucket
        return {"maximumAvailable": bucket.maximum, "currentlyAvailable": int(bucket.available()),
                "restoreRate": bucket.restore_rate}

    def _throttled(self, requested: int, status: int = 200) -> Response:
        return json_response({
            "errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                    "throttleStatus": self._throttle_status()}},
        }, status=status)

    async def graphql(self, request: Request) -> Response:
        if request.headers.get("x-shopify-access-token") != self.state.options.shopify_access_token:
            return json_response({"errors": "[API] Invalid API key or access token (unrecognized login or "
                                            "wrong password)"}, status=401)

        def fault_response(status: int) -> Response:
            if status == 429:
                return self._throttled(0, status=429)
            return json_response({"errors": "Internal Server Error"} if status == 500 else
                                 {"errors": "Service Unavailable"}, status=status)

        version = request.path_params["version"]
        if not API_VERSION.match(version):
            return json_response({"errors": "Not Found"}, status=404)
        path = request.url.path[len(PREFIX):]
        response = await with_faults(self.state, "shopify", path, request, self._execute, fault_response)
        response.headers["X-Shopify-API-Version"] = self._served_version(version)
        return response

    def _served_version(self, requested: str) -> str:
        """Unsupported (older than ~12 months) versions fall forward to the oldest supported one."""
        if requested == "unstable":
            return requested
        now = self.state.clock.now()
        months = now.year * 12 + now.month - 1 - 12
        year, month = divmod(months, 12)
        quarter_month = ((month + 2) // 3) * 3 + 1
        if quarter_month > 10:
            year, quarter_month = year + 1, 1
        oldest = f"{year:04d}-{quarter_month:02d}"
        return max(requested, oldest)

    async def _execute(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            source = body["query"]
        except (ValueError, KeyError, TypeError):
            return json_response({"errors": {"query": "Required parameter missing or invalid"}}, status=400)
        variables = body.get("variables") or {}
        try:
            document = parse(source)
        except GraphQLError as error:
            return json_response({"errors": [error.formatted]})
        validation_errors = validate(SCHEMA, document)
        if validation_errors:
            return json_response({"errors": [e.formatted for e in validation_errors]})
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        operation = next((o for o in operations if o.name and o.name.value == body.get("operationName")),
                         operations[0])
        try:
            requested = query_cost(operation.selection_set, SCHEMA.query_type, variables, fragments)
        except GraphQLError as error:  # e.g. a required variable is missing
            return json_response({"errors": [error.formatted]})
        if requested > MAX_QUERY_COST:
            return json_response({"errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                           f"({MAX_QUERY_COST}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST,
                               "documentation": "https://shopify.dev/api/usage/rate-limits"}}]})
        bucket = self.state.shopify_bucket
        if not bucket.try_spend(requested):
            return self._throttled(requested)
        resolver = Resolver(self.state)
        result = execute(SCHEMA, document, root_value=resolver.root(), variable_values=variables,
                         operation_name=body.get("operationName"),
                         context_value={"protected_customer_data": self.state.shopify_protected_customer_data})
        actual = query_cost(operation.selection_set, SCHEMA.query_type, variables, fragments,
                            result.data or {}, actual=True)
        bucket.refund(max(0, requested - actual))
        payload: dict = {}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        payload["data"] = result.data
        payload["extensions"] = {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                                          "throttleStatus": self._throttle_status()}}
        return json_response(payload)


class Resolver:
    """Builds GraphQL source objects (dicts; connection fields are callables)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.now = state.clock.now()
        self._products = {p["legacy_id"]: p for p in state.data.products}
        self._variants = {v["legacy_id"]: (p, v) for p in state.data.products for v in p["variants"]}

    def root(self) -> dict:
        options = self.state.options
        return {
            "shop": {"id": "gid://shopify/Shop/70000001", "name": "Y3D Sandbox",
                     "myshopifyDomain": options.shopify_store, "currencyCode": "GBP",
                     "ianaTimezone": "Europe/London"},
            "orders": self.orders, "order": self.order, "products": self.products, "product": self.product,
        }

    # ------------------------------------------------------------------ orders
    def _order_state(self, order: RealOrder) -> dict | None:
        state = ShopData.mp_state(order, self.now)
        if state is None:
            return None
        cancelled_at = next((at for at, status in order.mp_events if status == "cancelled" and at <= self.now),
                            None)
        return {"updated": state[0].replace(microsecond=0), "status": state[1], "cancelled_at": cancelled_at}

    def _order_node(self, order: RealOrder, state: dict) -> dict:
        status = state["status"]
        items = [i for i in order.items if not i.adjustment]
        total = sum(i.unit_price * i.quantity for i in items) + order.shipping_amount
        created = order.ordered_at.replace(microsecond=0)
        closed = status in ("shipped", "cancelled")
        return {
            "id": f"gid://shopify/Order/{order.shopify_id}", "legacyResourceId": str(order.shopify_id),
            "name": f"#{order.order_number}", "createdAt": iso_z(created), "processedAt": iso_z(created),
            "updatedAt": iso_z(state["updated"]),
            "cancelledAt": iso_z(state["cancelled_at"]) if state["cancelled_at"] else None,
            "cancelReason": "CUSTOMER" if state["cancelled_at"] else None,
            "closed": closed, "closedAt": iso_z(state["updated"]) if closed else None,
            "displayFinancialStatus": "REFUNDED" if status == "cancelled" else "PAID",
            "displayFulfillmentStatus": "FULFILLED" if status == "shipped" else "UNFULFILLED",
            "email": order.customer_email, "phone": order.ship_to.phone, "note": order.customer_notes,
            "tags": [], "customAttributes": [], "currencyCode": "GBP", "totalPriceSet": _money(total),
            "subtotalPriceSet": _money(total - order.shipping_amount), "totalTaxSet": _money(round(total / 6, 2)),
            "totalShippingPriceSet": _money(order.shipping_amount),
            "customer": self._customer(order), "shippingAddress": self._address(order),
            "lineItems": lambda info, **args: connection(
                [([n], self._line_item(i)) for n, i in enumerate(items)], args),
        }

    @staticmethod
    def _customer(order: RealOrder) -> dict:
        first, _, last = order.customer_name.partition(" ")
        return {"id": f"gid://shopify/Customer/{order.customer_id}", "legacyResourceId": str(order.customer_id),
                "firstName": first, "lastName": last or None, "displayName": order.customer_name,
                "email": order.customer_email, "phone": order.ship_to.phone}

    @staticmethod
    def _address(order: RealOrder) -> dict:
        address = order.ship_to
        first, _, last = address.name.partition(" ")
        return {"name": address.name, "firstName": first, "lastName": last or None, "company": None,
                "address1": address.street1, "address2": None, "city": address.city, "province": None,
                "provinceCode": None, "zip": address.postal_code, "countryCodeV2": address.country,
                "phone": address.phone}

    def _line_item(self, item: LineItem) -> dict:
        variant = self._variant(item.variant_id) if item.variant_id else None
        return {
            "id": f"gid://shopify/LineItem/{item.line_item_key}", "sku": item.sku,
            "name": item.name, "title": item.product.title if item.product else item.name,
            "quantity": item.quantity, "currentQuantity": item.quantity, "variant": variant,
            "product": variant["product"] if variant else None, "requiresShipping": True,
            "customAttributes": [dict(a) for a in item.custom_attributes or []],
            "originalUnitPriceSet": _money(item.unit_price),
        }

    @staticmethod
    def _updated_window(terms) -> tuple[datetime | None, datetime | None] | None:
        """The updated_at bounds a search names (a superset: the terms are checked again), if any."""
        start = end = None
        for field, op, value, negated in terms:
            if field != "updated_at" or negated or op == "=":
                continue
            try:
                bound = parse_iso_utc(value)
            except ValueError:
                continue  # reported by the full check
            if op in (">", ">="):
                start = bound if start is None else max(start, bound)
            else:  # updatedAt is shown to the second: anything in the bound's second may match
                bound += timedelta(seconds=1)
                end = bound if end is None else min(end, bound)
        return None if start is None and end is None else (start, end)

    def _visible_orders(self, terms=()) -> list[tuple[RealOrder, dict]]:
        """Orders visible now; with updated_at bounds in `terms`, only (at least) those updated in that
        window, read from the index (the window's orders, not all of them)."""
        rows = []
        data = self.state.data
        # Without the read_all_orders scope Shopify only shows the last 60 days of orders.
        oldest = None if self.state.shopify_read_all_orders else self.now - timedelta(days=60)
        window = self._updated_window(terms)
        if window is None:
            orders = list(data.by_shopify_id.values())
        else:
            start, end = window
            start = None if start is None else start.replace(microsecond=0)
            orders = [data.by_shopify_id[legacy] for _, legacy in data.shopify_index.window(start, end, self.now)]
        for order in orders:
            data.shopify_index.examined += 1
            if oldest is not None and order.ordered_at < oldest:
                continue
            state = self._order_state(order)
            if state is not None:
                rows.append((order, state))
        return rows

    def _order_matches(self, order: RealOrder, state: dict, terms) -> bool:
        for field, op, value, negated in terms:
            if field in ("updated_at", "created_at", "processed_at"):
                instant = state["updated"] if field == "updated_at" else order.ordered_at.replace(microsecond=0)
                try:
                    bound = parse_iso_utc(value)
                except ValueError as exc:
                    raise GraphQLError(f"Invalid date in search query: {value}") from exc
                ok = _compare(instant, op, bound)
            elif field == "status":
                closed = state["status"] in ("shipped", "cancelled")
                ok = {"any": True, "open": not closed, "closed": closed,
                      "cancelled": state["status"] == "cancelled"}.get(value.lower(), True)
            elif field == "fulfillment_status":
                fulfilled = state["status"] == "shipped"
                ok = {"shipped": fulfilled, "fulfilled": fulfilled, "unshipped": not fulfilled,
                      "unfulfilled": not fulfilled}.get(value.lower(), True)
            elif field == "name":
                ok = f"#{order.order_number}" == value or order.order_number == value.lstrip("#")
            elif field == "id":
                ok = _compare(order.shopify_id, op, int(value))
            else:
                continue  # Shopify ignores filters it does not know
            if ok == negated:
                return False
        return True

    def orders(self, info, **args) -> dict:
        terms = parse_search(args.get("query"))
        sort_key = args.get("sortKey") or "ID"
        rows = self._order_rows(terms, args.get("query"), sort_key)
        page = self._lazy_connection(rows, args, lambda r: self._order_node(r[1], r[2]))
        if page["nodes"] and self.state.faults.take("shopify", "/orders", {"page_shift"}) is not None:
            self._touch([self.state.data.by_shopify_id[int(n["legacyResourceId"])] for n in page["nodes"]])
        return page

    def _order_rows(self, terms, query: str | None, sort_key: str) -> list[tuple[list, RealOrder, dict]]:
        """([sort value, id], order, state) of the orders a search selects, sorted; with updated_at bounds (and
        no 60-day limit moving the window) kept with the index's window while none of its orders changes."""

        def search() -> list[tuple[list, RealOrder, dict]]:
            rows = []
            for order, state in self._visible_orders(terms):
                if not self._order_matches(order, state, terms):
                    continue
                value = {"UPDATED_AT": iso_z(state["updated"]), "CREATED_AT": iso_z(order.ordered_at),
                         "PROCESSED_AT": iso_z(order.ordered_at), "ORDER_NUMBER": int(order.order_number)}.get(
                    sort_key, order.shopify_id)
                rows.append(([value, order.shopify_id], order, state))
            rows.sort(key=lambda r: r[0])
            return rows

        window = self._updated_window(terms)
        if window is None or not self.state.shopify_read_all_orders:
            return search()
        start, end = window
        start = None if start is None else start.replace(microsecond=0)
        return self.state.data.shopify_index.derived(start, end, self.now, ("orders", query, sort_key), search)

    def _touch(self, orders: list[RealOrder]) -> None:
        """The page_shift fault: the orders just served are updated again, right now."""
        for order in orders:
            state = ShopData.mp_state(order, self.now)
            status = state[1] if state else "awaiting_shipment"
            ss_order = order.ss_orders[0]
            current = ss_order.version_at(self.now)
            self.state.data.add_version(ss_order, Version(self.now, self.now, current.status if current else status,
                                                          {}), marketplace_visible=True)

    @staticmethod
    def _lazy_connection(rows: list, args: dict, build: Callable) -> dict:
        """Like `connection`, but only builds the nodes on the requested page."""
        keyed = [(r[0], r) for r in rows]
        page = connection(keyed, args)
        page["edges"] = [{"cursor": e["cursor"], "node": build(e["node"])} for e in page["edges"]]
        page["nodes"] = [e["node"] for e in page["edges"]]
        return page

    def order(self, info, id: str) -> dict | None:  # noqa: A002 - GraphQL argument name
        try:
            legacy = int(id.rsplit("/", 1)[-1])
        except ValueError:
            return None
        order = self.state.data.by_shopify_id.get(legacy)
        state = self._order_state(order) if order else None
        return self._order_node(order, state) if order and state else None

    # ------------------------------------------------------------------ products
    def _product_node(self, entry: dict) -> dict:
        product = entry["product"]
        node: dict = {
            "id": f"gid://shopify/Product/{entry['legacy_id']}", "legacyResourceId": str(entry["legacy_id"]),
            "title": product.title, "handle": product.title.lower().replace(" ", "-"), "vendor": "Y3D",
            "productType": product.kind.replace("_", " ").title(), "status": "ACTIVE", "tags": ["personalised"],
            "createdAt": iso_z(entry["created_at"]), "updatedAt": iso_z(entry["updated_at"]),
        }
        node["variants"] = lambda info, **args: connection(
            [([n], self._variant_node(entry, v, node)) for n, v in enumerate(entry["variants"])], args)
        return node

    def _variant_node(self, entry: dict, variant: dict, product_node: dict) -> dict:
        return {"id": f"gid://shopify/ProductVariant/{variant['legacy_id']}",
                "legacyResourceId": str(variant["legacy_id"]), "sku": variant["sku"], "title": variant["title"],
                "displayName": f"{entry['product'].title} - {variant['title']}", "price": f"{variant['price']:.2f}",
                "product": product_node, "createdAt": iso_z(entry["created_at"]),
                "updatedAt": iso_z(entry["updated_at"])}

    def _variant(self, variant_id: int) -> dict | None:
        found = self._variants.get(variant_id)
        if found is None:
            return None
        entry, variant = found
        return self._variant_node(entry, variant, self._product_node(entry))

    def _visible_products(self) -> list[dict]:
        return [p for p in self.state.data.products if p["created_at"] <= self.now]

    def products(self, info, **args) -> dict:
        terms = parse_search(args.get("query"))
        sort_key = args.get("sortKey") or "ID"
        rows = []
        for entry in self._visible_products():
            ok = True
            for field, op, value, negated in terms:
                if field in ("updated_at", "created_at"):
                    instant: datetime = entry["updated_at"] if field == "updated_at" else entry["created_at"]
                    ok = _compare(instant.replace(microsecond=0), op, parse_iso_utc(value)) != negated
                elif field == "sku":
                    ok = any(v["sku"] == value for v in entry["variants"]) != negated
                if not ok:
                    break
            if not ok:
                continue
            value = {"UPDATED_AT": iso_z(entry["updated_at"]), "CREATED_AT": iso_z(entry["created_at"]),
                     "TITLE": entry["product"].title}.get(sort_key, entry["legacy_id"])
            rows.append(([value, entry["legacy_id"]], entry))
        rows.sort(key=lambda r: r[0])
        return self._lazy_connection(rows, args, lambda r: self._product_node(r[1]))

    def product(self, info, id: str) -> dict | None:  # noqa: A002 - GraphQL argument name
        try:
            legacy = int(id.rsplit("/", 1)[-1])
        except ValueError:
            return None
        entry = self._products.get(legacy)
        return self._product_node(entry) if entry and entry["created_at"] <= self.now else None
