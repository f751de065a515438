"""The runner: the main loop, cycle after cycle, with reconciliation and crash-safe resume."""
