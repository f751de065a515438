"""Server-rendered pages. Every value is escaped; plots are plotly figures as JSON in a
``data-figure`` attribute, drawn by the shipped ``app.js`` with the plotly.js the package ships."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from makerfirst.observability.logs import utc_iso
from makerfirst.web.control import KILL_CONFIRMATION, RESUME_CONFIRMATION
from makerfirst.web.data import Json

NAV = (
    ("/", "Overview"),
    ("/holdings", "Holdings"),
    ("/orders", "Open orders"),
    ("/purges", "Purges"),
    ("/fills", "Fills"),
    ("/dust", "Dust ledger"),
    ("/errors", "Recent errors"),
    ("/control", "Kill switch"),
)
Column = tuple[str, str]

LEGEND = (
    "<dl class='legend'>"
    "<dt>IS (bps)</dt><dd>implementation shortfall vs the arrival mid, fees included, anything unsold"
    " charged as a forced taker sale; basis points (1 bp = 0.01 %), lower is better</dd>"
    "<dt>E</dt><dd>the share of the maker premium captured: 1 = the perfect maker (all at the arrival"
    " ask, maker fee), 0 = an immediate market sell</dd>"
    "<dt>completion</dt><dd>the share of sells that sold everything (only dust left counts as complete)</dd>"
    "<dt>utilization</dt><dd>the cycle's own work over its length; 1 = no slack</dd>"
    "<dt>rate-limit share</dt><dd>the cycle's requests over what 30 requests/s allows in its length</dd>"
    "<dt>slippage vs cap</dt><dd>what the taker IOC gave up under the bid, against"
    " taker_max_slippage_bps</dd></dl>"
)


def esc(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def when(epoch: float | None) -> str:
    return "" if epoch is None else utc_iso(epoch)


def pct(weight: str | None) -> str:
    return "" if weight is None else f"{float(weight) * 100:.1f}%"


def table(columns: Sequence[Column], rows: Sequence[Json], css: str = "") -> str:
    head = "".join(f"<th>{esc(title)}</th>" for title, _ in columns)
    body = "".join(
        "<tr>" + "".join(f"<td class='{esc(key)}'>{esc(row.get(key))}</td>" for _, key in columns) + "</tr>"
        for row in rows
    )
    if not rows:
        body = f"<tr><td colspan='{len(columns)}' class='empty'>nothing recorded</td></tr>"
    return f"<table class='{esc(css)}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def plot(figure: Json, element_id: str) -> str:
    return f"<div class='plot' id='{esc(element_id)}' data-figure='{esc(json.dumps(figure))}'></div>"


def layout(title: str, active: str, body: str, *, paused: bool, plots: bool = False) -> str:
    nav = "".join(
        f"<a href='{href}'{' class=active' if href == active else ''}>{esc(name)}</a>" for href, name in NAV
    )
    banner = (
        "<div class='banner paused' id='state'>PAUSED by the kill switch: no new orders</div>"
        if paused
        else "<div class='banner running' id='state'>running</div>"
    )
    plotly = "<script src='/static/plotly.min.js'></script>" if plots else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>makerfirst · {esc(title)}</title><link rel='stylesheet' href='/static/style.css'>"
        f"{plotly}<script src='/static/app.js' defer></script></head><body>"
        f"<header><strong>makerfirst</strong><nav>{nav}</nav></header>{banner}"
        f"<main id='content'><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


HOLDING_COLUMNS: tuple[Column, ...] = (
    ("holding", "asset"),
    ("size", "size"),
    ("value ($)", "value_usd"),
    ("tier", "tier"),
    ("target", "target"),
    ("actual", "actual"),
    ("purge", "purge_state"),
    ("dust", "dust_reason"),
)
DUST_COLUMNS: tuple[Column, ...] = (
    ("asset", "asset"),
    ("size", "size"),
    ("value ($)", "value_usd"),
    ("reason", "reason"),
    ("set aside", "when"),
)
RUN_COLUMNS: tuple[Column, ...] = (
    ("run", "run_id"),
    ("product", "product"),
    ("purpose", "purpose"),
    ("status", "status"),
    ("outcome", "outcome"),
)


def dollars(value: str | None) -> str:
    """Cents on screen; the API keeps the exact decimal string."""
    return "" if value is None else f"{Decimal(value):,.2f}"


def _holding_rows(holdings: list[Json]) -> list[Json]:
    return [
        {
            **h,
            "value_usd": dollars(h["value_usd"]),
            "target": pct(h["target_weight"]),
            "actual": pct(h["weight"]),
        }
        for h in holdings
    ]


def _dust_rows(dust: list[Json]) -> list[Json]:
    return [{**d, "value_usd": dollars(d["value_usd"]), "when": when(d["recorded_at"])} for d in dust]


def overview_page(o: Json) -> str:
    times = [when(e["at"]) for e in o["equity"]]
    cycles = o["cycle_series"]
    equity = {
        "data": [{"x": times, "y": [e["value"] for e in o["equity"]], "type": "scatter", "name": "equity"}],
        "layout": {"title": {"text": "Equity (quote currency)"}, "height": 280, "margin": {"t": 40}},
    }
    xs = [c["index"] + 1 for c in cycles]
    utilization = {
        "data": [
            {"x": xs, "y": [c["utilization"] for c in cycles], "type": "bar", "name": "utilization"},
            {
                "x": xs,
                "y": [c["rate_limit_share"] for c in cycles],
                "type": "scatter",
                "name": "rate-limit share",
            },
        ],
        "layout": {
            "title": {"text": "Cycle utilization and rate-limit share per cycle"},
            "height": 280,
            "margin": {"t": 40},
            "xaxis": {"title": {"text": "cycle"}},
            "yaxis": {"tickformat": ".1%"},
        },
    }
    summary = (
        f"<p class='summary'>As of {esc(when(o['as_of']))}: <span id='cycle-count'>{o['cycles']}</span>"
        f" cycles, {o['open_orders']} open orders, {o['errors']} warnings or errors.</p>"
    )
    body = (
        summary
        + "<div class='plots'>"
        + plot(equity, "equity-plot")
        + plot(utilization, "utilization-plot")
        + "</div><h2>Holdings</h2>"
        + table(HOLDING_COLUMNS, _holding_rows(o["holdings"]), "holdings")
        + "<h2>Purges and trades</h2>"
        + table(RUN_COLUMNS, o["purges"], "purges")
        + "<h2>Dust ledger</h2>"
        + table(DUST_COLUMNS, _dust_rows(o["dust"]), "dust")
        + "<h2>Units</h2>"
        + LEGEND
    )
    return layout("Overview", "/", body, paused=o["paused"], plots=True)


def holdings_page(holdings: list[Json], paused: bool) -> str:
    return layout(
        "Holdings", "/holdings", table(HOLDING_COLUMNS, _holding_rows(holdings), "holdings"), paused=paused
    )


def orders_page(orders: list[Json], paused: bool) -> str:
    columns: tuple[Column, ...] = (
        ("client id", "client_order_id"),
        ("product", "product"),
        ("side", "side"),
        ("type", "order_type"),
        ("price", "price"),
        ("size", "size"),
        ("filled", "filled_size"),
        ("age (s)", "age_sec"),
        ("TTL left (s)", "ttl_left_sec"),
        ("vs last mid (bps)", "vs_last_mid_bps"),
    )
    return layout("Open orders", "/orders", table(columns, orders, "orders"), paused=paused)


ATTEMPT_COLUMNS: tuple[Column, ...] = (
    ("#", "index"),
    ("kind", "kind"),
    ("client id", "client_order_id"),
    ("price", "price"),
    ("size", "size"),
    ("sent at +s", "started_after_sec"),
    ("ends at +s", "ends_after_sec"),
    ("status", "outcome"),
    ("filled", "filled_size"),
    ("avg fill", "avg_fill_price"),
    ("fees", "fees"),
    ("slippage (bps)", "slippage_bps"),
    ("cap (bps)", "slippage_cap_bps"),
    ("reject", "reject_reason"),
)


def _timeline(run: Json) -> Json:
    """Each attempt as a segment at its price from sent to end (the taker as a point), fills as marks."""
    data: list[Json] = []
    for a in run["attempts"]:
        end = a["ends_after_sec"] if a["ends_after_sec"] is not None else a["started_after_sec"]
        data.append(
            {
                "x": [a["started_after_sec"], end],
                "y": [a["price"], a["price"]],
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"#{a['index']} {a['kind']} ({a['outcome']})",
            }
        )
        for f in a["fills"]:
            data.append(
                {
                    "x": [round(f["time"] - run["started_at"], 3)],
                    "y": [f["price"]],
                    "type": "scatter",
                    "mode": "markers",
                    "marker": {"size": 12, "symbol": "x" if f["liquidity"] == "TAKER" else "circle"},
                    "name": f"{f['liquidity'].lower()} fill {f['size']}",
                }
            )
    return {
        "data": data,
        "layout": {
            "title": {"text": f"{run['product']} run {run['run_id']}: attempts"},
            "height": 240,
            "margin": {"t": 40},
            "xaxis": {"title": {"text": "seconds after the run started"}},
            "yaxis": {"title": {"text": "price"}},
        },
    }


def purges_page(runs: list[Json], paused: bool) -> str:
    sections = []
    for run in runs:
        head = (
            f"<h2 id='run-{run['run_id']}'>{esc(run['product'])} · {esc(run['purpose'])}"
            f" {esc(run['side'].lower())}"
            f" of {esc(run['requested_size'])} · {esc(run['status'])}"
            f"{' · ' + esc(run['outcome']) if run['outcome'] else ''}</h2>"
            f"<p>started {esc(when(run['started_at']))}, remaining {esc(run['remaining'])},"
            f" taker sent: {'yes' if run['taker_sent'] else 'no'}</p>"
        )
        sections.append(
            f"<section class='run'>{head}{plot(_timeline(run), 'timeline-' + str(run['run_id']))}"
            f"{table(ATTEMPT_COLUMNS, run['attempts'], 'attempts')}</section>"
        )
    body = "".join(sections) or "<p class='empty'>no purge or trade run recorded</p>"
    return layout("Purges", "/purges", body, paused=paused, plots=True)


def fills_page(fills: list[Json], paused: bool) -> str:
    columns: tuple[Column, ...] = (
        ("time", "when"),
        ("product", "product"),
        ("side", "side"),
        ("price", "price"),
        ("size", "size"),
        ("fee", "fee"),
        ("liquidity", "liquidity"),
        ("order", "order_id"),
    )
    rows = [{**f, "when": when(f["time"])} for f in fills]
    return layout("Fills", "/fills", table(columns, rows, "fills"), paused=paused)


def dust_page(dust: list[Json], paused: bool) -> str:
    return layout("Dust ledger", "/dust", table(DUST_COLUMNS, _dust_rows(dust), "dust"), paused=paused)


def errors_page(errors: list[Json], paused: bool) -> str:
    columns: tuple[Column, ...] = (
        ("time", "when"),
        ("level", "level"),
        ("event", "event"),
        ("kind", "kind"),
        ("product", "product"),
        ("message", "message"),
    )
    rows = [{**e, "when": when(e["at"])} for e in errors]
    return layout("Recent errors", "/errors", table(columns, rows, "errors"), paused=paused)


def control_page(control: Json, message: str = "") -> str:
    paused = control["paused"]
    state = (
        f"<p>Paused since {esc(when(control['changed_at']))} by {esc(control['actor'])}:"
        f" {esc(control['reason'])}</p>"
        if paused
        else "<p>The bot is running.</p>"
    )
    word, action = (RESUME_CONFIRMATION, "resume") if paused else (KILL_CONFIRMATION, "kill")
    button = "Resume the bot" if paused else "Kill switch: cancel all and pause"
    form = (
        f"<form method='post' action='/control/{action}' class='control'>"
        f"<label>Reason <input name='reason' id='reason'></label>"
        f"<label>Type <code>{word}</code> to confirm"
        " <input name='confirm' id='confirm' autocomplete='off'></label>"
        f"<button type='submit' id='{action}-button'>{esc(button)}</button></form>"
    )
    audit_columns: tuple[Column, ...] = (
        ("time", "when"),
        ("actor", "actor"),
        ("action", "action"),
        ("detail", "detail"),
    )
    rows = [{**a, "when": when(a["at"])} for a in control["audit"]]
    note = f"<p class='message' id='message'>{esc(message)}</p>" if message else ""
    body = note + state + form + "<h2>Audit log</h2>" + table(audit_columns, rows, "audit")
    return layout("Kill switch", "/control", body, paused=paused)


def login_page(message: str) -> str:
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>makerfirst · sign in</title>"
        "<link rel='stylesheet' href='/static/style.css'></head><body><main>"
        f"<h1>makerfirst</h1><p class='message'>{esc(message)}</p>"
        "<form method='post' action='/login'><label>Dashboard token"
        " <input type='password' name='token' id='token' autocomplete='off'></label>"
        "<button type='submit' id='login-button'>Sign in</button></form></main></body></html>"
    )
