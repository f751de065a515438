"""Product specs from files: the embedded catalogue, or a saved Coinbase ``/products`` answer.

Accepted shapes (parsed here, at the edge; everything inward sees ``Product``):
* Coinbase Advanced (``price_increment``, ``base_increment``, ``base_min_size``, ``quote_min_size``),
  as a JSON list, or ``{"products": [...]}``;
* the legacy Coinbase Pro/Exchange answer (``quote_increment``, ``min_market_funds``), optionally
  as a capture line ``<url> -> <time>: [...]`` among others, as in
  ``shared/data/coinbase-thin-2021-04-17/products.txt``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from makerfirst.domain.errors import ProductsFileError as ProductsFileError  # noqa: PLC0414  # re-exported
from makerfirst.domain.product import Product


@dataclass(frozen=True, slots=True)
class Catalogue:
    products: dict[str, Product]
    reference_prices: dict[str, Decimal]
    markets: dict[str, str]  # product id → the synthetic market preset that fits it (paper runs)


def _decimal(entry: dict[str, Any], *keys: str, where: str) -> Decimal:
    for key in keys:
        if entry.get(key) not in (None, ""):
            try:
                return Decimal(str(entry[key]))
            except InvalidOperation:
                raise ProductsFileError(f"{where}: {key} is not a decimal number: {entry[key]!r}") from None
    raise ProductsFileError(f"{where}: missing {' or '.join(keys)}")


def parse_product(entry: dict[str, Any], source: str) -> Product:
    product_id = str(entry.get("product_id") or entry.get("id") or "")
    if "-" not in product_id:
        raise ProductsFileError(f"{source}: an entry has no product_id like 'PENGU-USD': {entry!r:.120}")
    base, quote = product_id.split("-", 1)
    where = f"{source}: {product_id}"
    disabled = bool(entry.get("trading_disabled") or entry.get("is_disabled") or entry.get("cancel_only"))
    status = str(entry.get("status", "online")).lower()
    return Product(
        product_id=product_id,
        base_currency=str(entry.get("base_currency_id") or entry.get("base_currency") or base),
        quote_currency=str(entry.get("quote_currency_id") or entry.get("quote_currency") or quote),
        price_increment=_decimal(entry, "price_increment", "quote_increment", where=where),
        base_increment=_decimal(entry, "base_increment", where=where),
        base_min_size=_decimal(entry, "base_min_size", where=where),
        quote_min_size=_decimal(entry, "quote_min_size", "min_market_funds", where=where),
        base_max_size=_decimal(entry, "base_max_size", where=where) if entry.get("base_max_size") else None,
        trading_disabled=disabled or status not in ("online", "active"),
    )


def parse_catalogue(text: str, source: str) -> Catalogue:
    body = text.strip()
    if not body.startswith(("[", "{")):  # a capture: "<url> -> <time>: [ ... ]" then other lines
        answer = next((line for line in body.splitlines() if " -> " in line and ": " in line), body)
        body = answer[answer.index(": ") + 2 :] if ": " in answer else answer
    try:
        data, _ = json.JSONDecoder().raw_decode(body)
    except json.JSONDecodeError as bad:
        raise ProductsFileError(f"{source}: not JSON ({bad.msg} at line {bad.lineno})") from None
    entries = data.get("products") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ProductsFileError(f"{source}: expected a list of products or {{'products': [...]}}")
    products, prices, markets = {}, {}, {}
    for entry in entries:
        product = parse_product(entry, source)
        products[product.product_id] = product
        if entry.get("market"):
            markets[product.product_id] = str(entry["market"])
        if entry.get("reference_price"):
            prices[product.product_id] = _decimal(
                entry, "reference_price", where=f"{source}: {product.product_id}"
            )
    return Catalogue(products, prices, markets)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The products in ``path``, or the embedded catalogue when ``path`` is None."""
    if path is None:
        text = (Path(__file__).resolve().parents[1] / "data" / "products.json").read_text(encoding="utf-8")
        return parse_catalogue(text, "embedded products.json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as missing:
        raise ProductsFileError(f"cannot read products file {path}: {missing.strerror}") from None
    except UnicodeDecodeError:
        raise ProductsFileError(
            f"products file {path} is not UTF-8 text; pass a saved Coinbase /products answer (JSON)"
        ) from None
    return parse_catalogue(text, str(path))
