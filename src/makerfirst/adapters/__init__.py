"""Adapters: the concrete venues behind the exchange port."""
