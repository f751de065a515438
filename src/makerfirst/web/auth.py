"""The dashboard's token: from ``MAKERFIRST_WEB_TOKEN`` or a file, compared in constant time, never
logged. A browser signs in once (``POST /login``) and then carries a cookie derived from the token
(an HMAC, not the token itself); scripts send ``Authorization: Bearer <token>``."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

from makerfirst.domain.errors import InputError

TOKEN_ENV = "MAKERFIRST_WEB_TOKEN"  # noqa: S105  # the variable's name, not a token
TOKEN_FILE_ENV = "MAKERFIRST_WEB_TOKEN_FILE"  # noqa: S105
COOKIE = "makerfirst_session"
MIN_TOKEN_LENGTH = 12


def load_token(token_file: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    source = os.environ if env is None else env
    token = source.get(TOKEN_ENV, "").strip()
    path = token_file or (Path(source[TOKEN_FILE_ENV]) if source.get(TOKEN_FILE_ENV) else None)
    if not token and path is not None:
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as missing:
            raise InputError(f"--token-file {path}: cannot read it ({missing.strerror})") from None
    if not token:
        raise InputError(
            f"the dashboard needs a token: set {TOKEN_ENV} (or {TOKEN_FILE_ENV}, or pass --token-file PATH)"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise InputError(f"the dashboard token must be at least {MIN_TOKEN_LENGTH} characters long")
    return token


class TokenCheck:
    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self.session = hmac.new(self._token, b"makerfirst dashboard session", hashlib.sha256).hexdigest()

    def token_ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self._token)

    def session_ok(self, cookie: str | None) -> bool:
        return cookie is not None and hmac.compare_digest(cookie, self.session)

    def request_ok(self, authorization: str | None, cookie: str | None) -> bool:
        scheme, _, credential = (authorization or "").partition(" ")
        return (scheme.lower() == "bearer" and self.token_ok(credential.strip())) or self.session_ok(cookie)
