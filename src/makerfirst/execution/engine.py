"""The execution engine: one order's whole life, from a fresh book to a confirmed terminal status.

``execute`` prices from a fresh book (maker: post-only at the opposite touch plus a cushion;
taker: limit IOC through the touch by a capped slippage), runs the guards that the given
``GuardBypass`` does not skip, places the order (a GTD ``end_time`` of TTL + grace backs up every
maker TTL), watches it until it fills or its TTL is up, cancels it, and confirms it terminal
before returning (``execution.cancel``). Fills are read from the terminal order, so a fill that
raced the cancel is counted, and counted once; they are journaled with the terminal report in
one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from makerfirst.algorithms.guards import (
    FailedOrderCooldown,
    Guard,
    GuardBypass,
    GuardVerdict,
    check_liquidity,
    check_slippage_budget,
)
from makerfirst.algorithms.pricing import maker_price, orderable_taker_price, taker_limit_price
from makerfirst.algorithms.ttl import adaptive_maker_ttl_sec
from makerfirst.clock import Clock
from makerfirst.domain.book import EmptyBookError, OrderBook
from makerfirst.domain.book_condition import BookCondition
from makerfirst.domain.intents import Purpose, Size, SizeBase
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import (
    Fill,
    Liquidity,
    OrderRejected,
    OrderReport,
    OrderStatus,
    OrderType,
    PlaceOrder,
    RejectReason,
    Side,
)
from makerfirst.domain.product import Product
from makerfirst.execution.cancel import ConfirmTiming, cancel_and_confirm, confirm_terminal
from makerfirst.execution.ids import ClientOrderIds
from makerfirst.policy import Policy
from makerfirst.ports import BookWakeups, ExchangePort, OrderJournal, OrderUpdates

log = logging.getLogger("makerfirst.execution")


class AttemptKind(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class AttemptOutcome(StrEnum):
    FILLED = "filled"
    PARTIAL = "partial"
    EXPIRED = "expired"  # the exchange's GTD end_time came first
    NO_FILL = "no_fill"
    REJECTED_POST_ONLY = "rejected_post_only"
    REJECTED = "rejected"  # refused by the exchange for another reason (see reject_reason)
    FAILED = "failed"  # accepted, then failed on the exchange
    BLOCKED = "blocked"  # refused by a guard before reaching the exchange


@dataclass(frozen=True, slots=True)
class AttemptReport:
    """What one ``execute`` call did. Sizes in base units, values and fees in quote."""

    kind: AttemptKind
    order_type: OrderType
    client_order_id: str
    side: Side
    size: Decimal
    price: Decimal | None
    ttl_sec: int | None
    outcome: AttemptOutcome
    book: OrderBook
    started_at: float
    ended_at: float
    order_id: str | None = None
    final_status: OrderStatus | None = None
    filled_size: Decimal = ZERO
    filled_value: Decimal = ZERO
    fees: Decimal = ZERO
    fills: tuple[Fill, ...] = ()
    guard: GuardVerdict | None = None
    reject_reason: RejectReason | None = None

    @property
    def avg_fill_price(self) -> Decimal | None:
        return self.filled_value / self.filled_size if self.filled_size > ZERO else None

    @property
    def maker_filled_size(self) -> Decimal:
        return sum((f.size for f in self.fills if f.liquidity is Liquidity.MAKER), start=ZERO)


@dataclass(frozen=True, slots=True)
class LeaveEarly:
    """When a resting maker order is given up before its TTL (top-of-book tracking): checked
    every ``check_sec`` once it has rested ``after_sec``, against a fresh book (less the order
    itself: the rest of the market) and its price."""

    should_leave: Callable[[OrderBook, Decimal], bool]
    after_sec: float
    check_sec: float
    # The book condition under which ``should_leave`` may turn true for an order at this price: a
    # venue that watches its book (``BookWakeups``) wakes the engine when it occurs, between checks.
    wake_when: Callable[[Decimal], BookCondition] | None = None


class NullJournal:
    """A journal that forgets: one-off simulations that persist nothing."""

    def record_intent(self, command: PlaceOrder, purpose: Purpose, now: float, run_id: int | None) -> None:
        return None

    def record_accepted(self, client_order_id: str, order_id: str) -> None:
        return None

    def record_not_created(self, client_order_id: str, reason: str) -> None:
        return None

    def record_report(self, report: OrderReport, fills: Sequence[Fill] = ()) -> None:
        return None

    def record_fills(self, fills: Sequence[Fill]) -> None:
        return None


class ExecutionEngine:
    def __init__(
        self,
        exchange: ExchangePort,
        clock: Clock,
        policy: Policy,
        ids: ClientOrderIds | None = None,
        *,
        cooldown: FailedOrderCooldown | None = None,
        journal: OrderJournal | None = None,
    ) -> None:
        self._exchange = exchange
        self._clock = clock
        self._policy = policy
        self._ids = ids or ClientOrderIds()
        self._cooldown = cooldown or FailedOrderCooldown(policy.guards.failed_order_cooldown_sec)
        self._products: dict[str, Product] = {}
        self._journal: OrderJournal = journal or NullJournal()
        self._confirm = ConfirmTiming.of(policy.execution)

    @property
    def policy(self) -> Policy:
        return self._policy

    async def product(self, product_id: str) -> Product:
        if product_id not in self._products:
            self._products[product_id] = await self._exchange.get_product(product_id)
        return self._products[product_id]

    async def execute(
        self,
        *,
        symbol: str,
        side: Side,
        size: Size,
        purpose: Purpose,
        client_order_id: str | None = None,
        force_order_type: OrderType | None = None,
        bypass: GuardBypass = GuardBypass.NONE,
        attempt_index: int = 0,
        cushion_ticks: int | None = None,
        ttl_sec: int | None = None,
        run_id: int | None = None,
        leave_early: LeaveEarly | None = None,
    ) -> AttemptReport:
        """Place one order for ``size`` of ``symbol`` and see it to a terminal status.

        Maker (the default): post-only GTD at the opposite touch ± ``cushion_ticks`` (default: the
        purpose's configured cushion), resting ``ttl_sec`` (default: the adaptive TTL of ``attempt_index``).
        ``force_order_type=OrderType.LIMIT_IOC``: one taker order capped at the purpose's
        slippage (purge: ``taker_max_slippage_bps``; normal: the slippage budget).

        The order is journaled before it is sent (``run_id`` links it to a purge run). If the
        answer to the create is lost, ``OrderStateUnknownError`` propagates and the intent stays
        on record for reconciliation: nothing is resent blind.

        ``leave_early``: while a maker order rests, the book is also read every ``check_sec``
        after ``after_sec``; when ``should_leave(book, price)`` says so the order is cancelled and
        confirmed terminal (the TTL path) before this returns, so a caller can re-place it.
        """
        product = await self.product(symbol)
        book = await self._exchange.get_order_book(symbol)
        order_type = force_order_type or OrderType.POST_ONLY_GTD
        kind = AttemptKind.TAKER if order_type is OrderType.LIMIT_IOC else AttemptKind.MAKER
        if client_order_id is None:
            client_order_id = (
                self._ids.taker(purpose) if kind is AttemptKind.TAKER else self._ids.maker(purpose)
            )
        started = self._clock.now()
        if bypass is not GuardBypass.NONE:
            skipped = ", ".join(sorted(g.value for g in bypass.skipped))
            log.warning(
                "Guard bypass %s for %s: skipping %s",
                bypass.name,
                symbol,
                skipped,
                extra={"event": "guard_bypass", "bypass": bypass.name, "product_id": symbol},
            )
        draft = AttemptReport(
            kind=kind,
            order_type=order_type,
            client_order_id=client_order_id,
            side=side,
            size=ZERO,
            price=None,
            ttl_sec=None,
            outcome=AttemptOutcome.BLOCKED,
            book=book,
            started_at=started,
            ended_at=started,
        )
        try:
            base_size = self._base_size(size, side, book, product)
            if kind is AttemptKind.MAKER:
                cushion = cushion_ticks if cushion_ticks is not None else self._default_cushion(purpose)
                price = maker_price(book, side, cushion, product)
            else:
                capped = taker_limit_price(book, side, self._taker_slippage_bps(purpose), product)
                price = orderable_taker_price(capped, base_size, side, book, product)
        except EmptyBookError as empty:
            return self._blocked(draft, GuardVerdict(Guard.LIQUIDITY, str(empty)))
        draft = replace(draft, size=base_size, price=price)
        verdict = self._check_guards(symbol, side, price, book, bypass)
        if verdict is not None:
            return self._blocked(draft, verdict)

        ttl = (
            ttl_sec or adaptive_maker_ttl_sec(purpose, attempt_index, book.spread_bps, self._policy)
            if kind is AttemptKind.MAKER
            else None
        )
        # The GTD end time counts from the send, not from the decision (the adapter moves it on
        # again if a throttled create is re-sent later).
        grace = self._policy.execution.gtd_grace_sec
        end_time = self._clock.now() + ttl + grace if ttl is not None else None
        placed = replace(draft, ttl_sec=ttl)
        command = PlaceOrder(client_order_id, symbol, side, order_type, base_size, price, end_time)
        self._journal.record_intent(command, purpose, self._clock.now(), run_id)
        answer = await self._exchange.place_order(command)
        if isinstance(answer, OrderRejected):
            self._journal.record_not_created(client_order_id, answer.reason.value)
            if answer.reason is RejectReason.POST_ONLY_WOULD_CROSS:
                return replace(
                    placed,
                    outcome=AttemptOutcome.REJECTED_POST_ONLY,
                    reject_reason=answer.reason,
                    ended_at=self._clock.now(),
                )
            self._cooldown.record_failure(symbol, self._clock.now())
            log.warning(
                "Order %s on %s rejected: %s",
                client_order_id,
                symbol,
                answer.reason.value,
                extra={"event": "order_rejected", "product_id": symbol, "reason": answer.reason.value},
            )
            return replace(
                placed,
                outcome=AttemptOutcome.REJECTED,
                reject_reason=answer.reason,
                ended_at=self._clock.now(),
            )

        self._journal.record_accepted(client_order_id, answer.order_id)
        if ttl is None:
            final = await confirm_terminal(self._exchange, self._clock, answer.order_id, self._confirm)
        else:
            final = await self._rest_until(answer.order_id, started + ttl, symbol, price, leave_early)
            if not final.status.is_terminal:
                final = await cancel_and_confirm(
                    self._exchange,
                    self._clock,
                    answer.order_id,
                    self._confirm,
                    gtd_end_time=final.end_time if final.end_time is not None else end_time,
                )
        if final.status is OrderStatus.FAILED:
            self._cooldown.record_failure(symbol, self._clock.now())
        # Fills first, then the terminal report and the fills in one write: a crash (or a failed
        # fills read) leaves the order open in the journal, for reconciliation to finish.
        fills = tuple(await self._exchange.list_fills(answer.order_id)) if final.filled_size > ZERO else ()
        self._journal.record_report(final, fills)
        return replace(
            placed,
            outcome=_outcome(final),
            ended_at=self._clock.now(),
            order_id=answer.order_id,
            final_status=final.status,
            filled_size=final.filled_size,
            filled_value=final.filled_value,
            fees=final.total_fees,
            fills=fills,
        )

    # -- internals ----------------------------------------------------------------------------------
    def _blocked(self, draft: AttemptReport, verdict: GuardVerdict) -> AttemptReport:
        log.info(
            "Blocked by %s guard on %s: %s",
            verdict.guard.value,
            draft.book.product_id,
            verdict.reason,
            extra={
                "event": "guard_blocked",
                "guard": verdict.guard.value,
                "product_id": draft.book.product_id,
            },
        )
        return replace(draft, guard=verdict, ended_at=self._clock.now())

    def _default_cushion(self, purpose: Purpose) -> int:
        if purpose is Purpose.PURGE:
            return self._policy.portfolio_management.purge_execution.cushion_ticks
        return self._policy.execution.cushion_ticks

    def _taker_slippage_bps(self, purpose: Purpose) -> int:
        if purpose is Purpose.PURGE:
            return self._policy.portfolio_management.purge_execution.taker_max_slippage_bps
        return self._policy.guards.slippage_budget_bps

    @staticmethod
    def _base_size(size: Size, side: Side, book: OrderBook, product: Product) -> Decimal:
        if isinstance(size, SizeBase):
            return product.size_floor(size.amount)
        price = book.best_bid if side is Side.SELL else book.best_ask
        return product.size_floor(size.amount / price)

    def _check_guards(
        self, symbol: str, side: Side, price: Decimal, book: OrderBook, bypass: GuardBypass
    ) -> GuardVerdict | None:
        limits, skipped = self._policy.guards, bypass.skipped
        checks: tuple[tuple[Guard, Callable[[], GuardVerdict | None]], ...] = (
            (Guard.FAILED_ORDER_COOLDOWN, lambda: self._cooldown.check(symbol, self._clock.now())),
            (Guard.LIQUIDITY, lambda: check_liquidity(book, limits, self._clock.now())),
            (Guard.SLIPPAGE_BUDGET, lambda: check_slippage_budget(book, side, price, limits)),
        )
        for guard, check in checks:
            if guard not in skipped and (verdict := check()) is not None:
                return verdict
        return None

    async def _rest_until(
        self, order_id: str, deadline: float, symbol: str, price: Decimal, leave: LeaveEarly | None
    ) -> OrderReport:
        """Watch a resting order until it is terminal, its TTL is up, or ``leave`` says to go."""
        poll = float(self._policy.execution.order_poll_interval_sec)
        watch_from = self._clock.now() + leave.after_sec if leave is not None else deadline
        if leave is not None:
            poll = min(poll, leave.check_sec)
        while True:
            current = await self._exchange.get_order(order_id)
            now = self._clock.now()
            if current.status.is_terminal or now >= deadline:
                return current
            if (
                leave is not None
                and now >= watch_from
                and leave.should_leave(
                    _without_ours(await self._exchange.get_order_book(symbol), current, price), price
                )
            ):
                return current
            wake = min(deadline, now + poll)
            wake_when = leave.wake_when if leave is not None and now >= watch_from else None
            if wake_when is not None and isinstance(self._exchange, BookWakeups):
                await self._exchange.wait_book_condition(symbol, wake_when(price), wake)
            elif isinstance(self._exchange, OrderUpdates):  # a streaming venue wakes us on the change
                await self._exchange.wait_order_update(order_id, wake)
            else:
                await self._clock.sleep_until(wake)


def _without_ours(book: OrderBook, order: OrderReport, price: Decimal) -> OrderBook:
    """``book`` as the rest of the market stands: less what of our resting order is left (a venue's
    book shows our own order; a policy reading the touch must not read its own quote back)."""
    return book.without(order.side, price, max(ZERO, order.size - order.filled_size))


def _outcome(final: OrderReport) -> AttemptOutcome:
    if final.filled_size >= final.size:
        return AttemptOutcome.FILLED
    if final.filled_size > ZERO:
        return AttemptOutcome.PARTIAL
    if final.status is OrderStatus.EXPIRED:
        return AttemptOutcome.EXPIRED
    if final.status is OrderStatus.FAILED:
        return AttemptOutcome.FAILED
    return AttemptOutcome.NO_FILL
