"""Rebalance plans, case by case: bands, minimums, folded remainders, the quote budget, zero targets."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest

from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.portfolio.rebalance import (
    DriftBand,
    RebalancePlan,
    RebalancePolicy,
    SkippedTrade,
    SkipReason,
    plan_rebalance,
    sell_size,
)

D = Decimal


def product(asset: str, lot: str, min_size: str, min_notional: str, *, disabled: bool = False) -> Product:
    return Product(
        product_id=f"{asset}-USD",
        base_currency=asset,
        quote_currency="USD",
        price_increment=D("0.0001"),
        base_increment=D(lot),
        base_min_size=D(min_size),
        quote_min_size=D(min_notional),
        trading_disabled=disabled,
    )


PRODUCTS = {
    "BTC": product("BTC", "0.00000001", "0.00000001", "1"),
    "ETH": product("ETH", "0.0001", "0.001", "1"),
    "ZK": product("ZK", "1", "10", "5"),  # a chunky lot: at $0.5 the minimum is 10 ZK ($5)
}
PRICES = {"BTC": D(50_000), "ETH": D(2_000), "ZK": D("0.5")}
BAND = DriftBand(absolute=D("0.02"), relative=D(0))


def plan(
    holdings: Mapping[str, str],
    targets: Mapping[str, str],
    quote: str,
    **kwargs: object,
) -> RebalancePlan:
    return plan_rebalance(
        {asset: D(size) for asset, size in holdings.items()},
        PRICES,
        PRODUCTS,
        {asset: D(weight) for asset, weight in targets.items()},
        band=BAND,
        quote_balance=D(quote),
        **kwargs,  # type: ignore[arg-type]
    )


def orders(result: RebalancePlan) -> list[tuple[Side, str, Decimal]]:
    return [(order.side, order.asset, order.size) for order in result.orders]


def test_inside_the_band_nothing_is_planned() -> None:
    result = plan({"BTC": "1"}, {"BTC": "0.51"}, quote="50000")  # weight 0.50, band ±0.02
    assert result.orders == () and result.skipped == ()
    assert result.weights["BTC"] == D("0.5") and result.total_value == D(100_000)


def test_an_overweight_asset_is_sold_back_to_its_target() -> None:
    result = plan({"BTC": "1"}, {"BTC": "0.3"}, quote="50000")  # 0.5 → 0.3 of $100k: sell $20k
    assert orders(result) == [(Side.SELL, "BTC", D("0.4"))]
    sell = result.sells[0]
    assert sell.notional == D(20_000) and sell.product_id == "BTC-USD"
    assert (sell.weight, sell.target_weight) == (D("0.5"), D("0.3"))


def test_an_underweight_asset_is_bought_back_to_its_target() -> None:
    result = plan({"BTC": "0.1"}, {"BTC": "0.3"}, quote="95000")  # 0.05 → 0.3: buy $25k
    assert orders(result) == [(Side.BUY, "BTC", D("0.5"))]
    assert result.buy_budget == D(95_000) * D("0.99")


def test_a_target_without_a_holding_is_bought() -> None:
    result = plan({}, {"ETH": "0.5"}, quote="10000")
    assert orders(result) == [(Side.BUY, "ETH", D("2.5"))]


def test_the_relative_band_widens_with_the_target() -> None:
    band = DriftBand(absolute=D("0.02"), relative=D("0.25"))
    assert band.tolerance(D("0.4")) == D("0.1")
    assert band.tolerance(D("0.04")) == D("0.02")
    result = plan_rebalance(
        {"BTC": D("0.62")}, PRICES, PRODUCTS, {"BTC": D("0.4")}, band=band, quote_balance=D(19_000)
    )  # weight 0.62 is 0.22 above 0.4, outside ± 0.1
    assert orders(result) == [(Side.SELL, "BTC", D("0.22"))]
    result = plan_rebalance(
        {"BTC": D("0.48")}, PRICES, PRODUCTS, {"BTC": D("0.4")}, band=band, quote_balance=D(26_000)
    )  # weight 0.48: inside the relative band
    assert result.orders == ()


def test_sells_come_first_and_fund_the_buys_less_the_fee_reserve() -> None:
    result = plan({"BTC": "1", "ETH": "0"}, {"BTC": "0.5", "ETH": "0.5"}, quote="0")
    assert orders(result) == [(Side.SELL, "BTC", D("0.5")), (Side.BUY, "ETH", D("12.375"))]
    assert result.buy_budget == D(25_000) * D("0.99")  # the $25k the sell brings in, 1 % kept for fees
    assert result.buys[0].notional == D("24750.000")


def test_buys_share_a_short_budget_pro_rata() -> None:
    result = plan({}, {"BTC": "0.5", "ETH": "0.25"}, quote="10000", quote_available=D(3_000))
    # Deficits $5000 and $2500 against a $2970 budget: both scaled by 2970/7500.
    assert [buy.notional for buy in result.buys] == [D(1980), D(990)]
    assert sum(buy.notional for buy in result.buys) <= D(2_970)


def test_a_zero_target_sells_everything_unless_it_is_below_the_minimum() -> None:
    assert orders(plan({"ZK": "20"}, {"ZK": "0"}, quote="90")) == [(Side.SELL, "ZK", D(20))]
    result = plan({"ZK": "9"}, {}, quote="10")  # 9 ZK is below the 10 ZK minimum: no order can sell it
    assert result.orders == ()
    assert result.skipped == (SkippedTrade("ZK", Side.SELL, SkipReason.BELOW_MIN_ORDER),)


def test_an_overweight_excess_smaller_than_the_minimum_is_left_alone() -> None:
    # 40 ZK ($20) of $200 is 10 %; the target 7 % asks for $6 = 12 ZK ≥ 10 ZK: planned.
    assert orders(plan({"ZK": "40"}, {"ZK": "0.07"}, quote="180")) == [(Side.SELL, "ZK", D(12))]
    # With the target at 7.5 %, the excess is $5 = 10 ZK: exactly the minimum, planned.
    assert orders(plan({"ZK": "40"}, {"ZK": "0.075"}, quote="180")) == [(Side.SELL, "ZK", D(10))]
    # At 7.6 % it is 9 ZK: below the minimum, skipped.
    result = plan({"ZK": "40"}, {"ZK": "0.076"}, quote="180")
    assert result.orders == ()
    assert result.skipped == (SkippedTrade("ZK", Side.SELL, SkipReason.BELOW_MIN_ORDER),)


def test_a_sell_that_would_leave_less_than_the_minimum_takes_everything() -> None:
    # 25 ZK of $100: 12.5 %; target 2 % asks for 21 ZK, leaving 4 < 10: sell all 25.
    result = plan({"ZK": "25"}, {"ZK": "0.02"}, quote="87.5")
    assert orders(result) == [(Side.SELL, "ZK", D(25))]


def test_a_sell_never_exceeds_the_holding_and_leaves_only_what_is_off_the_lot_grid() -> None:
    result = plan({"ZK": "30.7"}, {}, quote="100")
    assert orders(result) == [(Side.SELL, "ZK", D(30))]  # 0.7 ZK is below one lot: no order can take it


def test_an_asset_without_a_target_is_sold_out() -> None:
    result = plan({"BTC": "0.5", "ETH": "1"}, {"BTC": "0.9"}, quote="0")
    assert (Side.SELL, "ETH", D(1)) in orders(result)


@pytest.mark.parametrize(
    ("products", "locked", "reason"),
    [
        ({"BTC": product("BTC", "0.00000001", "0.00000001", "1", disabled=True)}, set(), "trading_disabled"),
        ({}, set(), "no_market"),
        (PRODUCTS, {"BTC"}, "locked"),
    ],
)
def test_assets_that_cannot_be_traded_are_skipped_but_still_weigh(
    products: Mapping[str, Product], locked: set[str], reason: str
) -> None:
    result = plan_rebalance(
        {"BTC": D(1)}, PRICES, products, {}, band=BAND, quote_balance=D(50_000), locked=locked
    )
    assert result.orders == ()
    assert result.skipped == (SkippedTrade("BTC", Side.SELL, SkipReason(reason)),)
    assert result.total_value == D(100_000)


def test_a_locked_asset_brings_no_proceeds_to_the_buy_budget() -> None:
    result = plan(
        {"BTC": "1"}, {"BTC": "0", "ETH": "1"}, quote="0", locked={"BTC"}, fee_reserve_fraction=D(0)
    )
    assert result.sells == () and result.buy_budget == D(0) and result.buys == ()


def test_an_asset_without_a_price_is_skipped_and_not_valued() -> None:
    result = plan({"DOGE": "100"}, {"ETH": "0.1"}, quote="1000")
    assert SkippedTrade("DOGE", Side.SELL, SkipReason.NO_PRICE) in result.skipped
    assert result.total_value == D(1000)


def test_a_buy_below_the_minimum_is_dropped() -> None:
    result = plan({}, {"ZK": "0.1"}, quote="40")  # $4 of ZK is 8 ZK < 10
    assert result.buys == ()
    assert result.skipped == (SkippedTrade("ZK", Side.BUY, SkipReason.BELOW_MIN_ORDER),)


def test_an_empty_portfolio_plans_nothing() -> None:
    result = plan({}, {"BTC": "0.5"}, quote="0")
    assert result.orders == () and result.total_value == D(0)


def test_an_order_becomes_a_normal_trade_intent() -> None:
    sell = plan({"BTC": "1"}, {"BTC": "0.3"}, quote="50000").sells[0]
    assert sell.intent() == TradeIntent("BTC-USD", SizeBase(D("0.4")), Purpose.NORMAL, Side.SELL)


@pytest.mark.parametrize("targets", [{"BTC": D("0.7"), "ETH": D("0.31")}, {"BTC": D("-0.1")}, {"BTC": D(2)}])
def test_impossible_targets_are_refused(targets: dict[str, Decimal]) -> None:
    with pytest.raises(ValueError, match="target weight"):
        RebalancePolicy(target_weights=targets)


@pytest.mark.parametrize(
    ("held", "excess_usd", "target", "expected"),
    [
        ("21", "5", "0.1", "10"),  # 10 ZK is the minimum; 11 stay behind
        ("20", "5", "0.1", "10"),  # 10 stay behind: exactly the minimum, allowed
        ("19", "5", "0.1", "19"),  # 9 would stay behind: folded into the sell
        ("15", "4", "0.1", None),  # 8 ZK is below the minimum
        ("15", "4", "0", "15"),  # a zero target sells everything
        ("9.5", "100", "0", None),  # 9 ZK on the grid is below the minimum
        ("10.5", "100", "0.1", "10"),  # never more than held on the grid
    ],
)
def test_sell_size(held: str, excess_usd: str, target: str, expected: str | None) -> None:
    size = sell_size(D(held), D(excess_usd), PRODUCTS["ZK"], D("0.5"), D(target))
    assert size == (None if expected is None else D(expected))
