"""Two processes opening one new database at the same moment (``makerfirst web`` started while
``run`` creates the state database): both open it, the schema is built once, at the newest revision."""

from __future__ import annotations

import functools
import multiprocessing
from multiprocessing.connection import Connection
from pathlib import Path

from sqlalchemy import create_engine, text

from makerfirst.persistence.migrate import current_revision, head_revision

ROUNDS = 6


def _open_on_signal(urls: list[str], barrier: object, results: Connection) -> None:
    """A worker: for each URL, wait for the other worker, then open a store on it."""
    from makerfirst.persistence.store import SqlStore  # noqa: PLC0415 - imported before the race, in the child

    outcomes = []
    for url in urls:
        barrier.wait()  # type: ignore[attr-defined]
        try:
            SqlStore(url).close()
            outcomes.append("ok")
        except Exception as failed:
            outcomes.append(f"{type(failed).__name__}: {str(failed).splitlines()[0]}")
    results.send(outcomes)


def _fresh_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def test_two_processes_opening_a_new_database_at_once_both_succeed(store_url: str, tmp_path: Path) -> None:
    if store_url.startswith("sqlite"):
        urls = [f"sqlite:///{tmp_path / f'race-{n}.db'}" for n in range(ROUNDS)]
    else:
        urls = [store_url]  # one server database: emptied before each round by the barrier's action
    rounds = urls if len(urls) > 1 else urls * ROUNDS
    context = multiprocessing.get_context("spawn")
    action = None if len(urls) > 1 else functools.partial(_fresh_postgres, store_url)
    barrier = context.Barrier(2, action=action)
    workers = []
    for _ in range(2):
        mine, theirs = context.Pipe(duplex=False)
        process = context.Process(target=_open_on_signal, args=(rounds, barrier, theirs))
        process.start()
        workers.append((process, mine))
    outcomes = [mine.recv() for _, mine in workers]
    for process, _ in workers:
        process.join(timeout=60)
    assert outcomes == [["ok"] * len(rounds)] * 2
    for url in urls:
        engine = create_engine(url)
        with engine.connect() as connection:
            assert current_revision(connection) == head_revision()
        engine.dispose()
