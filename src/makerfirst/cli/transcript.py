"""Renders the engine's structured log records as the design note's transcript."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

# Indentation and marks per event, as the design note's "After (Fixed)" transcript shows them.
_PREFIX = {
    "twap_start": "",
    "aggressive_purge": "  ⚠️ ",
    "taker_filled": "  ✅ ",
    "taker_failed": "  ❌ ",
}
_FAILED_OUTCOMES = {"residual_exceeds_threshold", "taker_fallback_disabled", "taker_failed", "max_attempts"}


class TranscriptFormatter(logging.Formatter):
    """One line per record. ``tag_products`` prefixes each line with its product, for runs where
    several products' loops interleave."""

    def __init__(self, tag_products: bool = False) -> None:
        super().__init__()
        self._tag_products = tag_products

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", "")
        prefix = _PREFIX.get(event, "  ")
        if event == "twap_finish" and getattr(record, "outcome", "") in _FAILED_OUTCOMES:
            prefix = "  ❌ "
        product = getattr(record, "product_id", None)
        tag = f"[{product}] " if self._tag_products and product else ""
        return tag + prefix + record.getMessage()


def install_transcript(
    stream: TextIO | None = None, level: int = logging.INFO, *, tag_products: bool = False
) -> logging.Handler:
    """Send makerfirst's log records to ``stream`` (stdout by default) as a transcript."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(TranscriptFormatter(tag_products))
    handler.setLevel(level)
    root = logging.getLogger("makerfirst")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    root.propagate = False
    return handler
