"""The normalized stage (asset group ``normalized``, wired in ``defs/normalized/``; no Dagster here): raw records
of every source → one set of ``orders``, ``order_items``, ``customers`` and ``products``.

* ``records``: the canonical order/item/customer/product records the ShipStation mapping produces.
* ``shipstation``: raw ShipStation payload → canonical records or a quarantine reason (pure).
* ``shipstation_sql``: the same mapping inside PostgreSQL, from the raw ``jsonb``, for plainly valid orders (the
  rest goes through ``shipstation``).
* ``writer``: staged rows (from either mapping) → ``customers``, ``products``, ``orders``, ``order_items``,
  ``order_tags``, set-based.
* ``shipments``: raw shipments → the orders' shipping columns.
* ``shipstation_window``: normalize a window of raw ShipStation orders (those changed since they were last
  normalized: ``normalized_versions``), batch by batch, one transaction each.
* ``reconcile/``: merge the window's Shopify and Amazon orders into the same rows (asset
  ``normalized/reconciliation``).
"""
