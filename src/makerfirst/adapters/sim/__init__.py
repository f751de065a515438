"""The simulated exchange: a matching engine on a virtual clock, driven by a market."""
