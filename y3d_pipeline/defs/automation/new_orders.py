"""``shipstation_new_orders``: a cheap ShipStation poll that launches today's sync as soon as orders change.

One small request per tick: ``GET /orders?modifyDateStart=<cursor>&sortBy=ModifyDate&sortDir=ASC&pageSize=1``
(the cursor is a Pacific wall-clock string, as ShipStation reads dates). ``total`` says whether anything
changed since the cursor; the one order returned (the oldest change) names the run_key, so a change seen by
two ticks (the start bound is inclusive) never launches twice. When orders changed, today's partition of
``shipstation_sync`` is requested and the cursor moves to the poll time: the run starts after the poll and
syncs today's whole window, so every change before the poll is covered by it. Errors skip the tick and
keep the cursor. The 10-minute schedule remains the safety net.
"""

import datetime as dt
import json
from dataclasses import dataclass

import dagster as dg
import httpx

from y3d_pipeline.clients.shipstation import parse_pacific, to_pacific_param
from y3d_pipeline.defs.automation.jobs import shipstation_sync
from y3d_pipeline.defs.constants import TAG_SOURCE, TAG_WINDOW
from y3d_pipeline.settings import Settings, load_settings

FIRST_TICK_LOOKBACK = dt.timedelta(minutes=15)
TIMEOUT_SECONDS = 10.0


@dataclass
class Poll:
    changed: int
    oldest_order_id: int | None
    oldest_modified: dt.datetime | None
    cursor: str  # the new cursor (JSON)


def _since(cursor: str | None, now: dt.datetime) -> dt.datetime:
    if cursor:
        return dt.datetime.fromisoformat(json.loads(cursor)["since"])
    return now - FIRST_TICK_LOOKBACK


def poll_shipstation(settings: Settings, cursor: str | None, *, now: dt.datetime,
                     timeout: float = TIMEOUT_SECONDS) -> Poll:
    """One request: how many orders changed since the cursor, and the oldest of them."""
    since = _since(cursor, now)
    params = {"modifyDateStart": to_pacific_param(since), "sortBy": "ModifyDate", "sortDir": "ASC",
              "pageSize": 1, "page": 1}
    auth = (settings.SHIPSTATION_API_KEY.get_secret_value(), settings.SHIPSTATION_API_SECRET.get_secret_value())
    with httpx.Client(base_url=settings.SHIPSTATION_BASE_URL.rstrip("/"), auth=auth, timeout=timeout) as client:
        response = client.get("/orders", params=params)
    response.raise_for_status()
    body = response.json()
    total = int(body.get("total") or 0)
    orders = body.get("orders") or []
    if not total or not orders:
        return Poll(0, None, None, cursor or json.dumps({"since": since.isoformat()}))
    oldest = orders[0]
    return Poll(total, int(oldest["orderId"]), parse_pacific(oldest.get("modifyDate")),
                json.dumps({"since": now.astimezone(dt.UTC).isoformat()}))


def today_partition(now: dt.datetime, settings: Settings) -> str:
    return now.astimezone(settings.timezone).date().isoformat()


def evaluate(settings: Settings, cursor: str | None, *, now: dt.datetime) -> dg.SensorResult | dg.SkipReason:
    if not settings.shipstation_configured:
        return dg.SkipReason("ShipStation is not configured")
    poll = poll_shipstation(settings, cursor, now=now)
    if not poll.changed:
        return dg.SensorResult(skip_reason=dg.SkipReason("no ShipStation order changed since the cursor"),
                               cursor=poll.cursor)
    partition = today_partition(now, settings)
    modified = poll.oldest_modified.isoformat() if poll.oldest_modified else "?"
    request = dg.RunRequest(
        run_key=f"shipstation_new_orders:{partition}:{poll.oldest_order_id}:{modified}",
        partition_key=partition, tags={TAG_SOURCE: "shipstation", TAG_WINDOW: partition})
    return dg.SensorResult(run_requests=[request], cursor=poll.cursor)


@dg.sensor(
    name="shipstation_new_orders",
    job=shipstation_sync,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Polls ShipStation (one pageSize=1 request) for orders changed since its cursor and requests "
                "today's shipstation_sync partition when there are any. Turn on with the sync schedules.",
)
def shipstation_new_orders(context: dg.SensorEvaluationContext):
    try:
        return evaluate(load_settings(), context.cursor, now=dt.datetime.now(dt.UTC))
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        context.log.warning(f"ShipStation poll failed ({type(exc).__name__}); cursor kept")
        return dg.SkipReason(f"ShipStation poll failed: {type(exc).__name__}")
