"""The third-party (ISV) suite a sandbox can host: its credentials and its companies.

``IsvConfig`` is what :class:`~dingsync.sandbox.isv.server.IsvSandboxServer` is started with:
the suite (``suite_key``/``suite_secret``/``suite_id``, derived from ``seed`` when not given),
the companies that may authorise it (``corps``: one ``(seed, users)`` pair each, every one its
own generated company), whether they start authorised, and the ``suite_ticket`` cadence on the
sandbox clock (DingTalk pushes one about every 5 hours, events.md §4.1).
"""

from __future__ import annotations

import random
import string

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Default companies: different seeds and sizes.
DEFAULT_CORPS: tuple[tuple[int, int], ...] = ((101, 40), (202, 60), (303, 30))


class IsvConfig(BaseModel):
    """A sandbox suite (第三方企业应用) and its companies.

    - ``seed``: derives the suite's credentials (and the tickets' randomness).
    - ``suite_key`` / ``suite_secret`` / ``suite_id``: ``None`` → derived from ``seed``.
    - ``corps``: ``(seed, users)`` per company; each is generated like the single-company
      sandbox (``days`` of history), with its own ``corp_id``.
    - ``authorised``: the companies authorise the suite at start (each queues an
      ``org_suite_auth`` event after the first ``suite_ticket``); otherwise tests authorise
      them with ``POST /sandbox/mutate/isv/authorize``.
    - ``test_suite``: a test / customised app — any non-empty ``suite_ticket`` is accepted
      (``TestSuiteTicket`` as DingTalk's docs say), signatures are still checked over it.
    - ``ticket_interval_s``: seconds of sandbox clock between two ``suite_ticket`` pushes; each
      new ticket invalidates the previous one.
    - ``flow``: ``"stream"`` (``org_suite_auth``/``org_suite_change``/``org_suite_relieve``,
      no manual activation) or ``"legacy"`` (``tmp_auth_code`` → ``get_permanent_code`` →
      ``activate_suite``; ``change_auth``, ``suite_relieve``).
    """

    model_config = ConfigDict(extra="forbid")

    seed: int = 7
    suite_key: str | None = None
    suite_secret: str | None = None
    suite_id: str | None = None
    corps: list[tuple[int, int]] = Field(default_factory=lambda: list(DEFAULT_CORPS))
    days: int = Field(default=7, ge=1, le=120)
    authorised: bool = True
    test_suite: bool = False
    ticket_interval_s: float = Field(default=5 * 3600.0, gt=0)
    flow: str = Field(default="stream", pattern="^(stream|legacy)$")

    @model_validator(mode="after")
    def _derive(self) -> IsvConfig:
        rng = random.Random(f"isv-suite:{self.seed}")
        lower = string.ascii_lowercase + string.digits
        if self.suite_key is None:
            self.suite_key = "suite" + "".join(rng.choices(lower, k=15))
        if self.suite_secret is None:
            self.suite_secret = "".join(rng.choices(string.ascii_letters + string.digits, k=64))
        if self.suite_id is None:
            self.suite_id = str(rng.randrange(10_000_000, 99_999_999))
        seeds = [s for s, _ in self.corps]
        if len(set(seeds)) != len(seeds):
            raise ValueError("every company needs its own seed")
        return self

    @classmethod
    def with_corps(cls, n: int, *, seed: int = 7, base_users: int = 30, **kw: object) -> IsvConfig:
        """``n`` companies with seeds ``1000 + 17·i`` and sizes ``base_users + 10·i``."""
        corps = [(1000 + 17 * i, base_users + 10 * i) for i in range(n)]
        return cls(seed=seed, corps=corps, **kw)
