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

import logging
import re
from enum import StrEnum
from pathlib import Path

from makerfirst.replay import cache
from makerfirst.replay.binance_depth import decode_binance_depth
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
]


class CaptureFormat(StrEnum):
    COINBASE_FEED = "coinbase-feed"
    BINANCE_DEPTH = "binance-depth"


DECODER_VERSIONS: dict[CaptureFormat, int] = {
    CaptureFormat.COINBASE_FEED: 2,  # 2: last_match is not a trade
    CaptureFormat.BINANCE_DEPTH: 1,
}

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
    fmt = detect_format(path)
    sources = [path, _products_file(path, products)] if fmt is CaptureFormat.COINBASE_FEED else [path]
    if not use_cache:
        return decode_capture(path, products=products)
    directory = cache_dir if cache_dir is not None else cache.default_cache_dir()
    key = cache.cache_key(sources, fmt.value, DECODER_VERSIONS[fmt])
    hit = cache.load_cached(key, directory)
    if hit is not None:
        return hit
    stream = decode_capture(path, products=products)
    try:
        cache.store(key, directory, stream)
    except OSError as failed:
        # The cache only saves the next run a decode: a folder that cannot be written is no reason to stop.
        log.warning(
            "replay cache not written to %s (%s); set MAKERFIRST_CACHE_DIR to a writable folder",
            directory,
            failed.strerror or failed,
        )
    return stream
