"""Alerts: one message per run or per condition, posted to a Slack-compatible webhook and/or a JSON webhook.

Plain module (no Dagster imports). An :class:`Alert` says what happened, what to do and where to look (a link
to the run or to the UI page); its entries each name a partition, order, source or check with a count. It is
rendered twice:

* ``Y3D_ALERT_WEBHOOK_URL``: Slack-compatible JSON (``text`` + Block Kit ``blocks``, plus the ``y3d`` document
  below for programs that read Slack-style payloads);
* ``Y3D_ALERT_JSON_WEBHOOK_URL``: the plain JSON document only (:func:`json_payload`, ``"schema": "y3d.alert/1"``).

Neither set means "log only". Posting never raises (an alert must not break the sensor that sends it), and a
webhook URL, a credential for Slack, is never logged: only the outcome and the HTTP status. Every text an
alert carries goes through ``y3d_pipeline.redaction.scrub`` last, because an upstream error message may echo a
secret.

Counts add up: a list cut short says how many it shows of how many (``20 listed (+108 more)`` under a count
of 128), and a finding count that differs from the number of distinct orders says both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from y3d_pipeline.redaction import scrub
from y3d_pipeline.settings import load_settings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_LISTED = 20  # refs shown per entry
MAX_ENTRIES = 15  # entries shown per message (the JSON document carries them all)
SCHEMA = "y3d.alert/1"
SEVERITY_ICON = {"error": ":red_circle:", "warning": ":warning:", "info": ":white_check_mark:"}


def ui_base_url() -> str:
    return load_settings().Y3D_UI_BASE_URL


def run_url(run_id: str, base_url: str | None = None) -> str:
    return f"{(base_url or ui_base_url()).rstrip('/')}/runs/{run_id}"


def ui_url(path: str, base_url: str | None = None) -> str:
    return f"{(base_url or ui_base_url()).rstrip('/')}/{path.lstrip('/')}"


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listing(refs: Sequence[str], total: int | None = None, *, limit: int = MAX_LISTED) -> str:
    """``a, b, c`` or ``a, b (+8 more)``: what is shown plus "more" always equals ``total``."""
    total = len(refs) if total is None else max(total, len(refs))
    shown = [str(r) for r in refs[:limit]]
    more = total - len(shown)
    return ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")


@dataclass
class AlertEntry:
    """One line of an alert: a check, partition, order, source... with its count."""

    label: str
    count: int | None = None
    unit: str = ""
    partition: str | None = None
    detail: str | None = None
    refs: Sequence[str] = ()  # e.g. order numbers; shown as a listing
    refs_total: int | None = None  # how many refs there are in all (refs may be cut short)
    refs_unit: str = "orders"
    run_id: str | None = None

    def line(self, base_url: str | None = None) -> str:
        parts = [self.label]
        if self.partition:
            parts.append(f"partition {self.partition}")
        if self.count is not None:
            parts.append(f"{self.count} {self.unit}".strip())
        text = " · ".join(parts)
        if self.refs or self.refs_total:
            refs_total = max(self.refs_total or 0, len(self.refs))
            text += f"\n    {refs_total} {self.refs_unit}: {listing(self.refs, refs_total)}"
        if self.detail:
            text += f"\n    {clip(self.detail, 300)}"
        if self.run_id:
            text += f"\n    run {run_url(self.run_id, base_url)}"
        return text

    def as_json(self, base_url: str | None = None) -> dict[str, Any]:
        return {"label": self.label, "partition": self.partition, "count": self.count, "unit": self.unit,
                "detail": self.detail, "refs": list(self.refs), "refs_total": max(self.refs_total or 0, len(self.refs)),
                "run_id": self.run_id, "run_url": run_url(self.run_id, base_url) if self.run_id else None}


@dataclass
class Alert:
    kind: str  # run_failure, run_needs_attention, check_failure, check_resolved, review_backlog, ...
    severity: str  # error, warning, info
    title: str
    summary: str
    action: str  # what the operator should do
    key: str  # the condition this alert reports (the de-duplication identity)
    entries: list[AlertEntry] = field(default_factory=list)
    url: str | None = None  # the run, or the UI page to look at
    run_id: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # job, partition, source...
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def scrubbed(self) -> Alert:
        """The alert with every secret and credential-shaped value redacted (``y3d_pipeline.redaction``)."""
        entries = [AlertEntry(**{**e.__dict__, "label": scrub(e.label),
                                 "detail": scrub(e.detail) if e.detail else None}) for e in self.entries]
        return Alert(**{**self.__dict__, "summary": scrub(self.summary), "title": scrub(self.title),
                        "action": scrub(self.action), "entries": entries})


def fingerprint(*parts: Any) -> str:
    """A short stable hash of what a condition currently is (posted again only when it changes)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text_of(alert: Alert, base_url: str | None = None) -> str:
    """The whole alert as plain text (logs, and the Slack fallback ``text``)."""
    lines = [f"y3d {alert.severity}: {alert.title}", alert.summary]
    shown = alert.entries[:MAX_ENTRIES]
    lines += [f"  - {e.line(base_url)}" for e in shown]
    if len(alert.entries) > len(shown):
        lines.append(f"  ({len(shown)} of {len(alert.entries)} listed)")
    lines.append(f"What to do: {alert.action}")
    if alert.url:
        lines.append(alert.url)
    return "\n".join(lines)


def json_payload(alert: Alert, base_url: str | None = None) -> dict[str, Any]:
    """The plain JSON document (``Y3D_ALERT_JSON_WEBHOOK_URL``; also under ``y3d`` in the Slack payload)."""
    return {
        "schema": SCHEMA, "kind": alert.kind, "severity": alert.severity, "title": alert.title,
        "summary": alert.summary, "action": alert.action, "key": alert.key, "url": alert.url,
        "run_id": alert.run_id, "fields": dict(alert.fields), "created_at": alert.created_at.isoformat(),
        "entries": [e.as_json(base_url) for e in alert.entries],
    }


def slack_payload(alert: Alert, base_url: str | None = None) -> dict[str, Any]:
    icon = SEVERITY_ICON.get(alert.severity, ":information_source:")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(f"{icon} {alert.title}", 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(clip(alert.summary, 2900))}},
    ]
    if alert.fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{_escape(k)}*\n{_escape(clip(str(v), 500))}"}
            for k, v in list(alert.fields.items())[:10]]})
    shown = alert.entries[:MAX_ENTRIES]
    for entry in shown:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _escape(clip(entry.line(base_url), 2900))}})
    if len(alert.entries) > len(shown):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"{len(shown)} of {len(alert.entries)} listed; the JSON webhook and the UI carry them all")}]})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*What to do*\n{_escape(alert.action)}"}})
    if alert.url:
        label = "Open run" if alert.run_id and alert.url.endswith(alert.run_id) else "Open in Dagster"
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": label}, "url": alert.url}]})
    return {"text": clip(text_of(alert, base_url), 3000), "blocks": blocks, "y3d": json_payload(alert, base_url)}


@dataclass(frozen=True)
class AlertDestinations:
    """Where alerts go: the Slack-compatible and the plain JSON webhook (either may be unset) and the UI the
    links point at. The sensors get it from the ``alerts`` resource (``defs/resources.py``)."""

    webhook_url: str | None = None  # Y3D_ALERT_WEBHOOK_URL
    json_webhook_url: str | None = None  # Y3D_ALERT_JSON_WEBHOOK_URL
    ui_base_url: str = "http://127.0.0.1:3000"  # Y3D_UI_BASE_URL


def post_alert(alert: Alert, destinations: AlertDestinations, *, timeout: float = DEFAULT_TIMEOUT_SECONDS,
               logger: logging.Logger | logging.LoggerAdapter | None = None) -> bool:
    """Log the alert and POST it to every configured webhook. Never raises.

    Returns True when every configured webhook accepted it (or none is configured: logging was the
    delivery), False when one failed, so a de-duplicating caller tries again on its next tick."""
    logger = logger or log
    alert = alert.scrubbed()
    base_url = destinations.ui_base_url
    logger.warning("ALERT: %s", text_of(alert, base_url))
    targets = [(name, url, render) for name, url, render in (
        ("Y3D_ALERT_WEBHOOK_URL", destinations.webhook_url, slack_payload),
        ("Y3D_ALERT_JSON_WEBHOOK_URL", destinations.json_webhook_url, json_payload)) if url]
    if not targets:
        logger.info("alert not posted: neither Y3D_ALERT_WEBHOOK_URL nor Y3D_ALERT_JSON_WEBHOOK_URL is set")
        return True
    delivered = True
    for name, url, render in targets:
        delivered &= _deliver(name, url, render(alert, base_url), timeout, logger)
    return delivered


def _deliver(name: str, url: str, payload: dict, timeout: float, logger) -> bool:
    try:
        status = _post(url, payload, timeout)
    except httpx.HTTPError as exc:
        logger.error("alert webhook %s unreachable (%s)", name, type(exc).__name__)
        return False
    except Exception as exc:  # noqa: BLE001 - an alert must never break its sensor
        logger.error("alert webhook %s failed (%s)", name, type(exc).__name__)
        return False
    if status >= 300:
        logger.error("alert webhook %s answered HTTP %s", name, status)
        return False
    logger.info("alert posted to %s (HTTP %s)", name, status)
    return True


def _post(url: str, payload: dict, timeout: float) -> int:
    """POST through the transport directly: httpx.Client logs every request URL at INFO, and a Slack
    webhook URL is a credential."""
    request = httpx.Request("POST", url, json=payload)
    request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
    with httpx.HTTPTransport(retries=1) as transport:
        response = transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
    return response.status_code


# ------------------------------------------------------------------------------------------ builders


def run_failure_alert(*, job: str, run_id: str, partition: str | None, error: str | None,
                      source: str | None = None, base_url: str | None = None) -> Alert:
    """A failed run: job, partition(s), error summary, link to the run."""
    where = f" ({partition})" if partition else ""
    fields = {"Job": job, "Partition": partition or "-"}
    if source:
        fields["Source"] = source
    return Alert(
        kind="run_failure", severity="error", title=f"Run failed: {job}{where}",
        summary=f"Error: {clip(error or 'no error message', 1500)}",
        action="Open the run and read the failed step's error. If a source was down, re-execute the run once "
               "it is back (nothing is lost: re-running a partition gives the same rows); if the error names "
               "bad data or configuration, fix that first.",
        key=f"run_failure:{run_id}", url=run_url(run_id, base_url), run_id=run_id, fields=fields)


@dataclass(frozen=True)
class CheckFailure:
    asset: str
    check: str
    severity: str
    run_id: str | None
    partition: str | None = None
    description: str | None = None
    offending: Sequence[str] = ()
    count: int | None = None  # findings (rows); the offending refs are distinct orders/records

    @property
    def key(self) -> str:
        return f"{self.asset}:{self.check}:{self.partition or '-'}"

    def entry(self) -> AlertEntry:
        count = self.count if self.count is not None else len(self.offending)
        return AlertEntry(label=f"{self.asset} / {self.check} ({self.severity})", count=count, unit="finding(s)",
                          partition=self.partition, detail=self.description, refs=list(self.offending),
                          refs_total=len(self.offending), refs_unit="orders/records", run_id=self.run_id)


def check_failure_alert(failures: Sequence[CheckFailure], *, base_url: str | None = None) -> Alert:
    """One message for the failed checks (new or changed) seen in one sensor tick."""
    partitions = sorted({f.partition for f in failures if f.partition})
    where = f" in {len(partitions)} partition(s)" if partitions else ""
    first_run = next((f.run_id for f in failures if f.run_id), None)
    return Alert(
        kind="check_failure", severity="warning", title=f"{len(failures)} data-quality check(s) failed{where}",
        summary="New or changed findings since the last alert: "
                + ", ".join(f"{f.check}" + (f" ({f.partition})" if f.partition else "") for f in failures[:8])
                + (f" and {len(failures) - 8} more" if len(failures) > 8 else ""),
        action="Open each check's latest evaluation in the UI (Asset → Checks) for the full list, fix the data or "
               "the source, then re-run the check or the partition; a check reported here is not reported again "
               "until its findings change.",
        key="check_failure:" + ",".join(sorted(f.key for f in failures)),
        url=run_url(first_run, base_url) if first_run else ui_url("assets", base_url), run_id=first_run,
        entries=[f.entry() for f in failures])


def checks_resolved_alert(keys: Iterable[str], *, base_url: str | None = None) -> Alert:
    keys = sorted(keys)
    return Alert(kind="check_resolved", severity="info", title=f"{len(keys)} data-quality check(s) pass again",
                 summary="These checks reported findings earlier and now pass.", action="Nothing.",
                 key="check_resolved:" + ",".join(keys), url=ui_url("assets", base_url),
                 entries=[AlertEntry(label=k) for k in keys])
