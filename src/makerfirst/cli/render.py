"""The JSON shape of a sell report (documented in the README). Prices and sizes are strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from makerfirst.domain.money import plain
from makerfirst.execution.engine import AttemptReport
from makerfirst.execution.twap_loop import TwapReport


def _money(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def attempt_json(index: int, attempt: AttemptReport, t0: float) -> dict[str, Any]:
    return {
        "index": index,
        "kind": attempt.kind.value,
        "order_type": attempt.order_type.value,
        "client_order_id": attempt.client_order_id,
        "order_id": attempt.order_id,
        "price": _money(attempt.price),
        "size": plain(attempt.size),
        "ttl_sec": attempt.ttl_sec,
        "filled_size": plain(attempt.filled_size),
        "maker_filled_size": plain(attempt.maker_filled_size),
        "avg_fill_price": _money(attempt.avg_fill_price),
        "fees_usd": plain(attempt.fees),
        "outcome": attempt.outcome.value,
        "final_status": attempt.final_status.value if attempt.final_status else None,
        "guard": attempt.guard.guard.value if attempt.guard else None,
        "reject_reason": attempt.reject_reason.value if attempt.reject_reason else None,
        "started_at_sec": round(attempt.started_at - t0, 3),
        "ended_at_sec": round(attempt.ended_at - t0, 3),
    }


def twap_report_json(report: TwapReport, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    attempts = [attempt_json(i, a, report.started_at) for i, a in enumerate(report.attempts, start=1)]
    return {
        "product": report.product_id,
        "purpose": report.purpose.value,
        "requested_size": plain(report.requested_size),
        "arrival_mid": plain(report.arrival_mid),
        "arrival_best_bid": plain(report.arrival_best_bid),
        "start_value_usd": plain(report.start_value_usd.quantize(Decimal("0.00000001"))),
        "filled_size": plain(report.filled_size),
        "filled_value_usd": plain(report.filled_value_usd),
        "remaining_size": plain(report.remaining_size),
        "remaining_value_usd": plain(report.remaining_value_usd.quantize(Decimal("0.00000001"))),
        "fees_usd": plain(report.fees_usd),
        "completed": report.completed,
        "outcome": report.outcome.value,
        "implementation_shortfall_bps": plain(report.implementation_shortfall_bps.quantize(Decimal("0.01"))),
        "elapsed_sec": round(report.elapsed_sec, 3),
        "attempts": attempts,
        **(extra or {}),
    }
