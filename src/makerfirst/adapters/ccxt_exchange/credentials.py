"""Exchange API credentials, and the redaction that keeps them out of logs and error messages.

A CDP API key is a *name* (``organizations/{org}/apiKeys/{key}``) and an EC P-256 private key in
PEM. The name identifies the key and is not secret; the private key is, and so is every bearer
token signed with it. The private key lives in a :class:`pydantic.SecretStr` (its ``repr`` and
``str`` print stars), and :class:`Redactor` scrubs the key text, any PEM block and any bearer
token from every message the adapter writes or raises.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import SecretStr

from makerfirst.domain.errors import AuthenticationError

KEY_NAME_ENV = "COINBASE_API_KEY_NAME"
PRIVATE_KEY_ENV = "COINBASE_API_PRIVATE_KEY"
REDACTED = "<redacted>"

_PEM_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")
_MIN_FRAGMENT = 12  # shorter key lines (the PEM's last line) are too short to recognise on their own


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """A CDP API key: ``key_name`` (public identifier) and ``private_key`` (PEM, secret)."""

    key_name: str
    private_key: SecretStr

    def __repr__(self) -> str:
        return f"ApiCredentials(key_name={self.key_name!r}, private_key={REDACTED!r})"

    __str__ = __repr__


def load_credentials(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> ApiCredentials:
    """Read a CDP key file (``{"name": ..., "privateKey": "-----BEGIN EC PRIVATE KEY-----..."}``)
    when ``path`` is given, else the ``COINBASE_API_KEY_NAME`` / ``COINBASE_API_PRIVATE_KEY``
    variables of ``env`` (default ``os.environ``; literal ``\\n`` in the key become newlines).

    The private key must parse as a PEM private key. Raises :class:`AuthenticationError` (stop:
    fix the credentials) with a message that names the file or variable, never the key text.
    """
    if path is not None:
        name, secret = _from_file(Path(path))
    else:
        variables = os.environ if env is None else env
        name = variables.get(KEY_NAME_ENV, "").strip()
        secret = variables.get(PRIVATE_KEY_ENV, "")
        if not name or not secret.strip():
            raise AuthenticationError(f"no API credentials: set {KEY_NAME_ENV} and {PRIVATE_KEY_ENV}")
        secret = secret.replace("\\n", "\n")
    secret = secret.strip() + "\n"
    _check_private_key(secret, where=str(path) if path is not None else PRIVATE_KEY_ENV)
    return ApiCredentials(key_name=name, private_key=SecretStr(secret))


def _from_file(path: Path) -> tuple[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthenticationError(f"cannot read the API key file {path}: {exc.strerror}") from None
    try:
        # ``from None`` everywhere below: a JSONDecodeError carries the whole document, key included.
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuthenticationError(
            f"the API key file {path} is not JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise AuthenticationError(f"the API key file {path} must hold an object with name and privateKey")
    name, secret = data.get("name"), data.get("privateKey")
    if not isinstance(name, str) or not name.strip():
        raise AuthenticationError(f"the API key file {path} has no 'name'")
    if not isinstance(secret, str) or not secret.strip():
        raise AuthenticationError(f"the API key file {path} has no 'privateKey'")
    return name.strip(), secret.replace("\\n", "\n")


def _check_private_key(secret: str, *, where: str) -> None:
    try:
        load_pem_private_key(secret.encode(), password=None)
    except (ValueError, TypeError):
        # The parser's message does not quote the key, but its cause chain may hold the bytes.
        raise AuthenticationError(f"the private key from {where} is not a PEM private key") from None


class Redactor:
    """Scrubs secrets from text: the private key (whole or any of its lines), PEM blocks, bearer tokens."""

    def __init__(self, credentials: ApiCredentials | None = None) -> None:
        fragments: list[str] = []
        if credentials is not None:
            secret = credentials.private_key.get_secret_value()
            fragments.append(secret.strip())
            fragments += [
                line.strip()
                for line in secret.splitlines()
                if len(line.strip()) >= _MIN_FRAGMENT and "-----" not in line
            ]
        self._fragments = tuple(sorted({f for f in fragments if f}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for fragment in self._fragments:
            text = text.replace(fragment, REDACTED)
            # ccxt and JSON bodies escape newlines: look for the escaped form too.
            text = text.replace(fragment.replace("\n", "\\n"), REDACTED)
        text = _PEM_BLOCK.sub(REDACTED, text)
        return _BEARER.sub(rf"\g<1>{REDACTED}", text)
