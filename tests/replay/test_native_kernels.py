"""The compiled book's kernels built ahead of time into a native extension: loaded without numba,
the same results as numba's JIT, rebuilt when their source changes, and the JIT where no build is
possible (one warning, no retry on every run)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from makerfirst.domain.orders import Side
from makerfirst.replay.cbook import BookTape, CompiledBook, native
from makerfirst.replay.events import ASK, BBO, BID, CLEAR, EVENT_DTYPE, LEVEL, TRADE, ProductScale

SCALE = ProductScale("TEST-USD", Decimal("0.01"), Decimal("0.001"))
MS = 1_000_000


@pytest.fixture
def fresh_loader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """``native.kernels()`` as in a new process, with its extension folder in ``tmp_path``."""
    monkeypatch.setenv(native.KERNEL_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(native.KERNELS_ENV, raising=False)
    native.kernels.cache_clear()
    yield tmp_path
    native.kernels.cache_clear()


@pytest.fixture(scope="module")
def extension() -> Path:
    """The extension this test process runs (built on first use if the machine had none), loaded
    before any test points the loader at a folder of its own."""
    loaded = native.kernels()
    assert loaded is not native.jit_kernels(), (
        "the kernels were not compiled ahead of time on this machine (a C compiler and numba's pycc"
        " are needed); see the warning above"
    )
    assert loaded.__file__ is not None
    return Path(loaded.__file__)


def test_a_new_process_runs_the_extension_without_importing_numba(extension: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from makerfirst.replay.cbook import native
        loaded = native.kernels()
        print(loaded.__name__, "numba" in sys.modules, "llvmlite" in sys.modules)
        """
    )
    env = {"PATH": "/usr/bin:/bin", native.KERNEL_DIR_ENV: str(extension.parent)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120, env=env
    )
    assert done.stdout.split() == [native.extension_name(), "False", "False"]


def random_tape(seed: int, n: int = 3000) -> BookTape:
    """Bids at 990..999, asks at 1001..1010, snapshots now and then, venue tickers, and trades both
    ways at 994..1006, where our orders rest, big enough to reach through their queues."""
    rng = np.random.default_rng(seed)
    kind = rng.choice([LEVEL, LEVEL, LEVEL, TRADE, TRADE, BBO], n)
    kind[rng.integers(0, n, 3)] = CLEAR
    kind[0] = CLEAR
    side = rng.choice([BID, ASK], n)
    trades, tickers = kind == TRADE, kind == BBO
    rows = np.zeros(n, EVENT_DTYPE)
    rows["ts_ns"] = np.cumsum(rng.integers(0, 3, n)) * 100 * MS
    rows["kind"] = kind
    rows["side"] = side
    rows["price"] = np.where(side == BID, rng.integers(990, 1000, n), rng.integers(1001, 1011, n))
    rows["price"][trades] = rng.integers(994, 1007, int(trades.sum()))
    rows["size"] = np.where(rng.random(n) < 0.25, 0, rng.integers(1, 30, n))
    rows["size"][trades] = rng.integers(1, 80, int(trades.sum()))
    rows["size"][tickers] = rng.integers(0, 2, int(tickers.sum()))
    rows["aux"][tickers] = rng.integers(1001, 1011, int(tickers.sum()))
    return BookTape.from_rows(rows, SCALE)


def book_arrays(book: CompiledBook) -> list[np.ndarray]:
    return [book._state, book._lv, book._touched_flag, book._touched, book._orders]


@pytest.mark.parametrize("seed", range(6))
def test_the_extension_and_the_jit_leave_the_same_books_call_for_call(extension: Path, seed: int) -> None:
    """Every kernel on a long random tape: catch-up, orders placed and cancelled, advances to a
    time, to a fill, sampled, and the look-ahead; same returns and the same arrays after each."""
    tape = random_tape(seed)
    rng = np.random.default_rng(100 + seed)
    books = [CompiledBook(tape, kernels=k) for k in (native.kernels(), native.jit_kernels())]

    def both(call: str, *args: object, **kwargs: object) -> Any:
        results = [getattr(book, call)(*args, **kwargs) for book in books]
        for mine, theirs in zip(*(book_arrays(b) for b in books), strict=True):
            np.testing.assert_array_equal(mine, theirs)
        first = results[0]
        if isinstance(first, tuple) and first and isinstance(first[1], np.ndarray):
            for mine, theirs in zip(*results, strict=True):
                np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
        else:
            assert results[0] == results[1]
        return first

    both("catch_up", len(tape) // 5)
    handles: list[int] = []
    maker_fills = 0
    while books[0].cursor < len(tape):
        action = rng.integers(0, 6)
        if action <= 1:  # a sell or a buy, resting or fill-and-kill
            side = Side.SELL if action == 0 else Side.BUY
            price, lots = int(rng.integers(995, 1006)), int(rng.integers(1, 40))
            placed = both("submit", side, price, lots, rest=bool(rng.integers(0, 4)))
            handles += [placed.order] if placed.order is not None else []
        elif action == 2 and handles:
            both("cancel", handles.pop(int(rng.integers(0, len(handles)))))
        elif action == 3:
            stops = np.sort(books[0].cursor + rng.integers(0, 60, 5))
            *_, fills = both("advance_sampled", stops)
            maker_fills += len(fills)
        elif action == 4:
            both("first_row_meeting", int(rng.integers(995, 1006)), int(rng.integers(995, 1006)), len(tape))
        else:
            until = books[0].now_ns + int(rng.integers(0, 5000)) * MS
            advanced = both("advance", until, stop_on_best_change=True)
            maker_fills += len(advanced.fills)
        both("levels", Side.SELL, 5)
        both("levels", Side.BUY, 5)
    assert maker_fills > 0  # the rules that fill us ran, not only the book


def test_an_edited_kernel_source_names_a_new_extension(tmp_path: Path) -> None:
    here = Path(native.__file__).parent
    for source in native.SOURCES:
        shutil.copy(here / source, tmp_path / source)
    assert native.extension_name(tmp_path) == native.extension_name()
    kernels_py = tmp_path / "kernels.py"
    kernels_py.write_text(kernels_py.read_text() + "\n# edited\n")
    assert native.extension_name(tmp_path) != native.extension_name()


def test_an_unloadable_file_is_built_again(
    extension: Path, fresh_loader: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = fresh_loader / extension.name
    broken.write_bytes(b"not an ELF file")
    built: list[Path] = []

    def build(name: str, directory: Path, path: Path) -> None:  # the real build, without its 10 s
        built.append(path)
        shutil.copy(extension, path)

    monkeypatch.setattr(native, "_build", build)
    loaded = native.kernels()
    assert built == [broken]
    assert loaded.__name__ == native.extension_name()


def test_where_no_extension_can_be_built_the_jit_runs_with_one_warning_and_no_retry(
    fresh_loader: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[str] = []

    def no_compiler(name: str, directory: Path, path: Path) -> None:
        attempts.append(name)
        raise OSError("error: command 'gcc' failed: No such file or directory")

    monkeypatch.setattr(native, "_build", no_compiler)
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        assert native.kernels() is native.jit_kernels()
    notice, warning = caplog.messages  # the one line a first build prints, then why it failed
    assert notice.startswith("compiling the replay book's kernels for this machine, once")
    assert "command 'gcc' failed" in warning and "numba's JIT runs them" in warning
    marker = next(fresh_loader.glob("*.failed"))
    assert f"delete {marker} to try again" in warning
    native.kernels.cache_clear()  # the next process
    assert native.kernels() is native.jit_kernels()
    assert attempts == [native.extension_name()]


def test_the_jit_on_request(fresh_loader: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.KERNELS_ENV, "jit")
    assert native.kernels() is native.jit_kernels()
    assert not list(fresh_loader.iterdir())
