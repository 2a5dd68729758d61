"""Amazon Custom personalization files: the buyer's exact text, font and colours, as a zip behind the order
item's ``CustomizedURL`` (plain package, no Dagster). One job per module:

* ``candidates``: which order items of a window need a file (ShipStation item options, SP-API orders);
* ``policy``: which URLs may be fetched at all (the SSRF boundary);
* ``download``: one download under that policy (redirects checked, size and total-time caps, no state);
* ``archive``: the zip opened in memory, within limits, and its JSON picked;
* ``parse``: the three layouts of that JSON read into one :class:`~.parse.Customization`;
* ``fetch``: download → archive → parse for one file;
* ``store``: what is due, the results in ``amazon_customizations``, retries, links to order items;
* ``errors``: what can go wrong with a file, ``rejected`` (never retried) or ``failed`` (retried).

The names below are the package's public API (what the assets, tests and benchmarks use).
"""

from y3d_pipeline.sources.amazon.custom.archive import ZipLimits, read_customization_json
from y3d_pipeline.sources.amazon.custom.download import download, make_http_client
from y3d_pipeline.sources.amazon.custom.errors import (
    CustomizationError,
    DownloadError,
    NoJsonError,
    NotAZipError,
    TooLargeError,
    UnparseableError,
    UrlRejectedError,
    ZipBombError,
)
from y3d_pipeline.sources.amazon.custom.fetch import FetchedCustomization, fetch_customization, fetcher
from y3d_pipeline.sources.amazon.custom.parse import (
    LAYOUT_ASPECTS,
    LAYOUT_FLAT_NESTED,
    LAYOUT_FLAT_TOP,
    LAYOUT_TREE,
    Customization,
    parse_customization,
)
from y3d_pipeline.sources.amazon.custom.policy import DownloadPolicy, check_url, safe_url_for_log

__all__ = [
    "LAYOUT_ASPECTS", "LAYOUT_FLAT_NESTED", "LAYOUT_FLAT_TOP", "LAYOUT_TREE", "Customization", "CustomizationError",
    "DownloadError", "DownloadPolicy", "FetchedCustomization", "NoJsonError", "NotAZipError", "TooLargeError",
    "UnparseableError", "UrlRejectedError", "ZipBombError", "ZipLimits", "check_url", "download",
    "fetch_customization", "fetcher", "make_http_client", "parse_customization", "read_customization_json",
    "safe_url_for_log",
]
