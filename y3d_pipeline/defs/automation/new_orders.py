"""New-order sensors: one cheap "anything changed?" request per tick per source, today's sync on a change.

| sensor                     | probe (the source's client, ``changed_since``)                          | interval |
|----------------------------|-------------------------------------------------------------------------|----------|
| ``shipstation_new_orders`` | ``GET /orders?modifyDateStart=…&sortBy=ModifyDate&pageSize=1``          | 60 s     |
| ``shopify_new_orders``     | ``orders(first: 1, sortKey: UPDATED_AT, query: "updated_at:>=…")``, 3 cost points | 60 s |
| ``amazon_new_orders``      | ``searchOrders`` (v0: ``getOrders``) for one order, no datasets, ending two minutes ago | 300 s |

ShipStation allows 40 requests a minute and Shopify refills its cost bucket by 100+ points a second: a poll a
minute is nothing. Amazon's budget is tight and shared with the sync: searchOrders sustains 0.0056 requests/s
(20 an hour, burst 20; v0 getOrders 60 an hour). The sensor polls at most every 5 minutes and not at all while
a run of today's partition created in the last 5 minutes covers the day, so it costs at most 12 calls an hour
(a poll and a sync every 10 minutes when orders change all the time, 12 polls when nothing does); the hourly
sync adds 2 and the 10-minute schedule none while the sensor polls (it skips today when the sensor polled
within 9 minutes). A sync of today costs one call per 100 orders changed today, so with more than ~150 Amazon
orders a day the sensor-launched syncs (at most 6 an hour) are what to watch in the runs' ``requests_429``.

Each sensor: outside ``Y3D_BUSINESS_HOURS`` it skips (cursor kept). When a run of today's partition is
already queued, it does not poll: that run starts later and fetches the whole day. Otherwise one probe: nothing
changed → the cursor moves to the end of the interval checked; something changed → today's partition of
``<source>_sync`` is requested with a run key naming the change (the oldest changed order where the source
can say, else the interval), so a tick evaluated twice from the same cursor launches one run, and the cursor
moves. Errors skip the tick and keep the cursor. The last successful poll is recorded in the instance
(``y3d/new_orders/<source>/last_poll``) so the 10-minute schedule knows today is watched.
"""

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from y3d_pipeline.business_hours import BusinessHours
from y3d_pipeline.defs.automation.coverage import (
    COVERING,
    WAITING,
    outside_business_hours,
    partition_runs,
    record_poll,
)
from y3d_pipeline.defs.automation.jobs import SYNC_JOBS
from y3d_pipeline.defs.partitions import SHOP_TIMEZONE
from y3d_pipeline.defs.resources import ShopResource, SourceResource
from y3d_pipeline.defs.sources.amazon.resources import AmazonResource
from y3d_pipeline.defs.sources.shipstation.resources import ShipStationResource
from y3d_pipeline.defs.sources.shopify.resources import ShopifyResource
from y3d_pipeline.runlog.tags import TAG_SOURCE, TAG_WINDOW
from y3d_pipeline.sources.amazon.client import MIN_CHANGE_POLL_SECONDS
from y3d_pipeline.sources.probe import PROBE_ERRORS, ChangeProbe

log = logging.getLogger(__name__)
FIRST_TICK_LOOKBACK = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Watch:
    source: str
    interval_seconds: int
    cooldown: dt.timedelta = dt.timedelta(0)
    """No poll while a run of today's partition created this recently covers the day (a tight API budget)."""
    settle: dt.timedelta = dt.timedelta(0)
    """How far behind now the source's answers are (Amazon: two minutes and a margin)."""

    @property
    def name(self) -> str:
        return f"{self.source}_new_orders"

    @property
    def job(self):
        return SYNC_JOBS[self.source]


SHIPSTATION = Watch("shipstation", 60)
SHOPIFY = Watch("shopify", 60)
AMAZON = Watch("amazon", MIN_CHANGE_POLL_SECONDS, cooldown=dt.timedelta(seconds=MIN_CHANGE_POLL_SECONDS),
               settle=dt.timedelta(minutes=2))
WATCHES = {w.source: w for w in (SHIPSTATION, SHOPIFY, AMAZON)}


def _since(cursor: str | None, now: dt.datetime) -> dt.datetime:
    if cursor:
        return dt.datetime.fromisoformat(json.loads(cursor)["since"])
    return now - FIRST_TICK_LOOKBACK


def _cursor(since: dt.datetime) -> str:
    return json.dumps({"since": since.astimezone(dt.UTC).isoformat()})


def today_partition(now: dt.datetime) -> str:
    return now.astimezone(SHOP_TIMEZONE).date().isoformat()


def evaluate(watch: Watch, hours: BusinessHours | None, instance: dg.DagsterInstance, cursor: str | None, *,
             now: dt.datetime, probe: Callable[[dt.datetime], ChangeProbe]) -> dg.SensorResult | dg.SkipReason:
    """One tick of ``watch``'s sensor within the shop's business ``hours`` (``probe(since)`` asks the source)."""
    if closed := outside_business_hours(hours, now):
        return closed
    partition = today_partition(now)
    if partition_runs(instance, watch.job.name, partition, WAITING):
        record_poll(instance, watch.source, now)
        return dg.SensorResult(skip_reason=dg.SkipReason(f"a {watch.job.name} run of {partition} is queued; it will "
                                                         "fetch every change up to its start"),
                               cursor=_cursor(now - watch.settle))
    if watch.cooldown and partition_runs(instance, watch.job.name, partition, COVERING,
                                            created_after=now - watch.cooldown):
        return dg.SkipReason(f"a {watch.job.name} run of {partition} started less than "
                             f"{int(watch.cooldown.total_seconds())} s ago; polling again next tick")
    since = _since(cursor, now)
    result = probe(since)
    record_poll(instance, watch.source, now)
    if not result.changed:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no {watch.source} order changed since {since.isoformat()}"),
                               cursor=_cursor(result.checked_until))
    if result.oldest_id:
        change = f"{result.oldest_id}:{result.oldest_modified.isoformat() if result.oldest_modified else '?'}"
    else:  # the source only says "something changed": the interval names it
        change = f"since {since.isoformat()}"
    request = dg.RunRequest(run_key=f"{watch.name}:{partition}:{change}", partition_key=partition,
                            tags={TAG_SOURCE: watch.source, TAG_WINDOW: partition})
    return dg.SensorResult(run_requests=[request], cursor=_cursor(result.checked_until))


def _tick(watch: Watch, context: dg.SensorEvaluationContext, source: SourceResource, shop: ShopResource):
    """One tick of a new-orders sensor: the probe is the source's own client's ``changed_since``."""
    if not source.configured:
        return dg.SkipReason(source.NOT_CONFIGURED_NOTE)

    def probe(since: dt.datetime) -> ChangeProbe:
        with source.client() as client:
            return client.changed_since(since)

    try:
        return evaluate(watch, shop.business_hours, context.instance, context.cursor, now=dt.datetime.now(dt.UTC),
                        probe=probe)
    except PROBE_ERRORS as exc:
        # the type only: a client error names the request, but a sensor log is no place to risk more
        context.log.warning(f"{watch.source} poll failed ({type(exc).__name__}); cursor kept")
        return dg.SkipReason(f"{watch.source} poll failed: {type(exc).__name__}")


def _description(watch: Watch, what: str) -> str:
    return (f"Polls {watch.source} ({what}) every {watch.interval_seconds} s within business hours and requests "
            f"today's {watch.job.name} partition when an order changed. Off by default, like every API-calling "
            "automation.")


def _sensor(watch: Watch, what: str) -> dict:
    return {"name": watch.name, "job": watch.job, "minimum_interval_seconds": watch.interval_seconds,
            "default_status": dg.DefaultSensorStatus.STOPPED, "description": _description(watch, what)}


@dg.sensor(**_sensor(SHIPSTATION, "one GET /orders with pageSize=1"))
def shipstation_new_orders(context: dg.SensorEvaluationContext, shipstation: ShipStationResource,
                           shop: ShopResource):
    return _tick(SHIPSTATION, context, shipstation, shop)


@dg.sensor(**_sensor(SHOPIFY, "orders(first: 1) by UPDATED_AT, 3 cost points"))
def shopify_new_orders(context: dg.SensorEvaluationContext, shopify: ShopifyResource, shop: ShopResource):
    return _tick(SHOPIFY, context, shopify, shop)


@dg.sensor(**_sensor(AMAZON, "one searchOrders for one order; with its syncs at most 12 calls an hour, inside the "
                             "searchOrders usage plan"))
def amazon_new_orders(context: dg.SensorEvaluationContext, amazon: AmazonResource, shop: ShopResource):
    return _tick(AMAZON, context, amazon, shop)
