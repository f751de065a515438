"""``makerfirst record``: record Coinbase's public L2 feed into captures ``makerfirst backtest`` reads.

Registered by the CLI's main module as ``app.command("record")(record)``.
"""

from __future__ import annotations

import asyncio
import math
import re
import signal
from pathlib import Path
from typing import Annotated

import typer

from makerfirst.clock import SystemClock
from makerfirst.domain.errors import MakerfirstError
from makerfirst.recording.recorder import COINBASE_REST, COINBASE_WS, Progress, RecordConfig, Recorder

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SEC = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400}


def parse_span(text: str, option: str) -> float:
    """``"90"``, ``"90s"``, ``"5m"``, ``"1h"``, ``"2d"`` → seconds (> 0)."""
    match = _SPAN.match(text)
    seconds = float(match.group(1)) * _UNIT_SEC[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise typer.BadParameter(f"{option} takes a time like 90s, 5m, 1h or 2d, got {text!r}")
    return seconds


def _products(text: str) -> list[str]:
    products = [p.strip().upper() for p in text.split(",") if p.strip()]
    bad = [p for p in products if "-" not in p]
    if not products or bad:
        raise typer.BadParameter(
            f"--products takes BASE-QUOTE ids separated by commas (e.g. BTC-USD,ETH-USD), got {text!r}"
        )
    return list(dict.fromkeys(products))


def record(
    products: Annotated[str, typer.Option("--products", help="Products to record: BTC-USD,ETH-USD.")],
    duration: Annotated[
        str | None, typer.Option("--duration", help="How long to record (90s, 5m, 1h); default: until Ctrl-C")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the captures and products.txt.")] = Path(
        "captures"
    ),
    rotate: Annotated[
        str | None, typer.Option("--rotate", help="Start a new file this often (1h); default: one file.")
    ] = None,
    ws_url: Annotated[str, typer.Option("--ws-url", help="The WebSocket feed (a sim-server's ws://...).")] = (
        COINBASE_WS
    ),
    api_url: Annotated[
        str, typer.Option("--api-url", help="The REST API the products file is read from.")
    ] = COINBASE_REST,
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="Also trust this certificate (a sim-server --tls).")
    ] = None,
) -> None:
    """Record the public level2, trades and ticker feed of PRODUCTS into gzip captures (no keys, no trading).

    Each file replays with `makerfirst backtest --data FILE` (products.txt is written beside it);
    sequence gaps are marked and resynchronised, and the backtest drops episodes that span one.
    """
    config = RecordConfig(
        products=_products(products),
        out_dir=out,
        duration_sec=parse_span(duration, "--duration") if duration else math.inf,
        rotate_sec=parse_span(rotate, "--rotate") if rotate else math.inf,
        ws_url=ws_url,
        api_url=api_url,
        ca_file=ca_file,
    )
    if ca_file is not None and not ca_file.is_file():
        raise typer.BadParameter(f"--ca-file {ca_file} does not exist")

    def show(progress: Progress) -> None:
        typer.echo(progress.line(), err=True)

    recorder = Recorder(config, SystemClock(), on_progress=show)

    async def main() -> Progress:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, recorder.stop)
        return await recorder.run()

    typer.echo(f"recording {', '.join(config.products)} from {ws_url} into {out}/ (Ctrl-C stops)", err=True)
    try:
        summary = asyncio.run(main())
    except MakerfirstError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    rate = summary.messages / summary.elapsed_sec if summary.elapsed_sec > 0 else 0.0
    typer.echo(
        f"recorded {summary.messages} messages ({rate:.1f}/s) in {summary.elapsed_sec:.1f} s: "
        f"{summary.lines} lines, {summary.gaps} gaps, {summary.tickers_off_book} tickers off the book; "
        f"last file {summary.file} ({summary.file_bytes / 1024:.1f} KiB, {summary.files} file(s)); "
        f"products: {out / 'products.txt'}"
    )
