"""products / product_variants from Shopify products: the SKU-linking and naming rules (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from y3d_pipeline.db.models import Product, ProductVariant
from y3d_pipeline.sources.shopify.records import ShopifyProduct
from y3d_pipeline.sources.shopify.store import upsert_catalog


def _product(pid: int, title: str, variants: list[tuple[int, str | None, str]], updated: str = "2026-03-01T10:00:00Z"):
    return ShopifyProduct.from_node({
        "id": f"gid://shopify/Product/{pid}", "legacyResourceId": str(pid), "title": title, "updatedAt": updated,
        "variants": {"nodes": [{"id": f"gid://shopify/ProductVariant/{vid}", "legacyResourceId": str(vid),
                                "sku": sku, "title": vtitle, "price": "12.50", "updatedAt": updated}
                               for vid, sku, vtitle in variants]}})


def _products(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Product.id, Product.sku, Product.shopify_product_id, Product.name,
                                      Product.name_is_placeholder, Product.shipstation_product_id)).all()
    return {r.sku or f"shopify:{r.shopify_product_id}": r for r in rows}


def _variants(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(ProductVariant.shopify_variant_id, ProductVariant.product_id,
                                      ProductVariant.sku, ProductVariant.title, ProductVariant.price)
                            .order_by(ProductVariant.shopify_variant_id)).all()


def test_sku_linking_and_curated_names(clean_db):
    with clean_db.begin() as conn:  # rows ShipStation created from order items
        conn.execute(sa.insert(Product), [
            {"sku": "KEY-1", "name": "Keyring (curated)", "shipstation_product_id": 11, "name_is_placeholder": False},
            {"sku": "TAG-1", "name": "Product Needs Name", "shipstation_product_id": 12, "name_is_placeholder": True},
            {"sku": "SIGN-S", "name": "Door sign small", "shipstation_product_id": 13, "name_is_placeholder": False},
        ])
    batch = [
        _product(1, "Personalised Keyring", [(101, " KEY-1 ", "Default Title")]),  # adopts KEY-1, keeps name
        _product(2, "Pet Tag", [(201, "TAG-1", "Default Title")]),  # adopts TAG-1, placeholder name replaced
        _product(3, "Door Sign", [(301, "SIGN-S", "Small"), (302, "SIGN-L", "Large")]),  # multi-variant: own row
        _product(4, "Desk Plaque", [(401, "DESK-1", "Default Title")]),  # new row takes its SKU
        _product(5, "Desk Plaque (copy)", [(501, "DESK-1", "Default Title")]),  # same SKU: left NULL
    ]
    with clean_db.begin() as conn:
        counts = upsert_catalog(conn, batch)
    assert counts.products_adopted == 2 and counts.products_new == 3 and counts.sku_conflicts == 1
    products = _products(clean_db)
    assert products["KEY-1"].shopify_product_id == 1 and products["KEY-1"].name == "Keyring (curated)"
    assert products["KEY-1"].shipstation_product_id == 11
    assert products["TAG-1"].shopify_product_id == 2 and products["TAG-1"].name == "Pet Tag"
    assert not products["TAG-1"].name_is_placeholder
    assert products["shopify:3"].name == "Door Sign" and "SIGN-S" in products  # ShipStation row untouched
    assert products["SIGN-S"].shopify_product_id is None
    assert products["DESK-1"].shopify_product_id == 4 and products["shopify:5"].sku is None
    variants = _variants(clean_db)
    assert [(v.shopify_variant_id, v.sku) for v in variants] == [
        (101, "KEY-1"), (201, "TAG-1"), (301, "SIGN-S"), (302, "SIGN-L"), (401, "DESK-1"), (501, "DESK-1")]
    assert variants[0].product_id == products["KEY-1"].id and variants[0].price == Decimal("12.50")

    # the same batch again changes nothing; a curated rename in our DB survives a Shopify rename
    with clean_db.begin() as conn:
        conn.execute(sa.update(Product).where(Product.shopify_product_id == 4).values(name="Plaque (ours)"))
    before = (_products(clean_db), _variants(clean_db))
    with clean_db.begin() as conn:
        again = upsert_catalog(conn, batch)
    assert again.products_changed == again.products_new == again.variants_changed == again.variants_new == 0
    assert (_products(clean_db), _variants(clean_db)) == before

    later = "2026-03-02T10:00:00Z"
    with clean_db.begin() as conn:
        upsert_catalog(conn, [_product(4, "Desk Plaque v2", [(401, "DESK-1", "Default Title")], later),
                              _product(3, "Door Sign", [(301, "SIGN-S", "Small!")], later)])
        # an older version of product 3 arriving late does not undo the newer one
        upsert_catalog(conn, [_product(3, "Door Sign", [(301, "SIGN-S", "Small")])])
    assert _products(clean_db)["DESK-1"].name == "Plaque (ours)"
    assert [(v.shopify_variant_id, v.title) for v in _variants(clean_db) if v.shopify_variant_id in (301, 302)] == [
        (301, "Small!")]  # 302 disappeared from product 3 and was removed
    with clean_db.connect() as conn:
        stored = conn.execute(sa.select(Product.source_modified_at).where(Product.shopify_product_id == 3)).scalar()
    assert stored == dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
