"""HTTP push: encrypted callbacks POSTed to the registered URL, ``check_url``, retries."""

from __future__ import annotations

import json

import httpx

from dingsync.dingtalk.crypto import CallbackCryptoError, random_alnum, sign
from dingsync.sandbox.events.channels import HttpDelivery, Registration
from dingsync.sandbox.events.state import EventsState


class HttpPush(EventsState):
    """Encrypted HTTP callbacks."""

    # -- HTTP push ------------------------------------------------------------------------------
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
            )
        return self._http

    async def _push(self, d: HttpDelivery) -> None:
        reg = self.registration
        if reg is None:
            return
        ev = d.event
        payload = ev.current() if self.knob("events_format") == "current" else ev.legacy()
        ok = await self._post_encrypted(reg, json.dumps(payload, ensure_ascii=False))
        d.attempts += 1
        self.counters["http_attempts"] += 1
        if ok:
            self.counters["http_delivered"] += 1
            self.delivered_ids.add(ev.event_id)
            return
        self.counters["http_failures"] += 1
        now = self.state.clock.now()
        if d.attempts == 1:
            d.due = now + float(self.knob("events_retry_first_s"))
        elif d.attempts == 2:
            d.due = now + float(self.knob("events_retry_second_s"))
        else:
            visible = now + float(self.knob("events_failed_list_delay_s"))
            self.failed.append((visible, ev.failed_item()))
            self.counters["http_failed_listed"] += 1
            return
        d.not_before = 0.0
        self.http_queue.append(d)

    async def _post_encrypted(self, reg: Registration, plaintext: str) -> bool:
        """POST one encrypted message and check the encrypted ``success`` reply."""
        crypto = reg.crypto()
        ts = str(self.state.clock.now_ms())
        nonce = random_alnum(8)
        enc = crypto.encrypt(plaintext)
        sig = crypto.sign(ts, nonce, enc)
        params = {"signature": sig, "msg_signature": sig, "timestamp": ts, "nonce": nonce}
        timeout = float(self.knob("events_http_timeout_ms")) / 1000
        try:
            resp = await self._client().post(
                reg.url, params=params, json={"encrypt": enc}, timeout=timeout
            )
        except httpx.TimeoutException:
            self.counters["http_fail_timeout"] += 1
            return False
        except httpx.HTTPError:
            self.counters["http_fail_network"] += 1
            return False
        if resp.status_code != 200:
            self.counters["http_fail_status"] += 1
            return False
        try:
            reply = resp.json()
            r_sig = reply["msg_signature"]
            r_ts = str(reply.get("timeStamp") or reply.get("timestamp"))  # either key, EB-72
            r_nonce = str(reply["nonce"])
            r_enc = reply["encrypt"]
            if r_sig != sign(reg.token, r_ts, r_nonce, r_enc):
                return False
            return crypto.decrypt(r_enc) == "success"
        except (ValueError, KeyError, TypeError, CallbackCryptoError):
            return False

    async def check_url(self, reg: Registration) -> bool:
        """Send ``check_url`` to ``reg.url``; True when it answered the encrypted ``success``."""
        return await self._post_encrypted(reg, json.dumps({"EventType": "check_url"}))
