"""The saved fill curves (``makerfirst calibrate``): one JSON file, each product's curve with the date
it was measured and the span of data it came from, and the curve pooled across its products (for a
product the file has no curve of), read back by the policies that quote from them.

:func:`purge_sell_policy` builds what a running bot purges with (``purge_execution.sell_policy``):
``design_note``, the design note's loop; ``tob``, the same loop tracking the top of the book;
``glft``, quotes from the curves in ``fill_curves``: each product its own, a product the file has
none of the pooled one (said once, when it is first used). Curves measured on data older than
``fill_curves_max_age_days`` are used, with a warning naming their date."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from makerfirst.algorithms.glft import FillCurve
from makerfirst.algorithms.glft_policy import Glft
from makerfirst.algorithms.sell_policies import SellPolicy, TopOfBook
from makerfirst.domain.errors import MakerfirstError
from makerfirst.execution.purge_policy import PurgesWith
from makerfirst.policy import Policy

FORMAT = "makerfirst-fill-curves/1"
log = logging.getLogger("makerfirst.twap")


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


@dataclass(frozen=True, slots=True)
class ChosenPolicy:
    policy: SellPolicy | None  # None: the loop's default, the design note's
    notices: tuple[str, ...]  # what the operator is told at start


def purge_sell_policy(policy: Policy, now: float) -> ChosenPolicy:
    """The purge policy ``policy`` names. ``now`` (the venue's clock, epoch seconds) dates the
    curves. Raises ``MakerfirstError`` (one line) when glft's curves cannot be read."""
    purge = policy.portfolio_management.purge_execution
    if purge.sell_policy == "design_note":
        return ChosenPolicy(None, ())
    if purge.sell_policy == "tob":
        tracking = "purges: the design note's loop tracking the top of the book"
        return ChosenPolicy(PurgesWith(TopOfBook()), (tracking,))
    path = Path(purge.fill_curves or "")
    saved = load_curves(path)
    when, _ = saved.dated()
    products = ", ".join(sorted(saved.curves)) or "none"
    rest = (
        "any other product quotes from the pooled curve"
        if saved.pooled is not None
        else "any other product gets the design note's loop (the file has no pooled curve)"
    )
    notices = [f"purges: GLFT quotes from {path} ({when}): {products}; {rest}"]
    age = saved.age_days(datetime.fromtimestamp(now, UTC))
    if age is None:
        notices.append(
            f"warning: {path}: the curves' date is unreadable ({when}); re-run makerfirst calibrate"
        )
    elif age > purge.fill_curves_max_age_days:
        notices.append(
            f"warning: {path}: the fill curves are {age:.0f} days old ({when}), more than"
            f" fill_curves_max_age_days={purge.fill_curves_max_age_days}; re-run `makerfirst calibrate`"
            " on recent data"
        )

    def pooled_used(product_id: str) -> None:
        log.warning(
            "GLFT: %s has no fill curve in %s; quoting from the pooled curve",
            product_id,
            path,
            extra={"event": "glft_pooled_curve", "product_id": product_id},
        )

    glft = Glft(saved.curves, pooled=saved.pooled, on_pooled=pooled_used)
    return ChosenPolicy(PurgesWith(glft), tuple(notices))
