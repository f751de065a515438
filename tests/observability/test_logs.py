"""Logs: UTC ISO-8601 on every line, the design note's lines word for word in text, JSON parsed
back with its structured fields, rotation, secrets redacted, venue HTML pages summarised."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from makerfirst.cli.main import app
from makerfirst.observability.logs import ROOT_LOGGER, Redactor, configure_logging, summarise_html, utc_iso

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger(ROOT_LOGGER)
    handlers = list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()


def paper_run(tmp_path: Path, *extra: str) -> str:
    args = [
        "run",
        "--paper",
        "--fast",
        "--cycles",
        "2",
        "--seed",
        "1",
        "--db",
        f"sqlite:///{tmp_path / 'x.db'}",
    ]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def body(line: str) -> str:
    """The line after ``<time> <level padded to 7> ``."""
    rest = line.split(" ", 1)[1]
    level = rest.split(" ", 1)[0]
    return rest[max(7, len(level)) + 1 :]


def test_utc_iso_is_iso_8601_in_utc_with_milliseconds() -> None:
    assert utc_iso(1_700_000_000.25) == "2023-11-14T22:13:20.250Z"
    assert datetime.fromisoformat(utc_iso(0.0).replace("Z", "+00:00")) == datetime(1970, 1, 1, tzinfo=UTC)


def test_text_lines_are_timestamped_and_keep_the_design_notes_lines_word_for_word(tmp_path: Path) -> None:
    lines = paper_run(tmp_path).splitlines()
    assert lines and all(ISO_UTC.match(line.split(" ", 1)[0]) for line in lines)
    bodies = [body(line) for line in lines]
    assert "[PENGU-USD] TWAP purge start: 1116 PENGU (~$16.18)" in bodies
    assert "[PENGU-USD]   Forcing taker sell ~$16.18 (max_slippage=1.0%)" in bodies
    assert any(b.startswith("[PENGU-USD]   ✅ Taker fallback filled $") for b in bodies)
    assert any(b.startswith("  Cycle 1/2: busy ") for b in bodies)


def test_json_lines_parse_back_with_their_structured_fields_in_the_terminal_and_the_file(
    tmp_path: Path,
) -> None:
    log_file = tmp_path / "logs" / "bot.jsonl"
    out = paper_run(tmp_path, "--log-format", "json", "--log-file", str(log_file))
    for text in (out, log_file.read_text(encoding="utf-8")):
        records = [json.loads(line) for line in text.splitlines()]
        assert records and all(ISO_UTC.match(r["ts"]) and r["level"] and r["message"] for r in records)
        by_event: dict[str, list[dict[str, object]]] = {}
        for r in records:
            by_event.setdefault(str(r.get("event")), []).append(r)
        assert {r["product_id"] for r in by_event["twap_start"]} >= {"PENGU-USD", "ZK-USD"}
        [taker] = by_event["taker_filled"]
        assert taker["product_id"] == "PENGU-USD" and taker["outcome"] == "filled"
        cycles = by_event["cycle"]
        assert len(cycles) == 2 and all(isinstance(c["utilization"], float) for c in cycles)
        # the virtual clock stamps the lines: the two cycles are 60 s apart
        stamps = [datetime.fromisoformat(str(c["ts"]).replace("Z", "+00:00")) for c in cycles]
        assert (stamps[1] - stamps[0]).total_seconds() == pytest.approx(60, abs=0.001)


def test_a_bad_log_format_is_refused_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--paper", "--fast", "--cycles", "1", "--log-format", "xml"])
    assert result.exit_code == 2 and "--log-format must be one of text, json" in result.output


def test_the_log_file_rotates(tmp_path: Path) -> None:
    log_file = tmp_path / "bot.log"
    configure_logging(io.StringIO(), log_file=log_file, rotate_bytes=2_000)
    log = logging.getLogger("makerfirst.test")
    for i in range(200):
        log.info("line %d of a long run", i)
    rotated = sorted(tmp_path.glob("bot.log*"))
    assert len(rotated) > 2 and all(p.stat().st_size <= 2_100 for p in rotated)
    assert "line 199 of a long run" in log_file.read_text(encoding="utf-8")


def test_secrets_are_redacted_from_every_line(tmp_path: Path) -> None:
    out = io.StringIO()
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx7\n-----END EC PRIVATE KEY-----"
    env = {
        "MAKERFIRST_WEB_TOKEN": "web-token-abcdef123456",
        "COINBASE_API_KEY_NAME": "organizations/o/apiKeys/k1",
    }
    configure_logging(out, log_format="json", redactor=Redactor(env=env))
    log = logging.getLogger("makerfirst.test")
    log.warning("auth failed with %s for %s", pem, "organizations/o/apiKeys/k1")
    log.warning("sent Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJrMSJ9.c2lnbmF0dXJl")
    log.warning("dashboard token web-token-abcdef123456 and url https://x/?token=hunter22&x=1")
    text = out.getvalue()
    for secret in (
        "MHcCAQEEIBx7",
        "organizations/o/apiKeys/k1",
        "eyJhbGciOiJFUzI1NiJ9",
        "web-token-abcdef123456",
        "hunter22",
    ):
        assert secret not in text
    assert text.count("[redacted]") >= 4 and "?token=[redacted]&x=1" in text


def test_a_venue_html_error_page_is_summarised_not_pasted() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>429 Too Many Requests</title></head><body>"
        + "x" * 5000
        + "</body></html>"
    )
    summary = summarise_html(f"coinbase fetch_order: {page}")
    assert summary == f"coinbase fetch_order: [HTML page: '429 Too Many Requests', {len(page)} bytes]"
    truncated = summarise_html(
        "502: <html><head><title>Bad Gateway"
    )  # the adapter cuts messages at 200 chars
    assert truncated == "502: [HTML page: 'Bad Gateway', 30 bytes]"
    assert summarise_html("no page here") == "no page here"
