"""``makerfirst sim-server``: a Coinbase Advanced-compatible HTTP server over the simulated exchange.

Real clients (ccxt, the official SDK, the bot's ccxt adapter) talk to it on 127.0.0.1 exactly as
they would to ``api.coinbase.com``; tests read the ground truth from ``GET /audit``.
"""

from makerfirst.adapters.sim_server.faults import FaultPlan, Trigger
from makerfirst.adapters.sim_server.ratelimit import RateLimits

__all__ = ["FaultPlan", "RateLimits", "Trigger"]
