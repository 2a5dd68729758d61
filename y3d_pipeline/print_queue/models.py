"""Data shapes: what we read from the database, what the AI exchanges, what becomes a print task."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

SOURCE_AMAZON = "amazon_customization"
SOURCE_OPTIONS = "item_options"
SOURCE_AI = "ai"
SOURCE_PLACEHOLDER = "placeholder"
SOURCES = (SOURCE_AMAZON, SOURCE_OPTIONS, SOURCE_AI, SOURCE_PLACEHOLDER)


@dataclass(slots=True)
class ExistingTask:
    """A print task as stored, with what the pipeline knows about it.

    ``ours``: the row still holds exactly what the pipeline last wrote (its fingerprint matches); a task a
    person edited, reviewed or started is not ours and is never rewritten.
    """

    id: int
    order_item_id: int | None
    task_index: int
    status: str
    input_hash: str | None
    checked_input_hash: str | None = None
    ours: bool = False
    custom_text: str | None = None
    color_1: str | None = None
    color_2: str | None = None
    quantity: int = 1
    needs_review: bool = False
    review_reason: str | None = None
    annotation: str | None = None
    source: str | None = None
    rules_hash: str | None = None
    retry_at: dt.datetime | None = None
    attempts: int = 0
    tracked: bool = False  # the pipeline wrote it and has not yet seen anyone change it

    @property
    def edited_outside(self) -> bool:
        return self.tracked and not self.ours

    @property
    def seen_input_hash(self) -> str | None:
        return self.checked_input_hash or self.input_hash


@dataclass(slots=True)
class AmazonCustom:
    status: str
    custom_text: str | None
    color_1: str | None
    color_2: str | None
    font: str | None
    error: str | None
    surfaces: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ItemRow:
    id: int
    order_id: int
    product_id: int | None
    sku: str | None
    name: str | None
    quantity: int
    options: list[dict[str, Any]]
    line_item_key: str | None
    amazon_custom: AmazonCustom | None = None
    existing_tasks: list[ExistingTask] = field(default_factory=list)
    stock_available: int | None = None  # ShipStation inventory's available quantity of the SKU; None: untracked

    @property
    def out_of_stock(self) -> bool:
        """The inventory tracks this SKU and has nothing available (unknown stock is never out of stock)."""
        return self.stock_available is not None and self.stock_available <= 0


@dataclass(slots=True)
class OrderRow:
    id: int
    order_number: str | None
    marketplace: str | None
    status: str | None
    shipstation_order_id: int | None
    customer_notes: str | None
    ship_by_date: dt.datetime | None
    items: list[ItemRow] = field(default_factory=list)
    internal_notes: str | None = None
    orphan_tasks: list[ExistingTask] = field(default_factory=list)  # their item was removed from the order


@dataclass(slots=True)
class Personalization:
    """One line of print work before validation: a text, colours and how many of it."""

    custom_text: str | None
    color_1: str | None
    color_2: str | None
    quantity: int
    needs_review: bool = False
    review_reasons: list[str] = field(default_factory=list)
    annotation: str | None = None


@dataclass(slots=True)
class TaskDraft:
    """A validated print task, ready to upsert on (order_item_id, task_index)."""

    order_id: int
    order_item_id: int
    product_id: int | None
    task_index: int
    custom_text: str | None
    color_1: str | None
    color_2: str | None
    quantity: int
    needs_review: bool
    review_reason: str | None
    annotation: str | None
    source: str
    input_hash: str
    ship_by_date: dt.datetime | None
    rules_hash: str | None = None
    retry_at: dt.datetime | None = None
    attempts: int = 0


# ---------------------------------------------------------------------------- AI structured I/O
# The sandbox's deterministic model reads and writes exactly these shapes: keep field names stable.


class AiOption(BaseModel):
    name: str
    value: str


class AiInputItem(BaseModel):
    item_id: str
    sku: str | None
    product_name: str | None
    quantity: int
    options: list[AiOption]


class AiOrderInput(BaseModel):
    order_number: str
    marketplace: str
    customer_notes: str | None
    items: list[AiInputItem]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AiPersonalization(_Strict):
    custom_text: str | None
    color_1: str | None
    color_2: str | None
    quantity: int
    needs_review: bool
    review_reason: str | None
    annotation: str | None


class AiItemResult(_Strict):
    item_id: str
    personalizations: list[AiPersonalization]


class AiOrderResult(_Strict):
    items: list[AiItemResult]
