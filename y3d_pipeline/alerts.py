"""Alerts for failed runs and failed data-quality checks: Slack-compatible JSON POSTed to a webhook.

Plain module (no Dagster imports). ``Y3D_ALERT_WEBHOOK_URL`` unset means "log only". Posting never raises
(an alert must not break the sensor that sends it) and the webhook URL, which is itself a secret for
Slack, is never logged: only the outcome and the HTTP status.

``Y3D_UI_BASE_URL`` (default ``http://127.0.0.1:3000``, where ``y3d dev`` serves the UI) is the Dagster
UI the alert links to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from y3d_pipeline.settings import load_settings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_LISTED = 20


def webhook_url() -> str | None:
    return load_settings().Y3D_ALERT_WEBHOOK_URL


def ui_base_url() -> str:
    return load_settings().Y3D_UI_BASE_URL


def run_url(run_id: str, base_url: str | None = None) -> str:
    return f"{(base_url or ui_base_url()).rstrip('/')}/runs/{run_id}"


def _escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = 1500) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_failure_alert(*, job: str, run_id: str, partition: str | None, error: str | None,
                      source: str | None = None, base_url: str | None = None) -> dict:
    """Slack message for a failed run: job, partition(s), error summary, link to the run."""
    link = run_url(run_id, base_url)
    where = f" ({partition})" if partition else ""
    text = f"y3d run failed: {job}{where}: {_clip(error or 'no error message', 300)}"
    fields = [{"type": "mrkdwn", "text": f"*Job*\n{_escape(job)}"},
              {"type": "mrkdwn", "text": f"*Partition*\n{_escape(partition or '-')}"}]
    if source:
        fields.append({"type": "mrkdwn", "text": f"*Source*\n{_escape(source)}"})
    fields.append({"type": "mrkdwn", "text": f"*Run*\n<{link}|{run_id[:8]}>"})
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f":red_circle: Run failed: {job}"[:150]}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": f"*Error*\n```{_escape(_clip(error or 'no error message'))}```"}},
            {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open run"},
                                              "url": link}]},
        ],
        "y3d": {"kind": "run_failure", "job": job, "run_id": run_id, "partition": partition, "url": link},
    }


@dataclass(frozen=True)
class CheckFailure:
    asset: str
    check: str
    severity: str
    run_id: str | None
    partition: str | None = None
    description: str | None = None
    offending: Sequence[str] = ()


def check_failure_alert(failures: Sequence[CheckFailure], *, base_url: str | None = None) -> dict:
    """One Slack message for the failed checks seen in one sensor tick."""
    names = ", ".join(f"{f.asset}:{f.check}" for f in failures[:5]) + (" …" if len(failures) > 5 else "")
    blocks: list[dict] = [{"type": "header", "text": {
        "type": "plain_text", "text": f":warning: {len(failures)} data-quality check(s) failed"}}]
    for failure in failures[:MAX_LISTED]:
        lines = [f"*{_escape(failure.asset)}* / `{_escape(failure.check)}` ({failure.severity})"]
        if failure.partition:
            lines.append(f"Partition: {_escape(failure.partition)}")
        if failure.description:
            lines.append(_escape(_clip(failure.description, 500)))
        if failure.offending:
            shown = ", ".join(map(str, list(failure.offending)[:MAX_LISTED]))
            more = f" (+{len(failure.offending) - MAX_LISTED} more)" if len(failure.offending) > MAX_LISTED else ""
            lines.append(f"Orders: {_escape(shown)}{more}")
        if failure.run_id:
            lines.append(f"<{run_url(failure.run_id, base_url)}|Open run {failure.run_id[:8]}>")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    return {
        "text": f"y3d data-quality checks failed: {names}",
        "blocks": blocks,
        "y3d": {"kind": "check_failure", "checks": [
            {"asset": f.asset, "check": f.check, "severity": f.severity, "run_id": f.run_id,
             "partition": f.partition, "offending": list(f.offending)[:MAX_LISTED]} for f in failures]},
    }


def post_alert(payload: dict, *, url: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS,
               logger: logging.Logger | None = None) -> bool:
    """Log the alert and POST it to the webhook (``url`` or ``Y3D_ALERT_WEBHOOK_URL``). Never raises."""
    logger = logger or log
    logger.warning("ALERT: %s", payload.get("text", ""))
    url = url or webhook_url()
    if not url:
        logger.info("alert not posted: Y3D_ALERT_WEBHOOK_URL is not set")
        return False
    try:
        status = _post(url, payload, timeout)
    except httpx.HTTPError as exc:
        logger.error("alert webhook unreachable (%s)", type(exc).__name__)
        return False
    except Exception as exc:  # noqa: BLE001 - an alert must never break its sensor
        logger.error("alert webhook failed (%s)", type(exc).__name__)
        return False
    if status >= 300:
        logger.error("alert webhook answered HTTP %s", status)
        return False
    logger.info("alert posted to the webhook (HTTP %s)", status)
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
