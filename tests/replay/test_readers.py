"""The capture readers: real data rebuilds books that match the venue's BBO; the cache; clear errors.

The real captures live in ``$MAKERFIRST_DATA_DIR`` (default ``<repo>/../shared/data``); tests that
need them skip, saying so, when they are absent. The cache always goes to a temp dir.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from makerfirst.replay import cache, readers
from makerfirst.replay.book_check import RebuiltBook, rebuild_check
from makerfirst.replay.coinbase_feed import decode_coinbase_feed
from makerfirst.replay.events import ASK, BBO, BID, BUY, CLEAR, EVENT_DTYPE, LEVEL, SELL, TRADE, EventStream
from makerfirst.replay.readers import (
    DECODER_VERSIONS,
    CaptureFormat,
    CaptureFormatError,
    decode_capture,
    detect_format,
    read_capture,
)
from simkit import BINANCE_BTCUSDT, COINBASE_THIN

COINBASE = COINBASE_THIN / "ws-feed.txt"
BINANCE = BINANCE_BTCUSDT / "btcusdt_20240808.gz"


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real capture {path} is absent (set MAKERFIRST_DATA_DIR to the shared data folder)")
    return path


@pytest.fixture(scope="module")
def coinbase() -> EventStream:
    return decode_capture(_need(COINBASE))


@pytest.fixture(scope="module")
def binance() -> EventStream:
    return decode_capture(_need(BINANCE))


def _aggressor_vs_book(stream: EventStream) -> Counter[str]:
    """For each trade, whether its aggressor side agrees with the rebuilt book just before it."""
    books: dict[int, RebuiltBook] = {}
    seen: Counter[str] = Counter()
    for _, product, kind, side, price, size, _ in stream.events.tolist():
        if kind == CLEAR:
            books[product] = RebuiltBook()
        elif kind == LEVEL:
            books[product].set(side, price, size)
        elif kind == TRADE and product in books:
            bid, ask = books[product].best_bid(), books[product].best_ask()
            if bid is None or ask is None:
                continue
            contradicts = price <= bid if side == BUY else price >= ask
            seen["contradicts" if contradicts else "agrees"] += 1
    return seen


# -- Coinbase -----------------------------------------------------------------------------------


def test_coinbase_rebuilt_books_match_all_69_tickers_and_never_cross(coinbase: EventStream) -> None:
    check = rebuild_check(coinbase)
    assert (check.messages_compared, check.mismatches, check.crossed) == (69, 0, 0), check.first_problem


def test_coinbase_products_scales_and_row_counts(coinbase: EventStream) -> None:
    ids = {p.product_id for p in coinbase.products}
    assert ids == {"SKL-USD", "BAND-BTC", "NMR-EUR", "CRV-EUR", "YFI-BTC", "NU-GBP"}
    skl = next(p for p in coinbase.products if p.product_id == "SKL-USD")
    assert (skl.tick, skl.lot) == (Decimal("0.0001"), Decimal("0.1"))
    kinds = Counter(coinbase.events["kind"].tolist())
    assert kinds[CLEAR] == 6  # one snapshot per product
    assert kinds[TRADE] == 69  # every match; the 6 stale last_match reminders are not trades
    assert kinds[BBO] == 75  # 6 stale first tickers + the 69 compared
    assert np.all(np.diff(coinbase.events["ts_ns"]) >= 0)


def test_coinbase_last_match_is_not_a_trade(tmp_path: Path) -> None:
    """The reminder Coinbase sends on subscribe predates the capture: it must not reach the tape."""
    products = COINBASE_THIN / "products.txt"
    if not products.exists():
        pytest.skip(f"real products file {products} is absent")
    feed = tmp_path / "feed.txt"
    feed.write_text(
        '1618677817.0: {"type": "last_match", "product_id": "SKL-USD", "side": "buy", "price": "0.4000",'
        ' "size": "10.0", "time": "2021-04-17T16:40:00Z"}\n'
        '1618677818.0: {"type": "match", "product_id": "SKL-USD", "side": "buy", "price": "0.4001",'
        ' "size": "5.0", "time": "2021-04-17T16:43:38Z"}\n',
        encoding="utf-8",
    )
    stream = decode_coinbase_feed(feed, products)
    trades = stream.events[stream.events["kind"] == TRADE]
    assert len(trades) == 1
    assert int(trades["price"][0]) == 4001


def test_coinbase_match_side_is_inverted_to_the_aggressor(coinbase: EventStream) -> None:
    """Coinbase gives the maker's side; inverted, no buy prints at/below the bid, no sell at/above the ask."""
    seen = _aggressor_vs_book(coinbase)
    assert seen["contradicts"] == 0
    assert seen["agrees"] > 50


# -- Binance ------------------------------------------------------------------------------------


def test_binance_rebuilt_book_matches_every_checkable_book_ticker(binance: EventStream) -> None:
    check = rebuild_check(binance)
    assert check.mismatches == 0, check.first_problem
    assert check.crossed == 0, check.first_problem
    assert check.messages_compared == 564  # tickers whose u equals the last applied diff's u


def test_binance_scale_rows_and_trade_sides(binance: EventStream) -> None:
    (btc,) = binance.products
    # tick from the venue; the lot is finer than today's 0.00001 step: three depth sizes have 6 decimals
    assert (btc.product_id, btc.tick, btc.lot) == ("BTCUSDT", Decimal("0.01"), Decimal("0.000001"))
    kinds = Counter(binance.events["kind"].tolist())
    assert kinds[CLEAR] == 1
    assert kinds[TRADE] == 9_757
    assert kinds[BBO] == 28_040 + 564  # every bookTicker at its time, the checkable ones repeated
    seen = _aggressor_vs_book(binance)  # the 100 ms depth lags the trades, so not all agree
    assert seen["agrees"] > 9 * seen["contradicts"]


def test_format_detection() -> None:
    assert detect_format(_need(COINBASE)) is CaptureFormat.COINBASE_FEED
    assert detect_format(_need(BINANCE)) is CaptureFormat.BINANCE_DEPTH


# -- the cache ----------------------------------------------------------------------------------


def test_second_read_is_a_cache_hit_with_identical_arrays(tmp_path: Path) -> None:
    first = read_capture(_need(COINBASE), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    second = read_capture(COINBASE, cache_dir=tmp_path)
    assert second.events.dtype == EVENT_DTYPE
    assert np.array_equal(first.events, second.events)
    assert first.products == second.products


def test_read_capture_serves_what_the_cache_holds(tmp_path: Path) -> None:
    """Proof of a hit: a doctored entry under the same key is what comes back."""
    real = read_capture(_need(COINBASE), cache_dir=tmp_path)
    products = COINBASE.parent / "products.txt"
    version = DECODER_VERSIONS[CaptureFormat.COINBASE_FEED]
    key = cache.cache_key([COINBASE, products], CaptureFormat.COINBASE_FEED.value, version)
    cache.store(key, tmp_path, EventStream(real.products, real.events[:10]))
    assert len(read_capture(COINBASE, cache_dir=tmp_path).events) == 10


def test_touching_the_source_makes_a_new_cache_entry(tmp_path: Path) -> None:
    feed = tmp_path / "feed" / "ws-feed.txt"
    feed.parent.mkdir()
    feed.write_bytes(_need(COINBASE).read_bytes())
    (feed.parent / "products.txt").write_bytes((COINBASE.parent / "products.txt").read_bytes())
    store = tmp_path / "cache"
    read_capture(feed, cache_dir=store)
    stat = feed.stat()
    os.utime(feed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    read_capture(feed, cache_dir=store)
    assert len(list(store.glob("*.npz"))) == 2


def test_an_unreadable_cache_file_is_a_miss(tmp_path: Path) -> None:
    real = read_capture(_need(COINBASE), cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(b"not a zip")
    again = read_capture(COINBASE, cache_dir=tmp_path)
    assert np.array_equal(real.events, again.events)


def test_cache_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path))
    assert cache.default_cache_dir() == tmp_path
    monkeypatch.delenv(cache.CACHE_DIR_ENV)
    assert cache.default_cache_dir() == Path.home() / ".cache" / "makerfirst" / "replay"


# -- synthetic captures: the decoders' rules and their errors -----------------------------------

_PRODUCTS = (
    'https://api.pro.coinbase.com/products -> 1618677816.8: [{"id": "ABC-USD", "base_currency": "ABC", '
    '"quote_currency": "USD", "quote_increment": "0.01", "base_increment": "0.1", "base_min_size": "1", '
    '"min_market_funds": "1", "status": "online"}]\nconfiguration: {}\n'
)


def _coinbase(tmp_path: Path, *messages: dict[str, object] | str) -> Path:
    (tmp_path / "products.txt").write_text(_PRODUCTS)
    lines = ["wss://ws-feed.pro.coinbase.com <-> 1.0"]
    for i, message in enumerate(messages):
        body = message if isinstance(message, str) else json.dumps(message)
        lines.append(f"{1000 + i}.5: {body}")
    feed = tmp_path / "ws-feed.txt"
    feed.write_text("\n".join(lines) + "\n")
    return feed


def test_coinbase_rows_for_each_message_type(tmp_path: Path) -> None:
    feed = _coinbase(
        tmp_path,
        {"type": "ticker", "product_id": "ABC-USD", "best_bid": "0.99", "best_ask": "1.02"},
        {"type": "snapshot", "product_id": "ABC-USD", "bids": [["1.00", "2.5"]], "asks": [["1.01", "3"]]},
        {
            "type": "l2update",
            "product_id": "ABC-USD",
            "changes": [["sell", "1.01", "0"], ["sell", "1.02", "1.1"]],
        },
        {"type": "match", "product_id": "ABC-USD", "side": "sell", "price": "1.01", "size": "0.4"},
        {"type": "ticker", "product_id": "ABC-USD", "best_bid": "1.00", "best_ask": "1.02"},
        {"type": "heartbeat", "product_id": "ABC-USD"},
    )
    stream = decode_capture(feed)
    rows = [tuple(r[1:]) for r in stream.events.tolist()]
    assert rows == [
        (0, BBO, 0, 99, 0, 102),  # the first ticker is stale: size 0
        (0, CLEAR, 0, 0, 0, 0),
        (0, LEVEL, BID, 100, 25, 0),
        (0, LEVEL, ASK, 101, 30, 0),
        (0, LEVEL, ASK, 101, 0, 0),
        (0, LEVEL, ASK, 102, 11, 0),
        (0, TRADE, BUY, 101, 4, 0),  # maker side "sell" -> the aggressor bought
        (0, BBO, 0, 100, 1, 102),
    ]
    assert stream.events["ts_ns"][0] == 1000 * 10**9 + 500_000_000
    assert rebuild_check(stream).messages_compared == 1


@pytest.mark.parametrize(
    ("bad_line", "words"),
    [
        ("not a message", "expected '<epoch seconds>: <json>'"),
        (
            '{"type": "l2update", "product_id": "ABC-USD", "changes": [["buy", "1.005", "1"]]}',
            "multiple of 0.01",
        ),
        ('{"type": "l2update", "product_id": "ZZZ-USD", "changes": []}', "ZZZ-USD is not in"),
        ('{"type": "match", "product_id": "ABC-USD", "price": "1"}', "side"),
    ],
)
def test_a_bad_coinbase_line_names_the_file_and_line(tmp_path: Path, bad_line: str, words: str) -> None:
    ok = {"type": "snapshot", "product_id": "ABC-USD", "bids": [], "asks": []}
    feed = _coinbase(tmp_path, ok, bad_line)
    if bad_line == "not a message":
        feed.write_text(feed.read_text().replace("1001.5: not a message", "not a message"))
    with pytest.raises(CaptureFormatError, match=words) as raised:
        decode_capture(feed)
    assert raised.value.path == feed
    assert raised.value.line_no == 3
    assert str(raised.value).startswith(f"{feed}:3: ")


def _binance(tmp_path: Path, *messages: dict[str, object]) -> Path:
    path = tmp_path / "capture.gz"
    with gzip.open(path, "wt") as out:
        for i, message in enumerate(messages):
            out.write(f"{1_000 + i} {json.dumps(message)}\n")
    return path


def _diff(first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, object]:
    return {
        "stream": "x@depth",
        "data": {"e": "depthUpdate", "s": "ETHUSDT", "U": first, "u": last, "b": bids, "a": asks},
    }


def _ticker(u: int, bid: str, ask: str) -> dict[str, object]:
    return {
        "stream": "x@bookTicker",
        "data": {"u": u, "s": "ETHUSDT", "b": bid, "B": "1", "a": ask, "A": "1"},
    }


def test_binance_sync_buffers_early_diffs_and_checks_tickers_when_the_book_catches_up(tmp_path: Path) -> None:
    capture = _binance(
        tmp_path,
        _diff(5, 8, [["10.0", "1"]], []),  # older than the snapshot: dropped
        _ticker(12, "10.0", "10.5"),  # ahead of the book until the diff ending at 12 arrives
        _diff(9, 12, [], [["10.5", "2"]]),  # brackets lastUpdateId 10 + 1: applied after the snapshot
        {"lastUpdateId": 10, "bids": [["10.0", "3"]], "asks": [["10.6", "1"]]},
        {"stream": "x@trade", "data": {"e": "trade", "s": "ETHUSDT", "p": "10.5", "q": "0.5", "m": True}},
        _ticker(12, "10.0", "10.5"),  # level with the book on arrival: checked there
        _diff(13, 14, [["10.0", "0"]], []),
    )
    stream = decode_capture(capture)
    (eth,) = stream.products
    assert (eth.tick, eth.lot) == (Decimal("0.1"), Decimal("0.1"))  # derived: an unknown symbol
    assert [tuple(r) for r in stream.events.tolist()] == [
        (1001, 0, BBO, 0, 100, 0, 105),  # before any book: not checkable
        (1003, 0, CLEAR, 0, 0, 0, 0),
        (1003, 0, LEVEL, BID, 100, 30, 0),
        (1003, 0, LEVEL, ASK, 106, 10, 0),
        (1003, 0, LEVEL, ASK, 105, 20, 0),  # the buffered diff, stamped with the snapshot's time
        (1003, 0, BBO, 0, 100, 1, 105),  # the early ticker repeated, now checkable
        (1004, 0, TRADE, SELL, 105, 5, 0),  # m: the buyer was the maker, so the aggressor sold
        (1005, 0, BBO, 0, 100, 1, 105),
        (1006, 0, LEVEL, BID, 100, 0, 0),
    ]
    check = rebuild_check(stream)
    assert (check.messages_compared, check.mismatches, check.crossed) == (2, 0, 0)


def test_binance_sequence_gap_names_the_line(tmp_path: Path) -> None:
    capture = _binance(
        tmp_path,
        {"lastUpdateId": 10, "bids": [["10.0", "3"]], "asks": [["10.6", "1"]]},
        _diff(11, 12, [], []),
        _diff(14, 15, [], []),
    )
    with pytest.raises(CaptureFormatError, match=r"capture\.gz:3: sequence gap: diff starts at 14"):
        decode_capture(capture)


def test_binance_first_diff_must_bracket_the_snapshot(tmp_path: Path) -> None:
    capture = _binance(
        tmp_path,
        {"lastUpdateId": 10, "bids": [], "asks": []},
        _diff(13, 15, [], []),
    )
    with pytest.raises(CaptureFormatError, match=r":2: diff 13\.\.15 does not bracket"):
        decode_capture(capture)


def test_binance_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "capture.txt"
    path.write_text('1 {"lastUpdateId": 1, "bids": [], "asks": []}\n2 {oops\n')
    with pytest.raises(CaptureFormatError, match=r"capture\.txt:2: "):
        decode_capture(path)


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("hello\n")
    with pytest.raises(CaptureFormatError, match=r"x\.txt:1: not a known capture format"):
        read_capture(path, cache_dir=tmp_path)


# -- the rebuild check, cached beside the decoded stream ----------------------------------------


def test_the_rebuild_check_is_computed_once_then_read_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, check = readers.read_checked_capture(_need(COINBASE), cache_dir=tmp_path)
    assert check == rebuild_check(stream)
    assert check.ok and check.messages_compared == 69
    assert len(list(tmp_path.glob("*.check.json"))) == 1

    def must_not_run(_: EventStream) -> None:
        raise AssertionError("the cached check should have been read")

    monkeypatch.setattr(readers, "rebuild_check", must_not_run)
    again_stream, again = readers.read_checked_capture(COINBASE, cache_dir=tmp_path)
    assert again == check
    assert np.array_equal(again_stream.events, stream.events)


def test_a_check_of_another_version_or_unreadable_is_checked_again(tmp_path: Path) -> None:
    _, check = readers.read_checked_capture(_need(COINBASE), cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.check.json")
    stale = json.loads(entry.read_text())
    entry.write_text(json.dumps({**stale, "version": readers.BOOK_CHECK_VERSION + 1, "mismatches": 99}))
    assert readers.read_checked_capture(COINBASE, cache_dir=tmp_path)[1] == check
    entry.write_text("{not json")
    assert readers.read_checked_capture(COINBASE, cache_dir=tmp_path)[1] == check
    assert json.loads(entry.read_text())["version"] == readers.BOOK_CHECK_VERSION  # rewritten


def test_an_unwritable_cache_folder_still_reads_and_checks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    stream, check = readers.read_checked_capture(_need(COINBASE), cache_dir=blocked / "cache")
    assert check == rebuild_check(stream) and check.ok
    assert "replay cache not written" in caplog.text
