"""Corp-level callback registration (events.md §1.8) and its error codes (errors-and-limits.md
§4), through our own ``CallbackAPI`` over loopback HTTP: one URL per app (71006 on a second
register, update/delete/get with nothing registered 71007), unknown ``call_back_tag`` 71008,
an invalid URL 400050, an unreachable URL 400051, a URL that never answers 400054, a reply that is
not the signed JSON 400052 and a decrypted reply other than ``success`` 71009."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dingsync.dingtalk.callbacks import CallbackAPI
from dingsync.dingtalk.crypto import CallbackCrypto
from dingsync.dingtalk.errors import DingTalkError
from dingsync.sandbox import SandboxConfig, SandboxServer
from helpers.events import AES_KEY, TOKEN, make_client

TAGS = ["user_add_org", "user_leave_org"]


class MiniReceiver:
    """A bare callback URL: decrypts ``check_url`` and answers the encrypted ``reply`` (or, with
    ``garbage``, a non-JSON body), recording the events it saw."""

    def __init__(self, crypto: CallbackCrypto, reply: str = "success", garbage: bool = False):
        self.crypto = crypto
        self.reply = reply
        self.garbage = garbage
        self.seen: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length))
                outer.seen.append(json.loads(outer.crypto.decrypt(body["encrypt"])))
                if outer.garbage:
                    data = b"ok"
                else:
                    enc = outer.crypto.encrypt(outer.reply)
                    ts, nonce = "1700000000000", "abcd1234"
                    data = json.dumps(
                        {
                            "msg_signature": outer.crypto.sign(ts, nonce, enc),
                            "timeStamp": ts,
                            "nonce": nonce,
                            "encrypt": enc,
                        }
                    ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/dingtalk"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(seed=5, users=30, qps_limit=None)) as sb:
        yield sb


@pytest.fixture
def good(sandbox: SandboxServer) -> Iterator[MiniReceiver]:
    r = MiniReceiver(CallbackCrypto(TOKEN, AES_KEY, sandbox.app.corp_id))
    yield r
    r.close()


def call(sb: SandboxServer, method: str, *args: Any) -> Any:
    async def run() -> Any:
        async with make_client(sb) as client:
            return await getattr(CallbackAPI(client), method)(*args)

    return asyncio.run(run())


def errcode_of(sb: SandboxServer, method: str, *args: Any) -> int:
    with pytest.raises(DingTalkError) as info:
        call(sb, method, *args)
    return int(info.value.errcode)


def test_register_get_update_delete_lifecycle(sandbox: SandboxServer, good: MiniReceiver) -> None:
    call(sandbox, "register", good.url, TOKEN, AES_KEY, TAGS)
    assert good.seen == [{"EventType": "check_url"}]
    got = call(sandbox, "get")
    assert {k: got[k] for k in ("call_back_tag", "token", "aes_key", "url")} == {
        "call_back_tag": TAGS,
        "token": TOKEN,
        "aes_key": AES_KEY,
        "url": good.url,
    }
    # one URL per app: a second register fails and leaves the first in place
    other = good.url.replace("/callbacks/dingtalk", "/other")
    assert errcode_of(sandbox, "register", other, TOKEN, AES_KEY, TAGS) == 71006
    assert call(sandbox, "get")["url"] == good.url
    # update replaces it (after its own check_url)
    call(sandbox, "update", other, TOKEN, AES_KEY, ["org_dept_create"])
    assert good.seen[-1] == {"EventType": "check_url"} and len(good.seen) == 2
    got = call(sandbox, "get")
    assert (got["url"], got["call_back_tag"]) == (other, ["org_dept_create"])
    call(sandbox, "delete")
    assert errcode_of(sandbox, "get") == 71007
    assert errcode_of(sandbox, "delete") == 71007
    assert errcode_of(sandbox, "update", good.url, TOKEN, AES_KEY, TAGS) == 71007
    # after a delete, register works again
    call(sandbox, "register", good.url, TOKEN, AES_KEY, TAGS)
    assert call(sandbox, "get")["url"] == good.url


def test_unknown_tag_is_71008(sandbox: SandboxServer, good: MiniReceiver) -> None:
    assert errcode_of(sandbox, "register", good.url, TOKEN, AES_KEY, ["no_such_event"]) == 71008
    assert good.seen == []  # refused before check_url
    assert errcode_of(sandbox, "get") == 71007
    # documented names, including the groups named by prefix only (events.md §2.7)
    tags = ["bpms_task_change", "attendance_check_record", "check_in", "chat_quit", "edu_x"]
    call(sandbox, "register", good.url, TOKEN, AES_KEY, tags)
    assert call(sandbox, "get")["call_back_tag"] == tags


def test_url_errors(sandbox: SandboxServer) -> None:
    crypto = CallbackCrypto(TOKEN, AES_KEY, sandbox.app.corp_id)
    assert errcode_of(sandbox, "register", "ftp://example.com/x", TOKEN, AES_KEY, TAGS) == 400050
    # nothing listens on port 9: URL access exception
    assert errcode_of(sandbox, "register", "http://127.0.0.1:9/cb", TOKEN, AES_KEY, TAGS) == 400051
    # a socket that accepts connections and never answers: URL timeout
    sandbox.configure(events_http_timeout_ms=200)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/cb"
        assert errcode_of(sandbox, "register", url, TOKEN, AES_KEY, TAGS) == 400054
    finally:
        silent.close()
    # a reply that is not the signed JSON: URL returned wrong data
    garbage = MiniReceiver(crypto, garbage=True)
    try:
        assert errcode_of(sandbox, "register", garbage.url, TOKEN, AES_KEY, TAGS) == 400052
    finally:
        garbage.close()
    # a well-formed reply whose text is not "success"
    wrong = MiniReceiver(crypto, reply="fail")
    try:
        assert errcode_of(sandbox, "register", wrong.url, TOKEN, AES_KEY, TAGS) == 71009
        assert wrong.seen == [{"EventType": "check_url"}]
    finally:
        wrong.close()
    assert errcode_of(sandbox, "get") == 71007  # none of them was kept
