"""The sandbox's one clock: every time-based rule (token and ticket expiry, login-code expiry,
leave-record windows) reads it, so tests can move time instead of waiting.

The clock follows real time plus an offset: it keeps ticking in a long-running sandbox, and
``advance``/``set`` shift it. Rate-limit windows use real monotonic time instead, because a
QPS limit is about the wall-clock pace of real requests.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Epoch-seconds clock that follows real time plus a movable offset.

    ``now()`` returns epoch **seconds** (float); ``now_ms()`` epoch **milliseconds** (int), the
    unit DingTalk uses on the wire. Safe to call from any thread.
    """

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        """Current sandbox time, epoch seconds."""
        return time.time() + self._offset

    def now_ms(self) -> int:
        """Current sandbox time, epoch milliseconds."""
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> float:
        """Move the clock forward (or back, if negative) by ``seconds``; returns the new now()."""
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    def set(self, t: float) -> float:
        """Set the clock to epoch seconds ``t`` (it keeps ticking from there); returns now()."""
        with self._lock:
            self._offset = float(t) - time.time()
        return self.now()

    @property
    def offset(self) -> float:
        """Seconds between the sandbox clock and real time."""
        return self._offset

    def __repr__(self) -> str:
        return f"Clock(now={self.now():.3f}, offset={self._offset:+.3f})"
