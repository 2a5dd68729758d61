"""Seeded generator of the sandbox shop, and the versioned order store the APIs read from.

One `RealOrder` is what the buyer placed on a marketplace. ShipStation shows it as one or more
`ShipStationOrder`s (two after a split, sharing `orderKey`). Every change is a `Version` with the
instant ShipStation shows it (`ss_at`) and, for changes the marketplace also knows about, the
instant the marketplace's own API shows it (`mp_at`). An API shows the latest version at or before
the simulated clock; orders whose first version lies after the clock do not exist yet.

Identifier mapping (the same real order across APIs):
* amazon: ShipStation `orderNumber` == SP-API `AmazonOrderId`; item `lineItemKey` == `OrderItemId`.
* web (Shopify): ShipStation `orderNumber` "1001" == Shopify `name` "#1001"; item `lineItemKey`
  == Shopify `LineItem.legacyResourceId` (the numeric tail of `gid://shopify/LineItem/N`).
* etsy: `orderNumber` is the Etsy receipt id, `lineItemKey` the transaction id.
* ebay: `orderNumber` like "12-34567-89012", `lineItemKey` "<ebay item id>-<transaction id>"; the
  personalisation is in `customerNotes` as blocks
  "Personalisation:\\nItem ID: <ebay item id> Variation: Color=<colour>\\nText: <name>".
"""

from __future__ import annotations

import bisect
import copy
import random
import re
import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from y3d_pipeline.sandbox.clock import to_pacific_date, to_pacific_item_string, to_pacific_string

PALETTE = [
    "Black", "Grey", "Light Blue", "Blue", "Dark Blue", "Brown", "Orange", "Red", "Magenta", "White",
    "Yellow", "Silver", "Purple", "Pink", "Gold", "Green", "Rose Gold", "Silk Silver", "Peak Green",
    "Turquoise", "Glow in the Dark", "Bronze", "Beige", "Olive Green",
]
# How buyers and listings spell colours that are not the canonical palette names; None = no colour
COLOUR_VARIANTS: dict[str, str | None] = {
    "Navy": "Dark Blue", "light blue": "Light Blue", "Gray": "Grey", "Sky Blue": "Light Blue",
    "BLACK": "Black", "Hot Pink": "Pink", "Lilac": "Purple", "Random": None,
}
COMMON_COLOURS = ["Black", "White", "Red", "Blue", "Pink", "Purple", "Light Blue", "Green", "Yellow",
                  "Gold", "Silver", "Orange", "Grey", "Dark Blue", "Magenta"]

FIRST_NAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia", "Grace",
    "Freya", "Willow", "Emily", "Ella", "Poppy", "Evie", "Harper", "Oliver", "George", "Noah",
    "Arthur", "Leo", "Muhammad", "Harry", "Oscar", "Archie", "Henry", "Theodore", "Freddie", "Jack",
    "Charlie", "Thomas", "Alfie", "James", "William", "Jacob", "Teddy", "Finley", "Max", "Lucas",
    "Sam", "Ben", "Daisy", "Ruby", "Florence", "Matilda", "Sienna", "Hallie", "Ayla",
]
UNICODE_NAMES = ["Zoë", "Chloé", "José", "Søren", "Łukasz", "Dvořák", "Renée", "Siân", "Aoife",
                 "Björn", "Niamh", "Müller", "Ana-María", "Zoë-Líle", "Ñandú", "Ελένη", "Дарья"]
EMOJI_TEXTS = ["Mia 🦄", "Leo ⚽", "Nana ❤️", "Team 🏆", "Ruby 🌈✨", "Dad 👑", "Luna 🌙"]
LONG_TEXTS = [
    "Happy 40th Birthday to the most wonderful husband, father and friend - love always, Sarah, "
    "Tom, Lily and Biscuit the dog xxx",
    "In loving memory of Grandad Joe, who taught us all to fish, to laugh and never to give up. "
    "Forever in our hearts 1941-2025",
    "Congratulations on passing your driving test first time! Now you can drive us all to the "
    "seaside every weekend",
]
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
            "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
            "O'Neill", "Murphy", "Kowalski", "Nguyen", "Fernández", "MacDonald"]
TOWNS = [("London", "SW1A 1AA"), ("Manchester", "M1 1AE"), ("Leeds", "LS1 4AP"), ("Bristol", "BS1 4DJ"),
         ("Glasgow", "G1 1XQ"), ("Cardiff", "CF10 1EP"), ("Norwich", "NR2 1NH"), ("York", "YO1 7HH"),
         ("Belfast", "BT1 5GS"), ("Brighton", "BN1 1EE"), ("Sheffield", "S1 2HE"), ("Exeter", "EX1 1JG")]
STREETS = ["High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Manor Road",
           "Park Avenue", "Mill Lane", "The Crescent", "Kings Road"]
FONTS = ["Bebas Neue", "Pacifico", "Lobster", "Roboto", "Dancing Script", "Arial Rounded"]
HEX = {"Black": "#000000", "White": "#FFFFFF", "Red": "#E0201B", "Blue": "#1F4FD8", "Pink": "#F28CB8",
       "Purple": "#7D3CB5", "Light Blue": "#8CC8F0", "Green": "#2E9B3A", "Yellow": "#F5D90A",
       "Gold": "#C9A227", "Silver": "#B8B8B8", "Orange": "#F07A14", "Grey": "#808080",
       "Dark Blue": "#102A6B", "Magenta": "#D0208A"}


@dataclass(frozen=True, slots=True)
class Product:
    key: str
    title: str
    base_sku: str
    price: float
    kind: str  # "keyring" | "plaque" | "regkey" | "cable_tidy" | "pet_tag" | "sign"


PRODUCTS = [
    Product("keyring", "Personalised Name Keyring", "Y3D-KEY-NAME", 6.99, "keyring"),
    Product("plaque", "Personalised Desk Name Plaque", "Y3D-PLQ-DESK", 14.99, "plaque"),
    Product("regkey", "Custom Car Registration Keyring", "Y3D-REGKEY", 7.99, "regkey"),
    Product("cable", "Personalised Cable Tidy", "Y3D-CBL-TIDY", 4.99, "cable_tidy"),
    Product("pettag", "Personalised Pet Tag", "Y3D-PET-TAG", 5.49, "pet_tag"),
    Product("sign", "Personalised Door Sign", "Y3D-DOOR-SGN", 19.99, "sign"),
    Product("bookmark", "Personalised Bookmark", "Y3D-BKM", 4.49, "keyring"),
]
VARIANT_SIZES = ["Small", "Medium", "Large"]

MARKETPLACES = ("amazon", "etsy", "ebay", "web")
STORES = {
    "amazon": (310001, "Y3D Amazon UK", "Amazon"),
    "etsy": (310002, "Y3D Etsy", "Etsy"),
    "ebay": (310003, "Y3D eBay UK", "eBay"),
    "web": (310004, "y3d-sandbox Shopify", "Shopify"),
    "manual": (310005, "Manual Orders", "ShipStation"),
}
STORE_SOURCES = {"amazon": "amazon", "etsy": "etsy", "ebay": "ebay", "web": "shopify", "manual": None}
TAGS = [
    {"tagId": 21001, "name": "Personalised", "color": "#3366FF"},
    {"tagId": 21002, "name": "Needs Review", "color": "#FF9900"},
    {"tagId": 21003, "name": "Printed", "color": "#33AA33"},
    {"tagId": 21004, "name": "Rush", "color": "#DD2222"},
]
AMAZON_CUSTOM_LAYOUTS = (
    "tree+flat_top",      # customizationData and top-level "version3.0".customizationInfo.surfaces
    "tree+flat_nested",   # customizationData and customizationInfo."version3.0".surfaces
    "tree_only",
    "flat_top_only",
    "flat_nested_only",
    "tree+flat_svg",      # the flat list lost the typed text (ImagePrinting/svgImage)
)


# What buyers type instead of a plain name (shape → how it is written); the truth stays what a careful
# person prints. Drawn from an RNG of their own, so the rest of the generated shop is unchanged.
MESSY_RATE = 0.1
MESSY_SHAPES = ("multiplier", "quotes", "label", "colour_in_text", "please", "placeholder", "couple")
PLACEHOLDER_WORDS = ("N/A", "none", "Not required", "-", "TBC")


@dataclass(slots=True)
class Personalisation:
    text: str | None
    color_1: str | None
    color_2: str | None
    quantity: int

    def as_dict(self) -> dict:
        return {"text": self.text, "color_1": self.color_1, "color_2": self.color_2,
                "quantity": self.quantity}


@dataclass(slots=True)
class AmazonCustom:
    text: str
    font: str
    colour_1_label: str  # as the buyer picked it in the dropdown
    colour_2_label: str | None
    layout: str
    with_image: bool


@dataclass(slots=True)
class LineItem:
    order_item_id: int  # ShipStation orderItemId
    line_item_key: str | None
    sku: str | None
    name: str
    quantity: int
    unit_price: float
    options: list[dict]
    adjustment: bool = False
    personalisations: list[Personalisation] = field(default_factory=list)
    product: Product | None = None
    variant_id: int | None = None
    asin: str | None = None
    amazon_custom: AmazonCustom | None = None
    custom_attributes: list[dict] | None = None  # Shopify line item properties
    written: str | None = None  # the text as the buyer typed it, when it differs from what is printed
    messy: str | None = None  # which of MESSY_SHAPES the buyer's text has
    needs_person: bool = False  # nothing printable can be derived from what the buyer typed


@dataclass(slots=True)
class Version:
    ss_at: datetime
    mp_at: datetime | None
    status: str
    patch: dict


@dataclass(slots=True)
class Address:
    name: str
    street1: str
    city: str
    postal_code: str
    country: str = "GB"
    phone: str | None = None

    def as_shipstation(self) -> dict:
        return {"name": self.name, "company": None, "street1": self.street1, "street2": "",
                "street3": None, "city": self.city, "state": "", "postalCode": self.postal_code,
                "country": self.country, "phone": self.phone, "residential": True,
                "addressVerified": "Address validated successfully"}


@dataclass(slots=True)
class RealOrder:
    index: int
    marketplace: str
    order_number: str
    order_key: str
    ordered_at: datetime
    import_lag: timedelta
    customer_name: str
    customer_email: str | None
    customer_id: int
    ship_to: Address
    customer_notes: str | None
    items: list[LineItem]
    shipping_amount: float
    ss_orders: list[ShipStationOrder] = field(default_factory=list)
    mp_events: list[tuple[datetime, str]] = field(default_factory=list)  # (visible at, status)
    shopify_id: int | None = None
    shipments: list[dict] = field(default_factory=list)


@dataclass(slots=True)
class ShipStationOrder:
    order_id: int
    real: RealOrder
    items: list[LineItem]
    versions: list[Version]
    parent_id: int | None = None
    split: bool = False
    _times: list[datetime] | None = None

    @property
    def created_at(self) -> datetime:
        return self.versions[0].ss_at

    def version_at(self, now: datetime) -> Version | None:
        if self._times is None:
            self._times = [v.ss_at for v in self.versions]
        index = bisect.bisect_right(self._times, now)
        return self.versions[index - 1] if index else None


def _ms(rng: random.Random) -> timedelta:
    return timedelta(milliseconds=rng.randrange(1000))


class ShopData:
    """The generated shop plus the changes made through the APIs since the last reset."""

    def __init__(self, seed: int, days: int, orders_per_day: int, end_date: date) -> None:
        self.seed, self.days, self.orders_per_day, self.end_date = seed, days, orders_per_day, end_date
        # By modifyDate (ShipStation) and by marketplace update (Amazon, Shopify): what a window query reads.
        self.ss_index = ChangeIndex(
            lambda: ((v.ss_at, o.order_id) for o in self.ss_orders.values() for v in o.versions),
            lambda order_id, now: _at(self.ss_orders[order_id].version_at(now)))
        self.amazon_index = ChangeIndex(
            lambda: ((at, number) for number, o in self.by_amazon_id.items() for at, _ in o.mp_events),
            lambda number, now: _first(self.mp_state(self.by_amazon_id[number], now)))
        self.shopify_index = ChangeIndex(
            lambda: ((at, legacy) for legacy, o in self.by_shopify_id.items() for at, _ in o.mp_events),
            lambda legacy, now: _first(self.mp_state(self.by_shopify_id[legacy], now)))
        # Shipments by label creation (they never change once made): what a /shipments window reads.
        self.shipments: dict[int, tuple[dict, RealOrder]] = {}
        self.shipment_index = ChangeIndex(self._shipment_events, self._shipment_created)
        self.generate()

    # ------------------------------------------------------------------ generation
    def generate(self) -> None:
        rng = random.Random(self.seed)
        self.orders: list[RealOrder] = []
        self.ss_orders: dict[int, ShipStationOrder] = {}
        self.by_amazon_id: dict[str, RealOrder] = {}
        self.by_shopify_id: dict[int, RealOrder] = {}
        self.products = self._generate_products(rng)
        self._next_order_item_id = 400_000_001
        self._next_split_id = 190_000_001
        self._next_shipment_id = 70_000_001
        self._custom_counter = 0
        self._shopify_number = 1001
        start = datetime.combine(self.end_date - timedelta(days=self.days - 1), datetime.min.time(), UTC)
        placed: list[datetime] = []
        for day in range(self.days):
            count = max(1, round(self.orders_per_day * rng.uniform(0.8, 1.2)))
            day_start = start + timedelta(days=day)
            placed.extend(day_start + timedelta(seconds=rng.uniform(0, 86400)) for _ in range(count))
        placed.sort()
        bulk_index = len(placed) // 3  # one web order with >100 line items, for line item paging
        for index, ordered_at in enumerate(placed):
            ordered_at = ordered_at.replace(microsecond=(ordered_at.microsecond // 1000) * 1000)
            marketplace = rng.choices(MARKETPLACES, weights=(45, 25, 15, 15))[0]
            if index == bulk_index:
                marketplace = "web"
            order = self._generate_order(rng, index, marketplace, ordered_at, bulk=index == bulk_index)
            self.orders.append(order)
        self.next_created_order_id = 195_000_001
        self.changed = False
        for index in (self.ss_index, self.amazon_index, self.shopify_index, self.shipment_index):
            index.clear()

    def _shipment_events(self) -> Iterable[tuple[datetime, int]]:
        self.shipments = {s["shipmentId"]: (s, order) for order in self.orders for s in order.shipments}
        return ((s["created_at"], shipment_id) for shipment_id, (s, _) in self.shipments.items())

    def _shipment_created(self, shipment_id: int, now: datetime) -> datetime | None:
        created = self.shipments[shipment_id][0]["created_at"]
        return created if created <= now else None

    def _generate_products(self, rng: random.Random) -> list[dict]:
        products = []
        base = datetime.combine(self.end_date - timedelta(days=self.days + 200), datetime.min.time(), UTC)
        for number, product in enumerate(PRODUCTS):
            product_id = 8_100_000_000_000 + number * 1117
            created = base + timedelta(days=number * 13, seconds=rng.randrange(86400))
            updated = datetime.combine(self.end_date, datetime.min.time(), UTC) - timedelta(
                days=rng.randrange(self.days + 30), seconds=rng.randrange(86400))
            variants = []
            for size_number, size in enumerate(VARIANT_SIZES):
                variants.append({
                    "legacy_id": 45_000_000_000_000 + number * 100 + size_number,
                    "sku": f"{product.base_sku}-{size[0]}",
                    "title": size,
                    "price": round(product.price * (1 + 0.3 * size_number), 2),
                })
            products.append({"legacy_id": product_id, "product": product, "created_at": created,
                             "updated_at": max(updated, created), "variants": variants})
        return products

    def _next_item_id(self) -> int:
        self.changed = True
        self._next_order_item_id += 1
        return self._next_order_item_id

    def _colour(self, rng: random.Random) -> tuple[str, str | None]:
        """(as written in the order, canonical palette name or None)."""
        roll = rng.random()
        if roll < 0.82:
            colour = rng.choice(COMMON_COLOURS) if rng.random() < 0.8 else rng.choice(PALETTE)
            return colour, colour
        variant = rng.choice(list(COLOUR_VARIANTS))
        return variant, COLOUR_VARIANTS[variant]

    def _text(self, rng: random.Random, kind: str) -> str:
        if kind == "regkey":
            return f"{rng.choice('ABCDEFGHKLMNPRSTVWY')}{rng.choice('ABCDEFGHKLMNPRSTVWY')}" \
                   f"{rng.randrange(10, 75)} {''.join(rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ') for _ in range(3))}"
        roll = rng.random()
        if roll < 0.07:
            return rng.choice(UNICODE_NAMES)
        if roll < 0.10:
            return rng.choice(EMOJI_TEXTS)
        if roll < 0.12 and kind in ("plaque", "sign"):
            return rng.choice(LONG_TEXTS)
        if roll < 0.18:
            return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
        return rng.choice(FIRST_NAMES)

    def _generate_order(self, rng: random.Random, index: int, marketplace: str, ordered_at: datetime,
                        bulk: bool) -> RealOrder:
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        town, postcode = rng.choice(TOWNS)
        ship_to = Address(f"{first} {last}", f"{rng.randrange(1, 200)} {rng.choice(STREETS)}", town,
                          postcode, phone=None if rng.random() < 0.5 else f"07{rng.randrange(10**9):09d}")
        if marketplace == "amazon":
            order_number = f"{rng.choice(('202', '203', '204', '205', '206'))}-" \
                           f"{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
            email = None if rng.random() < 0.15 else f"{rng.getrandbits(40):x}@marketplace.amazon.co.uk"
        elif marketplace == "etsy":
            order_number = str(3_100_000_000 + rng.randrange(10**8))
            email = None if rng.random() < 0.2 else f"{first.lower()}.{rng.randrange(99)}@example.com"
        elif marketplace == "ebay":
            order_number = f"{rng.randrange(10, 28)}-{rng.randrange(10**5):05d}-{rng.randrange(10**5):05d}"
            email = None if rng.random() < 0.3 else f"{first.lower()}{rng.randrange(999)}@example.net"
        else:
            order_number = str(self._shopify_number)
            self._shopify_number += 1
            email = None if rng.random() < 0.08 else f"{first.lower()}.{last.lower()}@example.org"
        order_key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        lag = timedelta(seconds=rng.randrange(90, 1200), milliseconds=rng.randrange(1000))

        item_count = 105 if bulk else rng.choices((1, 2, 3, 4), weights=(74, 18, 5, 3))[0]
        items = [self._generate_item(rng, marketplace, order_number, bulk) for _ in range(item_count)]
        customer_notes = None
        if marketplace == "ebay":
            blocks = []
            for item in items:
                ebay_item_id = item.line_item_key.split("-")[0]
                text = item.written if item.written is not None else \
                    "\n".join(p.text or "" for p in item.personalisations)
                blocks.append(f"Personalisation:\nItem ID: {ebay_item_id} Variation: "
                              f"Color={item.options[0]['value']}\nText: {text}")
            customer_notes = "\n\n".join(blocks)
        elif rng.random() < 0.1:
            customer_notes = rng.choice(["Please deliver to the back door", "It's a gift - no receipt please",
                                         "Urgent - needed by Friday!", "Thanks so much 😊"])
        if marketplace in ("etsy", "ebay") and rng.random() < 0.12:
            items.append(LineItem(self._next_item_id(), None, None, "Discount", 1,
                                  -round(rng.uniform(0.5, 3.0), 2), [], adjustment=True))

        order = RealOrder(index, marketplace, order_number, order_key, ordered_at, lag, f"{first} {last}",
                          email, 60_000_000 + index, ship_to, customer_notes, items,
                          shipping_amount=rng.choice((0.0, 0.0, 2.49, 3.99)))
        if marketplace == "amazon":
            self.by_amazon_id[order_number] = order
        if marketplace == "web":
            order.shopify_id = 6_200_000_000_000 + index * 37
            self.by_shopify_id[order.shopify_id] = order
        self._generate_timeline(rng, order)
        return order

    def _generate_item(self, rng: random.Random, marketplace: str, order_number: str, bulk: bool) -> LineItem:
        product_entry = rng.choice(self.products)
        product: Product = product_entry["product"]
        variant = rng.choice(product_entry["variants"])
        quantity = 1 if bulk else rng.choices((1, 2, 3, 4, 5), weights=(70, 15, 8, 4, 3))[0]
        colour_1_label, colour_1 = self._colour(rng)
        colour_2_label, colour_2 = self._colour(rng) if rng.random() < 0.3 else (None, None)
        several_names = quantity > 1 and rng.random() < 0.5 and marketplace != "amazon"
        if several_names:
            texts = [rng.choice(FIRST_NAMES) for _ in range(quantity)]
            personalisations = [Personalisation(t, colour_1, colour_2, 1) for t in texts]
            separator = rng.choice(("\n", ", ", " and "))
            written = separator.join(texts) if separator != " and " or quantity == 2 else \
                ", ".join(texts[:-1]) + " and " + texts[-1]
        else:
            text = self._text(rng, product.kind)
            personalisations = [Personalisation(text, colour_1, colour_2, quantity)]
            written = text.lower() if rng.random() < 0.12 and text.isascii() and len(text) < 20 \
                and product.kind != "regkey" else text
        sku: str | None = variant["sku"]
        name = f"{product.title} - {variant['title']}"
        price = variant["price"]
        item = LineItem(self._next_item_id(), None, sku, name, quantity, price, [],
                        personalisations=personalisations, product=product, variant_id=variant["legacy_id"])
        if not several_names and product.kind != "regkey":
            written = self._messy(item, order_number, written, colour_1_label)
        if marketplace == "amazon":
            item.line_item_key = f"{rng.randrange(10**13, 10**14)}"
            item.asin = "B0" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))
            item.sku = sku if rng.random() > 0.05 else None
            layout = AMAZON_CUSTOM_LAYOUTS[self._custom_counter % len(AMAZON_CUSTOM_LAYOUTS)]
            with_image = self._custom_counter % 4 == 1
            self._custom_counter += 1
            text = item.written if item.written is not None else personalisations[0].text or ""
            item.amazon_custom = AmazonCustom(text, rng.choice(FONTS), colour_1_label, colour_2_label,
                                              layout, with_image)
            item.options = [{"name": "CustomizedURL", "value": None}]  # filled with an absolute URL
            if rng.random() < 0.3:  # values already pushed back to ShipStation by an earlier run
                item.options += [{"name": "Name or Text", "value": text},
                                 {"name": "Colour 1", "value": colour_1_label},
                                 {"name": "Colour 2", "value": colour_2_label or ""}]
        elif marketplace == "etsy":
            item.line_item_key = str(4_000_000_000 + rng.randrange(10**9))
            item.sku = sku if rng.random() > 0.15 else None
            item.options = [{"name": "Personalization", "value": written},
                            {"name": "Color", "value": colour_1_label}]
            if colour_2_label:
                item.options.append({"name": "Secondary color", "value": colour_2_label})
        elif marketplace == "ebay":
            ebay_item_id = 110_000_000_000 + rng.randrange(10**10)
            item.line_item_key = f"{ebay_item_id}-{rng.randrange(10**12, 10**13)}"
            item.options = [{"name": "Color", "value": colour_1_label}]
            item.personalisations = [Personalisation(p.text, p.color_1, None, p.quantity)
                                     for p in item.personalisations]
        else:
            item.line_item_key = str(14_000_000_000_000 + self._next_order_item_id)
            attributes = [{"key": "Name", "value": written}, {"key": "Colour 1", "value": colour_1_label}]
            if colour_2_label:
                attributes.append({"key": "Colour 2", "value": colour_2_label})
            if rng.random() < 0.3:
                attributes.append({"key": "_cart_token", "value": f"{rng.getrandbits(64):016x}"})
            item.custom_attributes = attributes
            item.options = [{"name": a["key"], "value": a["value"]} for a in attributes]
        return item

    def _messy(self, item: LineItem, order_number: str, written: str, colour_label: str | None) -> str:
        """Maybe write a plain name the way buyers often do; returns the text as written."""
        text = item.personalisations[0].text or ""
        if not text or text not in FIRST_NAMES and not re.fullmatch(r"[A-Z][a-z]+ [A-Z][\w']+", text):
            return written
        rng = random.Random(f"{self.seed}:messy:{order_number}:{item.order_item_id}")
        if rng.random() >= MESSY_RATE:
            return written
        shape = rng.choice(MESSY_SHAPES)
        first = item.personalisations[0]
        if shape == "multiplier" and item.quantity > 1:
            written = rng.choice((f"{text} x{item.quantity}", f"{item.quantity}x {text}", f"{text} (x{item.quantity})"))
        elif shape == "quotes":
            written = rng.choice((f'"{text}"', f"“{text}”", f"'{text}'"))
        elif shape == "label":
            written = rng.choice((f"Name: {text}", f"Name - {text}", f"Text: {text}"))
        elif shape == "colour_in_text" and colour_label:
            written = rng.choice((f"{text} ({colour_label})", f"{text} - {colour_label}"))
        elif shape == "please":
            written = rng.choice((f"{text} please", f"{text} please, thank you", f"Can you put {text} please"))
        elif shape == "placeholder":
            written = rng.choice(PLACEHOLDER_WORDS)
            item.personalisations = [Personalisation(None, first.color_1, first.color_2, first.quantity)]
            item.needs_person = True
        elif shape == "couple" and item.quantity == 1 and " " not in text:
            other = rng.choice([n for n in FIRST_NAMES if n != text])
            written = rng.choice((f"{text} & {other}", f"{text} and {other}"))
            item.personalisations = [Personalisation(written, first.color_1, first.color_2, first.quantity)]
        else:
            return written
        item.messy, item.written = shape, written
        return written

    def _generate_timeline(self, rng: random.Random, order: RealOrder) -> None:
        t0 = order.ordered_at
        lag = order.import_lag
        if order.marketplace == "amazon" and rng.random() < 0.1:
            # Payment pending: SP-API shows a Pending order (no prices) that ShipStation does not
            # import until Amazon moves it to Unshipped.
            order.mp_events.append((t0, "pending"))
            t0 = t0 + timedelta(minutes=rng.uniform(3, 90)) + _ms(rng)
        main = ShipStationOrder(180_000_000 + order.index * 3 + 1, order, list(order.items),
                                [Version(t0 + lag, t0, "awaiting_shipment", {})])
        order.ss_orders.append(main)
        order.mp_events.append((t0, "awaiting_shipment"))
        events: list[tuple[datetime, str, dict, bool]] = []  # (at, status, patch, marketplace-visible)
        fate = rng.random()
        ship_at = t0 + timedelta(hours=rng.uniform(4, 96)) + _ms(rng)
        if fate < 0.05:
            cancel_at = t0 + timedelta(hours=rng.uniform(0.5, 30)) + _ms(rng)
            events.append((cancel_at, "cancelled", {}, True))
            ship_at = None
        elif fate < 0.13:
            hold_at = t0 + lag + timedelta(hours=rng.uniform(0.5, 20)) + _ms(rng)
            events.append((hold_at, "on_hold", {"holdUntilDate": to_pacific_string(hold_at + timedelta(days=2))},
                           False))
            release_at = hold_at + timedelta(hours=rng.uniform(2, 40))
            events.append((release_at, "awaiting_shipment", {"holdUntilDate": None}, False))
            ship_at = release_at + timedelta(hours=rng.uniform(2, 48))
        if rng.random() < 0.05:
            edit_at = t0 + lag + timedelta(minutes=rng.uniform(10, 1400)) + _ms(rng)
            events.append((edit_at, "", {"shipTo.street1": f"Flat {rng.randrange(1, 30)}, "
                                                           f"{order.ship_to.street1}"}, False))
        if rng.random() < 0.08:
            tag_at = t0 + lag + timedelta(minutes=rng.uniform(5, 600)) + _ms(rng)
            events.append((tag_at, "", {"tagIds+": rng.choice(TAGS)["tagId"]}, False))
        split_at = None
        real_items = [i for i in order.items if not i.adjustment]
        if len(real_items) >= 2 and len(order.items) < 50 and rng.random() < 0.25:
            split_at = t0 + lag + timedelta(minutes=rng.uniform(20, 600)) + _ms(rng)
            if ship_at is not None and ship_at <= split_at:
                ship_at = split_at + timedelta(hours=rng.uniform(1, 24))
        if ship_at is not None:
            events.append((ship_at, "shipped", {}, True))
        events.sort(key=lambda e: e[0])

        status = "awaiting_shipment"
        for at, new_status, patch, visible in events:
            if split_at is not None and at > split_at and len(order.ss_orders) == 1:
                self._split(rng, order, main, split_at, status)
            status = new_status or status
            for ss_order in order.ss_orders:
                if ss_order.versions[-1].status in ("shipped", "cancelled") and new_status != "cancelled":
                    continue
                ss_patch = dict(patch)
                if new_status == "shipped":
                    ship_time = at + timedelta(minutes=rng.uniform(0, 90)) if ss_order is not main else at
                    ss_patch = self._ship(rng, ss_order, ship_time)
                    ss_order.versions.append(Version(ship_time, ship_time + lag, "shipped", ss_patch))
                    continue
                mp_at = at if visible else None
                ss_at = at + lag if visible else at
                ss_order.versions.append(Version(ss_at, mp_at, new_status or ss_order.versions[-1].status,
                                                 ss_patch))
            if visible:
                mp_at = at if new_status != "shipped" else at + lag
                order.mp_events.append((mp_at, new_status))
        if split_at is not None and len(order.ss_orders) == 1:
            self._split(rng, order, main, split_at, status)
        for ss_order in order.ss_orders:
            ss_order.versions.sort(key=lambda v: v.ss_at)
            self.ss_orders[ss_order.order_id] = ss_order
        order.mp_events.sort(key=lambda e: e[0])

    def _split(self, rng: random.Random, order: RealOrder, main: ShipStationOrder, at: datetime,
               status: str) -> None:
        real_items = [i for i in main.items if not i.adjustment]
        moved = real_items[len(real_items) // 2:]
        kept = [i for i in main.items if i not in moved]
        main.versions.append(Version(at, None, status, {
            "items_keep": [i.order_item_id for i in kept], "split": True}))
        main.split = True
        child = ShipStationOrder(self._next_split_id, order, moved,
                                 [Version(at + timedelta(milliseconds=rng.randrange(5, 900)), None, status,
                                          {"split": True})], parent_id=main.order_id, split=True)
        self._next_split_id += 1
        order.ss_orders.append(child)

    def _ship(self, rng: random.Random, ss_order: ShipStationOrder, at: datetime) -> dict:
        tracking = f"{rng.choice(('JV', 'TT', 'FB'))}{rng.randrange(10**8):08d}GB"
        carrier = rng.choice(("royal_mail", "royal_mail", "evri", "dpd_uk"))
        shipment = {
            "shipmentId": self._next_shipment_id, "orderId": ss_order.order_id,
            "orderKey": ss_order.real.order_key, "orderNumber": ss_order.real.order_number,
            "created_at": at, "trackingNumber": tracking, "carrierCode": carrier,
            "serviceCode": f"{carrier}_standard", "shipmentCost": round(rng.uniform(1.5, 4.5), 2),
            "voided": False,
        }
        self._next_shipment_id += 1
        if rng.random() < 0.04:  # a label voided and bought again
            voided = dict(shipment, shipmentId=self._next_shipment_id, voided=True,
                          trackingNumber=f"VD{rng.randrange(10**8):08d}GB",
                          created_at=at - timedelta(minutes=rng.uniform(5, 60)))
            self._next_shipment_id += 1
            ss_order.real.shipments.append(voided)
        ss_order.real.shipments.append(shipment)
        return {"shipDate": to_pacific_date(at), "carrierCode": carrier,
                "serviceCode": shipment["serviceCode"]}

    # ------------------------------------------------------------------ state after generation
    def reset(self) -> None:
        """Back to the generated data (regenerating is cheaper than undoing; skipped if unchanged)."""
        if self.changed:
            self.generate()

    def add_version(self, ss_order: ShipStationOrder, version: Version, marketplace_visible: bool = False) -> None:
        """Record a change made after generation (API write, mutation, page-shift fault)."""
        self.changed = True
        ss_order.versions.append(version)
        ss_order.versions.sort(key=lambda v: v.ss_at)
        ss_order._times = None
        self.ss_index.add(version.ss_at, ss_order.order_id)
        if marketplace_visible and version.mp_at is not None:
            real = ss_order.real
            real.mp_events.append((version.mp_at, version.status))
            real.mp_events.sort(key=lambda e: e[0])
            if real.order_number in self.by_amazon_id:
                self.amazon_index.add(version.mp_at, real.order_number)
            if real.shopify_id is not None and real.shopify_id in self.by_shopify_id:
                self.shopify_index.add(version.mp_at, real.shopify_id)

    def add_ss_order(self, ss_order: ShipStationOrder) -> None:
        """An order created through the API."""
        self.changed = True
        self.ss_orders[ss_order.order_id] = ss_order
        ss_order._times = None
        for version in ss_order.versions:
            self.ss_index.add(version.ss_at, ss_order.order_id)

    def all_ss_orders(self) -> list[ShipStationOrder]:
        return list(self.ss_orders.values())

    # ------------------------------------------------------------------ rendering
    def render_shipstation(self, ss_order: ShipStationOrder, now: datetime, base_url: str) -> dict | None:
        version = ss_order.version_at(now)
        if version is None:
            return None
        doc = self._base_document(ss_order, base_url)
        for v in ss_order.versions:
            if v.ss_at > now:
                break
            doc = self._apply_patch(doc, v)
        doc["orderStatus"] = version.status
        doc["modifyDate"] = to_pacific_string(version.ss_at)
        return doc

    def _base_document(self, ss_order: ShipStationOrder, base_url: str) -> dict:
        real = ss_order.real
        store_id, _, _ = STORES[real.marketplace] if real.marketplace in STORES else STORES["manual"]
        created = ss_order.versions[0].ss_at
        items = [self._render_item(real, item, created, base_url) for item in ss_order.items]
        total_items = sum(round(i["unitPrice"] * i["quantity"], 2) for i in items)
        return {
            "orderId": ss_order.order_id,
            "orderNumber": real.order_number,
            "orderKey": real.order_key,
            "orderDate": to_pacific_string(real.ordered_at),
            "createDate": to_pacific_string(created),
            "modifyDate": to_pacific_string(created),
            "paymentDate": to_pacific_string(real.ordered_at),
            "shipByDate": to_pacific_string(real.ordered_at + timedelta(days=3)),
            "orderStatus": "awaiting_shipment",
            "customerId": real.customer_id,
            "customerUsername": real.customer_email or real.customer_name,
            "customerEmail": real.customer_email,
            "billTo": {"name": real.customer_name, "company": None, "street1": None, "street2": None,
                       "street3": None, "city": None, "state": None, "postalCode": None, "country": None,
                       "phone": None, "residential": None, "addressVerified": None},
            "shipTo": real.ship_to.as_shipstation(),
            "items": items,
            "orderTotal": round(total_items + real.shipping_amount, 2),
            "amountPaid": round(total_items + real.shipping_amount, 2),
            "taxAmount": round((total_items + real.shipping_amount) / 6, 2),
            "shippingAmount": real.shipping_amount,
            "customerNotes": real.customer_notes,
            "internalNotes": None,
            "gift": False,
            "giftMessage": None,
            "paymentMethod": None,
            "requestedShippingService": "Standard Shipping",
            "carrierCode": None,
            "serviceCode": None,
            "packageCode": None,
            "confirmation": "none",
            "shipDate": None,
            "holdUntilDate": None,
            "weight": {"value": 40.0 * max(1, len(items)), "units": "grams", "WeightUnits": 2},
            "dimensions": None,
            "insuranceOptions": {"provider": None, "insureShipment": False, "insuredValue": 0.0},
            "internationalOptions": {"contents": None, "customsItems": None, "nonDelivery": None},
            "advancedOptions": {
                "warehouseId": 501001, "nonMachinable": False, "saturdayDelivery": False,
                "containsAlcohol": False, "mergedOrSplit": ss_order.split, "mergedIds": [],
                "parentId": ss_order.parent_id, "storeId": store_id, "customField1": None,
                "customField2": None, "customField3": None, "source": STORE_SOURCES.get(real.marketplace),
                "billToParty": None, "billToAccount": None, "billToPostalCode": None,
                "billToCountryCode": None, "billToMyOtherAccount": None,
            },
            "tagIds": None,
            "userId": None,
            "externallyFulfilled": False,
            "externallyFulfilledBy": None,
            "externallyFulfilledById": None,
            "externallyFulfilledByName": None,
            "labelMessages": None,
        }

    def customized_url(self, real: RealOrder, item: LineItem, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/amazon-custom/{real.order_number}_{item.line_item_key}.zip"

    def _render_item(self, real: RealOrder, item: LineItem, created: datetime, base_url: str) -> dict:
        options = []
        for option in item.options:
            value = option["value"]
            if option["name"] == "CustomizedURL":
                value = self.customized_url(real, item, base_url)
            options.append({"name": option["name"], "value": value})
        return {
            "orderItemId": item.order_item_id,
            "lineItemKey": item.line_item_key,
            "sku": item.sku,
            "name": item.name,
            "imageUrl": None,
            "weight": {"value": 40.0, "units": "grams", "WeightUnits": 2},
            "quantity": item.quantity,
            "unitPrice": item.unit_price,
            "taxAmount": None,
            "shippingAmount": None,
            "warehouseLocation": None,
            "options": options,
            "productId": None if item.product is None else 9_000_000 + PRODUCTS.index(item.product),
            "fulfillmentSku": None,
            "adjustment": item.adjustment,
            "upc": None,
            "createDate": to_pacific_item_string(created),
            "modifyDate": to_pacific_item_string(created),
        }

    @staticmethod
    def _apply_patch(doc: dict, version: Version) -> dict:
        patch = version.patch
        if not patch:
            return doc
        if "replace" in patch:
            doc = copy.deepcopy(patch["replace"])
        for key, value in patch.items():
            if key == "replace":
                continue
            if key == "items_keep":
                doc["items"] = [i for i in doc["items"] if i["orderItemId"] in value]
                subtotal = sum(i["unitPrice"] * i["quantity"] for i in doc["items"])
                doc["orderTotal"] = doc["amountPaid"] = round(subtotal + (doc["shippingAmount"] or 0), 2)
            elif key == "item_options":
                doc["items"] = [dict(i, options=value[i["lineItemKey"]]) if i["lineItemKey"] in value else i
                                for i in doc["items"]]
            elif key == "split":
                doc["advancedOptions"]["mergedOrSplit"] = True
            elif key == "tagIds+":
                doc["tagIds"] = sorted(set(doc.get("tagIds") or []) | {value})
            elif key == "tagIds-":
                remaining = [t for t in doc.get("tagIds") or [] if t != value]
                doc["tagIds"] = remaining or None
            elif "." in key:
                outer, inner = key.split(".", 1)
                doc[outer] = dict(doc.get(outer) or {}, **{inner: value})
            else:
                doc[key] = value
        return doc

    # ------------------------------------------------------------------ marketplace views
    @staticmethod
    def mp_state(order: RealOrder, now: datetime) -> tuple[datetime, str] | None:
        """(last marketplace update, marketplace status) as of `now`; None before the order exists."""
        latest = None
        status = "awaiting_shipment"
        for at, event_status in order.mp_events:
            if at > now:
                break
            latest = at
            status = event_status or status
        return None if latest is None else (latest, status)

    def truth(self) -> list[dict]:
        result = []
        for order in self.orders:
            result.append({
                "marketplace": order.marketplace,
                "order_number": order.order_number,
                "order_key": order.order_key,
                "ordered_at": order.ordered_at.isoformat(),
                "shipstation_order_ids": [o.order_id for o in order.ss_orders],
                "amazon_order_id": order.order_number if order.marketplace == "amazon" else None,
                "shopify_order_id": order.shopify_id,
                "items": [{
                    "order_item_id": item.order_item_id,
                    "line_item_key": item.line_item_key,
                    "sku": item.sku,
                    "quantity": item.quantity,
                    "adjustment": item.adjustment,
                    "amazon_custom_layout": item.amazon_custom.layout if item.amazon_custom else None,
                    "amazon_custom_text": item.amazon_custom.text if item.amazon_custom else None,
                    "personalisations": [p.as_dict() for p in item.personalisations],
                    "written": item.written,
                    "messy_shape": item.messy,
                    "needs_person": item.needs_person,
                } for item in order.items],
            })
        return result


class ChangeIndex:
    """Every instant at which a record changes, sorted, so that a time-window query costs what the window
    holds, not what the whole shop holds.

    `window(start, end, now)` answers "the records whose latest change at or before `now` lies in
    [start, end]" as a list of (instant, key) in (instant, key) order. The answer is kept per window and
    brought up to date as the clock moves on (only the changes since the last answer are looked at), so a
    client paging through one window pays for its page, plus whatever changed meanwhile. `examined` counts
    the index entries and records looked at: what the tests hold page costs to."""

    CACHED_WINDOWS = 16
    DERIVED_PER_WINDOW = 8

    def __init__(self, events: Callable[[], Iterable[tuple[datetime, Any]]],
                 latest: Callable[[Any, datetime], datetime | None]) -> None:
        self._events_of, self._latest = events, latest
        self._events: list[tuple[datetime, Any]] | None = None
        self._windows: dict[tuple, _Window] = {}
        self.examined = 0

    def clear(self) -> None:
        """The data was regenerated: build again on the next query."""
        self._events = None
        self._windows.clear()

    def add(self, at: datetime, key: Any) -> None:
        """A change made after generation (API write, mutation, fault)."""
        if self._events is not None:
            bisect.insort(self._events, (at, key))
        self._windows.clear()

    def _index(self) -> list[tuple[datetime, Any]]:
        if self._events is None:
            self._events = sorted(self._events_of())
        return self._events

    def _range(self, after: datetime | None, until: datetime, inclusive_start: bool) -> list[tuple[datetime, Any]]:
        events = self._index()
        if after is None:
            lo = 0
        else:
            lo = bisect.bisect_left(events, (after,)) if inclusive_start else \
                bisect.bisect_right(events, (after, _Top()))
        hi = bisect.bisect_right(events, (until, _Top()))
        return events[lo:hi]

    def window(self, start: datetime | None, end: datetime | None, now: datetime) -> list[tuple[datetime, Any]]:
        return self._current(start, end, now).rows

    def derived(self, start: datetime | None, end: datetime | None, now: datetime, key: Hashable,
                compute: Callable[[], Any]) -> Any:
        """What ``compute()`` derives from the state of the window's records (e.g. a search's sorted answer),
        kept with the window until any of its records changes: the pages of one search cost their page, not a
        sort of the whole window each."""
        derived = self._current(start, end, now).derived
        if key not in derived:
            if len(derived) >= self.DERIVED_PER_WINDOW:
                derived.pop(next(iter(derived)))
            derived[key] = compute()
        return derived[key]

    def _current(self, start: datetime | None, end: datetime | None, now: datetime) -> _Window:
        cached = self._windows.get((start, end))
        if cached is None or now < cached.now:
            cached = self._build(start, end, now)
        elif now > cached.now:
            self._move(cached, start, end, now)
        return cached

    def _build(self, start: datetime | None, end: datetime | None, now: datetime) -> _Window:
        until = now if end is None else min(end, now)
        found: dict[Any, datetime] = {}
        for at, key in self._range(start, until, True):
            self.examined += 1
            if key not in found and self._latest(key, now) == at:
                found[key] = at
        window = _Window(now, sorted((at, key) for key, at in found.items()), found)
        if len(self._windows) >= self.CACHED_WINDOWS:
            self._windows.pop(next(iter(self._windows)))
        self._windows[(start, end)] = window
        return window

    def _move(self, window: _Window, start: datetime | None, end: datetime | None, now: datetime) -> None:
        """Bring a window from `window.now` to `now`: only records that changed in between move."""
        changed = {key for _, key in self._range(window.now, now, False)}
        if changed:
            window.derived.clear()
        added = []
        for key in changed:
            self.examined += 1
            old = window.at.pop(key, None)
            if old is not None:
                rows = window.rows
                del rows[bisect.bisect_left(rows, (old, key))]
            at = self._latest(key, now)
            if at is not None and (start is None or at >= start) and (end is None or at <= end):
                window.at[key] = at
                added.append((at, key))
        window.rows.extend(sorted(added))  # every one of them is later than anything already there
        window.now = now


@dataclass(slots=True)
class _Window:
    now: datetime
    rows: list[tuple[datetime, Any]]
    at: dict[Any, datetime]
    derived: dict[Hashable, Any] = field(default_factory=dict)


class _Top:
    """Compares above every key: (instant, _Top()) sorts after every (instant, key)."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return True


def _at(version: Version | None) -> datetime | None:
    return None if version is None else version.ss_at


def _first(state: tuple[datetime, str] | None) -> datetime | None:
    return None if state is None else state[0]
