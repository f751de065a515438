"""Replay: real L2 captures as one normalized event stream, backtests and their metrics."""
