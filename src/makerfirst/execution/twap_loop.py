"""Runs the TWAP sell loop: the pure decisions of ``algorithms.twap`` carried out by the engine.

Every step is logged with the design note's words, as structured records (``extra["event"]``)
that tests assert on and the CLI renders as the transcript.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal

from makerfirst.algorithms import twap
from makerfirst.algorithms.guards import GuardBypass
from makerfirst.clock import Clock
from makerfirst.domain.book import OrderBook
from makerfirst.domain.errors import OrderStateUnknownError
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.money import BPS, ZERO, plain, usd
from makerfirst.domain.orders import OrderType, Side
from makerfirst.domain.product import Product
from makerfirst.domain.records import OrderState, PurgeRun, RunStatus
from makerfirst.execution.engine import AttemptOutcome, AttemptReport, ExecutionEngine
from makerfirst.ports import ExchangePort, Store

log = logging.getLogger("makerfirst.twap")


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
    def __init__(
        self, engine: ExecutionEngine, exchange: ExchangePort, clock: Clock, store: Store | None = None
    ) -> None:
        self._engine = engine
        self._exchange = exchange
        self._clock = clock
        self._store = store

    async def run(self, intent: TradeIntent) -> TwapReport:
        policy = self._engine.policy
        rules = twap.LoopRules.for_purpose(intent.purpose, policy, intent.side)
        product = await self._engine.product(intent.product_id)
        started = self._clock.now()
        arrival = await self._exchange.get_order_book(intent.product_id)
        wanted = intent.size.amount if isinstance(intent.size, SizeBase) else intent.size.amount / arrival.mid
        run = self._store.active_run(product.product_id) if self._store else None
        if run is not None:
            state = self._resume(run, product, arrival.best_bid)
            size = state.remaining
            log.info(
                "Resuming purge run %d for %s: %s %s left",
                run.run_id,
                product.product_id,
                plain(size),
                product.base_currency,
                extra={"event": "twap_resume", "product_id": product.product_id, "run_id": run.run_id},
            )
        else:
            size, state = await self._fresh_state(product, rules, wanted, arrival)
            if self._store is not None:
                run = self._store.start_run(
                    product.product_id, intent.purpose, size, state.cushion_ticks, started, side=intent.side
                )
            log.info(
                "TWAP %s start: %s %s (~%s)",
                "purge" if intent.purpose is Purpose.PURGE else intent.side.value.lower(),
                plain(size),
                product.base_currency,
                usd(size * arrival.mid),
                extra={"event": "twap_start", "product_id": product.product_id, "size": str(size)},
            )
        attempts: list[AttemptReport] = []
        try:
            while True:
                self._save(run, state, None)
                book = await self._exchange.get_order_book(intent.product_id)
                decision = twap.decide(state, product, book, rules)
                if isinstance(decision, twap.Finish):
                    outcome = decision.outcome
                    self._save(run, state, outcome)
                    self._log_finish(
                        decision, rules, product.product_id, product.base_currency, state.remaining
                    )
                    break
                if isinstance(decision, twap.PlaceMakerSlice):
                    attempt = await self._engine.execute(
                        symbol=product.product_id,
                        side=intent.side,
                        size=SizeBase(decision.size),
                        purpose=intent.purpose,
                        attempt_index=decision.attempt_index,
                        cushion_ticks=decision.cushion_ticks,
                        run_id=run.run_id if run else None,
                    )
                    attempts.append(attempt)
                    state = self._fold_maker(state, attempt, rules, len(attempts), product.base_currency)
                else:
                    # The run is marked "taker sent" before the IOC goes out: after a crash at any
                    # point from here on, a restart can never send a second one.
                    self._save(run, replace(state, taker_sent=True), None)
                    attempt = await self._take(decision, rules, intent.purpose, product.product_id, run)
                    attempts.append(attempt)
                    state = twap.after_taker(state, attempt.filled_size, product, book.best_bid)
                    self._log_taker(attempt, product.base_currency)

        except OrderStateUnknownError as unknown:
            # An order's fate is unknown (its create or cancel answer was lost). Stop here and
            # leave the run active: reconciliation resolves the order before anything else.
            outcome = twap.Outcome.ORDER_STATE_UNKNOWN
            log.error(
                "%s: %s; stopping until reconciled",
                product.product_id,
                unknown,
                extra={"event": "order_state_unknown", "product_id": product.product_id},
            )
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
        # Anything not done is charged as if done now against the book with the taker fee
        # (execution-theory.md §4), so a policy cannot look cheap by not trading.
        benchmark = size * arrival.mid
        if intent.side is Side.SELL:
            _, residual_gross = final_book.sell_proceeds(remaining)
            cost = benchmark - (value - paid) - residual_gross * (1 - fees.taker)
        else:
            _, residual_gross = final_book.buy_cost(remaining)
            cost = (value + paid) + residual_gross * (1 + fees.taker) - benchmark
        shortfall = cost / benchmark * BPS if benchmark > ZERO else ZERO
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
            verb = rules.side.value.lower()
            log.warning(
                "Asked to %s %s %s but only %s is affordable or held; trading that",
                verb,
                plain(product.size_floor(wanted)),
                product.base_currency,
                plain(product.size_floor(held)),
                extra={"event": "size_clamped", "product_id": product.product_id},
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
        remaining, threshold = usd(decision.remaining_value_usd), usd(rules.taker_threshold_usd)
        log.warning(
            "TWAP: activating aggressive purge mode for %s (remaining=%s %s %s threshold)",
            product_id,
            remaining,
            "<" if remaining != threshold else "≤",
            threshold,
            extra={"event": "aggressive_purge", "product_id": product_id},
        )
        log.info(
            "Forcing taker sell ~%s (max_slippage=%s%%)",
            usd(decision.remaining_value_usd),
            f"{Decimal(rules.taker_max_slippage_bps) / 100:.1f}",
            extra={"event": "taker_forced", "product_id": product_id},
        )
        return await self._engine.execute(
            symbol=product_id,
            side=Side.SELL,
            size=SizeBase(decision.size),
            purpose=purpose,
            force_order_type=OrderType.LIMIT_IOC,
            bypass=GuardBypass.TAKER_FALLBACK,
            run_id=run.run_id if run else None,
        )

    def _fold_maker(
        self, state: twap.LoopState, attempt: AttemptReport, rules: twap.LoopRules, number: int, base: str
    ) -> twap.LoopState:
        price = f"${plain(attempt.price)}" if attempt.price is not None else "-"
        head = f"Slice {number}: post-only @ {price}"
        event = {
            "event": "maker_slice",
            "outcome": attempt.outcome.value,
            "ttl_sec": attempt.ttl_sec,
            "product_id": attempt.book.product_id,
        }
        if attempt.outcome is AttemptOutcome.REJECTED_POST_ONLY:
            widened = twap.after_post_only_reject(state, rules)
            log.info(
                "%s → rejected (post-only would cross) → cushion %d→%d ticks",
                head,
                state.cushion_ticks,
                widened.cushion_ticks,
                extra=event,
            )
            return widened
        if attempt.outcome is AttemptOutcome.BLOCKED:
            reason = attempt.guard.reason if attempt.guard else "blocked"
            log.info("Slice %d: blocked by guard (%s)", number, reason, extra=event)
            return twap.after_guard_block(state, rules)
        if attempt.outcome in (AttemptOutcome.REJECTED, AttemptOutcome.FAILED):
            log.info("%s → %s (%s)", head, attempt.outcome.value, attempt.reject_reason, extra=event)
            return twap.after_order_failure(state)
        end = {
            AttemptOutcome.FILLED: f"filled {plain(attempt.filled_size)} {base}",
            AttemptOutcome.PARTIAL: f"partial {plain(attempt.filled_size)} {base} → canceled",
            AttemptOutcome.EXPIRED: "no fill → expired",
            AttemptOutcome.NO_FILL: "no fill → canceled",
        }[attempt.outcome]
        log.info("%s, TTL=%ss → %s", head, attempt.ttl_sec, end, extra=event)
        return twap.after_maker(state, attempt.filled_size)

    @staticmethod
    def _log_taker(attempt: AttemptReport, base: str) -> None:
        if attempt.filled_size > ZERO:
            log.info(
                "Taker fallback filled %s (%s %s)",
                usd(attempt.filled_value),
                plain(attempt.filled_size),
                base,
                extra={
                    "event": "taker_filled",
                    "outcome": attempt.outcome.value,
                    "product_id": attempt.book.product_id,
                },
            )
        else:
            log.error(
                "Taker fallback filled nothing (%s): purge failed, no further attempts",
                attempt.outcome.value,
                extra={
                    "event": "taker_failed",
                    "outcome": attempt.outcome.value,
                    "product_id": attempt.book.product_id,
                },
            )

    @staticmethod
    def _log_finish(
        decision: twap.Finish, rules: twap.LoopRules, product_id: str, base: str, remaining: Decimal
    ) -> None:
        outcome, value = decision.outcome, usd(decision.remaining_value_usd)
        extra = {"event": "twap_finish", "outcome": outcome.value, "product_id": product_id}
        noun = "Purge" if rules.purpose is Purpose.PURGE else rules.side.value.capitalize()
        if outcome is twap.Outcome.COMPLETE:
            log.info("%s complete", noun, extra=extra)
        elif outcome is twap.Outcome.DUST:
            log.warning(
                "Remainder %s %s (~%s) is dust: below the product minimum; not retried",
                plain(remaining),
                base,
                value,
                extra=extra,
            )
            log.info("%s complete", noun, extra={**extra, "event": "twap_complete_with_dust"})
        elif outcome is twap.Outcome.RESIDUAL_EXCEEDS_THRESHOLD:
            log.error(
                "TWAP: residual ~%s exceeds threshold (%s); %s sell failed",
                value,
                usd(rules.taker_threshold_usd),
                noun.lower(),
                extra=extra,
            )
        elif outcome is twap.Outcome.TAKER_FALLBACK_DISABLED:
            log.error(
                "TWAP: taker fallback disabled (allow_taker_fallback: false);"
                " residual ~%s left; purge sell failed",
                value,
                extra=extra,
            )
        elif outcome is twap.Outcome.MAX_ATTEMPTS:
            log.error(
                "TWAP: no fill after %d maker attempts in a row; residual ~%s left",
                rules.max_no_fill,
                value,
                extra=extra,
            )
        elif outcome is twap.Outcome.NOTHING_TO_SELL:
            log.warning("Nothing to sell", extra=extra)
        else:
            log.error("%s ended: %s (residual ~%s)", noun, outcome.value, value, extra=extra)
