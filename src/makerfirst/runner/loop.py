"""The main loop. Each cycle: refresh balances, reconcile, derive intents, start their sell loops,
record the cycle. Sell loops are tasks owned by the runner's TaskGroup and manage their own orders
(TTL, cancel, confirm) on their own schedule, across cycle boundaries; the cycle never waits on them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from makerfirst.clock import Clock
from makerfirst.domain.balances import Balance
from makerfirst.domain.book import EmptyBookError
from makerfirst.domain.errors import AuthenticationError, ExchangeError
from makerfirst.domain.intents import Purpose, SizeBase, TradeIntent
from makerfirst.domain.money import ZERO
from makerfirst.domain.orders import Side
from makerfirst.domain.records import CycleRecord, HoldingSnapshot, RunStatus
from makerfirst.execution.reconcile import Reconciler
from makerfirst.execution.twap_loop import TwapLoop, TwapReport
from makerfirst.observability.kill_switch import read_pause
from makerfirst.policy import Policy
from makerfirst.ports import Store
from makerfirst.runner.metered import MeteredExchange
from makerfirst.runner.portfolio_step import PortfolioStep

log = logging.getLogger("makerfirst.runner")


@dataclass(frozen=True, slots=True)
class RunSummary:
    cycles: list[CycleRecord]
    reports: list[TwapReport]


class Runner:
    """The cycle. Its collaborators come built (``bootstrap.build_runner`` wires them): the runner
    owns none of their construction, only the tasks it starts and the order of each cycle's steps.

    ``exchange`` is the venue behind a :class:`MeteredExchange`, the same one ``engine``,
    ``twap_loop``, ``reconciler`` and ``portfolio`` talk to, so every request sent to the venue
    is metered per cycle (a call the stream answers is counted apart, not as a request)."""

    def __init__(
        self,
        *,
        exchange: MeteredExchange,
        clock: Clock,
        policy: Policy,
        store: Store,
        twap_loop: TwapLoop,
        reconciler: Reconciler,
        portfolio: PortfolioStep,
    ) -> None:
        self._clock = clock
        self._policy = policy
        self._store = store
        self._exchange = exchange
        self._twap_loop = twap_loop
        self._reconciler = reconciler
        self._portfolio = portfolio
        self._active: dict[str, asyncio.Task[TwapReport | None]] = {}
        self._trading: dict[str, TradeIntent] = {}  # the intent each task in ``_active`` carries out
        self._folded: set[asyncio.Task[TwapReport | None]] = set()
        self._reports: list[TwapReport] = []
        self._planned: int | None = None

    async def run(self, cycles: int | None, cycle_sec: float) -> RunSummary:
        """Run ``cycles`` cycles (forever if None), then wait for the sell loops still in flight."""
        records: list[CycleRecord] = []
        self._planned = cycles
        try:
            async with asyncio.TaskGroup() as tasks:
                index = 0
                while cycles is None or index < cycles:
                    records.append(await self._cycle(index, cycle_sec, tasks))
                    index += 1
        except BaseExceptionGroup as group:
            # A wrong key stops everything (the group cancelled the other loops): raise it alone, so
            # the caller sees the AuthenticationError and not the TaskGroup's wrapper.
            refused = group.subgroup(AuthenticationError)
            if refused is not None:
                raise _first_leaf(refused) from None
            raise
        await self._reconciler.reconcile()  # nothing may be left open when the runner returns
        return RunSummary(records, self._reports)

    async def _cycle(self, index: int, cycle_sec: float, tasks: asyncio.TaskGroup) -> CycleRecord:
        start = self._clock.now()
        self._exchange.reset()
        intents: list[TradeIntent] = []
        holdings: list[HoldingSnapshot] = []
        changes = 0
        try:
            sheet = await self._exchange.get_balance_sheet()
            if read_pause(self._store).paused:  # the kill switch (issue 11): nothing open, nothing new
                changes = await self.halt()
                log.info("Paused by the kill switch: no new orders until resumed", extra={"event": "paused"})
            else:
                changes = (await self._reconciler.reconcile(self._owned_orders())).changes
                self._fold_finished()
                intents = await self._intents(sheet, holdings)
        except AuthenticationError:
            raise  # the credentials or their permissions are wrong: no later cycle can do better
        except ExchangeError as trouble:
            # The venue failed past the adapter's retries: skip this cycle's decisions, keep the
            # loops that are running, and try again next cycle (which reconciles first).
            log.error(
                "Cycle %d skipped: %s",
                index + 1,
                trouble,
                extra={"event": "cycle_skipped", "error": type(trouble).__name__},
            )
        if intents and read_pause(self._store).paused:  # the switch was pressed while this cycle decided
            intents = []
        for intent in intents:
            self._active[intent.product_id] = tasks.create_task(self._sell(intent))
            self._trading[intent.product_id] = intent
        busy = self._clock.now() - start
        await self._clock.sleep_until(start + cycle_sec)
        record = CycleRecord(
            index=index,
            started_at=start,
            ended_at=self._clock.now(),
            cycle_sec=cycle_sec,
            busy_sec=busy,
            requests=self._exchange.requests,
            io_sec=self._exchange.busy_sec,
            intents=len(intents),
            reconciled=changes,
        )
        self._store.record_cycle(record, holdings)
        streamed = self._exchange.answered_by_stream  # None: a polling venue, every call a request
        log.info(
            "Cycle %d%s: busy %.2fs of %.0fs (utilization %.1f%%),"
            " %d requests (%.2fs in flight)%s, %d new intents",
            index + 1,
            f"/{self._planned}" if self._planned else "",
            record.busy_sec,
            cycle_sec,
            100 * record.utilization,
            record.requests,
            record.io_sec,
            "" if streamed is None else f", {streamed} answered by the stream",
            record.intents,
            extra={"event": "cycle", "utilization": record.utilization},
        )
        return record

    async def _intents(self, sheet: dict[str, Balance], holdings: list[HoldingSnapshot]) -> list[TradeIntent]:
        """Resume the runs a crash left active; then, with targets set, what the portfolio decides
        (tiers, purges, rebalancing, dust; its holdings go to ``holdings``); without, purge the
        policy's ``purge:`` list. What is held is the venue's balance sheet, holds included."""
        quote = self._policy.portfolio_management.quote_currency
        wanted: dict[str, TradeIntent] = {}
        for run in self._store.runs():
            if run.status is RunStatus.ACTIVE:
                wanted[run.product_id] = TradeIntent(
                    run.product_id, SizeBase(run.requested_size), run.purpose, run.side
                )
        running = {pid: self._trading[pid] for pid, task in self._active.items() if not task.done()}
        busy = running | wanted
        if self._portfolio.enabled:
            in_flight = {pid.split("-", 1)[0] for pid in busy}
            decision = await self._portfolio.decide(sheet, in_flight, self._clock.now())
            # Buys are paid from what the rebalancing sells bring in: none starts while one is under way.
            selling = any(i.side is Side.SELL and i.purpose is Purpose.NORMAL for i in busy.values())
            for intent in self._portfolio.intents(decision, sells_pending=selling):
                wanted.setdefault(intent.product_id, intent)
            holdings += self._portfolio.holdings(decision, in_flight)
        else:
            for asset in self._policy.purge:
                held = sheet[asset].total if asset in sheet else ZERO
                product_id = f"{asset}-{quote}"
                if held > ZERO and product_id not in wanted:
                    wanted[product_id] = TradeIntent(product_id, SizeBase(held), Purpose.PURGE)
        return [i for pid, i in wanted.items() if pid not in self._active or self._active[pid].done()]

    async def halt(self) -> int:
        """The kill switch: stop every sell loop, then cancel and confirm every open order of ours.
        A stopped loop's run stays active in the store and resumes when the bot is resumed."""
        for task in self._active.values():
            task.cancel()
        await asyncio.gather(*self._active.values(), return_exceptions=True)
        return (await self._reconciler.reconcile()).cancelled

    def _fold_finished(self) -> None:
        """Hand every loop that ended since the last cycle back to the portfolio (backoff, dust)."""
        for task in self._active.values():
            if task.done() and task not in self._folded:
                self._folded.add(task)
                report = None if task.cancelled() else task.result()  # cancelled: by the kill switch
                if report is not None:
                    self._portfolio.finished(report, self._clock.now())

    def _owned_orders(self) -> set[str]:
        """Client ids of open orders that a live sell loop in this process is handling."""
        live = {pid for pid, task in self._active.items() if not task.done()}
        return {o.client_order_id for o in self._store.open_orders() if o.product_id in live}

    async def _sell(self, intent: TradeIntent) -> TwapReport | None:
        """One trade loop. A venue failure or an empty book ends this loop, not the bot: its run
        stays active in the store and the next cycle reconciles and resumes it."""
        try:
            report = await self._twap_loop.run(intent)
        except AuthenticationError:
            raise  # stops the bot: the TaskGroup cancels the other loops and ``run`` re-raises it
        except (ExchangeError, EmptyBookError) as trouble:
            # An empty side of the book leaves nothing to price from: like a venue failure, it ends
            # this loop only, and the run (still active in the store) resumes when the book refills.
            log.error(
                "%s: loop stopped by %s: %s; the next cycle reconciles and resumes it",
                intent.product_id,
                type(trouble).__name__,
                trouble,
                extra={"event": "loop_failed", "product_id": intent.product_id},
            )
            return None
        self._reports.append(report)
        return report


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
