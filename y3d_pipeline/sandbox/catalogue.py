"""The sandbox shop's catalogue and stock: one v1 product per variant SKU the generated orders use, and the V2
inventory of a small workshop (keyring blanks, sign bases, finished stock) in one inventory warehouse with three
locations. Deterministic per seed; some SKUs have nothing available (all allocated, or none on hand), so the
print queue's out-of-stock rule has something to find. Tests change a level with ``set_level``
(``POST /_sandbox/inventory``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from y3d_pipeline.sandbox.clock import iso_z, to_pacific_string
from y3d_pipeline.sandbox.data import ShopData

INVENTORY_WAREHOUSE = {"inventory_warehouse_id": "se-4401", "name": "Workshop stock"}
LOCATIONS = [("se-loc-1101", "A - 1 - 1 - 1 Keyring blanks"), ("se-loc-1102", "B - 1 - 2 - 1 Sign bases"),
             ("se-loc-1103", "C - 2 - 1 - 1 Finished stock")]
# Blanks that are not sold as such but are what personalised products are printed on.
BLANKS = [("BLANK-KEYRING-40MM", "se-loc-1101"), ("BLANK-KEYRING-50MM", "se-loc-1101"),
          ("BASE-SIGN-OAK-200", "se-loc-1102"), ("BASE-SIGN-SLATE-300", "se-loc-1102")]
# Out of stock in every sandbox shop: everything allocated, or nothing on hand.
SOLD_OUT = {"Y3D-DOOR-SGN-L": (4, 4), "Y3D-PET-TAG-S": (0, 0), "BASE-SIGN-SLATE-300": (0, 0)}
LOCATION_BY_KIND = {"keyring": "se-loc-1101", "regkey": "se-loc-1101", "pet_tag": "se-loc-1101",
                    "cable_tidy": "se-loc-1103", "plaque": "se-loc-1102", "sign": "se-loc-1102"}


class Catalogue:
    def __init__(self, data: ShopData, seed: int) -> None:
        self.data, self.seed = data, seed
        self.reset()

    def reset(self) -> None:
        rng = random.Random(self.seed * 31 + 17)
        self.created = datetime.combine(self.data.end_date - timedelta(days=self.data.days + 400),
                                        datetime.min.time(), UTC)
        self._levels: dict[tuple[str, str], dict] = {}
        for entry in self.data.products:
            product = entry["product"]
            for variant in entry["variants"]:
                location = LOCATION_BY_KIND.get(product.kind, "se-loc-1103")
                self._put(variant["sku"], location, *SOLD_OUT.get(variant["sku"], self._stock(rng)),
                          cost=round(variant["price"] * 0.2, 2))
        for sku, location in BLANKS:
            self._put(sku, location, *SOLD_OUT.get(sku, self._stock(rng, high=400)), cost=0.35)

    @staticmethod
    def _stock(rng: random.Random, high: int = 120) -> tuple[int, int]:
        on_hand = rng.randint(5, high)
        return on_hand, rng.randint(0, min(on_hand, 12))

    def _put(self, sku: str, location: str, on_hand: int, allocated: int, *, cost: float,
             available: int | None = None) -> None:
        self._levels[(sku, location)] = {
            "sku": sku, "on_hand": on_hand, "allocated": allocated,
            "available": on_hand - allocated if available is None else available,
            "average_cost": {"amount": cost, "currency": "GBP"},
            "inventory_warehouse_id": INVENTORY_WAREHOUSE["inventory_warehouse_id"],
            "inventory_location_id": location}

    def set_level(self, sku: str, location: str, on_hand: int, allocated: int = 0,
                  available: int | None = None) -> dict:
        """Change (or add) a level; ``available`` may be given to make an impossible one."""
        cost = self._levels.get((sku, location), {}).get("average_cost", {}).get("amount", 1.0)
        self._put(sku, location, on_hand, allocated, cost=cost, available=available)
        return self._levels[(sku, location)]

    def levels(self) -> list[dict]:
        return [self._levels[key] for key in sorted(self._levels)]

    def inventory_warehouses(self) -> list[dict]:
        stamp = iso_z(self.created)
        return [{**INVENTORY_WAREHOUSE, "created_at": stamp, "updated_at": stamp}]

    def inventory_locations(self) -> list[dict]:
        stamp = iso_z(self.created + timedelta(hours=1))
        return [{"inventory_location_id": location_id, "name": name,
                 "inventory_warehouse_id": INVENTORY_WAREHOUSE["inventory_warehouse_id"],
                 "created_at": stamp, "updated_at": stamp} for location_id, name in LOCATIONS]

    def v1_products(self) -> list[dict]:
        """One v1 product per variant SKU (as a shop that lists its sizes as products has them)."""
        rows = []
        for number, entry in enumerate(self.data.products):
            product = entry["product"]
            for size_number, variant in enumerate(entry["variants"]):
                created = entry["created_at"] + timedelta(minutes=size_number)
                rows.append({
                    "productId": 60_000_000 + number * 10 + size_number, "sku": variant["sku"],
                    "name": f"{product.title} - {variant['title']}", "price": variant["price"],
                    "defaultCost": round(variant["price"] * 0.2, 2), "length": None, "width": None, "height": None,
                    "weightOz": 1.4 + size_number, "internalNotes": None, "fulfillmentSku": None,
                    "createDate": to_pacific_string(created),
                    "modifyDate": to_pacific_string(max(entry["updated_at"], created)),
                    "active": True, "productCategory": {"categoryId": 900 + number, "name": product.kind},
                    "productType": None, "warehouseLocation": LOCATION_BY_KIND.get(product.kind),
                    "defaultCarrierCode": None, "defaultServiceCode": None, "defaultPackageCode": None,
                    "defaultIntlCarrierCode": None, "defaultIntlServiceCode": None, "defaultIntlPackageCode": None,
                    "defaultConfirmation": None, "defaultIntlConfirmation": None, "customsDescription": None,
                    "customsValue": None, "customsTariffNo": None, "customsCountryCode": None, "noCustoms": None,
                    "tags": None})
        return rows
