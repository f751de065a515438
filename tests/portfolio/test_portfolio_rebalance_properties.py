"""Invariants of every rebalance plan, over random products, prices, holdings and targets."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import Side
from makerfirst.domain.product import Product
from makerfirst.portfolio.rebalance import DriftBand, RebalancePlan, plan_rebalance

ASSETS = ("AAA", "BBB", "CCC", "DDD")


@dataclass(frozen=True)
class Case:
    holdings: dict[str, Decimal]
    prices: dict[str, Decimal]
    products: dict[str, Product]
    targets: dict[str, Decimal]
    band: DriftBand
    quote_balance: Decimal
    quote_available: Decimal
    fee_reserve_fraction: Decimal

    def plan(self) -> RebalancePlan:
        return plan_rebalance(
            self.holdings,
            self.prices,
            self.products,
            self.targets,
            band=self.band,
            quote_balance=self.quote_balance,
            quote_available=self.quote_available,
            fee_reserve_fraction=self.fee_reserve_fraction,
        )


def prices() -> st.SearchStrategy[Decimal]:
    """Three significant digits, from $0.0001 (PENGU-like) to $999k (BTC-like)."""
    return st.builds(
        lambda digits, exponent: Decimal(digits).scaleb(exponent), st.integers(100, 999), st.integers(-6, 3)
    )


@st.composite
def products(draw: st.DrawFn, asset: str, price: Decimal) -> Product:
    """A product whose lot is worth between about $0.0001 and $10 at ``price``, as real venues set them."""
    places = draw(st.integers(max(0, price.adjusted()), max(0, price.adjusted() + 4)))
    lot = Decimal(1).scaleb(-places)
    return Product(
        product_id=f"{asset}-USD",
        base_currency=asset,
        quote_currency="USD",
        price_increment=Decimal("0.000001"),
        base_increment=lot,
        base_min_size=lot * draw(st.integers(0, 50)),
        quote_min_size=Decimal(draw(st.integers(0, 20))),
    )


@st.composite
def targets(draw: st.DrawFn) -> dict[str, Decimal]:
    """Weights in basis points from sorted cut points of [0, 10000]: they sum to at most 1."""
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=len(ASSETS), max_size=len(ASSETS))))
    weights = [b - a for a, b in zip([0, *cuts], cuts, strict=False)]
    chosen = draw(st.lists(st.sampled_from(ASSETS), unique=True))
    return {asset: Decimal(w).scaleb(-4) for asset, w in zip(ASSETS, weights, strict=True) if asset in chosen}


@st.composite
def holding(draw: st.DrawFn, price: Decimal) -> Decimal:
    """A holding worth up to $100k, often small enough for the minimums to matter, often off the grid."""
    value = draw(st.one_of(st.integers(0, 100), st.integers(0, 100_000)))
    return (Decimal(value) / price).quantize(Decimal(1).scaleb(-draw(st.integers(0, 10))), ROUND_DOWN)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    price = {a: draw(prices()) for a in ASSETS}
    held = draw(st.lists(st.sampled_from(ASSETS), unique=True))
    quote_balance = Decimal(draw(st.one_of(st.integers(0, 100), st.integers(0, 100_000))))
    return Case(
        holdings={a: draw(holding(price[a])) for a in held},
        prices=price,
        products={a: draw(products(a, price[a])) for a in ASSETS},
        targets=draw(targets()),
        band=DriftBand(
            Decimal(draw(st.integers(0, 1000))).scaleb(-4), Decimal(draw(st.integers(0, 50))).scaleb(-2)
        ),
        quote_balance=quote_balance,
        quote_available=quote_balance * Decimal(draw(st.integers(0, 100))) / 100,
        fee_reserve_fraction=Decimal(draw(st.integers(0, 99))).scaleb(-3),
    )


PROPERTIES = settings(max_examples=150, deadline=None)


@PROPERTIES
@given(cases())
def test_a_plan_never_sells_more_than_held(case: Case) -> None:
    for sell in case.plan().sells:
        assert ZERO < sell.size <= case.holdings[sell.asset]


@PROPERTIES
@given(cases())
def test_a_sell_never_leaves_a_remainder_below_the_minimum(case: Case) -> None:
    for sell in case.plan().sells:
        product, held = case.products[sell.asset], case.holdings[sell.asset]
        rest = held - sell.size
        minimum = product.min_order_size(case.prices[sell.asset])
        # The one exception: a fraction of a lot that no order can sell, after selling all the rest.
        off_grid = rest < product.base_increment and sell.size == product.size_floor(held)
        assert rest == ZERO or rest >= minimum or off_grid


@PROPERTIES
@given(cases())
def test_every_order_is_on_the_lot_grid_and_above_the_minimums(case: Case) -> None:
    for order in case.plan().orders:
        product, price = case.products[order.asset], case.prices[order.asset]
        assert product.on_lot(order.size)
        assert product.is_orderable(order.size, price)
        assert order.notional == order.size * price


@PROPERTIES
@given(cases())
def test_buys_never_spend_more_than_the_available_quote(case: Case) -> None:
    result = case.plan()
    proceeds = sum((sell.notional for sell in result.sells), start=ZERO)
    spendable = (case.quote_available + proceeds) * (1 - case.fee_reserve_fraction)
    spent = sum((buy.notional for buy in result.buys), start=ZERO)
    assert spent <= spendable
    assert spent <= result.buy_budget


@PROPERTIES
@given(cases())
def test_only_assets_outside_their_band_are_traded_and_in_the_right_direction(case: Case) -> None:
    result = case.plan()
    for order in result.orders:
        drift = order.weight - order.target_weight
        assert abs(drift) > case.band.tolerance(order.target_weight)
        assert (order.side is Side.SELL) == (drift > ZERO)
