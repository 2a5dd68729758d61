"""Shopify records → the database (set-based SQL; plain module, no Dagster).

* :func:`store_orders`: orders with their line items into ``raw_shopify_orders`` by order id, never replacing a
  newer version with an older one; what the fetch could not read and what PostgreSQL refuses is quarantined
  (``normalization_failures``, source ``shopify``).
* :func:`upsert_catalog`: products into the curated ``products`` + ``product_variants``, as follows.

How a Shopify product relates to the ``products`` rows other sources create (ShipStation rows are keyed by
trimmed SKU):

1. One ``products`` row per Shopify product, found by ``shopify_product_id``.
2. On the first sync of a *single-variant* product whose trimmed variant SKU already names a row without a
   Shopify id (typically created from ShipStation order items), that row is adopted: it gets the
   ``shopify_product_id`` and no duplicate is created.
3. Otherwise a new row is inserted; its ``sku`` is the single variant's SKU when no other row has that SKU,
   else NULL. Multi-variant products keep ``sku`` NULL: their SKUs live in ``product_variants.sku``, and
   ShipStation's per-SKU rows stay as they are (join them through ``product_variants.sku``).
4. ``name`` is Shopify's title for a new row. An existing row's name is replaced only while
   ``name_is_placeholder`` is true (a curated name is never overwritten; a later Shopify rename therefore
   does not rename the row). ``sku`` is only ever filled when NULL, never changed.
   ``source_modified_at`` becomes the later of the stored value and Shopify's ``updatedAt``.
5. ``product_variants`` rows are upserted by ``shopify_variant_id`` (sku, title, price); a stored variant is
   replaced only by the same or a newer ``updatedAt``. Variants that no longer appear on a fetched product
   (which comes with its full variant list) are deleted.

Re-running with the same data changes nothing (updates only fire when a value differs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from y3d_pipeline.counters import Counters
from y3d_pipeline.db.models import Product, ProductVariant, RawShopifyOrder
from y3d_pipeline.db.upsert import INSERTED, inserted_and_updated, upsert_if_changed
from y3d_pipeline.sources.http import InvalidRecord
from y3d_pipeline.sources.raw_store import UpsertCounts, store_raw_records
from y3d_pipeline.sources.shopify.records import ShopifyOrder, ShopifyProduct

products = Product.__table__
variants = ProductVariant.__table__
# Raw orders the fetch or reconciliation cannot use share one quarantine source (reconcile.marketplace.SHOPIFY).
ORDERS_SOURCE = "shopify"


def store_orders(conn: sa.Connection, orders: list[ShopifyOrder], invalid: list[InvalidRecord], *,
                 fetched_at: dt.datetime, partition_key: str | None) -> UpsertCounts:
    """The fetched orders into ``raw_shopify_orders``; ``invalid`` (orders the client could not read) and the
    ones PostgreSQL refuses are quarantined."""
    rows = [{"shopify_order_id": o.legacy_resource_id, "order_name": o.name, "source_modified_at": o.updated_at,
             "payload": o.payload} for o in orders]
    return store_raw_records(conn, RawShopifyOrder.__table__, rows, unreadable=invalid, source=ORDERS_SOURCE,
                             fetched_at=fetched_at, partition_key=partition_key)


@dataclass
class CatalogCounts(Counters):
    products_new: int = 0
    products_adopted: int = 0  # existing SKU rows that got their Shopify product id
    products_changed: int = 0
    products_unchanged: int = 0
    variants_new: int = 0
    variants_changed: int = 0
    variants_unchanged: int = 0
    variants_deleted: int = 0
    sku_conflicts: int = 0  # single-variant SKUs already held by another row (left NULL on the product)


def _clean_sku(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _single_sku(product: ShopifyProduct) -> str | None:
    return _clean_sku(product.variants[0].sku) if len(product.variants) == 1 else None


def _newest(items: list[ShopifyProduct]) -> list[ShopifyProduct]:
    newest: dict[int, ShopifyProduct] = {}
    for product in items:
        current = newest.get(product.legacy_resource_id)
        if current is None or product.updated_at >= current.updated_at:
            newest[product.legacy_resource_id] = product
    return sorted(newest.values(), key=lambda p: p.legacy_resource_id)


def upsert_catalog(conn: sa.Connection, fetched: list[ShopifyProduct]) -> CatalogCounts:
    """Write ``fetched`` products and their variants in the caller's transaction."""
    counts = CatalogCounts()
    items = _newest(fetched)
    if not items:
        return counts
    ids = [p.legacy_resource_id for p in items]

    # 2. adopt SKU rows (single-variant products seen for the first time)
    singles = [(p.legacy_resource_id, _single_sku(p)) for p in items if _single_sku(p)]
    if singles:
        candidates = sa.values(sa.column("pid", sa.BigInteger), sa.column("sku", sa.Text), name="v").data(singles)
        owner = products.alias("owner")
        adopt = (
            sa.update(products)
            .where(products.c.sku == candidates.c.sku, products.c.shopify_product_id.is_(None),
                   ~sa.exists().where(owner.c.shopify_product_id == candidates.c.pid))
            .values(shopify_product_id=candidates.c.pid, updated_at=sa.func.now())
        )
        counts.products_adopted = conn.execute(adopt).rowcount

    # 3. SKUs another row already holds stay NULL on this product
    wanted = {pid: sku for pid, sku in singles}
    holders: dict[str, int | None] = {}
    if wanted:
        holders = dict(conn.execute(
            sa.select(products.c.sku, products.c.shopify_product_id).where(
                products.c.sku.in_(list(wanted.values())))).all())
    rows, claimed = [], set()
    for product in items:
        sku = wanted.get(product.legacy_resource_id)
        held = sku is not None and sku in holders and holders[sku] != product.legacy_resource_id
        if sku is not None and (held or sku in claimed):
            counts.sku_conflicts += 1
            sku = None
        if sku is not None:
            claimed.add(sku)
        rows.append({"shopify_product_id": product.legacy_resource_id, "sku": sku, "name": product.title,
                     "name_is_placeholder": False, "source_modified_at": product.updated_at})

    # 1 + 4. upsert by shopify_product_id
    stmt = insert(products).values(rows)
    stored, new = products.c, stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[stored.shopify_product_id],
        set_={
            "name": sa.case((stored.name_is_placeholder, new.name), else_=stored.name),
            "name_is_placeholder": sa.false(),
            "sku": sa.func.coalesce(stored.sku, new.sku),
            "source_modified_at": sa.func.greatest(stored.source_modified_at, new.source_modified_at),
            "updated_at": sa.func.now(),
        },
        where=sa.or_(
            stored.name_is_placeholder,
            sa.and_(stored.sku.is_(None), new.sku.is_not(None)),
            stored.source_modified_at.is_(None),
            stored.source_modified_at < new.source_modified_at,
        ),
    ).returning(stored.id, INSERTED)
    written = conn.execute(stmt).all()
    counts.products_new, counts.products_changed = inserted_and_updated(written)
    counts.products_unchanged = len(items) - len(written)

    # 5. variants
    product_ids = dict(conn.execute(
        sa.select(stored.shopify_product_id, stored.id).where(stored.shopify_product_id.in_(ids))).all())
    variant_rows: dict[int, dict[str, Any]] = {}
    for product in items:
        for variant in product.variants:
            variant_rows[variant.legacy_resource_id] = {
                "product_id": product_ids[product.legacy_resource_id],
                "shopify_variant_id": variant.legacy_resource_id,
                "sku": _clean_sku(variant.sku),
                "title": variant.title,
                "price": None if variant.price is None else Decimal(variant.price).quantize(Decimal("0.01")),
                "source_modified_at": variant.updated_at or product.updated_at,
            }
    if variant_rows:
        vs = variants.c
        stmt = upsert_if_changed(
            variants, [vs.shopify_variant_id], ("product_id", "sku", "title", "price", "source_modified_at"),
            # a stored variant is replaced only by the same or a newer updatedAt
            only_if=lambda new: sa.or_(vs.source_modified_at.is_(None), vs.source_modified_at <= new.source_modified_at),
        ).values(list(variant_rows.values())).returning(vs.id, INSERTED)
        written = conn.execute(stmt).all()
        counts.variants_new, counts.variants_changed = inserted_and_updated(written)
        counts.variants_unchanged = len(variant_rows) - len(written)
    counts.variants_deleted = conn.execute(
        sa.delete(variants).where(
            variants.c.product_id.in_(list(product_ids.values())),
            variants.c.shopify_variant_id.not_in(list(variant_rows) or [-1]),
        )).rowcount
    return counts


def stored_shopify_products(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).where(products.c.shopify_product_id.is_not(None))).scalar_one()
