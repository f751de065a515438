"""Pure decisions: pricing, TTL, guards and the TWAP/purge loop. No I/O, no asyncio."""
