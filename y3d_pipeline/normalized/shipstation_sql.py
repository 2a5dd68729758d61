"""ShipStation raw orders → staged canonical rows, in PostgreSQL, straight from the raw ``jsonb``.

The same mapping as :func:`~y3d_pipeline.normalized.shipstation.map_order`, written as one ``INSERT ... SELECT``
per batch, for the records whose every field is of the plain kind ShipStation sends (strings within their
limits without unusual edge whitespace, integer ids, money with at most two decimals, ``…T08:46:27.0000000``
dates, ``{name, value}`` options, ...). Whatever is not plainly valid (and so anything the Python mapping could
reject or read differently) is not mapped here: :func:`map_batch` returns those rows, and the caller maps them
with ``map_order`` (which quarantines the invalid ones with their reason). So the fast path never decides a
quarantine and never guesses: it handles the common case exactly, the Python mapping everything else.

Both paths fill the same staging tables (``s_orders``, ``s_items``, ``s_tags``: temporary, dropped at commit),
which :mod:`~y3d_pipeline.normalized.writer` merges into the normalized tables set-based.
"""

# ruff: noqa: S608 -- the SQL is assembled from this module's own constants; every value is a bound parameter
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from y3d_pipeline.normalized.shipstation import LIMITS, MAX_MONEY, MAX_QUANTITY, MAX_TEXT, MAX_WEIGHT

TZ = "'America/Los_Angeles'"
# Characters Python's str.strip() removes besides the space: a string starting or ending with one of them
# goes the Python way (PostgreSQL's btrim would not remove them).
_WS = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c != " ")
WS = "E'" + "".join(f"\\u{ord(c):04x}" for c in _WS) + "'"
ORDER_KEYS_OF_SHIP_TO = ("name", "company", "street1", "street2", "street3", "city", "state", "postalCode",
                         "country", "phone", "residential", "addressVerified")

# ------------------------------------------------------------------------------------------ expressions


class Layers:
    """Column expressions evaluated once each, in layers of ``LATERAL (SELECT ... OFFSET 0)`` subqueries (an
    expression referenced ten times would otherwise be evaluated ten times)."""

    _REF = re.compile(r"\b([a-z])(\d+)\.c\d+\b")

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.layers: list[dict[str, str]] = []
        self.names: dict[str, str] = {}

    def __call__(self, expr: str) -> str:
        if expr in self.names:
            return self.names[expr]
        level = 1 + max((int(m.group(2)) for m in self._REF.finditer(expr) if m.group(1) == self.prefix),
                        default=-1)
        while len(self.layers) <= level:
            self.layers.append({})
        name = f"{self.prefix}{level}.c{len(self.names)}"
        self.layers[level][name.split(".")[1]] = expr
        self.names[expr] = name
        return name

    def sql(self) -> str:
        return "".join(f"\nCROSS JOIN LATERAL (SELECT {', '.join(f'{e} AS {n}' for n, e in layer.items())} "
                       f"OFFSET 0) {self.prefix}{level}" for level, layer in enumerate(self.layers))


def _typeok(L: Layers, j: str, *types: str) -> str:
    ty = L(f"coalesce(jsonb_typeof({L(j)}), 'null')")
    return L(f"{ty} IN ({', '.join(repr(t) for t in (*types, 'null'))})")


def _text(L: Layers, j: str, limit: int, *, ascii_only: bool = False) -> tuple[str, str]:
    """(value, plainly valid) of a text field at jsonb expression ``j``: ``_text`` of shipstation.py."""
    s = L(f"{L(j)} #>> '{{}}'")
    t = L(f"btrim({s}, ' ')")
    ok = L(f"({_typeok(L, j, 'string')} AND ({s} IS NULL OR (char_length({s}) <= {limit} AND ({t} = '' OR "
           f"(strpos({WS}, left({t}, 1)) = 0 AND strpos({WS}, right({t}, 1)) = 0))"
           + (f" AND octet_length({s}) = char_length({s})" if ascii_only else "") + ")))")
    return L(f"nullif({t}, '')"), ok


def _bool(L: Layers, j: str) -> tuple[str, str]:
    x = L(j)
    return L(f"CASE WHEN jsonb_typeof({x}) = 'boolean' THEN ({x})::boolean END"), _typeok(L, j, "boolean")


def _number(L: Layers, j: str) -> str:
    x = L(j)
    return L(f"CASE WHEN jsonb_typeof({x}) = 'number' THEN ({x})::numeric END")


def _int(L: Layers, j: str, digits: int = 18) -> tuple[str, str]:
    n = _number(L, j)
    fits = L(f"scale({n}) = 0 AND abs({n}) < 1e{digits}")
    ok = L(f"({_typeok(L, j, 'number')} AND ({n} IS NULL OR {fits}))")
    return L(f"CASE WHEN {fits} THEN {n}::bigint END"), ok


def _decimal(L: Layers, j: str, places: int, maximum: Any) -> tuple[str, str]:
    n = _number(L, j)
    ok = L(f"({_typeok(L, j, 'number')} AND ({n} IS NULL OR ({n} = round({n}, {places}) AND abs({n}) <= {maximum})))")
    return L(f"round({n}, {places})"), ok


def _date_ok(L: Layers, j: str) -> str:
    s = L(f"{L(j)} #>> '{{}}'")
    month = L(f"substr({s}, 6, 2)")
    shape = L(f"translate({s}, '0123456789', '0000000000')")
    # "2026-03-08" or "2026-03-08T04:00:00", optionally with a fraction of any length (ShipStation sends 7 digits on orders,
    # 3 on items); parse_pacific keeps microseconds, as left(…, 26) does
    return L(f"({_typeok(L, j, 'string')} AND ({s} IS NULL OR {s} = '' OR ("
             f"({shape} IN ('0000-00-00T00:00:00', '0000-00-00') OR (left({shape}, 20) = '0000-00-00T00:00:00.' "
             f"AND length({shape}) > 20 AND ltrim(substr({shape}, 21), '0') = '')) "
             f"AND left({s}, 4) BETWEEN '2001' AND '2098' AND {month} BETWEEN '01' AND '12' "
             f"AND substr({s}, 9, 2) >= '01' AND substr({s}, 9, 2) <= CASE {month} WHEN '02' THEN '28' "
             f"WHEN '04' THEN '30' WHEN '06' THEN '30' WHEN '09' THEN '30' WHEN '11' THEN '30' ELSE '31' END "
             f"AND substr({s}, 12, 2) < '24' AND substr({s}, 15, 2) < '60' AND substr({s}, 18, 2) < '60')))")


def _date(L: Layers, j: str) -> str:
    """A plainly valid ShipStation date (Pacific wall clock) as UTC; an ambiguous fall-back time is read as its
    first occurrence (PDT), like ``parse_pacific`` (PostgreSQL alone would take the second)."""
    s = L(f"{L(j)} #>> '{{}}'")
    local = L(f"CASE WHEN {s} <> '' AND {_date_ok(L, j)} THEN left({s}, 26)::timestamp END")
    first = L(f"{local} AT TIME ZONE {TZ}")
    return L(f"CASE WHEN (({first} - interval '1 hour') AT TIME ZONE {TZ}) = {local} "
             f"THEN {first} - interval '1 hour' ELSE {first} END")


def _all(*conditions: str) -> str:
    return "coalesce(" + "\n AND ".join(conditions) + ", false)"


# ------------------------------------------------------------------------------------------ orders

_P = "j.p"
_ST = "j.st"
_BT = "j.bt"
_AO = "j.ao"
_ADDRESS_TEXT = ("name", "company", "street1", "street2", "street3", "city", "state", "postalCode", "country",
                 "phone", "addressVerified")


def _order_select() -> tuple[str, str]:
    L = Layers("o")
    f: dict[str, tuple[str, str]] = {}
    f["order_number"] = _text(L, f"{_P}->'orderNumber'", LIMITS["orderNumber"])
    f["order_key"] = _text(L, f"{_P}->'orderKey'", LIMITS["orderKey"])
    f["status"] = _text(L, f"{_P}->'orderStatus'", LIMITS["orderStatus"])
    f["username"] = _text(L, f"{_P}->'customerUsername'", 500)
    f["email"] = _text(L, f"{_P}->'customerEmail'", LIMITS["customerEmail"], ascii_only=True)
    f["carrier_code"] = _text(L, f"{_P}->'carrierCode'", 100)
    f["service_code"] = _text(L, f"{_P}->'serviceCode'", 100)
    f["requested_shipping_service"] = _text(L, f"{_P}->'requestedShippingService'", 500)
    f["customer_notes"] = _text(L, f"{_P}->'customerNotes'", MAX_TEXT)
    f["internal_notes"] = _text(L, f"{_P}->'internalNotes'", MAX_TEXT)
    f["gift_message"] = _text(L, f"{_P}->'giftMessage'", MAX_TEXT)
    ship_limits = {"postalCode": 50, "phone": 100, "country": LIMITS["country"]}
    for key in _ADDRESS_TEXT:
        f[f"st_{key}"] = _text(L, f"{_ST}->'{key}'", ship_limits.get(key, 500), ascii_only=key == "country")
    f["bt_name"] = _text(L, f"{_BT}->'name'", 500)
    f["st_residential"] = _bool(L, f"{_ST}->'residential'")
    f["gift"] = _bool(L, f"{_P}->'gift'")
    f["merged_or_split"] = _bool(L, f"{_AO}->'mergedOrSplit'")
    f["order_id"] = _int(L, f"{_P}->'orderId'")
    f["customer_id"] = _int(L, f"{_P}->'customerId'")
    f["store_id"] = _int(L, f"{_AO}->'storeId'")
    f["parent_id"] = _int(L, f"{_AO}->'parentId'")
    f["warehouse_id"] = _int(L, f"{_AO}->'warehouseId'")
    for name in ("orderTotal", "amountPaid", "taxAmount", "shippingAmount"):
        f[name] = _decimal(L, f"{_P}->'{name}'", 2, MAX_MONEY)
    f["source"] = _text(L, f"{_AO}->'source'", 10**9, ascii_only=True)
    dates = ("orderDate", "createDate", "modifyDate", "paymentDate", "shipByDate", "shipDate", "holdUntilDate")
    tag_ids, merged = L(f"{_P}->'tagIds'"), L(f"{_AO}->'mergedIds'")
    checks = [
        "jsonb_typeof(j.p) = 'object'",
        _typeok(L, _ST, "object"), _typeok(L, _BT, "object"), _typeok(L, _AO, "object"),
        _typeok(L, f"{_P}->'items'", "array"), _typeok(L, f"{_P}->'tagIds'", "array"),
        _typeok(L, f"{_AO}->'mergedIds'", "array"),
        L(f"CASE WHEN jsonb_typeof({_ST}) = 'object' THEN "
          f"({_ST} - ARRAY[{', '.join(repr(k) for k in ORDER_KEYS_OF_SHIP_TO)}]) = '{{}}' ELSE true END"),
        *[_typeok(L, f"{_BT}->'{k}'", "string") for k in _ADDRESS_TEXT if k != "name"],
        _typeok(L, f"{_BT}->'residential'", "boolean"),
        *[_typeok(L, f"{_AO}->'customField{n}'", "string") for n in (1, 2, 3)],
        *[_date_ok(L, f"{_P}->'{d}'") for d in dates],
        *[ok for _, ok in f.values()],
        # what map_order rejects goes the Python way, which says why
        L(f"{f['order_id'][0]} = src.raw_id AND src.raw_id > 0"),
        L(f"{f['order_number'][0]} IS NOT NULL"),
        L(f"nullif({_P}->>'modifyDate', '') IS NOT NULL"),
        # id lists: integers only
        L(f"""NOT EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof({tag_ids}) WHEN 'array'
             THEN {tag_ids} ELSE '[]' END || CASE jsonb_typeof({merged}) WHEN 'array'
             THEN {merged} ELSE '[]' END) e(v)
             WHERE NOT CASE WHEN jsonb_typeof(e.v) = 'number'
                            THEN scale(e.v::numeric) = 0 AND abs(e.v::numeric) < 1e18 ELSE false END)"""),
    ]
    v = {k: val for k, (val, _) in f.items()}
    name = L(f"CASE WHEN coalesce({_ST}->>'name', '') <> '' THEN {v['st_name']} ELSE {v['bt_name']} END")
    postal = v["st_postalCode"]
    email = L(f"lower({v['email']})")
    key = L(f"CASE WHEN {v['customer_id']} > 0 THEN 'shipstation:' || {v['customer_id']} "
            f"WHEN {email} IS NOT NULL THEN 'email:' || {email} "
            f"WHEN {name} IS NOT NULL THEN 'name:' || lower({name}) || '|' || "
            f"upper(replace(coalesce({postal}, ''), ' ', '')) END")
    # lower()/upper() of PostgreSQL and Python agree on ASCII: a name key of other text goes the Python way
    checks.append(L(f"({key} IS NULL OR {key} NOT LIKE 'name:%' OR octet_length({key}) = char_length({key}))"))
    lowered = L(f"lower({v['source']})")
    raw_source = L(f"{L(_AO + chr(45) + chr(62) + chr(39) + 'source' + chr(39))} #>> '{{}}'")
    source_marketplace = (
        f"CASE WHEN {raw_source} IS NULL OR {raw_source} = '' THEN NULL "
        + "".join(f"WHEN strpos({lowered}, '{needle}') > 0 THEN '{market}' " for needle, market in (
            ("amazon", "amazon"), ("etsy", "etsy"), ("ebay", "ebay"), ("shopify", "web"), ("tiktok", "tiktok"),
            ("woocommerce", "web")))
        + f"WHEN {lowered} IN ('web', 'website') THEN 'web' "
        f"WHEN {lowered} IN ('shipstation', 'manual', 'manual orders') THEN 'manual' ELSE {lowered} END")
    ship_to = (f"CASE WHEN jsonb_typeof({_ST}) = 'object' THEN "
               f"jsonb_build_object({', '.join(f'{k!r}, NULL' for k in ORDER_KEYS_OF_SHIP_TO)}) || {_ST} END")
    merged_ids = f"CASE WHEN jsonb_typeof({merged}) = 'array' AND jsonb_array_length({merged}) > 0 THEN {merged} END"
    customer_name = L(f"coalesce({name}, {v['username']})")
    columns = {
        "ok": _all(*checks),
        "modified_at": _date(L, f"{_P}->'modifyDate'"),
        "order_number": v["order_number"],
        "order_key": v["order_key"],
        "shipstation_store_id": v["store_id"],
        "status": v["status"],
        "order_date": _date(L, f"{_P}->'orderDate'"),
        "payment_date": _date(L, f"{_P}->'paymentDate'"),
        "ship_by_date": _date(L, f"{_P}->'shipByDate'"),
        "carrier_code": v["carrier_code"],
        "service_code": v["service_code"],
        "requested_shipping_service": v["requested_shipping_service"],
        "customer_name": customer_name,
        "customer_email": email,
        "customer_notes": v["customer_notes"],
        "internal_notes": v["internal_notes"],
        "gift": v["gift"],
        "gift_message": v["gift_message"],
        "order_total": v["orderTotal"],
        "amount_paid": v["amountPaid"],
        "tax_amount": v["taxAmount"],
        "shipping_amount": v["shippingAmount"],
        "ship_to": ship_to,
        "merged_or_split": f"coalesce({v['merged_or_split']}, false)",
        "parent_shipstation_order_id": v["parent_id"],
        "merged_shipstation_order_ids": merged_ids,
        "source_marketplace": source_marketplace,
        "customer_key": key,
        "c_shipstation_customer_id": f"CASE WHEN {v['customer_id']} > 0 THEN {v['customer_id']} END",
        "c_email": email,
        "c_name": customer_name,
        "c_username": v["username"],
        "c_phone": v["st_phone"],
        "c_company": v["st_company"],
        "c_street1": v["st_street1"],
        "c_street2": v["st_street2"],
        "c_street3": v["st_street3"],
        "c_city": v["st_city"],
        "c_state": v["st_state"],
        "c_postal_code": postal,
        "c_country_code": f"upper({v['st_country']})",
        "c_is_residential": v["st_residential"],
        "c_address_verified": v["st_addressVerified"],
    }
    ORDER_CHECKS[:] = checks
    return L.sql(), ",\n".join(f"{expr} AS {name}" for name, expr in columns.items())


def _item_select() -> tuple[str, str]:
    L = Layers("i")
    i = "it.v"
    f: dict[str, tuple[str, str]] = {
        "source_item_id": _int(L, f"{i}->'orderItemId'"),
        "quantity": _int(L, f"{i}->'quantity'", 9),
        "product_id": _int(L, f"{i}->'productId'"),
        "line_item_key": _text(L, f"{i}->'lineItemKey'", LIMITS["lineItemKey"]),
        "sku": _text(L, f"{i}->'sku'", LIMITS["sku"]),
        "name": _text(L, f"{i}->'name'", 2000),
        "image_url": _text(L, f"{i}->'imageUrl'", 2000),
        "weight_units": _text(L, f"{i}->'weight'->'units'", 50),
        "fulfillment_sku": _text(L, f"{i}->'fulfillmentSku'", 255),
        "upc": _text(L, f"{i}->'upc'", 100),
        "warehouse_location": _text(L, f"{i}->'warehouseLocation'", 255),
        "unit_price": _decimal(L, f"{i}->'unitPrice'", 2, MAX_MONEY),
        "weight_value": _decimal(L, f"{i}->'weight'->'value'", 4, MAX_WEIGHT),
        "adjustment": _bool(L, f"{i}->'adjustment'"),
    }
    v = {k: val for k, (val, _) in f.items()}
    options = L(f"{i}->'options'")
    weight = L(f"{i}->'weight'")
    checks = [
        f"jsonb_typeof({i}) = 'object'",
        _typeok(L, f"{i}->'weight'", "object"),
        _typeok(L, f"{i}->'options'", "array"),
        _date_ok(L, f"{i}->'createDate'"), _date_ok(L, f"{i}->'modifyDate'"),
        *[ok for _, ok in f.values()],
        # what _items rejects goes the Python way, which says why
        L(f"(coalesce({v['adjustment']}, false) OR ({v['source_item_id']} > 0 AND {v['quantity']} > 0 "
          f"AND {v['quantity']} <= {MAX_QUANTITY}))"),
        # options: objects of exactly a string/null name and value, none longer than any text may be (checked
        # on the whole array's JSON text: no value is longer than that)
        L(f"(jsonb_typeof({options}) IS DISTINCT FROM 'array' OR (octet_length({options}::text) <= {MAX_TEXT} "
          f"AND NOT jsonb_path_exists({options}, '$[*] ? (@.type() != \"object\" || !exists(@.name) "
          f"|| !exists(@.value))') "
          f"AND NOT jsonb_path_exists({options}, '$[*].keyvalue() ? ((@.key != \"name\" && @.key != \"value\") "
          f"|| (@.value.type() != \"string\" && @.value.type() != \"null\"))')))"),
    ]
    columns = {
        "ok": _all(*checks),
        "adjustment": f"coalesce({v['adjustment']}, false)",
        "source_item_id": v["source_item_id"],
        "line_item_key": v["line_item_key"],
        "sku": v["sku"],
        "name": v["name"],
        "quantity": v["quantity"],
        "unit_price": v["unit_price"],
        "options": f"CASE WHEN jsonb_typeof({options}) = 'array' AND jsonb_array_length({options}) > 0 "
                   f"THEN {options} END",
        "image_url": v["image_url"],
        "has_product": f"({v['sku']} IS NOT NULL OR {v['product_id']} > 0)",
        "p_sku": v["sku"],
        "p_pid": f"CASE WHEN {v['product_id']} > 0 THEN {v['product_id']} END",
        "p_name": v["name"],
        "p_image_url": v["image_url"],
        "p_weight_value": f"CASE WHEN jsonb_typeof({weight}) = 'object' THEN {v['weight_value']} END",
        "p_weight_units": f"CASE WHEN jsonb_typeof({weight}) = 'object' THEN {v['weight_units']} END",
        "p_fulfillment_sku": v["fulfillment_sku"],
        "p_upc": v["upc"],
        "p_warehouse_location": v["warehouse_location"],
        "p_item_modified_at": _date(L, f"{i}->'modifyDate'"),
    }
    ITEM_CHECKS[:] = checks
    return L.sql(), ",\n".join(f"{expr} AS {name}" for name, expr in columns.items())


ORDER_CHECKS: list[str] = []  # the conditions of "plainly valid", for diagnostics
ITEM_CHECKS: list[str] = []
(ORDER_LAYERS, ORDER_SELECT), (ITEM_LAYERS, ITEM_SELECT) = _order_select(), _item_select()


def map_batch(conn: sa.Connection, source: str, stores: Mapping[int, str | None]) -> list[int]:
    """Map the rows of ``source`` (SQL relation with ``seq, raw_id, raw_modified_at, payload``) into the staging
    tables; returns the ``seq`` of the rows left for the Python mapping."""
    # Memoize would hash every payload to cache the lateral layers of rows that never repeat
    conn.execute(sa.text("SET LOCAL enable_memoize = off"))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE s_map ON COMMIT DROP AS
        SELECT src.seq, src.raw_id, m.*,
               CASE jsonb_typeof(j.p) WHEN 'object' THEN j.p->'items' END AS items_json,
               CASE jsonb_typeof(j.p) WHEN 'object' THEN j.p->'tagIds' END AS tags_json
        FROM {source} src
        -- the payload once, detoasted (each -> on the stored value would decompress it again)
        CROSS JOIN LATERAL (SELECT CASE jsonb_typeof(src.payload) WHEN 'object' THEN src.payload || '{{}}'::jsonb
                                   ELSE src.payload END AS p OFFSET 0) j0
        CROSS JOIN LATERAL (SELECT j0.p,
                                   CASE jsonb_typeof(j0.p) WHEN 'object' THEN j0.p->'shipTo' END AS st,
                                   CASE jsonb_typeof(j0.p) WHEN 'object' THEN j0.p->'billTo' END AS bt,
                                   CASE jsonb_typeof(j0.p) WHEN 'object' THEN j0.p->'advancedOptions' END AS ao
                            OFFSET 0) j {ORDER_LAYERS}
        CROSS JOIN LATERAL (SELECT {ORDER_SELECT}) m"""))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE s_imap ON COMMIT DROP AS
        SELECT m.seq, (it.n - 1)::int AS position, im.*
        FROM s_map m
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN m.ok AND jsonb_typeof(m.items_json) = 'array' THEN m.items_json
                 ELSE '[]' END) WITH ORDINALITY it(v, n) {ITEM_LAYERS}
        CROSS JOIN LATERAL (SELECT {ITEM_SELECT}) im"""))
    conn.execute(sa.text("""
        UPDATE s_map m SET ok = false
        FROM (SELECT seq FROM s_imap GROUP BY seq
              HAVING bool_or(NOT ok) OR count(*) FILTER (WHERE NOT adjustment)
                                        <> count(DISTINCT source_item_id) FILTER (WHERE NOT adjustment)) b
        WHERE m.seq = b.seq AND m.ok"""))
    stores_ids = [k for k in stores]
    conn.execute(sa.text(f"""
        INSERT INTO s_orders (seq, source_order_id, modified_at, {ORDER_VALUE_COLUMNS}, store_id, marketplace,
                              replaces_items, customer_key, {CUSTOMER_STAGE_COLUMNS})
        SELECT m.seq, m.raw_id, m.modified_at, {', '.join(f'm.{c}' for c in ORDER_VALUE_COLUMNS.split(', '))},
               m.shipstation_store_id, coalesce(nullif(st.marketplace, ''), m.source_marketplace),
               NOT m.merged_or_split, m.customer_key, {', '.join(f'm.{c}' for c in CUSTOMER_STAGE_COLUMNS.split(', '))}
        FROM s_map m
        LEFT JOIN unnest(CAST(:store_ids AS bigint[]), CAST(:markets AS text[])) st(id, marketplace)
               ON st.id = m.shipstation_store_id
        WHERE m.ok"""), {"store_ids": stores_ids, "markets": [stores[k] for k in stores_ids]})
    conn.execute(sa.text(f"""
        INSERT INTO s_items (seq, position, {ITEM_STAGE_COLUMNS})
        SELECT i.seq, i.position, {', '.join(f'i.{c}' for c in ITEM_STAGE_COLUMNS.split(', ') if c != 'p_source_modified_at')},
               CASE WHEN i.has_product THEN coalesce(i.p_item_modified_at, m.modified_at) END
        FROM s_imap i JOIN s_map m ON m.seq = i.seq
        WHERE m.ok AND NOT i.adjustment"""))
    conn.execute(sa.text("""
        INSERT INTO s_tags (seq, tag_id)
        SELECT DISTINCT m.seq, e.v::numeric::bigint
        FROM s_map m
        CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN m.ok AND jsonb_typeof(m.tags_json) = 'array'
                                                THEN m.tags_json ELSE '[]' END) e(v)
        WHERE m.ok"""))
    left = [row[0] for row in conn.execute(sa.text("SELECT seq FROM s_map WHERE NOT ok ORDER BY seq"))]
    conn.execute(sa.text("DROP TABLE s_map, s_imap"))
    return left


# ------------------------------------------------------------------------------------------ staging tables

ORDER_VALUE_COLUMNS = ("order_number, order_key, shipstation_store_id, status, order_date, payment_date, "
                       "ship_by_date, carrier_code, service_code, requested_shipping_service, customer_name, "
                       "customer_email, customer_notes, internal_notes, gift, gift_message, order_total, "
                       "amount_paid, tax_amount, shipping_amount, ship_to, merged_or_split, "
                       "parent_shipstation_order_id, merged_shipstation_order_ids")
CUSTOMER_STAGE_COLUMNS = ("c_shipstation_customer_id, c_email, c_name, c_username, c_phone, c_company, c_street1, "
                          "c_street2, c_street3, c_city, c_state, c_postal_code, c_country_code, c_is_residential, "
                          "c_address_verified")
ITEM_STAGE_COLUMNS = ("source_item_id, line_item_key, sku, name, quantity, unit_price, options, image_url, "
                      "has_product, p_sku, p_pid, p_name, p_image_url, p_weight_value, p_weight_units, "
                      "p_fulfillment_sku, p_upc, p_warehouse_location, p_source_modified_at")

STAGING_DDL = """
CREATE TEMP TABLE s_orders (
    seq bigint NOT NULL, source_order_id bigint NOT NULL, modified_at timestamptz NOT NULL,
    order_number text, order_key text, shipstation_store_id bigint, status text, order_date timestamptz,
    payment_date timestamptz, ship_by_date timestamptz, carrier_code text, service_code text,
    requested_shipping_service text, customer_name text, customer_email text, customer_notes text,
    internal_notes text, gift boolean, gift_message text, order_total numeric(12, 2), amount_paid numeric(12, 2),
    tax_amount numeric(12, 2), shipping_amount numeric(12, 2), ship_to jsonb, merged_or_split boolean NOT NULL,
    parent_shipstation_order_id bigint, merged_shipstation_order_ids jsonb,
    store_id bigint, marketplace text, replaces_items boolean NOT NULL, customer_key text,
    c_shipstation_customer_id bigint, c_email text, c_name text, c_username text, c_phone text, c_company text,
    c_street1 text, c_street2 text, c_street3 text, c_city text, c_state text, c_postal_code text,
    c_country_code text, c_is_residential boolean, c_address_verified text
) ON COMMIT DROP;
CREATE TEMP TABLE s_items (
    seq bigint NOT NULL, position int NOT NULL, source_item_id bigint NOT NULL, line_item_key text, sku text,
    name text, quantity int NOT NULL, unit_price numeric(12, 2), options jsonb, image_url text,
    has_product boolean NOT NULL, p_sku text, p_pid bigint, p_name text, p_image_url text,
    p_weight_value numeric(12, 4), p_weight_units text, p_fulfillment_sku text, p_upc text,
    p_warehouse_location text, p_source_modified_at timestamptz
) ON COMMIT DROP;
CREATE TEMP TABLE s_tags (seq bigint NOT NULL, tag_id bigint NOT NULL) ON COMMIT DROP;
"""
