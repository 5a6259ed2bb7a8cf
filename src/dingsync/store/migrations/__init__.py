"""Alembic environment and revisions for :mod:`dingsync.store` (run by ``db.migrate``)."""
