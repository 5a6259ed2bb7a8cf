"""CLI pieces of third-party (ISV) suites: ``dingsync events stream --isv`` consumes the suite's
Stream connection (``DINGTALK_SUITE_KEY`` / ``DINGTALK_SUITE_SECRET``) into the ISV tables:
tickets, authorisations, reliefs, app status (docs/isv.md)."""

from __future__ import annotations

import asyncio

from dingsync.commands.consoles import err_console
from dingsync.commands.errors import fail, open_engine


def stream_suite(database_url: str | None, idle_timeout: float) -> None:
    """Consume the configured suite's Stream events until Ctrl-C (replaying pending and failed
    inbox rows of the suite first)."""
    from dingsync.sync.events_stream import StreamConsumer
    from dingsync.sync.isv import IsvEventProcessor, IsvSettings

    overrides = {"DINGSYNC_DATABASE_URL": database_url} if database_url else {}
    settings = IsvSettings(**overrides)  # type: ignore[arg-type]
    if not settings.has_suite:
        fail("no third-party suite configured: set DINGTALK_SUITE_KEY and DINGTALK_SUITE_SECRET")
    assert settings.suite_key and settings.suite_secret
    engine = open_engine(settings.database_url)
    key, secret = settings.suite_key, settings.suite_secret.get_secret_value()

    async def main() -> None:
        service = settings.service(engine)
        processor = IsvEventProcessor(service, corp_processors=service.corp_processors())
        replayed = await processor.replay()
        err_console.print(f"suite {key}: replayed {dict(replayed)}")
        consumer = StreamConsumer(processor, settings.api_url, key, secret,
                                  idle_timeout=idle_timeout)  # fmt: skip
        err_console.print(f"consuming the Stream events of suite {key} (Ctrl-C stops)")
        try:
            await consumer.run()
        finally:
            err_console.print(f"stream stats: {dict(consumer.stats)}", markup=False)
            await processor.wait_idle()
            await service.suite.aclose()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        err_console.print("stopped")
