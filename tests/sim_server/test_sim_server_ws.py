"""The sim-server's Coinbase WebSocket feed (coinbase-advanced-api.md §6), over a real socket."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from makerfirst.adapters.sim_server.auth import Credentials, generate_credentials, sign_websocket
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.adapters.sim_server.ws import FeedFaults
from makerfirst.clock import SystemClock
from makerfirst.domain.book import OrderBook
from wskit import Book, Message, drain, open_feed, read_until, subscribe

B = "/api/v3/brokerage"
END = "2030-01-01T00:00:00Z"


def _of(channel: str, messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.get("channel") == channel]


def _ws_jwt(server: ServerHandle) -> str:
    return sign_websocket(Credentials(server.key_name, server.private_key_pem), SystemClock().now())


def _levels_of(truth: OrderBook) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    return {lv.price: lv.size for lv in truth.bids}, {lv.price: lv.size for lv in truth.asks}


def test_level2_sends_a_snapshot_then_updates_that_rebuild_the_servers_book() -> None:
    # The dead market re-lays its book about once a second: between two re-lays the feed's book
    # must be exactly the server's, level for level.
    with running_server(market="dead", balances={"USD": "1"}) as server, open_feed(server.ws_url) as ws:
        subscribe(ws, "level2", ["ZK-USD"])
        book, updates, matched = Book(), 0, 0
        for _ in range(40):
            with server.session() as exchange:
                truth = _levels_of(exchange.book_now("ZK-USD", 1_000))
            for m in _of("l2_data", drain(ws, 0.25)):
                for event in m["events"]:
                    assert event["product_id"] == "ZK-USD"
                    updates += event["type"] == "update"
                    book.apply(event)
            if (book.bids, book.asks) == truth:
                matched += 1
                if matched >= 3 and updates:
                    break
        assert book.snapshots == 1
        assert matched >= 3 and updates > 0


def test_sequence_numbers_count_up_by_one_across_channels() -> None:
    with running_server(market="liquid", balances={"USD": "1"}) as server, open_feed(server.ws_url) as ws:
        subscribe(ws, "heartbeats", [])
        subscribe(ws, "level2", ["BTC-USD", "ETH-USD"])
        subscribe(ws, "market_trades", ["BTC-USD"])
        messages = read_until(ws, lambda ms: len(_of("heartbeats", ms)) >= 2)
        numbers = [m["sequence_num"] for m in messages]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        listings = _of("subscriptions", messages)
        assert listings[-1]["events"][0]["subscriptions"] == {
            "heartbeats": [],
            "level2": ["BTC-USD", "ETH-USD"],
            "market_trades": ["BTC-USD"],
        }
        counters = [int(m["events"][0]["heartbeat_counter"]) for m in _of("heartbeats", messages)]
        assert counters == [1, 2]
        for m in messages:
            assert set(m) == {"channel", "client_id", "timestamp", "sequence_num", "events"}


def test_tickers_agree_with_the_level2_book_sent_before_them_and_trades_carry_coinbase_fields() -> None:
    with running_server(market="liquid", balances={"USD": "1"}) as server, open_feed(server.ws_url) as ws:
        subscribe(ws, "level2", ["ETH-USD"])
        subscribe(ws, "ticker", ["ETH-USD"])
        subscribe(ws, "market_trades", ["ETH-USD"])
        book, compared, trades = Book(), 0, []

        def enough(ms: list[Message]) -> bool:
            nonlocal compared
            m = ms[-1] if ms else {}
            for event in m.get("events", []):
                if m["channel"] == "l2_data":
                    book.apply(event)
                elif m["channel"] == "ticker":
                    for t in event["tickers"]:
                        assert (Decimal(t["best_bid"]), Decimal(t["best_ask"])) == book.best()
                        assert Decimal(t["best_bid_quantity"]) == book.bids[Decimal(t["best_bid"])]
                        compared += 1
                elif m["channel"] == "market_trades":
                    trades.extend(event["trades"])
            return compared >= 5 and bool(trades)

        read_until(ws, enough, timeout=10)
        trade = trades[0]
        assert set(trade) == {"trade_id", "product_id", "price", "size", "side", "time"}
        assert trade["side"] in ("BUY", "SELL") and Decimal(trade["size"]) > 0


def test_unsubscribe_stops_a_channel_and_unknown_channels_and_products_are_refused() -> None:
    with running_server(market="liquid", balances={"USD": "1"}) as server, open_feed(server.ws_url) as ws:
        subscribe(ws, "level2", ["NOPE-USD"])
        subscribe(ws, "candles_v9", ["BTC-USD"])
        errors = read_until(ws, lambda ms: len(ms) >= 2)
        assert [e["type"] for e in errors] == ["error", "error"]
        assert "NOPE-USD" in errors[0]["message"] and "candles_v9" in errors[1]["message"]
        subscribe(ws, "level2", ["BTC-USD"])
        read_until(ws, lambda ms: bool(_of("l2_data", ms)))
        ws.send(json.dumps({"type": "unsubscribe", "channel": "level2", "product_ids": ["BTC-USD"]}))
        subscribe(ws, "heartbeats", [])
        messages = read_until(ws, lambda ms: len(_of("heartbeats", ms)) >= 2)
        after = messages[next(i for i, m in enumerate(messages) if m.get("channel") == "subscriptions") :]
        listing = after[0]["events"][0]["subscriptions"]
        assert "level2" not in listing
        assert not _of("l2_data", after[1:])


def test_the_user_channel_needs_a_valid_jwt_and_reports_orders_as_they_change() -> None:
    with running_server(balances={"PENGU": "5000", "USD": "100"}) as server, open_feed(server.ws_url) as ws:
        subscribe(ws, "user", [])  # no jwt
        stranger = sign_websocket(generate_credentials(), SystemClock().now())
        subscribe(ws, "user", [], jwt=stranger)
        refused = read_until(ws, lambda ms: len(ms) >= 2)
        assert [m["type"] for m in refused] == ["error", "error"]

        subscribe(ws, "user", [], jwt=_ws_jwt(server))
        snapshot = read_until(ws, lambda ms: bool(_of("user", ms)))
        (event,) = _of("user", snapshot)[0]["events"]
        assert (event["type"], event["orders"]) == ("snapshot", [])

        with server.session() as exchange:
            ask = exchange.book_now("PENGU-USD", 1).asks[0].price
        body = {
            "client_order_id": "ws-1",
            "product_id": "PENGU-USD",
            "side": "SELL",
            "order_configuration": {
                "limit_limit_gtd": {
                    "base_size": "1000",
                    "limit_price": str(ask + Decimal("0.00005")),
                    "end_time": END,
                    "post_only": True,
                }
            },
        }
        created = httpx.post(
            f"{server.url}{B}/orders", json=body, headers=server.auth_header("POST", f"{B}/orders")
        ).json()
        order_id = created["success_response"]["order_id"]
        opened = read_until(ws, lambda ms: bool(_of("user", ms)))
        (order,) = _of("user", opened)[0]["events"][0]["orders"]
        assert (order["order_id"], order["status"], order["post_only"]) == (order_id, "OPEN", "true")
        assert (order["leaves_quantity"], order["cumulative_quantity"]) == ("1000", "0")
        assert order["time_in_force"] == "GOOD_UNTIL_DATE_TIME"

        cancel = {"order_ids": [order_id]}
        path = f"{B}/orders/batch_cancel"
        httpx.post(f"{server.url}{path}", json=cancel, headers=server.auth_header("POST", path))

        def cancelled(ms: list[Message]) -> bool:
            return any(
                o["status"] == "CANCELLED" for m in _of("user", ms) for e in m["events"] for o in e["orders"]
            )

        read_until(ws, cancelled)


def test_a_resubscribed_user_channel_snapshots_open_orders() -> None:
    with running_server(balances={"PENGU": "5000", "USD": "100"}) as server:
        with server.session() as exchange:
            ask = exchange.book_now("PENGU-USD", 1).asks[0].price
        body = {
            "client_order_id": "ws-2",
            "product_id": "PENGU-USD",
            "side": "SELL",
            "order_configuration": {
                "limit_limit_gtc": {"base_size": "500", "limit_price": str(ask), "post_only": True}
            },
        }
        httpx.post(f"{server.url}{B}/orders", json=body, headers=server.auth_header("POST", f"{B}/orders"))
        with open_feed(server.ws_url) as ws:
            subscribe(ws, "user", ["PENGU-USD"], jwt=_ws_jwt(server))
            messages = read_until(ws, lambda ms: bool(_of("user", ms)))
        (event,) = _of("user", messages)[0]["events"]
        assert event["type"] == "snapshot"
        assert [o["client_order_id"] for o in event["orders"]] == ["ws-2"]


def test_dropped_messages_show_as_sequence_gaps() -> None:
    faults = FeedFaults(drop=0.3, seed=4)
    with (
        running_server(market="liquid", balances={"USD": "1"}, feed_faults=faults) as server,
        open_feed(server.ws_url) as ws,
    ):
        subscribe(ws, "level2", ["BTC-USD", "ETH-USD"])
        messages = read_until(ws, lambda ms: len(ms) >= 15)
    numbers = [m["sequence_num"] for m in messages]
    assert numbers == sorted(numbers)
    assert len(numbers) < numbers[-1] - numbers[0] + 1  # some numbers never arrived


def test_a_disconnect_fault_closes_the_connection() -> None:
    faults = FeedFaults(disconnect_after=3)
    with (
        running_server(market="liquid", balances={"USD": "1"}, feed_faults=faults) as server,
        open_feed(server.ws_url) as ws,
    ):
        subscribe(ws, "level2", ["BTC-USD"])
        received = [ws.recv(timeout=5) for _ in range(3)]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    assert len(received) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", FeedFaults()),
        ("drop=0.05,disconnect_after=200,seed=7", FeedFaults(0.05, 200, 7)),
    ],
)
def test_feed_faults_parse(text: str, expected: FeedFaults) -> None:
    assert FeedFaults.parse(text) == expected


@pytest.mark.parametrize("text", ["drop=2", "lose=0.1", "disconnect_after=x", "drop"])
def test_bad_feed_faults_name_the_option(text: str) -> None:
    with pytest.raises(ValueError, match="--ws-faults"):
        FeedFaults.parse(text)
