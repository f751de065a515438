"""Shared pieces of the capture decoders: exact decimal → integer units, a row builder, the error.

Nothing here knows a venue; ``coinbase_feed`` and ``binance_depth`` do.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

import numpy as np

from makerfirst.domain.errors import CaptureFormatError as CaptureFormatError  # noqa: PLC0414  # re-exported
from makerfirst.replay.events import EVENT_DTYPE

GZIP_MAGIC = b"\x1f\x8b"


@contextmanager
def open_text(path: Path) -> Iterator[Iterator[str]]:
    """The lines of ``path`` as UTF-8 text, through gzip when the file is gzip (by its first bytes).

    Whatever stops the reading part-way is a :class:`CaptureFormatError` at the line it reached:
    a binary file (not UTF-8), a truncated or damaged gzip stream (which Python reports as an
    ``EOFError``, and the command line would otherwise turn into a bare "Aborted."), an
    unreadable file. Lines are decoded one by one, so the line named is the one at fault.
    """
    try:
        handle = _open(path)
    except OSError as failed:
        raise CaptureFormatError(path, 0, f"cannot read the capture ({failed.strerror or failed})") from None
    with handle:
        yield _checked_lines(path, handle)


def _open(path: Path) -> gzip.GzipFile | BinaryIO:
    with path.open("rb") as probe:
        gzipped = probe.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    if gzipped:
        return gzip.open(path, "rb")
    if path.suffix == ".gz":
        raise CaptureFormatError(path, 0, "named .gz but not a gzip file; download or capture it again")
    return path.open("rb")


def _checked_lines(path: Path, handle: Iterable[bytes]) -> Iterator[str]:
    line_no = 0
    try:
        for raw in handle:
            line_no += 1
            line = raw.decode("utf-8")
            yield line[:-2] + "\n" if line.endswith("\r\n") else line  # as text mode would read it
    except UnicodeDecodeError:
        raise CaptureFormatError(
            path,
            line_no,
            "not UTF-8 text (a binary file?); pass a Coinbase feed or Binance depth capture, as text or gzip",
        ) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as failed:
        raise CaptureFormatError(
            path,
            line_no + 1,
            f"the gzip stream is truncated or damaged ({failed}); download or capture the file again",
        ) from None
    except OSError as failed:
        raise CaptureFormatError(
            path, line_no + 1, f"cannot read the capture ({failed.strerror or failed})"
        ) from None


class UnitScale:
    """Converts a decimal string to an exact integer count of ``step`` (ticks or lots).

    Raises ``ValueError`` when the text is not a number or not a whole multiple of ``step``; the
    decoders turn that into a ``CaptureFormatError`` naming the line. Power-of-ten steps take a
    string fast path (no ``Decimal`` per value); any other step goes through ``Decimal``.
    """

    __slots__ = ("_decimals", "step")

    def __init__(self, step: Decimal) -> None:
        if step <= 0:
            raise ValueError(f"a step must be positive, got {step}")
        self.step = step
        _, digits, exponent = step.normalize().as_tuple()
        is_power_of_ten = digits == (1,) and isinstance(exponent, int) and exponent <= 0
        self._decimals: int | None = -exponent if is_power_of_ten and isinstance(exponent, int) else None

    def __call__(self, text: str) -> int:
        k = self._decimals
        if k is not None:
            whole, _, frac = text.partition(".")
            if whole.isascii() and whole.isdigit() and (not frac or (frac.isascii() and frac.isdigit())):
                if len(frac) > k and frac[k:].strip("0"):
                    raise ValueError(f"{text} is not a multiple of {self.step}")
                return int(whole + frac[:k].ljust(k, "0"))
        try:
            count = Decimal(text) / self.step
        except (InvalidOperation, TypeError):
            raise ValueError(f"{text!r} is not a decimal number") from None
        if count != count.to_integral_value():
            raise ValueError(f"{text} is not a multiple of {self.step}")
        return int(count)


def seconds_text_to_ns(text: str) -> int:
    """``"1618677817.0208309"`` (epoch seconds) → epoch nanoseconds, exactly (digits past 9 dropped)."""
    whole, _, frac = text.partition(".")
    if not (whole.isascii() and whole.isdigit() and (not frac or (frac.isascii() and frac.isdigit()))):
        raise ValueError(f"{text!r} is not a time in epoch seconds")
    return int(whole) * 1_000_000_000 + int(frac[:9].ljust(9, "0"))


class RowBuilder:
    """Collects event rows in arrival order; receive times that go backwards are raised to the last one.

    File order is the order of arrival, and replay must keep it; clamping keeps ``ts_ns``
    non-decreasing (the ``EventStream`` contract) without reordering anything.
    """

    __slots__ = ("aux", "kind", "last_ts", "price", "product", "side", "size", "ts")

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.product: list[int] = []
        self.kind: list[int] = []
        self.side: list[int] = []
        self.price: list[int] = []
        self.size: list[int] = []
        self.aux: list[int] = []
        self.last_ts = -(2**63)

    def add(  # noqa: PLR0917 - the schema's seven columns, positional in the decoders' hot loops
        self, ts_ns: int, product: int, kind: int, side: int, price: int, size: int, aux: int = 0
    ) -> None:
        ts_ns = max(ts_ns, self.last_ts)
        self.last_ts = ts_ns
        self.ts.append(ts_ns)
        self.product.append(product)
        self.kind.append(kind)
        self.side.append(side)
        self.price.append(price)
        self.size.append(size)
        self.aux.append(aux)

    def to_array(self) -> np.ndarray:
        out = np.empty(len(self.ts), dtype=EVENT_DTYPE)
        out["ts_ns"] = np.asarray(self.ts, dtype=np.int64)
        out["product"] = np.asarray(self.product, dtype=np.int16)
        out["kind"] = np.asarray(self.kind, dtype=np.int8)
        out["side"] = np.asarray(self.side, dtype=np.int8)
        out["price"] = np.asarray(self.price, dtype=np.int64)
        out["size"] = np.asarray(self.size, dtype=np.int64)
        out["aux"] = np.asarray(self.aux, dtype=np.int64)
        return out
