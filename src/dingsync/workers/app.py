"""The Celery application of the worker cluster.

``celery_app`` is configured from :class:`~dingsync.config.Settings` when a process first asks
for it (:func:`get_app`): the broker (``DINGSYNC_BROKER_URL``: RabbitMQ by default, Redis as the
alternative), late acknowledgement (a task is acknowledged when it returns, and given back to
the broker when its worker dies: ``task_acks_late`` + ``task_reject_on_worker_lost``), one task
prefetched per worker process (a batch can take minutes: no worker hoards them), JSON only,
no result backend (the outcome of a task is its ``sync_runs`` row), and the beat schedule of
:mod:`dingsync.workers.schedule`.
"""

from __future__ import annotations

from celery import Celery

from dingsync.config import Settings, load_settings

#: The queue every sync task goes to.
QUEUE = "dingsync"

celery_app = Celery("dingsync")
_configured: list[Settings] = []


def configure(app: Celery, settings: Settings) -> Celery:
    """Apply ``settings`` to ``app`` (broker, acknowledgement, schedule); returns ``app``."""
    from dingsync.workers.schedule import beat_schedule

    app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        timezone=settings.timezone,
        enable_utc=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        beat_schedule=beat_schedule(settings),
        # A Redis broker gives an unacknowledged task back after this long (RabbitMQ gives it
        # back when the worker's connection drops); longer than any batch.
        broker_transport_options={"visibility_timeout": 3600},
    )
    import dingsync.workers.tasks  # noqa: F401  (registers the tasks on celery_app)

    return app


def get_app(settings: Settings | None = None) -> Celery:
    """``celery_app`` configured from ``settings`` (default: read from the environment and
    ``dingsync.toml``), once per process."""
    if not _configured:
        current = settings or load_settings()
        configure(celery_app, current)
        _configured.append(current)
    return celery_app
