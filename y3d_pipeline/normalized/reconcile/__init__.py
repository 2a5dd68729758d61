"""Cross-source reconciliation (no Dagster): one ``orders`` row per real order, whichever sources report it.

ShipStation aggregates the marketplaces; Shopify's and Amazon's own APIs hold what ShipStation drops or
garbles. After ShipStation normalization of a window, :func:`.window.reconcile_window` maps the window's raw
Shopify and Amazon orders and merges them into the normalized rows (asset ``normalized/reconciliation``).

Modules, one job each: ``marketplace`` (raw payload → :class:`MarketplaceOrder`, pure), ``selection`` (which
records a window covers), ``planning`` (what a batch changes, decided from the stored rows), ``writing``
(applying a plan), ``window`` (the driver: batches, quarantine, one transaction per batch), ``report`` (the
statuses it writes and what it counts).

Matching
  * orders: by ``orders.shopify_order_id`` / ``amazon_order_id`` first, else marketplace + order number
    (Shopify ``name`` "#1001" ↔ ShipStation ``orderNumber`` "1001", marketplace ``web``; Amazon
    ``AmazonOrderId`` == ``orderNumber``, marketplace ``amazon``).
  * items: ShipStation ``lineItemKey`` == Amazon ``OrderItemId`` / Shopify line item legacy id; then SKU +
    position (``matched_by_sku``, or ``ambiguous`` when a SKU has several candidate lines).
  * split ShipStation orders (same ``orderKey`` and ``orderNumber``, several rows): the marketplace id goes
    on the parent (the row without ``parent_shipstation_order_id``, else the lowest ShipStation id); items are
    matched across all the rows; every row of the group is flagged ``ambiguous`` (order-level prices are left
    to ShipStation because each split row holds only part of the order).

Statuses
  * ``orders.reconciliation_status``: ``matched`` (ShipStation + marketplace agree line for line),
    ``marketplace_only`` (no ShipStation order yet, e.g. an Amazon ``Pending`` order: a row is created from the
    marketplace so nothing is lost), ``unmatched`` (lines on one side without a counterpart on the other),
    ``ambiguous`` (split order, or lines paired by SKU among several candidates). NULL: ShipStation only.
  * ``order_items.reconciliation_status``: ``matched``, ``matched_by_sku``, ``ambiguous``, ``unmatched``
    (ShipStation line with no marketplace line), ``marketplace_only``.
  * ``orders.sources``: JSON list of the sources seen (``shipstation``, ``shopify``, ``amazon``).

Field precedence
  * ShipStation owns fulfilment state (status, ship-by, shipments/tracking), shipping (address, carrier,
    service), tags, customer, notes, and everything else it reports; reconciliation never writes them on a
    row that ShipStation has.
  * The marketplace API owns buyer-entered personalisation and prices: Shopify ``customAttributes`` become
    options ``{"name": key, "value": value}`` merged into ShipStation's options (same name → the
    marketplace's value in ShipStation's position; missing ones appended; ShipStation-only options kept; no
    duplicates); Amazon's ``BuyerCustomizedInfo.CustomizedURL`` likewise as the ``CustomizedURL`` option;
    ``order_items.unit_price`` (Shopify ``originalUnitPriceSet``; Amazon ``ItemPrice`` / quantity) and
    ``orders.order_total`` / ``currency`` (not on split rows). A value the marketplace leaves out (Amazon
    Pending has no prices) keeps ShipStation's.
  * Amazon Custom data (``amazon_customizations``) beats any free text: print tasks apply it; here options
    are only kept intact.

Convergence (both orders of arrival)
  * marketplace first: a ``marketplace_only`` row keyed by the marketplace id (``shipstation_order_id``
    NULL). ShipStation normalization keys its rows by ``shipstation_order_id``, so when the ShipStation order
    arrives it inserts a second row; the reconcile step of that run (which also revisits every
    marketplace-only row that now has a ShipStation twin, whatever its day) merges the marketplace-only row
    into the ShipStation row: print tasks, Amazon customizations and AI calls of its items/order move to the
    matched ShipStation items (tasks only when the ShipStation item has none yet), the orphan row is deleted
    (its unmatched items and their tasks with it), and the marketplace ids move onto the ShipStation row.
  * ShipStation first: the marketplace record is attached to the ShipStation row directly.

Idempotence: decisions depend only on the stored rows and raw payloads; every write is guarded by
``IS DISTINCT FROM``. Caveat: where the marketplace's options/prices differ from ShipStation's, ShipStation
normalization of the same window resets them on every run and this step puts them back, so those rows'
values converge but their ``updated_at`` moves (the writer has no notion of marketplace-owned columns).
"""
