"""The dd.config signature: the worked example of auth-contacts.md §10.4, and URL normalisation."""

from __future__ import annotations

import pytest

from dingsync.dingtalk import normalize_jsapi_url, sign_jsapi
from dingsync.dingtalk.jsapi import jsapi_plaintext

TICKET = "zHoQdGJuH0ZDebwo7sLqLzHGUueLmkWCC4RycYgkuvDu3eoROgN5qhwnQLgfzwEXtuR9SDzh6BdhyVngzAjrxV"
URL = "http://10.62.53.138:3000/jsapi"
NONCE = "abcdefgh"
TIMESTAMP = "1437027269927"


def test_worked_example_plaintext() -> None:
    assert jsapi_plaintext(TICKET, NONCE, TIMESTAMP, URL) == (
        f"jsapi_ticket={TICKET}&noncestr=abcdefgh&timestamp=1437027269927"
        "&url=http://10.62.53.138:3000/jsapi"
    )


def test_worked_example_sha1() -> None:
    assert (
        sign_jsapi(TICKET, NONCE, TIMESTAMP, URL, algorithm="sha1")
        == "810e6657e9f411e6491b3e97dfaf7660e89eb874"
    )


def test_worked_example_sha256_is_default() -> None:
    expected = "f83d09ae579893dd206f49752d49c64ed5b1d495a2d769e9f63ba4d1909f90ed"
    assert sign_jsapi(TICKET, NONCE, TIMESTAMP, URL) == expected
    assert sign_jsapi(TICKET, NONCE, int(TIMESTAMP), URL, "sha256") == expected


def test_fragment_dropped_before_signing() -> None:
    assert sign_jsapi(TICKET, NONCE, TIMESTAMP, URL + "#/home?x=1", "sha1") == (
        "810e6657e9f411e6491b3e97dfaf7660e89eb874"
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://a.com/p", "http://a.com/p"),
        ("http://a.com/p#frag", "http://a.com/p"),
        ("http://a.com/p?x=1#frag?y=2", "http://a.com/p?x=1"),
        # the query is decoded like Java's URLDecoder: %XX as UTF-8 and '+' as a space
        ("http://a.com/p?name=%E5%BC%A0%E4%B8%89&q=a+b", "http://a.com/p?name=张三&q=a b"),
        ("http://a.com/p?u=http%3A%2F%2Fx.com%2F%3Fa%3D1", "http://a.com/p?u=http://x.com/?a=1"),
        # the path is not decoded; an explicit port stays; the scheme is lower-cased
        ("HTTPS://a.com:443/a%20b?x=%20", "https://a.com:443/a%20b?x= "),
        # a bare '?' keeps its '?', as Java's URL.getQuery() returns "" for it
        ("http://a.com/p?", "http://a.com/p?"),
        ("http://a.com/p?#x", "http://a.com/p?"),
    ],
)
def test_normalize_jsapi_url(url: str, expected: str) -> None:
    assert normalize_jsapi_url(url) == expected


def test_ios_and_android_urls_sign_the_same() -> None:
    encoded = "http://a.com/page?from=%E9%92%89%E9%92%89&id=7"  # iOS hands over the encoded form
    raw = "http://a.com/page?from=钉钉&id=7"  # Android the raw one
    assert sign_jsapi("t", "n", "1", encoded) == sign_jsapi("t", "n", "1", raw)


def test_unknown_algorithm_rejected() -> None:
    with pytest.raises(ValueError):
        sign_jsapi("t", "n", "1", URL, "md5")  # type: ignore[arg-type]
