"""Bad-input corpus: malformed and hostile payloads for every source path that exists, each quarantined or
flagged with a reason, none crashing its partition, none losing a valid record. The counts per source are
printed in the test report ("bad-input corpus" section).

* ShipStation orders over real HTTP: hostile field values are patched into sandbox orders, the day is synced
  and normalized through the assets; every order of the day is then either normalized or quarantined in
  normalization_failures with a reason, and the untouched orders are all normalized.
* ShipStation order documents straight into normalization (wrong types, missing keys, not-a-dict).
* Amazon Custom: hostile CustomizedURLs (SSRF, schemes, userinfo, control characters) and hostile zips.
* OpenAI replies that break the schema.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections import namedtuple

import pytest
import sqlalchemy as sa

from y3d_pipeline_tests.faults.conftest import record_bad_input

DAY = "2026-03-12"
HUGE = "x" * 200_000
HOSTILE_VALUES = {
    "sql in text": "Robert'); DROP TABLE orders;--",
    "html in text": "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "control characters": "bad\x01soh\x07bell\x1b[31mred\r\nCRLF\x7f",
    "huge string": HUGE,
    "nul character": "nul\x00here",
    "unicode edge cases": "Zo\u0308e \u202eevil\u202c \U0001F600 \ufeff\u200b \ud7ff \U0010FFFF",
    "wrong type: number for text": 12345,
    "wrong type: list for text": ["a", "b"],
    "wrong type: object for text": {"nested": True},
}
PATCH_FIELDS = ["customerNotes", "customerEmail", "shipTo.name", "billTo.name", "internalNotes"]
STRUCTURAL = {
    "orderTotal not a number": {"orderTotal": "lots"},
    "items not a list": {"items": "none"},
    "items null": {"items": None},
    "orderDate garbage": {"orderDate": "yesterday-ish"},
    "modifyDate missing": {"modifyDate": None},
    "orderStatus unknown": {"orderStatus": "teleported"},
    "advancedOptions wrong type": {"advancedOptions": "no"},
    "shipTo not an object": {"shipTo": 7},
}


def _day_bounds(day: str) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)  # Europe/London == UTC in March before the 29th
    return start, start + dt.timedelta(days=1)


def test_hostile_shipstation_orders_through_the_assets(fresh_sandbox, run_orders, clean_db):
    start, end = _day_bounds(DAY)
    now = fresh_sandbox.now()
    day_orders = sorted(int(oid) for oid, o in fresh_sandbox.state.data.ss_orders.items()
                        if (v := o.version_at(now)) is not None and start <= v.ss_at < end)
    cases = [(f"{field}: {name}", {field: value}) for name, value in HOSTILE_VALUES.items()
             for field in PATCH_FIELDS[:1]] + [(f"{f}: {n}", {f: v}) for f in PATCH_FIELDS[1:3]
                                               for n, v in list(HOSTILE_VALUES.items())[::3]]
    cases += list(STRUCTURAL.items())
    assert len(day_orders) > len(cases) + 5, "need untouched orders on the day too"
    # The patches are recorded "now" (the sandbox clock), so the hostile versions are synced by the clock's day.
    hostile = {}
    for order_id, (name, patch) in zip(day_orders, cases, strict=False):
        fresh_sandbox.mutate_order(order_id, patch=patch)
        hostile[order_id] = name
    clock_day = fresh_sandbox.now().date().isoformat()
    result = run_orders(clock_day, raise_on_error=False, page_size=50)
    assert result.success, "a hostile payload crashed the partition"
    assert run_orders(DAY, page_size=50).success

    with clean_db.connect() as conn:
        stored = {r[0]: r for r in conn.execute(sa.text(
            "SELECT shipstation_order_id, customer_notes, customer_email FROM orders")).all()}
        failures = {int(r[0]): r[1] for r in conn.execute(sa.text(
            "SELECT source_id, reason FROM normalization_failures WHERE source = 'shipstation' "
            "AND resolved_at IS NULL")).all() if str(r[0]).isdigit()}
        raw = {r[0] for r in conn.execute(sa.text("SELECT shipstation_order_id FROM raw_shipstation_orders")).all()}
    untouched = set(day_orders) - set(hostile)
    assert untouched <= set(stored), f"valid orders lost: {sorted(untouched - set(stored))}"
    for order_id, name in hostile.items():
        assert order_id in raw, f"{name}: the raw payload was not kept"
        if order_id in failures:
            assert failures[order_id], f"{name}: quarantined without a reason"
            record_bad_input("normalization", "shipstation (HTTP, assets)", "quarantined")
        else:
            assert order_id in stored, f"{name}: neither normalized nor quarantined"
            record_bad_input("normalization", "shipstation (HTTP, assets)", "accepted, stored verbatim as text")
    # Stored text is data, never executed: the SQL-looking note is kept as it came.
    sql_case = next((oid for oid, n in hostile.items() if n == "customerNotes: sql in text"), None)
    if sql_case in stored:
        assert stored[sql_case][1] == HOSTILE_VALUES["sql in text"]


Row = namedtuple("Row", "shipstation_order_id source_modified_at payload")


def _valid_doc(sandbox) -> dict:
    now = sandbox.now()
    order = next(o for o in sandbox.state.data.ss_orders.values() if o.version_at(now) is not None)
    return sandbox.state.data.render_shipstation(order, now, sandbox.base_url)


def test_malformed_shipstation_documents_are_quarantined_and_the_rest_written(sandbox, clean_db):
    from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_rows

    good = _valid_doc(sandbox)
    at = dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC)
    docs = {
        "not an object": ["a", "list"],
        "empty object": {},
        "orderId missing": {k: v for k, v in good.items() if k != "orderId"},
        "orderId a string": {**good, "orderId": "abc"},
        "orderId differs from the raw row": {**good, "orderId": good["orderId"] + 1},
        "items of strings": {**good, "items": ["x", "y"]},
        "item quantity negative": {**good, "items": [{**(good["items"] or [{}])[0], "quantity": -3}]},
        "item quantity a string": {**good, "items": [{**(good["items"] or [{}])[0], "quantity": "two"}]},
        "orderTotal huge": {**good, "orderTotal": 1e308},
        "modifyDate garbage": {**good, "modifyDate": "\x01 not a date"},
        "customerEmail huge": {**good, "customerEmail": HUGE},
        "nested depth": {**good, "shipTo": {"name": {"a": {"b": {"c": [[[[]]]]}}}}},
    }
    rows = [Row(good["orderId"], at, good)]
    for i, (name, doc) in enumerate(docs.items()):
        raw_id = 800_000_000 + i
        if isinstance(doc, dict) and "orderId" in doc and not name.startswith("orderId"):
            doc = {**doc, "orderId": raw_id}  # its own order, not another copy of the good one
        elif name == "orderId differs from the raw row":
            doc = {**doc, "orderId": raw_id + 1_000}
        rows.append(Row(raw_id, at, doc))
    report = normalize_shipstation_rows(clean_db, rows, stores={})
    with clean_db.connect() as conn:
        orders = {r[0] for r in conn.execute(sa.text("SELECT shipstation_order_id FROM orders")).all()}
        failures = dict(conn.execute(sa.text("SELECT source_id, reason FROM normalization_failures")).all())
    assert good["orderId"] in orders, "the valid order was lost"
    not_stored = [name for i, name in enumerate(docs) if 800_000_000 + i not in orders]
    # Each one not stored is quarantined with a reason (under the raw row's id, or the id the payload claims).
    assert len(failures) == len(not_stored), (sorted(failures), not_stored)
    assert all(failures.values()), failures
    for name in docs:
        record_bad_input("normalization", "shipstation (documents)", "quarantined" if name in not_stored else "accepted")
    assert report.quarantined == len(failures)


HOSTILE_URLS = [
    "http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/x.zip", "https://[::1]/x.zip",
    "https://localhost/x.zip", "file:///etc/passwd", "gopher://example.com/x", "ftp://example.com/x.zip",
    "https://user:pass@zme-caps.amazon.com/x.zip", "https://zme-caps.amazon.com.evil.com/x.zip",
    "https://evil.com/x.zip", "https://zme-caps.amazon.com:8443/x.zip", "https://zme-caps.amazon.com/a b.zip",
    "https://zme-caps.amazon.com/x\r\nHost: evil.zip", "javascript:alert(1)", "", "https://" + "a" * 5000,
    "https://0x7f000001/x.zip", "https://2130706433/x.zip", "https://zme-caps.amazon.com\\@evil.com/x.zip",
]


@pytest.mark.parametrize("url", HOSTILE_URLS, ids=range(len(HOSTILE_URLS)))
def test_hostile_customized_urls_are_rejected_with_a_reason(url):
    from y3d_pipeline.sources.amazon.custom import DownloadPolicy, UrlRejectedError, check_url

    policy = DownloadPolicy(allowed_hosts=("zme-caps.amazon.com",))
    with pytest.raises(UrlRejectedError) as info:
        check_url(url, policy)
    assert str(info.value)
    assert "pass" not in str(info.value) or "user:pass" not in url, "credentials echoed in the reason"
    record_bad_input("customization download and parse", "amazon CustomizedURL", "rejected")


def _zip(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buf.getvalue()


HOSTILE_ZIPS = {
    "not a zip": b"PK\x03\x04 garbage",
    "empty bytes": b"",
    "html instead of zip": b"<html>error</html>",
    "zip bomb (ratio)": _zip({"1.json": b"{" + b" " * 20_000_000 + b"}"}),
    "too many entries": _zip({f"{i}.json": b"{}" for i in range(200)}),
    "path traversal only": _zip({"../../etc/passwd.json": b"{}"}),
    "no json": _zip({"readme.txt": b"hello"}),
    "json not an object": _zip({"1.json": b"[1, 2, 3]"}),
    "invalid json": _zip({"1.json": b"{'single': quotes}"}),
    "json with no known layout": _zip({"1.json": b'{"hello": "world"}'}),
    "json bad utf-8": _zip({"1.json": b'{"a": "\xff\xfe"}'}),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ZIPS))
def test_hostile_zips_fail_with_a_customization_error(name):
    from y3d_pipeline.sources.amazon.custom import (
        CustomizationError,
        parse_customization,
        read_customization_json,
    )

    with pytest.raises(CustomizationError) as info:
        found = read_customization_json(HOSTILE_ZIPS[name], order_item_id="1")
        parse_customization(found.data if hasattr(found, "data") else found.document)
    assert str(info.value), name
    record_bad_input("customization download and parse", "amazon custom zip", "rejected")


BAD_AI_REPLIES = {
    "empty": None,
    "blank": "   ",
    "prose": "Sure! The customer wants 'Bob'.",
    "truncated json": '{"items": [{"line_item_key": "1"',
    "wrong shape": '{"result": []}',
    "items not a list": '{"items": "none"}',
    "extra keys": '{"items": [], "sql": "DROP TABLE print_tasks"}',
    "fenced garbage": "```json\nnot json\n```",
    "huge": '{"items": [' + ",".join(['{"x": 1}'] * 5000) + "]}",
}


@pytest.mark.parametrize("name", sorted(BAD_AI_REPLIES))
def test_ai_replies_that_break_the_schema_raise_instead_of_passing(name):
    from y3d_pipeline.print_queue.ai import parse_reply

    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        parse_reply(BAD_AI_REPLIES[name])
    record_bad_input("print tasks (AI reply)", "openai reply", "rejected")


# ------------------------------------------------------------------------------- regressions found by this corpus
# Each was a defect: a NUL made PostgreSQL reject the whole raw upsert or quarantine insert, and NaN/Infinity
# money raised decimal.InvalidOperation and aborted the batch. Fixed in normalization (c3ac929) and in the
# shared raw upsert, which now makes every source's payload jsonb-safe.


def test_nul_character_in_a_raw_payload_does_not_fail_the_batch(sandbox, clean_db):
    # The shared raw upsert directly (through the assets a failure here costs ~50 s of step-retry delays).
    from y3d_pipeline.db.models import RawShipstationOrder
    from y3d_pipeline.sources.raw_store import upsert_raw_records

    good = _valid_doc(sandbox)
    at = dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC)
    rows = [{"shipstation_order_id": good["orderId"], "source_modified_at": at, "payload": good},
            {"shipstation_order_id": 800_000_300, "source_modified_at": at,
             "payload": {**good, "orderId": 800_000_300, "customerNotes": "nul\x00here"}}]
    record_bad_input("raw store", "raw_shipstation_orders", "stored as inert text")
    with clean_db.begin() as conn:
        upsert_raw_records(conn, RawShipstationOrder.__table__, rows, fetched_at=at)
    with clean_db.connect() as conn:
        stored = {r[0] for r in conn.execute(sa.text("SELECT shipstation_order_id FROM raw_shipstation_orders"))}
    assert stored == {good["orderId"], 800_000_300}


@pytest.mark.parametrize("total", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_money_is_quarantined_not_a_crash(total, sandbox, clean_db):
    from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_rows

    good = _valid_doc(sandbox)
    at = dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC)
    record_bad_input("normalization", "shipstation (documents)", "quarantined")
    normalize_shipstation_rows(clean_db, [Row(good["orderId"], at, good),
                                          Row(800_000_100, at, {**good, "orderId": 800_000_100, "orderTotal": total})],
                               stores={})
    _assert_good_written_bad_quarantined(clean_db, good["orderId"], 800_000_100)


def test_nul_in_a_rejected_document_is_quarantined_not_a_crash(sandbox, clean_db):
    from y3d_pipeline.normalized.shipstation_window import normalize_shipstation_rows

    good = _valid_doc(sandbox)
    at = dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC)
    record_bad_input("normalization", "shipstation (documents)", "quarantined")
    normalize_shipstation_rows(clean_db, [Row(good["orderId"], at, good),
                                          Row(800_000_200, at, {**good, "orderId": 800_000_200, "modifyDate": "\x00"})],
                               stores={})
    _assert_good_written_bad_quarantined(clean_db, good["orderId"], 800_000_200)


def _assert_good_written_bad_quarantined(engine, good_id: int, bad_id: int) -> None:
    with engine.connect() as conn:
        orders = {r[0] for r in conn.execute(sa.text("SELECT shipstation_order_id FROM orders"))}
        reasons = dict(conn.execute(sa.text("SELECT source_id, reason FROM normalization_failures")).all())
    assert good_id in orders
    assert bad_id not in orders and reasons.get(str(bad_id)), reasons
