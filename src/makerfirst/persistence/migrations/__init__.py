"""Alembic migrations of the state database: ``env.py`` and one script per revision in ``versions/``.

``makerfirst db upgrade`` applies them, and so does every command that opens the store. A schema
change is a new script in ``versions/``: the next number, ``down_revision`` naming the newest one,
an ``upgrade`` that keeps the data (and a ``downgrade``).
"""
