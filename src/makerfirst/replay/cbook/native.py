"""The compiled book's kernels as a native extension, built once per machine, loaded without numba.

numba compiles :mod:`makerfirst.replay.cbook.kernels` just in time; even from its disk cache a
process pays for importing numba and llvmlite and for loading every kernel (about 0.13 s of a
``makerfirst backtest``), which is most of what a short backtest costs. The same kernels, compiled
ahead of time by numba's ``pycc`` into a CPython extension, import in well under a millisecond and
need only numpy. The first book a machine builds compiles that extension (5 to 10 s, a C
compiler needed) into ``$MAKERFIRST_KERNEL_DIR`` (else ``~/.cache/makerfirst/kernels``); every
later process loads it.

The extension's name carries a hash of the kernels' source, their signatures and the numba,
numpy and Python that built them, so an edited kernel or an upgraded numpy builds a new one and
never runs stale code. Where it cannot be built (no compiler, a numba without ``pycc``, a folder
that cannot be written) the book runs on numba's JIT kernels, the same code with the same results:
a one-line warning says why, and a marker file next to where the extension would be keeps later
runs from trying again until it is deleted. ``MAKERFIRST_KERNELS=jit`` asks for the JIT kernels.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import sys
import tempfile
import warnings
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import numpy as np

SOURCES = ("kernels.py", "layout.py", "native.py")  # what the extension is compiled from
KERNEL_DIR_ENV = "MAKERFIRST_KERNEL_DIR"
KERNELS_ENV = "MAKERFIRST_KERNELS"  # "jit": numba's JIT kernels, no extension
log = logging.getLogger(__name__)

_TAPE = "i8[::1], i1[::1], i1[::1], i8[::1], i8[::1], i8[::1], i8[::1], i8[::1]"  # + prices
_STATE, _LV, _ROWS, _FLAGS = "i8[::1]", "i8[:, :, ::1]", "i8[:, ::1]", "i1[::1]"
_BOOK = f"{_STATE}, {_LV}, {_FLAGS}, i8[::1], {_ROWS}, {_ROWS}, i8[::1]"  # state .. scratch
# The exact types CompiledBook hands each kernel (an extension converts nothing: a wrong dtype or
# layout is a TypeError, which the tests would see).
SIGNATURES: dict[str, str] = {
    "advance": f"i8({_TAPE}, i8, i8, b1, {_BOOK})",
    "catch_up": f"void({_TAPE}, i8, {_STATE}, {_LV}, {_FLAGS}, i8[::1])",
    "advance_sampled": f"i8({_TAPE}, i8[::1], i8[::1], i8[::1], {_BOOK})",
    "submit": f"i8({_STATE}, {_LV}, {_ROWS}, i8[::1], {_ROWS}, i8, i8, b1, i8, i8, b1, i8)",
    "cancel": f"i8({_STATE}, {_LV}, {_ROWS}, i8)",
    "engine_best": f"i8({_STATE}, {_LV}, i8)",
    "engine_levels": f"i8({_STATE}, {_LV}, i8[::1], i8, {_ROWS})",
    "first_row_meeting": f"i8({_FLAGS}, {_FLAGS}, i8[::1], i8[::1], i8, i8, {_FLAGS}, {_FLAGS}, i8, i8)",
}


def kernel_dir() -> Path:
    """``$MAKERFIRST_KERNEL_DIR`` if set, else ``~/.cache/makerfirst/kernels``."""
    override = os.environ.get(KERNEL_DIR_ENV)
    return Path(override) if override else Path.home() / ".cache" / "makerfirst" / "kernels"


def extension_name(source_dir: Path | None = None) -> str:
    """The module name of the extension that the kernels' source (in ``source_dir``, default this
    package) and this numba, numpy and Python build."""
    here = source_dir or Path(__file__).parent
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update((here / source).read_bytes())
    digest.update(_numba_stamp())
    digest.update(f"|{np.__version__}|{sys.version}|{sys.platform}".encode())
    return f"_cbook_{digest.hexdigest()[:20]}"


@cache
def kernels() -> ModuleType:
    """The kernels this process runs: the native extension (built on first use), else numba's JIT
    kernels. Loaded once per process."""
    if os.environ.get(KERNELS_ENV, "").strip().lower() == "jit":
        return jit_kernels()
    name = extension_name()
    directory = kernel_dir()
    path = directory / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    failed = path.with_suffix(".failed")
    if failed.exists():
        return jit_kernels()
    loaded = _load(name, path)
    if loaded is not None:
        return loaded
    # A warning so that it shows where nothing configured logging (a first backtest waits on it).
    log.warning("compiling the replay book's kernels for this machine, once (5 to 10 s): %s", path)
    try:
        _build(name, directory, path)
    except Exception as error:  # any failure to build leaves the JIT kernels
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        try:
            failed.write_text(reason + "\n")
            again = f"delete {failed} to try again"
        except OSError:
            again = f"set {KERNEL_DIR_ENV} to a writable folder"
        log.warning(
            "the replay book's kernels were not compiled ahead of time (%s); numba's JIT runs them "
            "(same results, about 0.15 s more per command); %s",
            reason,
            again,
        )
        return jit_kernels()
    return _load(name, path) or jit_kernels()


def jit_kernels() -> ModuleType:
    """numba's JIT-compiled kernels (the source the extension is built from)."""
    from makerfirst.replay.cbook import kernels as jit  # noqa: PLC0415 - numba only when asked

    return jit


def _load(name: str, path: Path) -> ModuleType | None:
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    try:
        module = importlib.util.module_from_spec(spec)  # an extension is loaded here
        spec.loader.exec_module(module)
    except ImportError as error:  # a truncated or foreign file: built again
        log.info("kernel extension %s not loaded (%s): building it again", path, error)
        return None
    if not all(hasattr(module, kernel) for kernel in SIGNATURES):
        return None
    return module


def _build(name: str, directory: Path, path: Path) -> None:
    """Compile the extension into ``directory`` and move it to ``path`` in one rename, so that a
    process that loads it concurrently sees either no file or the whole one."""
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycc is "pending deprecation"; without it the JIT runs
        from numba.pycc import cc as pycc  # noqa: PLC0415 - only to build

        from makerfirst.replay.cbook import kernels as source  # noqa: PLC0415

        with tempfile.TemporaryDirectory(dir=directory, prefix=f".{name}.") as scratch:
            compiler: Any = cast(Any, pycc).CC(name, source_module=source)
            compiler.output_dir = scratch
            compiler.use_nrt = False  # the kernels allocate nothing (see kernels.py)
            for kernel, signature in SIGNATURES.items():
                compiler.export(kernel, signature)(getattr(source, kernel).py_func)
            compiler.compile()
            os.replace(Path(scratch) / compiler.output_file, path)


def _numba_stamp() -> bytes:
    """numba's version file, found without importing numba (its metadata costs 2 ms to read)."""
    spec = importlib.util.find_spec("numba")
    if spec is None or spec.origin is None:
        return b"no numba"
    try:
        return (Path(spec.origin).parent / "_version.py").read_bytes()
    except OSError:
        return spec.origin.encode()
