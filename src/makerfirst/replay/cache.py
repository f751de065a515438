"""A decoded ``EventStream`` cached as an uncompressed ``.npz`` (events + product scales).

The key hashes each source file's resolved path, size and mtime (ns), and the decoder's name and
version: touching a source or bumping a decoder's version makes a new entry (old ones are left for
the user to delete). The directory is ``$MAKERFIRST_CACHE_DIR``, else ``~/.cache/makerfirst/replay``.
A file that cannot be read back is treated as a miss and rewritten; writes are atomic (temp +
rename), so concurrent readers never see half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np

from makerfirst.replay.events import EVENT_DTYPE, EventStream, ProductScale

CACHE_DIR_ENV = "MAKERFIRST_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$MAKERFIRST_CACHE_DIR`` if set, else ``~/.cache/makerfirst/replay``."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override) if override else Path.home() / ".cache" / "makerfirst" / "replay"


def cache_key(sources: Sequence[Path], decoder: str, version: int) -> str:
    """A hex key for these source files (path, size, mtime) decoded by ``decoder`` at ``version``."""
    digest = hashlib.sha256(f"{decoder}:{version}".encode())
    for source in sources:
        stat = source.stat()
        digest.update(f"|{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def cache_path(key: str, cache_dir: Path) -> Path:
    return cache_dir / f"{key}.npz"


def load_cached(key: str, cache_dir: Path) -> EventStream | None:
    """The stream stored under ``key``, or None on a miss (absent or unreadable file)."""
    path = cache_path(key, cache_dir)
    try:
        with np.load(path, allow_pickle=False) as stored:
            events = stored["events"]
            products = json.loads(str(stored["products"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    if events.dtype != EVENT_DTYPE:
        return None
    scales = tuple(ProductScale(p["product_id"], Decimal(p["tick"]), Decimal(p["lot"])) for p in products)
    return EventStream(scales, events)


def store(key: str, cache_dir: Path, stream: EventStream) -> Path:
    """Write ``stream`` under ``key`` atomically; returns the file written."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    products = json.dumps(
        [{"product_id": p.product_id, "tick": str(p.tick), "lot": str(p.lot)} for p in stream.products]
    )
    final = cache_path(key, cache_dir)
    fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{key}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, events=stream.events, products=np.array(products))
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final
