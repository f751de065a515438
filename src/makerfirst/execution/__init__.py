"""Execution: the engine that places, watches, cancels and confirms orders through the port."""
