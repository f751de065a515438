"""Persistence: SQLAlchemy tables and the store that maps them to domain records."""
