"""The normalized stage (asset group ``normalized``, wired in ``defs/normalized/``; no Dagster here): raw records
of every source → one set of ``orders``, ``order_items``, ``customers`` and ``products``.

* ``records``: the canonical order/item/customer/product records the ShipStation mapping produces.
* ``shipstation``: raw ShipStation payload → canonical records or a quarantine reason (pure).
* ``writer``: canonical records → ``customers``, ``products``, ``orders``, ``order_items``, ``order_tags``.
* ``shipments``: raw shipments → the orders' shipping columns.
* ``shipstation_window``: normalize a window of raw ShipStation orders, batch by batch, one transaction each.
* ``reconcile/``: merge the window's Shopify and Amazon orders into the same rows (asset
  ``normalized/reconciliation``).
"""
