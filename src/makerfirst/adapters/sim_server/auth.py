"""CDP API keys and the JWT check Coinbase Advanced applies to every private request.

A key file is Coinbase's CDP JSON, ``{"name": "organizations/<uuid>/apiKeys/<uuid>",
"privateKey": ...}``: the private key is an EC P-256 PEM (signed ``ES256``; what ccxt and the
official SDK both accept) or a base64 Ed25519 key (signed ``EdDSA``). The server only ever
keeps the public half. Private keys are never logged, echoed or put in a ``repr``.

The verification follows coinbase-advanced-api.md §2.1: ``Bearer`` + a JWT whose ``kid`` names a
registered key and equals ``sub``, a valid signature, ``nbf``/``exp`` around the clock's now
with a little leeway and a life of at most two minutes, and a ``uri`` (or one of ``uris``) that
names this request's method and path — whatever host or scheme precedes the path (the SDK signs
``GET 127.0.0.1:8765/api/...``, ccxt ``GET http://127.0.0.1:8765/api/...``). ``aud`` and ``iss``
are not enforced: the two clients send different ones. A token is good for one request: its
header ``nonce`` (both clients send a fresh one each time; a token without one is keyed by its
signature) seen again while the token is still valid is a replay, refused with 401 (§2.1, 8).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import os
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from makerfirst.clock import Clock
from makerfirst.domain.errors import CredentialsError as CredentialsError  # noqa: PLC0414  # re-exported

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
LEEWAY_SEC = 5.0
MAX_TOKEN_LIFE_SEC = 120.0  # Coinbase's JWTs live two minutes; both clients sign exactly that
CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A CDP API key: its name and its private key (PEM for EC P-256, base64 for Ed25519)."""

    name: str
    private_key: str = field(repr=False)

    def public_key(self) -> PublicKey:
        return _load_private_key(self.private_key).public_key()

    def write(self, directory: Path) -> Path:
        """Write ``directory/credentials.json`` readable by its owner only (mode 0600)."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / CREDENTIALS_FILE
        body = json.dumps({"name": self.name, "privateKey": self.private_key}, indent=2) + "\n"
        # Created 0600 from the start: the key is never readable by others, not even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        path.chmod(0o600)  # O_CREAT's mode does not apply to a file that already existed
        return path


def generate_credentials() -> Credentials:
    """A fresh EC P-256 key named like a CDP key (``organizations/<uuid>/apiKeys/<uuid>``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN EC PRIVATE KEY", as CDP issues them
        serialization.NoEncryption(),
    ).decode()
    return Credentials(f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}", pem)


def sign_request(credentials: Credentials, method: str, target: str, now: float) -> str:
    """A JWT for one request, as the official SDK makes it: ``uri = "METHOD host[:port]/path"``.

    For clients of this server that speak raw HTTP (tests); ``target`` is host and path, no query.
    """
    key = _load_private_key(credentials.private_key)
    issued = int(now)
    return jwt.encode(
        {
            "sub": credentials.name,
            "iss": "cdp",
            "nbf": issued,
            "exp": issued + 120,
            "uri": f"{method} {target}",
        },
        key,
        algorithm="EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "ES256",
        headers={"kid": credentials.name, "nonce": secrets.token_hex()},
    )


def sign_websocket(credentials: Credentials, now: float) -> str:
    """A JWT for a WebSocket subscribe (§6): the request claims without ``uri``."""
    key = _load_private_key(credentials.private_key)
    issued = int(now)
    return jwt.encode(
        {"sub": credentials.name, "iss": "cdp", "nbf": issued, "exp": issued + 120},
        key,
        algorithm="EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "ES256",
        headers={"kid": credentials.name, "nonce": secrets.token_hex()},
    )


def load_credentials(path: Path) -> Credentials:
    """Read a CDP key file and check that its key loads (raises :class:`CredentialsError`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as missing:
        raise CredentialsError(f"cannot read key file {path}: {missing.strerror}") from None
    except json.JSONDecodeError:
        raise CredentialsError(f"key file {path} is not JSON") from None
    name = data.get("name") if isinstance(data, dict) else None
    secret = data.get("privateKey") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name or not isinstance(secret, str):
        raise CredentialsError(f'key file {path} needs "name" and "privateKey" strings')
    credentials = Credentials(name, secret)
    try:
        credentials.public_key()
    except (ValueError, TypeError):
        raise CredentialsError(
            f"key file {path}: privateKey is neither an EC/Ed25519 PEM nor base64"
        ) from None
    return credentials


def _load_private_key(secret: str) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    if secret.lstrip().startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(secret.encode(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            return key
        raise ValueError("only EC and Ed25519 keys are CDP keys")
    try:
        raw = base64.b64decode("".join(secret.split()), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if len(raw) not in (32, 64):  # CDP's Ed25519 secret is seed || public key, 64 bytes
        raise ValueError("an Ed25519 key is 32 or 64 bytes")
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw[:32])


class AuthError(Exception):
    """The request is not authenticated; the message says why (no token or key material in it)."""


class JwtVerifier:
    """Checks ``Authorization: Bearer <JWT>`` against the registered public keys."""

    def __init__(self, keys: dict[str, PublicKey], clock: Clock) -> None:
        self._keys = dict(keys)
        self._clock = clock
        # (key, nonce) of every token accepted and still valid, and when each may be forgotten.
        self._seen: set[tuple[str, str]] = set()
        self._forget: list[tuple[float, str, str]] = []

    def verify(self, authorization: str | None, method: str, path: str) -> str:
        """Return the key name that signed this request, or raise :class:`AuthError`."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or token.count(".") != 2:
            raise AuthError("no Bearer JWT")
        kid, header, claims = self._decoded(token)
        if not any(_names_request(uri, method, path) for uri in _uris(claims)):
            raise AuthError(f"uri does not name {method} {path}")
        nonce = header.get("nonce")
        self._use_once(kid, nonce if isinstance(nonce, str) and nonce else token.rsplit(".", 1)[1], claims)
        return kid

    def verify_websocket(self, token: object) -> str:
        """The key name that signed a WebSocket subscribe's ``jwt`` (§6: the REST claims without
        ``uri``), or raise :class:`AuthError`. The SDK signs one token per subscribe message and
        reuses it on resubscribe, so its nonce is not burnt."""
        if not isinstance(token, str) or token.count(".") != 2:
            raise AuthError("no JWT in the subscribe message")
        kid, _, _ = self._decoded(token)
        return kid

    def _decoded(self, token: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(key name, header, claims) of a token signed by a registered key and valid now."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed JWT header") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ("ES256", "EdDSA") or not isinstance(kid, str):
            raise AuthError(f"unsupported alg {alg!r} or no kid")
        key = self._keys.get(kid)
        if key is None:
            raise AuthError("unknown key")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                options={
                    "require": ["sub", "nbf", "exp"],
                    "verify_aud": False,
                    "verify_iss": False,
                    # Time is checked below against the injected clock, not PyJWT's own.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError) as bad:
            raise AuthError(f"invalid JWT: {type(bad).__name__}") from None
        if claims["sub"] != kid:
            raise AuthError("sub does not match kid")
        self._check_times(claims)
        return kid, header, claims

    def _use_once(self, kid: str, nonce: str, claims: dict[str, Any]) -> None:
        """Refuse a nonce already used with this key while its token could still be valid.
        Checked last, on a token that is otherwise good: a forged one cannot burn a nonce."""
        now = self._clock.now()
        while self._forget and self._forget[0][0] < now:
            _, old_kid, old_nonce = heapq.heappop(self._forget)
            self._seen.discard((old_kid, old_nonce))
        if (kid, nonce) in self._seen:
            raise AuthError("replayed JWT: its nonce was already used")
        self._seen.add((kid, nonce))
        heapq.heappush(self._forget, (float(claims["exp"]) + LEEWAY_SEC, kid, nonce))

    def _check_times(self, claims: dict[str, Any]) -> None:
        nbf, exp = claims["nbf"], claims["exp"]
        if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in (nbf, exp)):
            raise AuthError("nbf and exp must be numbers")
        now = self._clock.now()
        if nbf > now + LEEWAY_SEC:
            raise AuthError("token not yet valid")
        if exp <= now - LEEWAY_SEC:
            raise AuthError("token expired")
        if exp - nbf > MAX_TOKEN_LIFE_SEC:
            raise AuthError("token lives longer than two minutes")


def _uris(claims: dict[str, Any]) -> list[str]:
    uris: list[Any] = []
    if "uri" in claims:
        uris.append(claims["uri"])
    if isinstance(claims.get("uris"), list):
        uris.extend(claims["uris"])
    return [u for u in uris if isinstance(u, str)]


def _names_request(uri: str, method: str, path: str) -> bool:
    """``"GET [scheme://]host[:port]/path[?query]"`` names ``GET /path``, whatever the host."""
    signed_method, _, target = uri.partition(" ")
    for scheme in ("https://", "http://"):
        target = target.removeprefix(scheme)
    slash = target.find("/")
    signed_path = target[slash:].split("?", 1)[0] if slash >= 0 else ""
    return signed_method == method and signed_path == path
