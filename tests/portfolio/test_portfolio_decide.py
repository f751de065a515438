"""The per-cycle facade: tiers, purges, dust and the rebalance plan from one snapshot, and the
state that carries streaks, backoff and the dust ledger to the next cycle."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from makerfirst.domain.book import Level, OrderBook
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.portfolio.decide import (
    DeferReason,
    Market,
    PortfolioDecision,
    PortfolioPolicy,
    PortfolioSnapshot,
    PortfolioState,
    decide_portfolio,
)
from makerfirst.portfolio.dust import DustEntry, DustReason
from makerfirst.portfolio.purge import PurgeReason
from makerfirst.portfolio.rebalance import RebalancePolicy, SkippedTrade, SkipReason
from makerfirst.portfolio.tiers import Tier

D = Decimal


def product(asset: str, lot: str, min_size: str, min_notional: str) -> Product:
    return Product(f"{asset}-USD", asset, "USD", D("0.0000001"), D(lot), D(min_size), D(min_notional))


def book(asset: str, bid: str, ask: str, depth_usd: int) -> OrderBook:
    """One level a side, each holding ``depth_usd`` of notional."""
    b, a = D(bid), D(ask)
    return OrderBook(f"{asset}-USD", (Level(b, depth_usd / b),), (Level(a, depth_usd / a),), 0.0)


PRODUCTS = {
    "BTC": product("BTC", "0.00000001", "0.00000001", "1"),
    "ETH": product("ETH", "0.0001", "0.001", "1"),
    "PENGU": product("PENGU", "1", "1", "1"),
    "ZK": product("ZK", "1", "10", "5"),
    "DOGE": product("DOGE", "1", "100", "1"),
}
DEEP, THIN = (50_000, D(10_000_000)), (50, D(10_000))  # (depth each side, 24 h volume) in USD
QUOTES = {  # bid, ask, liquidity: 10 bps spreads for the deep books, ~300 bps for PENGU
    "BTC": ("49975", "50025", DEEP),
    "ETH": ("1999", "2001", DEEP),
    "PENGU": ("0.0143", "0.0147", THIN),
    "ZK": ("0.4998", "0.5002", DEEP),
    "DOGE": ("0.09995", "0.10005", DEEP),
}


def market(asset: str, *, bids: bool = True) -> Market:
    bid, ask, (depth, volume) = QUOTES[asset]
    full = book(asset, bid, ask, depth)
    return Market(PRODUCTS[asset], full if bids else replace(full, bids=()), volume)


BALANCES = {
    "USD": "10000",
    "BTC": "0.1",  # $5000
    "PENGU": "1116",  # T3 junk, with a target: purged anyway
    "ZK": "100",  # liquid, but outside the universe
    "DOGE": "50",  # outside the universe, below DOGE's 100-unit minimum: dust
    "XYZ": "7",  # no market at all: dust
}
POLICY = PortfolioPolicy(
    rebalance=RebalancePolicy(target_weights={"BTC": D("0.5"), "ETH": D("0.2"), "PENGU": D("0.1")})
)


def snapshot(
    balances: dict[str, str] | None = None,
    *,
    in_flight: frozenset[str] = frozenset(),
    markets: dict[str, Market] | None = None,
) -> PortfolioSnapshot:
    held = {asset: D(size) for asset, size in (balances or BALANCES).items()}
    return PortfolioSnapshot(
        balances=held,
        quote_available=held.get("USD", D(0)),
        markets=markets or {asset: market(asset) for asset in PRODUCTS},
        in_flight=in_flight,
    )


def decide(
    snap: PortfolioSnapshot | None = None,
    state: PortfolioState | None = None,
    policy: PortfolioPolicy = POLICY,
    now: float = 1_000.0,
) -> PortfolioDecision:
    return decide_portfolio(snap or snapshot(), state, policy, now)


def test_one_cycle_decides_tiers_purges_dust_and_the_rebalance() -> None:
    decision = decide()
    assert decision.tiers == {
        "BTC": Tier.T1,
        "DOGE": Tier.T1,
        "ETH": Tier.T1,
        "PENGU": Tier.T3,
        "ZK": Tier.T1,
    }
    assert [(p.asset, p.reason, p.size) for p in decision.purges] == [
        ("PENGU", PurgeReason.ILLIQUID, D(1116)),
        ("ZK", PurgeReason.OUT_OF_UNIVERSE, D(100)),
    ]
    assert decision.purges[0].value == D(1116) * D("0.0143")  # valued at the bid it sells into
    assert [(e.asset, e.reason) for e in decision.dust_recorded] == [
        ("DOGE", DustReason.BELOW_MIN_SIZE),
        ("XYZ", DustReason.NO_MARKET),
    ]
    assert set(decision.state.dust) == {"DOGE", "XYZ"}
    # The liquid part is $10000 + $5000 of BTC; PENGU's 10 % target goes to the quote while it is T3.
    plan = decision.rebalance
    assert plan.total_value == D(15_000)
    assert [(o.side, o.asset, o.size) for o in plan.orders] == [
        (Side.BUY, "BTC", D("0.05")),  # 1/3 → 1/2 of $15k
        (Side.BUY, "ETH", D("1.5")),  # 0 → 20 % of $15k at the $2000 mid
    ]


def test_purge_orders_become_purge_intents() -> None:
    pengu = decide().purges[0]
    assert pengu.intent() == TradeIntent("PENGU-USD", SizeBase(D(1116)), Purpose.PURGE, Side.SELL)


def test_dust_is_not_recorded_again_until_something_changes() -> None:
    first = decide()
    second = decide(state=first.state, now=1_060.0)
    assert second.dust_recorded == () and second.dust_cleared == ()
    assert second.state.dust == first.state.dust  # the entries keep their first recording time
    grown = decide(snapshot({**BALANCES, "DOGE": "200"}), first.state, now=1_120.0)
    assert grown.dust_cleared == ("DOGE",)
    assert "DOGE" in [p.asset for p in grown.purges]


def test_a_failed_purge_backs_off_then_is_tried_again() -> None:
    state = decide().state.after_purge("PENGU", succeeded=False, now=1_000.0)
    waiting = decide(state=state, now=1_299.0)
    assert "PENGU" not in [p.asset for p in waiting.purges]
    deferred = waiting.deferred_purges[0]
    assert (deferred.asset, deferred.deferred, deferred.retry_at) == (
        "PENGU",
        DeferReason.BACKING_OFF,
        1_300.0,
    )
    assert "PENGU" in [p.asset for p in decide(state=waiting.state, now=1_300.0).purges]
    succeeded = waiting.state.after_purge("PENGU", succeeded=True, now=1_100.0)
    assert "PENGU" in [p.asset for p in decide(state=succeeded, now=1_100.0).purges]


def test_a_new_backoff_policy_applies_to_the_next_failure() -> None:
    policy = replace(POLICY, purge_backoff=replace(POLICY.purge_backoff, base_delay_sec=10))
    state = decide(policy=policy).state.after_purge("PENGU", succeeded=False, now=1_000.0)
    assert state.backoff.entries["PENGU"].retry_at == 1_010.0


def test_assets_with_a_loop_in_flight_get_no_new_order_but_still_weigh() -> None:
    decision = decide(snapshot(in_flight=frozenset({"ZK", "BTC"})))
    assert [p.asset for p in decision.purges] == ["PENGU"]
    assert decision.deferred_purges == ()
    assert SkippedTrade("BTC", Side.BUY, SkipReason.LOCKED) in decision.rebalance.skipped
    assert decision.rebalance.total_value == D(15_000)
    rows = {row.asset: row for row in decision.holdings}
    assert rows["ZK"].purge_state == "running"


def test_the_keep_list_shields_and_the_purge_list_forces() -> None:
    policy = replace(POLICY, keep=frozenset({"ZK"}), purge=frozenset({"BTC"}))
    decision = decide(policy=policy)
    assert {p.asset: p.reason for p in decision.purges} == {
        "BTC": PurgeReason.REQUESTED,
        "PENGU": PurgeReason.ILLIQUID,
    }
    assert "BTC" not in decision.rebalance.weights  # never bought back while it is on the list
    assert [o.asset for o in decision.rebalance.orders] == ["ETH"]


def test_a_purge_without_bids_waits_for_them() -> None:
    markets = {asset: market(asset, bids=asset != "PENGU") for asset in PRODUCTS}
    decision = decide(snapshot(markets=markets))
    assert decision.tiers["PENGU"] is Tier.T3
    assert [(d.asset, d.deferred) for d in decision.deferred_purges] == [("PENGU", DeferReason.NO_BID)]


def test_a_thin_universe_asset_is_neither_bought_nor_purged_when_not_held() -> None:
    markets = {asset: market(asset) for asset in PRODUCTS}
    markets["ETH"] = Market(PRODUCTS["ETH"], book("ETH", "1900", "2100", 50), D(1_000))
    decision = decide(snapshot(markets=markets))
    assert decision.tiers["ETH"] is Tier.T3
    assert "ETH" not in [o.asset for o in decision.rebalance.orders]
    assert "ETH" not in [p.asset for p in decision.purges]


def test_dust_recorded_by_the_runner_is_kept_without_a_new_record() -> None:
    zk_dust = DustEntry.record(
        "ZK", DustReason.BELOW_MIN_SIZE, D(9), product=PRODUCTS["ZK"], price=D("0.4998"), now=900.0
    )
    state = PortfolioState().with_dust(zk_dust)
    decision = decide(snapshot({**BALANCES, "ZK": "9"}), state)
    assert decision.state.dust["ZK"] == zk_dust
    assert "ZK" not in [e.asset for e in decision.dust_recorded]
    assert "ZK" not in [p.asset for p in decision.purges]


def test_the_ledger_forgets_what_is_no_longer_held() -> None:
    first = decide()
    gone = {asset: size for asset, size in BALANCES.items() if asset != "XYZ"}
    assert decide(snapshot(gone), first.state).dust_cleared == ("XYZ",)


def test_tiers_keep_their_hysteresis_across_cycles() -> None:
    markets = {asset: market(asset) for asset in PRODUCTS}
    first = decide(snapshot(markets=markets))
    markets["BTC"] = Market(PRODUCTS["BTC"], book("BTC", "49000", "51000", 50), D(1_000))
    second = decide(snapshot(markets=markets), first.state)
    assert second.tiers["BTC"] is Tier.T1  # one bad sample does not make it T3
    assert second.state.tiers["BTC"].pending is Tier.T3


def test_the_holdings_table_for_status() -> None:
    rows = {row.asset: row for row in decide().holdings}
    assert set(rows) == {"USD", "BTC", "ETH", "PENGU", "ZK", "DOGE", "XYZ"}
    usd, btc, eth = rows["USD"], rows["BTC"], rows["ETH"]
    assert (usd.price, usd.tier, usd.weight) == (D(1), None, D(10_000) / D(15_000))
    assert (btc.tier, btc.target_weight, btc.value) == ("T1", D("0.5"), D(5_000))
    assert btc.weight == D(5_000) / D(15_000)
    assert (eth.size, eth.weight) == (D(0), D(0))
    assert rows["PENGU"].purge_state == "queued"
    assert (rows["XYZ"].price, rows["XYZ"].dust_reason) == (None, "no_market")


def test_the_holdings_table_shows_a_backoff() -> None:
    state = decide().state.after_purge("PENGU", succeeded=False, now=1_000.0)
    rows = {row.asset: row for row in decide(state=state, now=1_000.0).holdings}
    assert rows["PENGU"].purge_state == "backoff until 1970-01-01T00:21:40+00:00"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"keep": frozenset({"ZK"}), "purge": frozenset({"ZK"})}, "both the keep and the purge list"),
        ({"purge": frozenset({"USD"})}, "quote currency"),
        ({"rebalance": RebalancePolicy(target_weights={"USD": D("0.1")})}, "quote currency"),
    ],
)
def test_contradictory_policies_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(POLICY, **changes)  # type: ignore[arg-type]
