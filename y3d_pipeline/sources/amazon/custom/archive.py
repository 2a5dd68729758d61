"""Opening an Amazon Custom zip and picking its JSON, in memory and within limits.

The zip is opened on ``BytesIO``; nothing from the archive is ever written to the filesystem, and archive
names are only compared as strings (names with ``..``, absolute paths, drive letters or backslashes are
ignored). Declared entry count, sizes and compression ratios are checked before anything is decompressed, and
the one entry read is read in bounded chunks.
"""

from __future__ import annotations

import io
import json
import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from y3d_pipeline.sources.amazon.custom.errors import (
    NoJsonError,
    NotAZipError,
    UnparseableError,
    ZipBombError,
)


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 64
    max_entry_bytes: int = 16 * 1024 * 1024  # uncompressed, any one entry
    max_total_bytes: int = 64 * 1024 * 1024  # uncompressed, all entries
    max_ratio: float = 200.0  # uncompressed / compressed, checked for entries above ratio_floor_bytes
    ratio_floor_bytes: int = 64 * 1024
    max_json_bytes: int = 4 * 1024 * 1024


def _unsafe_name(name: str) -> bool:
    if "\\" in name or "\x00" in name or name.startswith("/") or re.match(r"^[a-zA-Z]:", name):
        return True
    return any(part == ".." for part in name.split("/"))


def _hidden(name: str) -> bool:
    return name.startswith("__MACOSX/") or posixpath.basename(name).startswith("._") or \
        posixpath.basename(name).startswith(".")


@dataclass
class ZipJson:
    name: str
    data: Any
    entries: list[str]
    ignored_unsafe: list[str]


def read_customization_json(content: bytes, *, order_item_id: str | None = None,
                            limits: ZipLimits = ZipLimits()) -> ZipJson:  # noqa: B008 - frozen dataclass
    """Pick ``<OrderItemId>.json`` (else the only JSON) from an in-memory zip and decode it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
        raise NotAZipError(f"not a readable zip archive: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise ZipBombError(f"zip has {len(infos)} entries (cap {limits.max_entries})")
        total = 0
        for info in infos:
            total += info.file_size
            if info.file_size > limits.max_entry_bytes:
                raise ZipBombError(f"zip entry of {info.file_size} bytes uncompressed "
                                   f"(cap {limits.max_entry_bytes})")
            if info.file_size > limits.ratio_floor_bytes and \
                    info.file_size / max(info.compress_size, 1) > limits.max_ratio:
                raise ZipBombError(f"zip entry compression ratio {info.file_size / max(info.compress_size, 1):.0f}"
                                   f" exceeds {limits.max_ratio:.0f}")
        if total > limits.max_total_bytes:
            raise ZipBombError(f"zip expands to {total} bytes (cap {limits.max_total_bytes})")

        unsafe = [i.filename for i in infos if _unsafe_name(i.filename)]
        candidates = [i for i in infos if not i.is_dir() and not _unsafe_name(i.filename)
                      and not _hidden(i.filename) and i.filename.lower().endswith(".json")]
        chosen = None
        if order_item_id:
            wanted = f"{order_item_id}.json".lower()
            chosen = next((i for i in candidates if posixpath.basename(i.filename).lower() == wanted), None)
        if chosen is None:
            if len(candidates) == 1:
                chosen = candidates[0]
            elif not candidates:
                raise NoJsonError("zip holds no usable .json entry"
                                  + (f" ({len(unsafe)} entries with unsafe names ignored)" if unsafe else ""))
            else:
                raise NoJsonError(f"zip holds {len(candidates)} .json entries and none is "
                                  f"'{order_item_id}.json'")
        if chosen.file_size > limits.max_json_bytes:
            raise ZipBombError(f"JSON entry of {chosen.file_size} bytes (cap {limits.max_json_bytes})")
        try:
            with archive.open(chosen) as handle:
                raw = handle.read(limits.max_json_bytes + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError,
                zipfile.LargeZipFile) as exc:
            raise NotAZipError(f"cannot read {chosen.filename!r} from the zip: {exc}") from exc
        if len(raw) > limits.max_json_bytes:
            raise ZipBombError(f"JSON entry expands beyond {limits.max_json_bytes} bytes")
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UnparseableError(f"{chosen.filename!r} is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(data, dict):
        raise UnparseableError(f"{chosen.filename!r} holds a JSON {type(data).__name__}, not an object")
    return ZipJson(name=chosen.filename, data=data, entries=[i.filename for i in infos], ignored_unsafe=unsafe)


def _not_json(constant: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and "nan" would become a buyer's text.
    raise ValueError(f"{constant} is not a JSON value")
