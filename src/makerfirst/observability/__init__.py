"""What the operator sees of a running bot: logs, Prometheus metrics, webhook alerts, the kill switch.

Everything here listens to the log records the engine, the loops and the runner already emit (their
``event`` extra) or reads the state database; none of it decides anything about trading.
"""
