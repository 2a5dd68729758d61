"""What can go wrong with one Amazon Custom file, and what the customization store records for it: ``rejected``
(unsafe input, never retried) or ``failed`` (retried on later runs). Messages are stored and logged, so they are
scrubbed of secrets."""

from __future__ import annotations

from y3d_pipeline.redaction import scrub


class CustomizationError(Exception):
    """Base class. ``status`` is what ``amazon_customizations.status`` records for it:
    ``rejected`` (unsafe input, never retried) or ``failed`` (retried on later runs up to a limit).
    The message is stored and logged, so it is scrubbed of secrets."""

    status = "failed"

    def __init__(self, message: str = ""):
        super().__init__(scrub(message))


class UrlRejectedError(CustomizationError):
    """The URL (or a redirect target) is not allowed: scheme, host, IP literal, userinfo or port."""

    status = "rejected"


class TooLargeError(CustomizationError):
    """The download exceeded the size cap."""

    status = "rejected"


class ZipBombError(CustomizationError):
    """Too many entries, too much uncompressed data, or a suspicious compression ratio."""

    status = "rejected"


class DownloadError(CustomizationError):
    """HTTP error, timeout or connection failure (after in-run retries)."""


class NotAZipError(CustomizationError):
    """The body is not a readable zip archive."""


class NoJsonError(CustomizationError):
    """No usable ``.json`` entry in the archive (or several, none named after the order item)."""


class UnparseableError(CustomizationError):
    """The JSON is invalid, not an object, or has no known customization layout."""
