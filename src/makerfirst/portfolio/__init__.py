"""Portfolio management, pure: liquidity tiers, target weights and the rebalance plan, purge
selection with backoff, and the dust ledger. No I/O, no asyncio; ``decide.decide_portfolio`` is
the one call the runner makes per cycle."""
