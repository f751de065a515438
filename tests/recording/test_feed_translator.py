"""Advanced Trade messages → capture lines, and the backtest dropping episodes across a feed gap.

No network: messages are built here in Coinbase's shapes (coinbase-advanced-api.md §6), the capture
is written to a temporary folder and read back by the replay's own decoder.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from makerfirst.recording.capture import FeedTranslator
from makerfirst.replay.backtest import BacktestConfig, Mode, plan_backtest
from makerfirst.replay.book_check import rebuild_check
from makerfirst.replay.readers import decode_capture

PRODUCT = {
    "product_id": "ZK-USD",
    "price_increment": "0.0001",
    "base_increment": "0.1",
    "base_min_size": "1",
    "quote_min_size": "1",
    "status": "online",
}


def _envelope(sequence: int, channel: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"channel": channel, "client_id": "", "timestamp": "", "sequence_num": sequence, "events": events}


def _l2(sequence: int, kind: str, updates: list[tuple[str, str, str]]) -> dict[str, Any]:
    rows = [{"side": s, "event_time": "", "price_level": p, "new_quantity": q} for s, p, q in updates]
    return _envelope(sequence, "l2_data", [{"type": kind, "product_id": "ZK-USD", "updates": rows}])


def _ticker(sequence: int, bid: str, ask: str) -> dict[str, Any]:
    ticker = {"type": "ticker", "product_id": "ZK-USD", "price": bid, "best_bid": bid, "best_ask": ask}
    return _envelope(sequence, "ticker", [{"type": "update", "tickers": [ticker]}])


def _trades(sequence: int, kind: str, price: str) -> dict[str, Any]:
    trade = {"trade_id": "7", "product_id": "ZK-USD", "price": price, "size": "2", "side": "BUY", "time": ""}
    return _envelope(sequence, "market_trades", [{"type": kind, "trades": [trade]}])


SNAPSHOT = [("bid", "0.1000", "50"), ("bid", "0.0999", "20"), ("offer", "0.1002", "30")]


def test_level2_trades_and_tickers_become_the_replays_messages() -> None:
    translator = FeedTranslator(["ZK-USD"])
    lines: list[str] = []
    for t, message in enumerate(
        [
            _trades(0, "snapshot", "0.0990"),  # history sent on subscribe: never written
            _l2(1, "snapshot", SNAPSHOT),
            _ticker(2, "0.1000", "0.1002"),
            _l2(3, "update", [("bid", "0.1000", "0"), ("offer", "0.1001", "5")]),
            _ticker(4, "0.0999", "0.1001"),
            _trades(5, "update", "0.1001"),
        ]
    ):
        written, gap = translator.feed(100.0 + t, message)
        assert not gap
        lines += written
    messages = [json.loads(line.partition(": ")[2]) for line in lines]
    assert [m["type"] for m in messages] == ["snapshot", "ticker", "l2update", "ticker", "match"]
    assert messages[0]["bids"] == [["0.1000", "50"], ["0.0999", "20"]]
    assert messages[2]["changes"] == [["buy", "0.1000", "0"], ["sell", "0.1001", "5"]]
    assert messages[4]["side"] == "buy"  # the maker's side, as the feed says
    assert lines[0].startswith("101.000000: ")
    assert translator.counts.tickers_off_book == 0


def test_a_sequence_gap_writes_a_marker_and_nothing_until_the_next_snapshot() -> None:
    translator = FeedTranslator(["ZK-USD"])
    translator.feed(1.0, _l2(0, "snapshot", SNAPSHOT))
    lines, gap = translator.feed(2.0, _l2(2, "update", [("bid", "0.1000", "40")]))  # 1 was lost
    assert gap
    assert [json.loads(line.partition(": ")[2])["type"] for line in lines] == ["gap"]
    assert translator.out_of_sync == ["ZK-USD"]
    assert translator.feed(3.0, _ticker(3, "0.1000", "0.1002"))[0] == []
    assert translator.feed(3.5, _trades(4, "update", "0.1002"))[0] == []
    lines, gap = translator.feed(4.0, _l2(5, "snapshot", SNAPSHOT))
    assert not gap and json.loads(lines[0].partition(": ")[2])["type"] == "snapshot"
    assert translator.out_of_sync == []
    assert translator.counts.gaps == 1


def test_a_ticker_that_disagrees_with_the_book_is_counted() -> None:
    translator = FeedTranslator(["ZK-USD"])
    translator.feed(1.0, _l2(0, "snapshot", SNAPSHOT))
    translator.feed(2.0, _ticker(1, "0.0999", "0.1002"))
    assert translator.counts.tickers_off_book == 1


def _write_capture(directory: Path, gap_at: float) -> Path:
    """A 100 s capture of one product with a steady book, a trade every 2 s and one gap."""
    translator = FeedTranslator(["ZK-USD"])
    lines: list[str] = []
    sequence = 0
    for second in range(100):
        now = 1_000.0 + second
        if second == 0 or second == gap_at + 1:
            lines += translator.feed(now, _l2(sequence, "snapshot", SNAPSHOT))[0]
        elif second == gap_at:
            sequence += 1  # a lost message
            lines += translator.feed(now, _l2(sequence, "update", [("bid", "0.0998", "10")]))[0]
        else:
            size = str(20 + second % 3)
            lines += translator.feed(now, _l2(sequence, "update", [("bid", "0.0999", size)]))[0]
            sequence += 1
            lines += translator.feed(now, _ticker(sequence, "0.1000", "0.1002"))[0]
            if second % 2:
                sequence += 1
                lines += translator.feed(now, _trades(sequence, "update", "0.1000"))[0]
        sequence += 1
    capture = directory / "capture.txt.gz"
    with gzip.open(capture, "wt", encoding="utf-8") as handle:
        handle.writelines(lines)
    (directory / "products.txt").write_text(json.dumps({"products": [PRODUCT]}), encoding="utf-8")
    return capture


def _five_episodes_of_15_s(capture: Path, cache: Path) -> BacktestConfig:
    return BacktestConfig(
        data=str(capture), policies=(), episodes=5, modes=(Mode.REPLAY,), deadline_sec=15.0, cache_dir=cache
    )


def test_the_backtest_drops_replay_episodes_that_span_a_gap(tmp_path: Path) -> None:
    capture = _write_capture(tmp_path, gap_at=45)
    check = rebuild_check(decode_capture(capture))
    assert check.ok and check.messages_compared > 50
    plan = plan_backtest(_five_episodes_of_15_s(capture, tmp_path))
    arrivals = [e.arrival for _, e in plan.episodes]
    assert len(arrivals) == 4  # five fit in 100 s; the one across second 46 is dropped
    assert all(not (a <= 1_046.0 <= a + 15.0) for a in arrivals)
    assert any("1 of 5 episodes dropped" in note and "feed gap" in note for note in plan.notes)


def test_a_capture_without_gaps_keeps_every_episode(tmp_path: Path) -> None:
    capture = _write_capture(tmp_path, gap_at=1_000)  # never reached
    plan = plan_backtest(_five_episodes_of_15_s(capture, tmp_path))
    assert len(plan.episodes) == 5
    assert not any("dropped" in note for note in plan.notes)
