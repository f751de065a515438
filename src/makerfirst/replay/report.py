"""A self-contained HTML report of a backtest (plotly): the metrics table, each policy's cost
distribution, and for the first episode of each policy the book, our resting quotes and our fills
over time. Rendering only: every number comes from ``BacktestResult``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]  # plotly ships no type hints

from makerfirst.replay.backtest import BacktestResult, EpisodeTrace
from makerfirst.replay.metrics import PolicyMetrics

_COLUMNS = (
    ("mode", "mode"),
    ("policy", "policy"),
    ("episodes", "episodes"),
    ("IS mean (bps)", "is_mean_bps"),
    ("IS median", "is_median_bps"),
    ("IS p95", "is_p95_bps"),
    ("E", "e"),
    ("completion", "completion_rate"),
    ("maker share", "maker_share"),
    ("time to complete p50 (s)", "time_to_complete_median_sec"),
)


LEGEND = (  # what the table's units mean (replay/metrics.py has the formulas)
    "<dl class='legend'><dt>IS (bps)</dt><dd>implementation shortfall vs the arrival mid, fees included,"
    " anything unsold charged as a forced taker sale; basis points (1 bp = 0.01 %), lower is better</dd>"
    "<dt>E</dt><dd>the share of the maker premium captured: 1 = the perfect maker (all at the arrival"
    " ask, maker fee), 0 = an immediate market sell</dd><dt>completion</dt><dd>the share of episodes"
    " that sold everything by the deadline (only dust left counts as complete)</dd></dl>"
)


def metrics_figure(metrics: Sequence[PolicyMetrics]) -> Any:
    rows = [m.as_json() for m in metrics]
    cells = [[("-" if r[key] is None else r[key]) for r in rows] for _, key in _COLUMNS]
    return go.Figure(
        data=[go.Table(header={"values": [title for title, _ in _COLUMNS]}, cells={"values": cells})],
        layout={"title": "Metrics per policy (IS vs arrival mid, fees and forced residual included)"},
    )


def cost_figure(result: BacktestResult) -> Any:
    figure = go.Figure(layout={"title": "Implementation shortfall per episode (bps)", "boxmode": "group"})
    for mode in dict.fromkeys(r.mode for r in result.results):
        for policy in dict.fromkeys(r.policy for r in result.results):
            costs = [float(r.is_bps) for r in result.results if r.mode == mode and r.policy == policy]
            if costs:
                figure.add_trace(go.Box(y=costs, name=f"{mode}: {policy}", boxpoints="all", jitter=0.3))
    figure.update_yaxes(title="IS (bps, lower is better)")
    return figure


def trace_figure(trace: EpisodeTrace) -> Any:
    title = (
        f"{trace.mode} episode {trace.episode_id}, {trace.product_id}: {trace.policy}"
        f" (deadline {trace.deadline - trace.arrival:.0f} s)"
    )
    figure = go.Figure(layout={"title": title})
    figure.add_trace(go.Scatter(x=trace.times, y=trace.best_bids, name="best bid", line={"shape": "hv"}))
    figure.add_trace(go.Scatter(x=trace.times, y=trace.best_asks, name="best ask", line={"shape": "hv"}))
    if trace.quotes:
        xs, ys = zip(*trace.quotes, strict=True)
        figure.add_trace(go.Scatter(x=xs, y=ys, name="our resting sell", mode="markers", marker={"size": 4}))
    for liquidity, symbol in (("MAKER", "circle"), ("TAKER", "x")):
        fills = [f for f in trace.fills if f[3] == liquidity]
        if fills:
            figure.add_trace(
                go.Scatter(
                    x=[f[0] for f in fills],
                    y=[f[1] for f in fills],
                    name=f"{liquidity.lower()} fill",
                    mode="markers",
                    marker={"size": 11, "symbol": symbol},
                    text=[f"size {f[2]:g}" for f in fills],
                )
            )
    figure.add_vline(x=trace.deadline - trace.arrival, line_dash="dash", annotation_text="deadline")
    figure.update_xaxes(title="seconds after arrival")
    figure.update_yaxes(title="price")
    return figure


def render_html(result: BacktestResult, title: str) -> str:
    figures = [metrics_figure(result.metrics), cost_figure(result), *(trace_figure(t) for t in result.traces)]
    # The first figure carries plotly.js inline so the file opens offline; the others reuse it.
    parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figures)]
    notes = "".join(f"<li>{html.escape(s)}</li>" for s in result.plan.skipped)
    rebuild = result.plan.rebuild
    check = (
        ""
        if rebuild is None
        else f"<p>Book rebuild check: {rebuild.messages_compared} venue BBO messages compared,"
        f" {rebuild.mismatches} mismatches, {rebuild.crossed} crossed books.</p>"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Data: {html.escape(result.plan.data)}; fill model: {result.plan.fill_model.value};"
        f" {len(result.plan.episodes)} episodes.</p>{check}{LEGEND}"
        f"{f'<ul>{notes}</ul>' if notes else ''}" + "".join(parts) + "</body></html>"
    )


def write_report(result: BacktestResult, path: Path, title: str = "makerfirst backtest") -> Path:
    path.write_text(render_html(result, title), encoding="utf-8")
    return path
