"""What reconciliation decides and reports: the statuses it writes on orders and items, the orders the sources
disagree on (:class:`Finding`) and the counts of a run (:class:`ReconcileReport`). Whatever checks a status
imports it from here."""

from __future__ import annotations

from dataclasses import dataclass

from y3d_pipeline.counters import Counters, reported

# orders.reconciliation_status (NULL: ShipStation only)
MATCHED = "matched"
MARKETPLACE_ONLY = "marketplace_only"
UNMATCHED = "unmatched"
AMBIGUOUS = "ambiguous"
ORDER_STATUSES = (MATCHED, MARKETPLACE_ONLY, UNMATCHED, AMBIGUOUS)
# order_items.reconciliation_status: the order statuses, and a line paired by SKU + position with certainty
ITEM_MATCHED_BY_SKU = "matched_by_sku"
# Item statuses of a line paired with certainty (lineItemKey, or the only line of its SKU on both sides).
PAIRED_ITEM_STATUSES = (MATCHED, ITEM_MATCHED_BY_SKU)


@dataclass
class Finding:
    """An order the sources do not agree on (status ``unmatched`` or ``ambiguous``)."""

    source: str
    marketplace: str
    order_number: str
    status: str
    order_id: int | None
    detail: str

    def describe(self) -> str:
        return f"{self.marketplace} {self.order_number} ({self.status}, order id {self.order_id}): {self.detail}"


@dataclass
class ReconcileReport(Counters):
    raw_records: int = reported("marketplace_records")
    raw_unchanged_skipped: int = reported("marketplace_records_unchanged_skipped")
    matched: int = 0
    marketplace_only: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    orphans_merged: int = 0
    orders_written: int = 0
    items_written: int = reported("order_items_written")
    items_removed: int = reported("order_items_removed")
    quarantined: int = 0
    resolved: int = reported("quarantine_resolved")
    batches: int = 0
    findings: list[Finding] = reported(None, default=list)
    quarantined_ids: list[str] = reported(None, default=list)

    def count(self, status: str) -> None:
        setattr(self, status, getattr(self, status) + 1)
