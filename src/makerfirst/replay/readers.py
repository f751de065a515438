"""Read a market-data capture into one ``EventStream``: detect the format, decode once, cache.

Formats (see each decoder's module for the message mapping):

* ``COINBASE_FEED``  ``<epoch seconds>: <json>`` lines of the Coinbase websocket feed, with a products
  file beside it (``products.txt``) or given, for ticks and lots (``coinbase_feed``);
* ``BINANCE_DEPTH``  ``<epoch ns> <json>`` lines (optionally ``.gz``) of one Binance spot symbol:
  REST snapshot, depth diffs, trades, bookTicker (``binance_depth``).

Errors: ``CaptureFormatError`` (file and line) for a capture that cannot be decoded; a missing
products file is a ``CaptureFormatError`` at line 0. Bump a decoder's version below whenever its
output changes, so stale cache entries are not read.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path

from makerfirst.replay import cache
from makerfirst.replay.binance_depth import decode_binance_depth
from makerfirst.replay.book_check import BookCheck, rebuild_check
from makerfirst.replay.coinbase_feed import decode_coinbase_feed
from makerfirst.replay.decoding import CaptureFormatError, open_text
from makerfirst.replay.events import EventStream

log = logging.getLogger(__name__)

__all__ = [
    "DECODER_VERSIONS",
    "CaptureFormat",
    "CaptureFormatError",
    "decode_capture",
    "detect_format",
    "read_capture",
    "read_checked_capture",
]


class CaptureFormat(StrEnum):
    COINBASE_FEED = "coinbase-feed"
    BINANCE_DEPTH = "binance-depth"


DECODER_VERSIONS: dict[CaptureFormat, int] = {
    CaptureFormat.COINBASE_FEED: 2,  # 2: last_match is not a trade
    CaptureFormat.BINANCE_DEPTH: 1,
}
BOOK_CHECK_VERSION = 1  # bump whenever rebuild_check's verdict on the same stream could change

_COINBASE_LINE = re.compile(r"^\d+(\.\d*)?: \{")
_BINANCE_LINE = re.compile(r"^\d+ \{")


def detect_format(path: Path) -> CaptureFormat:
    """The format of ``path``, judged from its first line that is not blank or ``wss://``."""
    with open_text(path) as lines:
        for line_no, line in enumerate(lines, start=1):
            if not line.strip() or line.startswith("wss://"):
                continue
            if _COINBASE_LINE.match(line):
                return CaptureFormat.COINBASE_FEED
            if _BINANCE_LINE.match(line):
                return CaptureFormat.BINANCE_DEPTH
            raise CaptureFormatError(
                path, line_no, "not a known capture format (Coinbase feed, Binance depth)"
            )
    raise CaptureFormatError(path, 0, "the capture is empty")


def _products_file(path: Path, products: Path | None) -> Path:
    chosen = products if products is not None else path.parent / "products.txt"
    if not chosen.is_file():
        raise CaptureFormatError(path, 0, f"a Coinbase feed needs a products file; {chosen} does not exist")
    return chosen


def decode_capture(path: Path, *, products: Path | None = None) -> EventStream:
    """Decode ``path`` (no cache). ``products`` is the Coinbase products file (default: beside it)."""
    if detect_format(path) is CaptureFormat.COINBASE_FEED:
        return decode_coinbase_feed(path, _products_file(path, products))
    return decode_binance_depth(path)


def read_capture(
    path: Path,
    *,
    products: Path | None = None,
    use_cache: bool = True,
    cache_dir: Path | None = None,
) -> EventStream:
    """``decode_capture`` through the cache: the first call decodes and stores, later ones load.

    ``cache_dir`` defaults to ``cache.default_cache_dir()``; ``use_cache=False`` neither reads nor
    writes it.
    """
    if not use_cache:
        detect_format(path)  # the same one-line error for a capture of no known format
        return decode_capture(path, products=products)
    return _read(path, products, cache_dir)[0]


def read_checked_capture(
    path: Path, *, products: Path | None = None, cache_dir: Path | None = None
) -> tuple[EventStream, BookCheck]:
    """``read_capture`` and its ``rebuild_check``, the check cached beside the decoded stream (it
    is a function of the stream alone, so the same key answers for both)."""
    stream, entry = _read(path, products, cache_dir)
    check_file = entry.with_suffix(".check.json")
    try:
        stored = json.loads(check_file.read_text())
        if stored.pop("version") == BOOK_CHECK_VERSION:
            return stream, BookCheck(**stored)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # absent, unreadable or of another version: check again
    check = rebuild_check(stream)
    _write_quietly(check_file, json.dumps({"version": BOOK_CHECK_VERSION, **asdict(check)}))
    return stream, check


def _read(path: Path, products: Path | None, cache_dir: Path | None) -> tuple[EventStream, Path]:
    """The stream and its cache entry's path (``cache_dir`` None: the default folder)."""
    fmt = detect_format(path)
    sources = [path, _products_file(path, products)] if fmt is CaptureFormat.COINBASE_FEED else [path]
    directory = cache_dir if cache_dir is not None else cache.default_cache_dir()
    key = cache.cache_key(sources, fmt.value, DECODER_VERSIONS[fmt])
    entry = cache.cache_path(key, directory)
    hit = cache.load_cached(key, directory)
    if hit is not None:
        return hit, entry
    stream = decode_capture(path, products=products)
    try:
        cache.store(key, directory, stream)
    except OSError as failed:
        _not_written(directory, failed)
    return stream, entry


def _write_quietly(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically; a folder that cannot be written only costs a warning."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as failed:
        _not_written(target.parent, failed)
        return
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, target)
    except OSError as failed:
        Path(tmp).unlink(missing_ok=True)
        _not_written(target.parent, failed)


def _not_written(directory: Path, failed: OSError) -> None:
    # The cache only saves the next run a decode: a folder that cannot be written is no reason to stop.
    log.warning(
        "replay cache not written to %s (%s); set MAKERFIRST_CACHE_DIR to a writable folder",
        directory,
        failed.strerror or failed,
    )
