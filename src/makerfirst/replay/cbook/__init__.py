"""The compiled L2 book with our orders inside it (numba kernels, compiled ahead of time for this
machine): see :mod:`makerfirst.replay.cbook.book` and :mod:`makerfirst.replay.cbook.native`."""

from makerfirst.replay.cbook.book import (
    Advanced,
    BookFill,
    BookStats,
    BookTape,
    Checkpoint,
    CompiledBook,
    Placed,
    StopReason,
    TakerFill,
    Volume,
    checkpoints,
    count_volume,
)

__all__ = [
    "Advanced",
    "BookFill",
    "BookStats",
    "BookTape",
    "Checkpoint",
    "CompiledBook",
    "Placed",
    "StopReason",
    "TakerFill",
    "Volume",
    "checkpoints",
    "count_volume",
]
