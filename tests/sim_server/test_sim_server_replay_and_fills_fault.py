"""The sim server refuses a replayed JWT, and can fail the fills endpoint on its own (``error5xx@fills``)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from makerfirst.adapters.sim_server.auth import AuthError, JwtVerifier, generate_credentials, sign_request
from makerfirst.adapters.sim_server.faults import FaultPlan
from makerfirst.adapters.sim_server.testing import ServerHandle, running_server
from makerfirst.clock import VirtualClock

B = "/api/v3/brokerage"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with running_server(balances={"PENGU": "5000", "USD": "100"}) as handle:
        yield handle


def test_the_same_jwt_sent_twice_is_refused_the_second_time(server: ServerHandle) -> None:
    headers = server.auth_header("GET", f"{B}/accounts")
    assert httpx.get(server.url + f"{B}/accounts", headers=headers).status_code == 200
    replay = httpx.get(server.url + f"{B}/accounts", headers=headers)
    assert (replay.status_code, replay.text) == (401, "Unauthorized\n")
    fresh = server.auth_header("GET", f"{B}/accounts")  # a new token, a new nonce: fine again
    assert httpx.get(server.url + f"{B}/accounts", headers=fresh).status_code == 200


def test_a_nonce_is_forgotten_once_its_token_has_expired() -> None:
    credentials = generate_credentials()
    clock = VirtualClock(start=1_000_000.0)
    public = credentials.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    verifier = JwtVerifier({credentials.name: public}, clock)
    path = f"{B}/accounts"
    token = sign_request(credentials, "GET", f"127.0.0.1{path}", clock.now())
    assert verifier.verify(f"Bearer {token}", "GET", path) == credentials.name
    with pytest.raises(AuthError, match="replayed"):
        verifier.verify(f"Bearer {token}", "GET", path)
    clock.advance_to(clock.now() + 200.0)  # past exp + leeway: the token itself is refused now, as expired
    with pytest.raises(AuthError, match="expired"):
        verifier.verify(f"Bearer {token}", "GET", path)
    later = sign_request(credentials, "GET", f"127.0.0.1{path}", clock.now())
    assert verifier.verify(f"Bearer {later}", "GET", path) == credentials.name


def test_a_5xx_aimed_at_fills_fails_only_the_fills_endpoint_the_next_n_times() -> None:
    with running_server(balances={"PENGU": "5000", "USD": "100"}) as server:
        server.set_faults(FaultPlan.parse("error5xx@fills=2"))
        fills, accounts = f"{B}/orders/historical/fills", f"{B}/accounts"

        def get(path: str) -> int:
            return httpx.get(server.url + path, headers=server.auth_header("GET", path)).status_code

        assert [get(fills), get(accounts), get(fills), get(fills)] == [503, 200, 503, 200]
