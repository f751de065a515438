"""Runs the TWAP sell loop: the pure decisions of ``algorithms.twap`` carried out by the engine.

What to do next is the policy's (``algorithms/sell_policies``); every step is reported as an event
(``loop_events``), which the default sink logs with the design note's words.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from makerfirst.algorithms import tob, twap
from makerfirst.algorithms.guards import GuardBypass
from makerfirst.algorithms.sell_policies import DesignNote, PolicyView, SellPolicy
from makerfirst.algorithms.shortfall import forced_residual_value, implementation_shortfall_bps
from makerfirst.algorithms.touch_history import TouchHistory
from makerfirst.clock import Clock
from makerfirst.domain.book import OrderBook
from makerfirst.domain.book_condition import BookCondition
from makerfirst.domain.errors import OrderStateUnknownError
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import OrderType, Side
from makerfirst.domain.product import Product
from makerfirst.domain.records import OrderState, PurgeRun, RunStatus
from makerfirst.execution.engine import AttemptOutcome, AttemptReport, ExecutionEngine, LeaveEarly
from makerfirst.execution.loop_events import (
    AggressivePurge,
    LoopEvent,
    LoopFinished,
    LoopResumed,
    LoopStarted,
    MakerSliceEnded,
    ModelQuoted,
    OrderStateUnknown,
    SizeClamped,
    TakerEnded,
    TakerForced,
    log_event,
)
from makerfirst.ports import ExchangePort, Store

# A maker order that rested for its time (with or without a partial fill): a re-quote may follow.
_RESTED = (AttemptOutcome.NO_FILL, AttemptOutcome.EXPIRED, AttemptOutcome.PARTIAL)


@dataclass(frozen=True, slots=True)
class TwapReport:
    """The result of one sell loop. Sizes in base units; values, fees and prices in quote."""

    product_id: str
    purpose: Purpose
    requested_size: Decimal
    arrival_mid: Decimal
    arrival_best_bid: Decimal
    start_value_usd: Decimal
    filled_size: Decimal
    filled_value_usd: Decimal
    remaining_size: Decimal
    remaining_value_usd: Decimal
    fees_usd: Decimal
    outcome: twap.Outcome
    implementation_shortfall_bps: Decimal
    started_at: float
    elapsed_sec: float
    attempts: tuple[AttemptReport, ...]

    @property
    def completed(self) -> bool:
        """Nothing sellable is left: everything sold, or only dust below the product's minimums."""
        return self.outcome in (twap.Outcome.COMPLETE, twap.Outcome.DUST)


class TwapLoop:
    """Carries out a :class:`SellPolicy`'s decisions (default: the design note's) with the engine,
    and reports each step as a :mod:`loop_events` event to ``on_event`` (default: the log)."""

    def __init__(
        self,
        engine: ExecutionEngine,
        exchange: ExchangePort,
        clock: Clock,
        store: Store | None = None,
        *,
        policy: SellPolicy | None = None,
        on_event: Callable[[LoopEvent], None] = log_event,
    ) -> None:
        self._engine = engine
        self._exchange = exchange
        self._clock = clock
        self._store = store
        self._policy: SellPolicy = policy or DesignNote()
        self._emit = on_event

    async def run(self, intent: TradeIntent, *, deadline: float | None = None) -> TwapReport:
        """Run the loop to its end. ``deadline`` (on this loop's clock) is shown to the policy;
        the caller enforces it (a backtest cancels the loop then)."""
        policy = self._engine.policy
        rules = twap.LoopRules.for_purpose(intent.purpose, policy, intent.side)
        product = await self._engine.product(intent.product_id)
        started = self._clock.now()
        arrival = await self._exchange.get_order_book(intent.product_id)
        touches = TouchHistory()  # every book this run reads: the policy's fair price
        touches.record(started, arrival)
        wanted = intent.size.amount if isinstance(intent.size, SizeBase) else intent.size.amount / arrival.mid
        run = self._store.active_run(product.product_id) if self._store else None
        base = product.base_currency
        if run is not None:
            state = self._resume(run, product, arrival.best_bid)
            size = state.remaining
            self._emit(LoopResumed(product.product_id, run.run_id, size, base))
        else:
            size, state = await self._fresh_state(product, rules, wanted, arrival)
            if self._store is not None:
                run = self._store.start_run(
                    product.product_id, intent.purpose, size, state.cushion_ticks, started, side=intent.side
                )
            value = size * arrival.mid
            self._emit(LoopStarted(product.product_id, intent.purpose, intent.side, size, base, value))
        attempts: list[AttemptReport] = []
        try:
            while True:
                self._save(run, state, None)
                book = await self._exchange.get_order_book(intent.product_id)
                now = self._clock.now()
                touches.record(now, book)
                view = PolicyView(state, product, book, rules, policy, now, started, deadline, touches)
                decision = self._policy.decide(view)
                if isinstance(decision, twap.Finish):
                    outcome = decision.outcome
                    self._save(run, state, outcome)
                    self._emit(
                        LoopFinished(
                            product.product_id,
                            outcome,
                            rules.purpose,
                            rules.side,
                            state.remaining,
                            decision.remaining_value_usd,
                            base,
                            rules.taker_threshold_usd,
                            rules.max_no_fill,
                        )
                    )
                    break
                if decision.reason is not None:
                    cushion = decision.cushion_ticks if isinstance(decision, twap.PlaceMakerSlice) else None
                    self._emit(ModelQuoted(product.product_id, decision.reason, base, cushion))
                if isinstance(decision, twap.PlaceMakerSlice):
                    state = await self._make(
                        decision,
                        state,
                        rules=rules,
                        intent=intent,
                        product=product,
                        run=run,
                        attempts=attempts,
                        touches=touches,
                    )
                else:
                    # The run is marked "taker sent" before the IOC goes out: after a crash at any
                    # point from here on, a restart can never send a second one.
                    self._save(run, replace(state, taker_sent=True), None)
                    attempt = await self._take(decision, rules, intent.purpose, product.product_id, run)
                    attempts.append(attempt)
                    state = twap.after_taker(state, attempt.filled_size, product, book.best_bid)
                    self._emit(TakerEnded(product.product_id, attempt, base))

        except OrderStateUnknownError as unknown:
            # An order's fate is unknown (its create or cancel answer was lost). Stop here and
            # leave the run active: reconciliation resolves the order before anything else.
            outcome = twap.Outcome.ORDER_STATE_UNKNOWN
            self._emit(OrderStateUnknown(product.product_id, str(unknown)))
        return await self._report(
            intent,
            product_id=product.product_id,
            size=size,
            arrival=arrival,
            remaining=state.remaining,
            outcome=outcome,
            started=started,
            attempts=attempts,
        )

    async def _make(
        self,
        decision: twap.PlaceMakerSlice,
        state: twap.LoopState,
        *,
        rules: twap.LoopRules,
        intent: TradeIntent,
        product: Product,
        run: PurgeRun | None,
        attempts: list[AttemptReport],
        touches: TouchHistory,
    ) -> twap.LoopState:
        """One maker attempt: one order for its TTL; with ``requote_sec`` a new order priced from a
        fresh book every so many seconds, and with ``tracking`` a new one whenever the order is no
        longer top of book (within its replace budget), until the attempt's TTL is used or it filled."""
        legs_end = None
        within = decision.requote_sec is not None or decision.tracking is not None
        if decision.ttl_sec is not None and within:
            legs_end = self._clock.now() + decision.ttl_sec
        size, filled, base = decision.size, ZERO, product.base_currency
        replaces = 0
        while True:
            ttl = decision.ttl_sec
            if legs_end is not None:
                ttl = max(1, math.ceil(legs_end - self._clock.now()))
                if decision.requote_sec is not None:
                    ttl = min(decision.requote_sec, ttl)
            attempt = await self._engine.execute(
                symbol=product.product_id,
                side=intent.side,
                size=SizeBase(size - filled),
                purpose=intent.purpose,
                attempt_index=decision.attempt_index,
                cushion_ticks=decision.cushion_ticks,
                ttl_sec=ttl,
                run_id=run.run_id if run else None,
                leave_early=self._leave_early(
                    decision, product, intent.side, replaces, touches=touches, now=self._clock.now
                ),
            )
            attempts.append(attempt)
            filled += attempt.filled_size
            again = (
                legs_end is not None
                and attempt.outcome in _RESTED
                and filled < size
                and product.is_orderable(size - filled, _worth(attempt.book, intent.side))
                and self._clock.now() < legs_end
            )
            if not again:
                break
            early = attempt.ttl_sec is not None and attempt.ended_at < attempt.started_at + attempt.ttl_sec
            replaces += early  # it left before its time: a tracking replace, counted against the budget
            cushion = state.cushion_ticks
            self._emit(
                MakerSliceEnded(product.product_id, len(attempts), attempt, base, cushion, cushion, early)
            )
        folded = self._fold_maker(state, attempt, rules, filled)
        self._emit(
            MakerSliceEnded(
                product.product_id, len(attempts), attempt, base, state.cushion_ticks, folded.cushion_ticks
            )
        )
        return folded

    @staticmethod
    def _leave_early(
        decision: twap.PlaceMakerSlice,
        product: Product,
        side: Side,
        replaces: int,
        *,
        touches: TouchHistory,
        now: Callable[[], float],
    ) -> LeaveEarly | None:
        """Top-of-book tracking for the next order of an attempt, while its replace budget lasts;
        else, with ``watch_sec``, book reads that only feed ``touches``. Every book read is recorded."""
        track = decision.tracking
        if track is None or decision.ttl_sec is None or replaces >= track.max_replaces:
            if decision.watch_sec is None:
                return None

            def watch(book: OrderBook, _price: Decimal) -> bool:
                touches.record(now(), book)
                return False

            return LeaveEarly(watch, decision.watch_sec, decision.watch_sec)
        cushion = decision.cushion_ticks

        def should_leave(book: OrderBook, price: Decimal) -> bool:
            touches.record(now(), book)
            return tob.displaced(book, side, price, cushion, product, chase_undercuts=track.chase_undercuts)

        def wake_when(price: Decimal) -> BookCondition:
            return tob.displacement(side, price, cushion, product)

        return LeaveEarly(should_leave, track.min_rest_sec, track.check_sec, wake_when)

    async def _report(
        self,
        intent: TradeIntent,
        *,
        product_id: str,
        size: Decimal,
        arrival: OrderBook,
        remaining: Decimal,
        outcome: twap.Outcome,
        started: float,
        attempts: list[AttemptReport],
    ) -> TwapReport:
        final_book = await self._exchange.get_order_book(intent.product_id)
        fees = await self._exchange.get_fee_rates()
        filled = sum((a.filled_size for a in attempts), start=ZERO)
        value = sum((a.filled_value for a in attempts), start=ZERO)
        paid = sum((a.fees for a in attempts), start=ZERO)
        residual = forced_residual_value(final_book, intent.side, remaining, fees.taker)
        shortfall = implementation_shortfall_bps(
            intent.side, size, arrival.mid, filled_value=value, fees=paid, residual_value=residual
        )
        benchmark = size * arrival.mid
        return TwapReport(
            product_id=product_id,
            purpose=intent.purpose,
            requested_size=size,
            arrival_mid=arrival.mid,
            arrival_best_bid=arrival.best_bid,
            start_value_usd=benchmark,
            filled_size=filled,
            filled_value_usd=value,
            remaining_size=remaining,
            remaining_value_usd=remaining * final_book.mid,
            fees_usd=paid,
            outcome=outcome,
            implementation_shortfall_bps=shortfall,
            started_at=started,
            elapsed_sec=self._clock.now() - started,
            attempts=tuple(attempts),
        )

    async def _fresh_state(
        self, product: Product, rules: twap.LoopRules, wanted: Decimal, book: OrderBook
    ) -> tuple[Decimal, twap.LoopState]:
        """A new loop over what is held (a sell) or what the quote balance pays for (a buy,
        at the ask with the taker fee as the exchange's hold), never more."""
        balances = await self._exchange.get_balances()
        if rules.side is Side.SELL:
            held = balances.get(product.base_currency, ZERO)
        else:
            fees = await self._exchange.get_fee_rates()
            held = balances.get(product.quote_currency, ZERO) / (book.best_ask * (1 + fees.taker))
        if wanted > held:
            self._emit(
                SizeClamped(
                    product.product_id,
                    rules.side,
                    product.size_floor(wanted),
                    product.size_floor(held),
                    product.base_currency,
                )
            )
        size = product.size_floor(min(wanted, held))
        state = twap.start(size, rules)
        if size <= ZERO:  # nothing held, or less than one lot: no order can sell it
            state = replace(
                state, finished=twap.Outcome.DUST if held > ZERO else twap.Outcome.NOTHING_TO_SELL
            )
        return size, state

    def _resume(self, run: PurgeRun, product: Product, bid: Decimal) -> twap.LoopState:
        """Rebuild a run's loop state from its journaled orders (reconciled before this call):
        what they filled is sold, and a taker that was ever sent ends the run, whatever it did."""
        assert self._store is not None
        orders = self._store.orders_for_run(run.run_id)
        filled = sum((o.filled_size for o in orders), start=ZERO)
        state = twap.LoopState(
            remaining=run.requested_size - filled,
            cushion_ticks=run.cushion_ticks,
            maker_attempts=run.maker_attempts,
            consecutive_no_fill=run.consecutive_no_fill,
        )
        takers = [
            o for o in orders if o.order_type is OrderType.LIMIT_IOC and o.state is not OrderState.NOT_CREATED
        ]
        if run.taker_sent and not takers:
            # Marked before sending, and the exchange never created it: the crash came first.
            # Still one IOC at most per run: end it, a later cycle starts a fresh run if needed.
            return replace(state, taker_sent=True, finished=twap.Outcome.TAKER_FAILED)
        if takers:
            taker_filled = sum((o.filled_size for o in takers), start=ZERO)
            before = replace(state, remaining=state.remaining + taker_filled)
            return twap.after_taker(before, taker_filled, product, bid)
        return state

    def _save(self, run: PurgeRun | None, state: twap.LoopState, outcome: twap.Outcome | None) -> None:
        if run is None or self._store is None:
            return
        self._store.save_run(
            replace(
                run,
                status=RunStatus.DONE if outcome is not None else RunStatus.ACTIVE,
                remaining=state.remaining,
                cushion_ticks=state.cushion_ticks,
                maker_attempts=state.maker_attempts,
                consecutive_no_fill=state.consecutive_no_fill,
                taker_sent=state.taker_sent,
                outcome=outcome.value if outcome is not None else None,
            )
        )

    async def _take(
        self,
        decision: twap.PlaceTakerFallback,
        rules: twap.LoopRules,
        purpose: Purpose,
        product_id: str,
        run: PurgeRun | None,
    ) -> AttemptReport:
        if decision.fallback:
            self._emit(AggressivePurge(product_id, decision.remaining_value_usd, rules.taker_threshold_usd))
        cap = self._engine.policy.portfolio_management.purge_execution.taker_max_slippage_bps
        if purpose is not Purpose.PURGE:
            cap = self._engine.policy.guards.slippage_budget_bps
        self._emit(TakerForced(product_id, decision.remaining_value_usd, cap))
        return await self._engine.execute(
            symbol=product_id,
            side=rules.side,
            size=SizeBase(decision.size),
            purpose=purpose,
            force_order_type=OrderType.LIMIT_IOC,
            bypass=GuardBypass.TAKER_FALLBACK,
            run_id=run.run_id if run else None,
        )

    @staticmethod
    def _fold_maker(
        state: twap.LoopState, attempt: AttemptReport, rules: twap.LoopRules, filled: Decimal
    ) -> twap.LoopState:
        """Fold a maker attempt's end (its last order's outcome, all its orders' fills) into the state."""
        if attempt.outcome is AttemptOutcome.REJECTED_POST_ONLY and filled <= ZERO:
            return twap.after_post_only_reject(state, rules)
        if attempt.outcome is AttemptOutcome.BLOCKED and filled <= ZERO:
            return twap.after_guard_block(state, rules)
        if attempt.outcome in (AttemptOutcome.REJECTED, AttemptOutcome.FAILED):
            return replace(twap.after_order_failure(state), remaining=state.remaining - filled)
        return twap.after_maker(state, filled)


def _worth(book: OrderBook, side: Side) -> Decimal:
    """The touch a remainder's notional is valued at: the bid for a sell, the ask for a buy."""
    return book.best_bid if side is Side.SELL else book.best_ask
