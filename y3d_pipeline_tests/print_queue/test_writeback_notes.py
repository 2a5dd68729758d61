"""Write-back never deletes staff notes (issue 12, item 4): with a long packing list or long staff notes it is
our block that is shortened, the staff's text stays exactly as typed, and the end marker that makes re-runs
idempotent is always there."""

from __future__ import annotations

import pytest

from y3d_pipeline.print_queue.writeback import (
    MAX_NOTES,
    ItemPush,
    OrderPush,
    TaskLine,
    notes_with_packing_list,
    plan_push,
    push_hash,
    pushed_hash,
)

STAFF = "Customer rang 14:05\\r\\n\\tcalled back — wants gift wrap.\r\n\tSecond line with a tab\\and a backslash. "


def _order(tasks: int, notes: str | None = None, text: str = "Alexandra") -> OrderPush:
    items = [ItemPush(line_item_key=f"L{i}", shipstation_order_item_id=1000 + i, name=f"Name keyring {i}",
                      quantity=1, tasks=[TaskLine(f"{text} {i}", "Red", "White", 1, False, "item_options")])
             for i in range(tasks)]
    return OrderPush(order_id=1, order_number="113-000-001", shipstation_order_id=77, internal_notes=notes,
                     items=items)


@pytest.mark.parametrize(("staff_length", "tasks"), [(9_000, 200), (200, 2_000), (9_990, 5), (12_000, 3)])
def test_staff_text_is_kept_whole_and_our_block_gives_way(staff_length, tasks):
    staff = (STAFF * (staff_length // len(STAFF) + 1))[:staff_length].strip()
    order = _order(tasks, staff)
    digest = push_hash(order)
    notes = notes_with_packing_list(staff, order, digest)
    assert notes.startswith(staff), "the staff's notes were changed or cut"
    assert pushed_hash(notes) == digest, "the idempotency marker did not survive"
    assert len(notes) <= max(MAX_NOTES, len(staff) + 200)
    block = notes[len(staff):]
    assert "PACKING LIST (Order #113-000-001)" in block
    if len(staff) + 60 * tasks > MAX_NOTES:
        assert "more line(s), not shown here" in block
    # A re-run finds its marker and changes nothing; a later sync replaces only our block.
    assert notes_with_packing_list(notes, order, digest) == notes
    assert notes_with_packing_list(notes, _order(tasks, notes, text="Bo"), "0123abcd").startswith(staff)


def test_staff_control_characters_survive_and_buyer_text_in_our_block_is_cleaned():
    order = _order(2, STAFF, text="Evil\x1b[31m\x07")
    notes = notes_with_packing_list(STAFF, order, push_hash(order))
    assert notes.startswith(STAFF.strip())
    assert "\x1b" not in notes[len(STAFF.strip()):] and "\x07" not in notes


def test_plan_push_keeps_staff_notes_when_the_packing_list_is_long():
    staff = "Do not ship before Friday. " * 350  # ~9,450 characters of staff notes
    order = _order(300, staff)
    fetched = {"orderId": 77, "orderNumber": "113-000-001", "orderStatus": "awaiting_shipment",
               "internalNotes": staff, "items": [{"orderItemId": 1000 + i, "lineItemKey": f"L{i}", "options": []}
                                                 for i in range(300)]}
    plan = plan_push(order, fetched)
    assert plan.body["internalNotes"].startswith(staff.strip())
    assert pushed_hash(plan.body["internalNotes"]) == plan.digest
