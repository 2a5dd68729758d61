"""One Amazon Custom file, from its URL to the buyer's choices: download, open, parse."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from y3d_pipeline.sources.amazon.custom.archive import ZipLimits, read_customization_json
from y3d_pipeline.sources.amazon.custom.candidates import Candidate
from y3d_pipeline.sources.amazon.custom.download import download, make_http_client
from y3d_pipeline.sources.amazon.custom.parse import Customization, parse_customization
from y3d_pipeline.sources.amazon.custom.policy import DownloadPolicy


@dataclass
class FetchedCustomization:
    url: str
    zip_sha256: str
    json_name: str
    raw_json: dict[str, Any]
    customization: Customization
    zip_bytes: int
    redirects: int
    attempts: int
    ignored_entries: list[str]


def fetch_customization(
    url: str,
    policy: DownloadPolicy,
    *,
    order_item_id: str | None = None,
    limits: ZipLimits = ZipLimits(),  # noqa: B008 - frozen dataclass
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchedCustomization:
    """Download, open and parse one customization zip. Raises a CustomizationError subclass."""
    got = download(url, policy, client=client, sleep=sleep)
    picked = read_customization_json(got.content, order_item_id=order_item_id, limits=limits)
    return FetchedCustomization(
        url=got.url, zip_sha256=got.sha256, json_name=picked.name, raw_json=picked.data,
        customization=parse_customization(picked.data), zip_bytes=len(got.content), redirects=got.redirects,
        attempts=got.attempts, ignored_entries=picked.ignored_unsafe,
    )


@contextmanager
def fetcher(policy: DownloadPolicy) -> Iterator[Callable[[Candidate], FetchedCustomization]]:
    """``fetch(candidate)`` for many files over one keep-alive HTTP client (see ``download.make_http_client``)."""
    with make_http_client(policy) as client:
        yield lambda candidate: fetch_customization(candidate.url, policy,
                                                    order_item_id=candidate.amazon_order_item_id, client=client)
