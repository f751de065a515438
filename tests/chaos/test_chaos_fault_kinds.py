"""The sim-server's chaos faults: a request that stalls until the client gives up, and faults aimed
at one route (``error5xx@fills=3``: the restart's reconcile meets three 503s on its fills reads)."""

from __future__ import annotations

import httpx
import pytest

from makerfirst.adapters.sim_server import FaultPlan, Trigger
from makerfirst.adapters.sim_server.faults import ROUTES, FaultInjector, FaultKind, RoutedFault
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server

B = "/api/v3/brokerage"
FILLS = "GET /orders/historical/fills"


def signed(server: ServerHandle, method: str, path: str, **kw: object) -> httpx.Response:
    return httpx.request(method, server.url + path, headers=server.auth_header(method, path), **kw)  # type: ignore[arg-type]


def test_stall_and_aimed_faults_parse_from_the_faults_syntax() -> None:
    plan = FaultPlan.parse("stall=1,hang=0.5,error5xx@fills=3,rate429@create=0.25,stall@accounts=2")
    assert plan.stall == Trigger.first(1) and plan.hang_sec == 0.5
    assert set(plan.routed) == {
        RoutedFault(FaultKind.ERROR_5XX, "fills", Trigger.first(3)),
        RoutedFault(FaultKind.RATE_429, "create", Trigger.chance(0.25)),
        RoutedFault(FaultKind.STALL, "accounts", Trigger.first(2)),
    }


@pytest.mark.parametrize(
    "text", ["error5xx@nowhere=1", "create_timeout@fills=1", "bogus@fills=1", "error5xx@fills=often"]
)
def test_a_bad_aimed_fault_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="--faults entry"):
        FaultPlan.parse(text)


def test_an_aimed_fault_hits_its_route_only_and_counts_apart() -> None:
    injector = FaultInjector(FaultPlan.parse("error5xx@fills=2"))
    assert [injector.fires(FaultKind.ERROR_5XX, ROUTES["accounts"]) for _ in range(3)] == [False] * 3
    assert [injector.fires(FaultKind.ERROR_5XX, FILLS) for _ in range(3)] == [True, True, False]
    assert not injector.fires(FaultKind.ERROR_5XX)  # no route: only the every-route fault applies


def test_an_aimed_fault_never_shifts_the_every_route_draws() -> None:
    plain = FaultInjector(FaultPlan.parse("rate429=0.5,seed=3"))
    aimed = FaultInjector(FaultPlan.parse("rate429=0.5,rate429@fills=0.5,seed=3"))
    expected = [plain.fires(FaultKind.RATE_429, FILLS) for _ in range(40)]
    hits = [aimed.fires(FaultKind.RATE_429, FILLS) for _ in range(40)]
    # Every request the every-route fault hit is still hit; the aimed one adds more on top.
    assert all(h for h, e in zip(hits, expected, strict=True) if e)
    assert sum(hits) > sum(expected)


def test_error5xx_aimed_at_fills_answers_503_there_and_nowhere_else() -> None:
    with running_server(balances={"USD": "1"}, faults=FaultPlan.parse("error5xx@fills=1")) as server:
        assert signed(server, "GET", f"{B}/accounts").status_code == 200
        assert signed(server, "GET", f"{B}/orders/historical/fills").status_code == 503
        assert signed(server, "GET", f"{B}/orders/historical/fills").status_code == 200


def test_a_stalled_create_is_never_served_and_the_client_sees_a_dropped_connection() -> None:
    with running_server(balances={"PENGU": "5000"}) as server:
        book = httpx.get(
            server.url + f"{B}/market/product_book", params={"product_id": "PENGU-USD", "limit": 1}
        )
        price = book.json()["pricebook"]["bids"][0]["price"]
        body = {
            "client_order_id": "stalled",
            "product_id": "PENGU-USD",
            "side": "SELL",
            "order_configuration": {"sor_limit_ioc": {"base_size": "100", "limit_price": price}},
        }
        server.set_faults(FaultPlan(stall=Trigger.first(1), hang_sec=0.05))
        with pytest.raises(httpx.RemoteProtocolError):
            signed(server, "POST", f"{B}/orders", json=body, timeout=5)
        assert server.audit()["orders"] == []  # held, then dropped: nothing was created
        again = signed(server, "POST", f"{B}/orders", json=body, timeout=5)
        assert again.status_code == 200 and again.json()["success"] is True
        assert [o["client_order_id"] for o in server.audit()["orders"]] == ["stalled"]
