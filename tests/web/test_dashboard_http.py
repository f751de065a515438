"""``makerfirst web`` over a real paper run's database, through real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from makerfirst.observability.kill_switch import read_pause
from makerfirst.observability.operator_log import audit_entries
from makerfirst.persistence.store import SqlStore
from webkit import TOKEN, Served


@pytest.mark.parametrize(
    "path", ["/", "/holdings", "/purges", "/control", "/api/v1/holdings", "/metrics", "/events"]
)
def test_every_page_and_api_call_without_the_token_is_refused(dashboard: Served, path: str) -> None:
    assert dashboard.get(path, token=None).status_code == 401
    assert dashboard.get(path, token="not-the-token-at-all").status_code == 401  # noqa: S106


def test_the_refusal_is_logged_without_the_token(dashboard: Served) -> None:
    dashboard.get("/", token="wrong-token-" + TOKEN[::-1])
    dashboard.get("/")
    log = dashboard.log.read_text()
    assert "refused GET /" in log
    assert TOKEN not in log and TOKEN[::-1] not in log


def test_the_overview_lists_the_purge_the_targets_and_the_dust(dashboard: Served) -> None:
    page = dashboard.get("/")
    assert page.status_code == 200
    text = page.text
    assert "PENGU-USD" in text and "complete" in text  # the purge run
    holdings = text.split("<table class='holdings'>")[1].split("</table>")[0]
    assert "<td class='asset'>BTC</td>" in holdings and "<td class='target'>40.0%</td>" in holdings
    assert "<td class='asset'>ETH</td>" in holdings and "<td class='target'>30.0%</td>" in holdings
    dust = text.split("<table class='dust'>")[1].split("</table>")[0]
    assert "SHIB" in dust and "below_min_notional" in dust
    assert "IS (bps)" in text and "completion" in text  # the legend says what the units are
    figures = [part.split("'")[0] for part in text.split("data-figure='")[1:]]
    assert len(figures) == 2 and all(json.loads(f.replace("&quot;", '"'))["data"] for f in figures)


def test_the_holdings_api_is_json_with_exact_decimals(dashboard: Served) -> None:
    answer = dashboard.get("/api/v1/holdings")
    assert answer.headers["content-type"].startswith("application/json")
    holdings = {h["asset"]: h for h in answer.json()}
    assert set(holdings) == {"BTC", "ETH", "SHIB", "USD"}
    assert holdings["BTC"]["target_weight"] == "0.4" and holdings["ETH"]["target_weight"] == "0.3"
    assert holdings["SHIB"]["dust_reason"] == "below_min_notional"
    total = sum(Decimal(h["value_usd"]) for h in holdings.values())
    assert Decimal(dashboard.get("/api/v1/overview").json()["equity"][-1]["value"]) == total


def test_a_purge_run_appears_with_its_attempts_and_the_takers_slippage_within_the_cap(
    dashboard: Served,
) -> None:
    runs = {r["product"]: r for r in dashboard.get("/api/v1/purges").json()}
    pengu = runs["PENGU-USD"]
    assert (pengu["purpose"], pengu["outcome"], pengu["taker_sent"]) == ("purge", "complete", True)
    kinds = [(a["kind"], a["outcome"]) for a in pengu["attempts"]]
    assert kinds == [("maker", "cancelled"), ("maker", "cancelled"), ("taker", "filled")]
    taker = pengu["attempts"][-1]
    assert taker["fills"] and 0 <= Decimal(taker["slippage_bps"]) <= taker["slippage_cap_bps"]
    page = dashboard.get("/purges").text
    assert "PENGU-USD" in page and page.count("<td class='kind'>taker</td>") == 1


def test_metrics_parse_as_prometheus_text_with_the_runs_numbers(dashboard: Served) -> None:
    answer = dashboard.get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert all(name.startswith("makerfirst_") for name in families)
    assert families["makerfirst_cycles"].samples[0].value == 20
    assert families["makerfirst_taker_fallbacks"].samples[0].value == 1
    outcomes = {
        (s.labels["outcome"], s.labels["kind"]): s.value for s in families["makerfirst_orders"].samples
    }
    assert outcomes[("filled", "taker")] == 1 and outcomes[("cancelled", "maker")] == 2
    equity = families["makerfirst_equity"].samples[0].value
    assert equity == pytest.approx(
        float(sum(Decimal(h["value_usd"]) for h in dashboard.get("/api/v1/holdings").json())), abs=0.01
    )
    durations = {s.name: s.value for s in families["makerfirst_purge_duration_seconds"].samples}
    assert durations["makerfirst_purge_duration_seconds_count"] == 2  # PENGU and ZK
    for name in (
        "makerfirst_cycle_utilization",
        "makerfirst_rate_limit_share",
        "makerfirst_reconciliation_fixes",
        "makerfirst_post_only_rejects",
        "makerfirst_taker_slippage_spent_bps",
        "makerfirst_api_errors",
    ):
        assert name in families


def test_the_kill_switch_needs_its_confirmation_then_persists_and_audits(dashboard_copy: Served) -> None:
    refused = dashboard_copy.post("/api/v1/control/kill", {"confirm": "yes", "reason": "test"})
    assert refused.status_code == 400 and "KILL" in refused.json()["detail"]
    store = SqlStore(dashboard_copy.db_url)
    assert not read_pause(store).paused
    done = dashboard_copy.post("/api/v1/control/kill", {"confirm": "KILL", "reason": "leaving for lunch"})
    assert done.status_code == 200 and done.json()["paused"] is True
    state = read_pause(store)
    assert state.paused and state.reason == "leaving for lunch" and state.actor.startswith("web:127.0.0.1")
    assert dashboard_copy.get("/api/v1/control").json()["paused"] is True
    assert "PAUSED" in dashboard_copy.get("/").text
    [audit] = audit_entries(create_engine(dashboard_copy.db_url))
    assert audit.action == "kill_switch" and json.loads(audit.detail)["reason"] == "leaving for lunch"
    resumed = dashboard_copy.post("/api/v1/control/resume", {"confirm": "RESUME"})
    assert resumed.status_code == 200 and not read_pause(store).paused
    assert [a.action for a in audit_entries(create_engine(dashboard_copy.db_url))] == [
        "resume",
        "kill_switch",
    ]
    store.close()


def test_the_openapi_schema_documents_the_api(dashboard: Served) -> None:
    schema = dashboard.get("/api/v1/openapi.json").json()
    assert {"/api/v1/holdings", "/api/v1/purges", "/api/v1/control/{action}"} <= set(schema["paths"])


def test_the_runs_warnings_are_listed_among_the_recent_errors(dashboard: Served) -> None:
    errors = dashboard.get("/api/v1/errors").json()
    dust = [e for e in errors if e["event"] == "dust"]
    assert dust and dust[0]["level"] == "WARNING" and "50000 SHIB set aside" in dust[0]["message"]
    assert "50000 SHIB set aside" in dashboard.get("/errors").text
