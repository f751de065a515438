"""The chaos bench's judge: the venue's ground truth against what the bot's database says.

The venue side is the sim-server's ``/audit`` answer (or the same records built in-process from
the simulated exchange: ``makerfirst.adapters.sim_server.audit``); the database side is read with
plain SQLAlchemy Core reflection, by column name, so added columns or tables change nothing.

Every check counts incidents of one defect class; :data:`DEFECTS` is the table's order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import MetaData, create_engine, select

ZERO = Decimal(0)
OPEN_STATUSES = frozenset({"PENDING", "OPEN", "QUEUED", "CANCEL_QUEUED"})
IOC_CONFIGURATION = "sor_limit_ioc"

# (key, what one count means). The order is the table's.
DEFECTS: tuple[tuple[str, str], ...] = (
    ("double_sells", "a sell sent while another sell of the product rested, or more sold than held"),
    ("second_iocs", "an IOC beyond the first of one purge run"),
    ("orphan_orders", "an order still open at the venue at the end"),
    ("lost_fills", "a venue fill the database does not have"),
    ("phantom_fills", "a database fill the venue never made"),
    ("fee_mismatches", "a fill's or an order's fee differing from the venue's"),
    ("stale_orders", "an order whose recorded status/filled size differs from the venue's, or unknown"),
    ("holdings_over", "a recorded holding above what the venue held"),
    ("early_buys", "a rebalancing buy sent while a rebalancing sell rested"),
    ("target_misses", "a target weight outside its drift band at the end"),
    ("crashes", "a traceback or an unexpected exit"),
)
DEFECT_KEYS = tuple(key for key, _ in DEFECTS)
EXAMPLES_KEPT = 3


@dataclass
class Counts:
    """Incident counts per defect class, with the first few examples of each (for diagnosis)."""

    counts: Counter[str] = field(default_factory=Counter)
    runs_hit: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    runs: int = 0

    def add(self, key: str, example: str, n: int = 1) -> None:
        if key not in DEFECT_KEYS:
            raise KeyError(key)
        self.counts[key] += n
        kept = self.examples.setdefault(key, [])
        if len(kept) < EXAMPLES_KEPT:
            kept.append(example)

    def merge(self, other: Counts) -> None:
        """Fold one run's counts in (``runs_hit`` counts runs with at least one incident)."""
        self.runs += max(1, other.runs)
        for key in DEFECT_KEYS:
            if other.counts[key]:
                self.counts[key] += other.counts[key]
                self.runs_hit[key] += max(1, other.runs_hit[key])
                kept = self.examples.setdefault(key, [])
                kept += other.examples.get(key, [])[: max(0, EXAMPLES_KEPT - len(kept))]

    def merge_incidents(self, other: Counts) -> None:
        """Add another check's incidents (and examples) to this run's, leaving ``runs`` alone."""
        for key in DEFECT_KEYS:
            if other.counts[key]:
                self.counts[key] += other.counts[key]
                kept = self.examples.setdefault(key, [])
                kept += other.examples.get(key, [])[: max(0, EXAMPLES_KEPT - len(kept))]

    def labelled(self, label: str) -> Counts:
        """The same counts with every example prefixed by ``label`` (the run that found it), so an
        example in the merged table names the run to rerun alone (``--only``)."""
        return Counts(
            counts=Counter(self.counts),
            runs_hit=Counter(self.runs_hit),
            examples={key: [f"{label}: {e}" for e in kept] for key, kept in self.examples.items()},
            runs=self.runs,
        )

    @property
    def total(self) -> int:
        return sum(self.counts[key] for key in DEFECT_KEYS)


@dataclass(frozen=True)
class Journal:
    """The database's rows, as plain mappings (only the columns the checks name are used)."""

    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    holdings: list[dict[str, Any]]


def read_journal(db_url: str) -> Journal:
    """Reflect the bot's tables (whatever else the schema holds) and read them whole."""
    engine = create_engine(db_url)
    try:
        meta = MetaData()
        meta.reflect(engine, only=lambda name, _: name in ("orders", "fills", "holdings"))
        with engine.connect() as connection:

            def rows(name: str) -> list[dict[str, Any]]:
                table = meta.tables.get(name)
                if table is None:
                    return []
                return [dict(r._mapping) for r in connection.execute(select(table))]

            return Journal(rows("orders"), rows("fills"), rows("holdings"))
    finally:
        engine.dispose()


def _dec(value: Any) -> Decimal:
    return ZERO if value is None or value == "" else Decimal(str(value))


def _fill_key(f: Mapping[str, Any]) -> tuple[str, str]:
    return str(f["trade_id"]), str(f["order_id"])


def _kind(order: Mapping[str, Any]) -> str:
    configuration = order.get("order_configuration") or {}
    return next(iter(configuration), "")


def compare(audit: Mapping[str, Any], journal: Journal, counts: Counts) -> None:
    """Every check that needs only the final venue audit and the database."""
    venue_orders: list[dict[str, Any]] = list(audit["orders"])
    by_client = {str(o["client_order_id"]): o for o in journal.orders}
    for o in venue_orders:
        if o["status"] in OPEN_STATUSES:
            counts.add("orphan_orders", f"{o['client_order_id']} {o['product_id']} {o['status']}")
    _compare_fills(list(audit["fills"]), journal.fills, counts)
    _compare_orders(venue_orders, by_client, counts)
    _second_iocs(venue_orders, by_client, counts)


def _compare_fills(venue_fills: list[dict[str, Any]], db_fills: list[dict[str, Any]], counts: Counts) -> None:
    venue_keys = {_fill_key(f): f for f in venue_fills}
    db_keys = {_fill_key(f): f for f in db_fills}
    for key in venue_keys.keys() - db_keys.keys():
        counts.add("lost_fills", f"trade {key[0]} of order {key[1]}")
    for key in db_keys.keys() - venue_keys.keys():
        counts.add("phantom_fills", f"trade {key[0]} of order {key[1]}")
    for key in venue_keys.keys() & db_keys.keys():
        if _dec(venue_keys[key]["commission"]) != _dec(db_keys[key]["fee"]):
            counts.add(
                "fee_mismatches",
                f"trade {key[0]}: venue {venue_keys[key]['commission']}, db {db_keys[key]['fee']}",
            )


def _compare_orders(
    venue_orders: list[dict[str, Any]], by_client: Mapping[str, Mapping[str, Any]], counts: Counts
) -> None:
    for o in venue_orders:
        row = by_client.get(str(o["client_order_id"]))
        if row is None:
            counts.add("stale_orders", f"{o['client_order_id']} is at the venue, not in the database")
            continue
        if o["status"] in OPEN_STATUSES:
            continue  # counted as an orphan
        recorded = (row.get("status"), _dec(row.get("filled_size")))
        if recorded != (o["status"], _dec(o["filled_size"])):
            counts.add(
                "stale_orders",
                f"{o['client_order_id']}: venue {o['status']} {o['filled_size']},"
                f" db {recorded[0]} {recorded[1]}",
            )
        elif _dec(row.get("total_fees")) != _dec(o["total_fees"]):
            counts.add(
                "fee_mismatches",
                f"{o['client_order_id']}: venue fees {o['total_fees']}, db {row.get('total_fees')}",
            )
    venue_clients = {str(o["client_order_id"]) for o in venue_orders}
    for cid, row in by_client.items():
        if cid not in venue_clients and row.get("state") not in ("not_created", None):
            counts.add("stale_orders", f"{cid}: {row.get('state')} in the database, unknown at the venue")


def _second_iocs(
    venue_orders: list[dict[str, Any]], by_client: Mapping[str, Mapping[str, Any]], counts: Counts
) -> None:
    runs: Counter[str] = Counter()
    for o in venue_orders:
        if _kind(o) != IOC_CONFIGURATION or o.get("side") != "SELL":
            continue
        row = by_client.get(str(o["client_order_id"]))
        run = row.get("run_id") if row is not None else None
        runs[f"run {run}" if run is not None else f"{o['product_id']} (no run)"] += 1
    for run, sent in runs.items():
        if sent > 1:
            counts.add("second_iocs", f"{run}: {sent} IOCs", sent - 1)


def sold_beyond_held(
    initial: Mapping[str, Decimal], fills: Iterable[Mapping[str, Any]], size_key: str, counts: Counts
) -> None:
    """More of an asset sold than was ever held (start + bought): the holding was sold twice.
    ``fills`` are the venue's (``size``) or, in paper mode, the database's own."""
    sold: Counter[str] = Counter()
    bought: Counter[str] = Counter()
    for f in fills:
        asset = str(f["product_id"]).split("-", 1)[0]
        (sold if f["side"] == "SELL" else bought)[asset] += _dec(f[size_key])  # type: ignore[assignment]
    for asset, amount in sold.items():
        held = initial.get(asset, ZERO) + Decimal(bought[asset])
        if Decimal(amount) > held:
            counts.add("double_sells", f"{asset}: sold {amount}, held at most {held}")


def holdings_above(
    holdings: Iterable[Mapping[str, Any]], held_at_most: Mapping[str, Decimal], counts: Counts
) -> None:
    """Recorded holdings above the most the venue ever held of the asset during the run."""
    for h in holdings:
        asset = str(h["asset"])
        size = _dec(h["size"])
        ceiling = held_at_most.get(asset, ZERO)
        if size > ceiling:
            counts.add(
                "holdings_over", f"cycle {h.get('cycle_index')}: {asset} {size} recorded, {ceiling} held"
            )


def target_misses(
    totals: Mapping[str, Decimal],
    mids: Mapping[str, Decimal],
    targets: Mapping[str, Decimal],
    *,
    band: tuple[Decimal, Decimal],
    quote: str,
    counts: Counts,
) -> None:
    """Weights of the target assets over (targets + quote), valued at the final mids."""
    values = {asset: totals.get(asset, ZERO) * mids[asset] for asset in targets}
    whole = sum(values.values(), start=ZERO) + totals.get(quote, ZERO)
    if whole <= ZERO:
        return
    absolute, relative = band
    for asset, target in targets.items():
        weight = values[asset] / whole
        allowed = max(absolute, relative * target)
        if abs(weight - target) > allowed:
            counts.add(
                "target_misses",
                f"{asset}: {100 * weight:.1f} % against {100 * target:.0f} % ± {100 * allowed:.1f}",
            )
