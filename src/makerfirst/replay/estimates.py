"""The saved fill curves (``makerfirst calibrate``): one JSON file, each product's curve with the date
it was measured and the span of data it came from, and the curve pooled across its products (for a
product the file has no curve of), read back by the policies that quote from them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from makerfirst.algorithms.glft import FillCurve
from makerfirst.domain.errors import MakerfirstError

FORMAT = "makerfirst-fill-curves/1"


@dataclass(frozen=True, slots=True)
class SavedCurves:
    curves: dict[str, FillCurve]
    measured_at: str  # ISO 8601, UTC
    data: str  # what they were measured on
    data_span: tuple[str, str] | None  # the capture's first and last event, ISO 8601 UTC
    pooled: FillCurve | None = None  # every product's virtual orders together

    def dated(self) -> tuple[str, datetime | None]:
        """What the curves' age is counted from: the end of the data they were measured on when
        known (the market they describe), else when they were measured; None when unreadable."""
        label, text = ("data ending", self.data_span[1]) if self.data_span else ("measured", self.measured_at)
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return f"{label} {text or '?'}", None
        return f"{label} {text}", when if when.tzinfo else when.replace(tzinfo=UTC)

    def age_days(self, now: datetime) -> float | None:
        _, when = self.dated()
        return None if when is None else (now - when).total_seconds() / 86_400


def iso(epoch_sec: float) -> str:
    return datetime.fromtimestamp(epoch_sec, UTC).isoformat(timespec="seconds")


def save_curves(
    path: Path,
    curves: Mapping[str, FillCurve],
    *,
    data: str,
    data_span: tuple[float, float] | None,
    now: datetime,
    pooled: FillCurve | None = None,
) -> SavedCurves:
    saved = SavedCurves(
        dict(curves),
        now.astimezone(UTC).isoformat(timespec="seconds"),
        data,
        (iso(data_span[0]), iso(data_span[1])) if data_span else None,
        pooled,
    )
    payload = {
        "format": FORMAT,
        "measured_at": saved.measured_at,
        "data": data,
        "data_span": list(saved.data_span) if saved.data_span else None,
        "curves": [c.as_json() for c in curves.values()],
        "pooled": pooled.as_json() if pooled is not None else None,
    }
    try:
        path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    except OSError as failed:
        raise MakerfirstError(f"{path}: cannot write the fill curves ({failed.strerror or failed})") from None
    return saved


def load_curves(path: Path) -> SavedCurves:
    """The curves saved in ``path``; a clear one-line error for a missing or foreign file."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MakerfirstError(
            f"{path}: no such fill-curves file; write it with `makerfirst calibrate`"
        ) from None
    except (OSError, ValueError) as bad:
        raise MakerfirstError(f"{path}: not a fill-curves file ({bad})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise MakerfirstError(f"{path}: not a fill-curves file (format {FORMAT!r} expected)")
    rows = payload.get("curves")
    if not isinstance(rows, list):
        raise MakerfirstError(f"{path}: 'curves' must be a list")
    curves = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise MakerfirstError(f"{path}: curves[{i}] must be an object")
        curve = FillCurve.from_json(row, f"{path}: curves[{i}]")
        curves[curve.product_id] = curve
    span = payload.get("data_span")
    pooled = payload.get("pooled")
    if pooled is not None and not isinstance(pooled, dict):
        raise MakerfirstError(f"{path}: 'pooled' must be an object or null")
    return SavedCurves(
        curves,
        str(payload.get("measured_at", "")),
        str(payload.get("data", "")),
        (str(span[0]), str(span[1])) if isinstance(span, list) and len(span) == 2 else None,
        FillCurve.from_json(pooled, f"{path}: pooled") if pooled else None,
    )
