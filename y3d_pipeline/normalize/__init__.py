"""Normalization (no Dagster): per-source mappings to canonical records, one set-based writer.

* ``records``: the canonical order/item/customer/product records every source maps to.
* ``shipstation``: raw ShipStation payload → canonical records or a quarantine reason.
* ``writer``: canonical records → ``customers``, ``products``, ``orders``, ``order_items``, ``order_tags``.
* ``run``: stream a window of raw rows, batch by batch, one transaction per batch.
"""
