"""The sell policy a running bot purges with (``purge_execution.sell_policy``), built once at start.

``design_note`` is the design note's loop; ``tob`` the same loop tracking the top of the book;
``glft`` quotes from the fill curves ``makerfirst calibrate`` saved (``fill_curves``): each product
its own curve, a product the file has none of the pooled one (said once, when it is first used).
Curves measured on data older than ``fill_curves_max_age_days`` are used, with a warning naming
their date. Only purges use it: normal sells and buys keep the design note's maker-first loop,
whose adaptive TTLs are tuned for liquid books (the fill curves are measured on the purged junk).
The backtest runs the same policy classes through the same ``TwapLoop``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from makerfirst.algorithms import twap
from makerfirst.algorithms.sell_policies import DesignNote, PolicyView, SellPolicy, TopOfBook
from makerfirst.domain.intents import Purpose
from makerfirst.policy import Policy

log = logging.getLogger("makerfirst.twap")


class PurgesWith:
    """``purges`` for purge loops, ``others`` (the design note's) for every other loop."""

    def __init__(self, purges: SellPolicy, others: SellPolicy | None = None) -> None:
        self.purges = purges
        self.others = others or DesignNote()

    @property
    def name(self) -> str:
        return self.purges.name

    def decide(self, view: PolicyView) -> twap.Decision:
        chosen = self.purges if view.rules.purpose is Purpose.PURGE else self.others
        return chosen.decide(view)


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
    # Imported here: the curves' module pulls numpy and the fitting code, which the other policies never need.
    from makerfirst.algorithms.glft_policy import Glft  # noqa: PLC0415
    from makerfirst.replay.estimates import load_curves  # noqa: PLC0415

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
