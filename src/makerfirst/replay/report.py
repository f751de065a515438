"""A self-contained HTML report of a backtest (plotly): the metrics table (95 % intervals), each
policy's IS distribution (uncensored episodes), the fill-time curves (the share of episodes with a
maker fill, and completed, by seconds after arrival, per mode: replayed real flow beside the
calibrated synthetic market), for the first episode of each policy the book, our resting
quotes and our fills over time, and (with ``glft``) a section per product: its fitted fill curve
Λ(δ) = A·e^(−kδ) against the fill frequencies observed at each distance, with 95 % intervals and
the number of virtual asks behind each point. Rendering only: every number comes from
``BacktestResult`` and the curves' evidence (``glft_fit.CurveEvidence``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]  # plotly ships no type hints

from makerfirst.replay.backtest import BacktestResult, EpisodeTrace
from makerfirst.replay.glft_fit import CurveEvidence
from makerfirst.replay.metrics import PolicyMetrics

_COLUMNS = (
    ("mode", "mode"),
    ("policy", "policy"),
    ("episodes", "episodes"),
    ("censored", "censored"),
    ("IS mean (bps)", "is_mean_bps"),
    ("IS median", "is_median_bps"),
    ("IS p95", "is_p95_bps"),
    ("E", "e"),
    ("completion", "completion_rate"),
    ("maker fill in horizon", "maker_fill_within_horizon"),
    ("maker share (value)", "maker_share"),
    ("time to complete p50 (s)", "time_to_complete_median_sec"),
)


LEGEND = (  # what the table's units mean (replay/metrics.py has the formulas)
    "<dl class='legend'><dt>IS (bps)</dt><dd>implementation shortfall vs the arrival mid, fees included,"
    " anything unsold charged as a forced taker sale; basis points (1 bp = 0.01 %), lower is better</dd>"
    "<dt>E</dt><dd>the share of the maker premium captured: 1 = the perfect maker (all at the arrival"
    " ask, maker fee), 0 = an immediate market sell</dd><dt>completion</dt><dd>the share of episodes"
    " that sold everything by the deadline (only dust left counts as complete)</dd></dl>"
)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):  # an interval
        if value.get("value") is None:
            return "-"
        if value.get("low") is None:
            return f"{value['value']} (n={value['n']})"
        return f"{value['value']} [{value['low']}, {value['high']}] (n={value['n']})"
    return str(value)


def metrics_figure(metrics: Sequence[PolicyMetrics]) -> Any:
    rows = [m.as_json() for m in metrics]
    cells = [[_cell(r[key]) for r in rows] for _, key in _COLUMNS]
    return go.Figure(
        data=[go.Table(header={"values": [title for title, _ in _COLUMNS]}, cells={"values": cells})],
        layout={"title": "Metrics per policy, 95 % intervals (IS vs arrival mid, fees and forced residual)"},
    )


def cost_figure(result: BacktestResult) -> Any:
    figure = go.Figure(
        layout={"title": "Implementation shortfall per episode (bps; censored left out)", "boxmode": "group"}
    )
    for mode in dict.fromkeys(r.mode for r in result.results):
        for policy in dict.fromkeys(r.policy for r in result.results):
            costs = [
                float(r.is_bps)
                for r in result.results
                if r.mode == mode and r.policy == policy and not r.censored
            ]
            if costs:
                figure.add_trace(go.Box(y=costs, name=f"{mode}: {policy}", boxpoints="all", jitter=0.3))
    figure.update_yaxes(title="IS (bps, lower is better)")
    return figure


def fill_curve(times: Sequence[float | None], episodes: int) -> tuple[list[float], list[float]]:
    """The share of ``episodes`` whose event happened by each time (a step curve from 0)."""
    happened = sorted(t for t in times if t is not None)
    xs, ys = [0.0], [0.0]
    for k, t in enumerate(happened, start=1):
        xs.append(t)
        ys.append(k / episodes)
    return xs, ys


def fill_time_figure(result: BacktestResult) -> Any:
    figure = go.Figure(layout={"title": "Fill-time curves: share of episodes with a maker fill / completed"})
    for mode in dict.fromkeys(r.mode for r in result.results):
        for policy in dict.fromkeys(r.policy for r in result.results):
            mine = [r for r in result.results if r.mode == mode and r.policy == policy]
            if not mine:
                continue
            first = fill_curve([r.time_to_first_fill_sec for r in mine], len(mine))
            done = fill_curve([r.time_to_complete_sec for r in mine], len(mine))
            style = {"shape": "hv", "dash": "solid" if mode == "replay" else "dot"}
            figure.add_trace(
                go.Scatter(x=first[0], y=first[1], name=f"{mode}: {policy} maker fill", line=style)
            )
            figure.add_trace(
                go.Scatter(
                    x=done[0], y=done[1], name=f"{mode}: {policy} complete", line=style, visible="legendonly"
                )
            )
    figure.update_xaxes(title="seconds after arrival")
    figure.update_yaxes(title="share of episodes", range=[0, 1])
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


def curve_figure(evidence: CurveEvidence) -> Any:
    """The fitted Λ(δ) as a line, the observed fill rates as points with their 95 % intervals and
    n (virtual asks, fills) per point."""
    curve, observed = evidence.curve, evidence.observed
    title = (
        f"{curve.product_id}: fill curve Λ(δ) = {curve.a_per_sec:.4g}·e^(−{curve.k:.3g}·δ) per second"
        f" (A 95 % [{curve.a_interval[0]:.3g}, {curve.a_interval[1]:.3g}], k [{curve.k_interval[0]:.3g},"
        f" {curve.k_interval[1]:.3g}]; σ = {curve.sigma:.3g} spreads/√s; {curve.fills} fills of"
        f" {curve.orders} virtual asks)"
    )
    figure = go.Figure(layout={"title": title})
    if observed:
        figure.add_trace(
            go.Scatter(
                x=[r.distance for r in observed],
                y=[r.rate for r in observed],
                mode="markers+text",
                name="observed fills / s of exposure",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [r.interval[1] - r.rate for r in observed],
                    "arrayminus": [r.rate - r.interval[0] for r in observed],
                },
                text=[f"n={r.orders}" for r in observed],
                textposition="top right",
                customdata=[[r.orders, r.fills, r.exposure_sec, *r.interval] for r in observed],
                hovertemplate=(
                    "δ %{x} spreads: %{y:.4f}/s [%{customdata[3]:.4f}, %{customdata[4]:.4f}]"
                    "<br>%{customdata[1]} fills of %{customdata[0]} virtual asks,"
                    " %{customdata[2]:.0f} s exposed<extra></extra>"
                ),
            )
        )
    top = max((r.distance for r in observed), default=4.0)
    xs = [top * i / 50 for i in range(51)]
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=[curve.a_per_sec * math.exp(-curve.k * x) for x in xs],
            mode="lines",
            name="fitted A·e^(−kδ)",
        )
    )
    figure.update_xaxes(title="δ: ask distance from the mid (spreads)")
    figure.update_yaxes(title="fills per second (95 % interval)", rangemode="tozero")
    return figure


def render_html(result: BacktestResult, title: str, curves: Sequence[CurveEvidence] = ()) -> str:
    figures = [
        metrics_figure(result.metrics),
        cost_figure(result),
        fill_time_figure(result),
        *(trace_figure(t) for t in result.traces),
    ]
    # The first figure carries plotly.js inline so the file opens offline; the others reuse it.
    parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figures)]
    parts += _curve_parts(curves)
    notes = "".join(f"<li>{html.escape(s)}</li>" for s in (*result.plan.notes, *result.plan.skipped))
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


CURVES_INTRO = (
    "<h2 id='fill-curves'>Fill curves per product (glft)</h2><p>Virtual asks placed every second at"
    " each distance from the mid (in spreads) on the calibration part of each capture and on its fitted"
    " market, filled under the conservative rule; the points are the observed fills per second of"
    " exposure with 95 % intervals (n: virtual asks per point), the line the censored maximum-likelihood"
    " fit, pooled across products and shrunk per product.</p>"
)


def _curve_parts(curves: Sequence[CurveEvidence], *, with_plotlyjs: bool = False) -> list[str]:
    if not curves:
        return []
    parts = [CURVES_INTRO]
    for i, evidence in enumerate(curves):
        figure = curve_figure(evidence).to_html(full_html=False, include_plotlyjs=with_plotlyjs and i == 0)
        product = html.escape(evidence.curve.product_id)
        parts.append(f"<section class='fill-curve' data-product='{product}'>{figure}</section>")
    return parts


def render_curves_html(curves: Sequence[CurveEvidence], title: str) -> str:
    """The fill-curve sections alone (``makerfirst calibrate --report``)."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>"
        + "".join(_curve_parts(curves, with_plotlyjs=True))
        + "</body></html>"
    )


def write_report(
    result: BacktestResult,
    path: Path,
    title: str = "makerfirst backtest",
    curves: Sequence[CurveEvidence] = (),
) -> Path:
    path.write_text(render_html(result, title, curves), encoding="utf-8")
    return path
