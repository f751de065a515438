"""Import the bench's modules (``bench/`` is scripts, not a package) for the tests here."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import chaos_check  # noqa: E402
import chaos_inprocess  # noqa: E402
import chaos_processes  # noqa: E402

__all__ = ["chaos_check", "chaos_inprocess", "chaos_processes"]
