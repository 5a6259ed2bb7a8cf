"""The worker cluster (docs/deploy.md): Celery tasks that sync (company, entity, batch of units)
on the sync engine's checkpoints, the beat schedule per company and entity, and what the
operators see (``dingsync status``, metrics).

- :mod:`~dingsync.workers.companies` — which companies the cluster syncs and their settings;
- :mod:`~dingsync.workers.app` — the Celery application and its configuration;
- :mod:`~dingsync.workers.tasks` — the ``dingsync.sync_entity`` task;
- :mod:`~dingsync.workers.schedule` — the beat schedule built from the settings;
- :mod:`~dingsync.workers.status` — running and recent work per company.
"""
