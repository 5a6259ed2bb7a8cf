"""The ``dd.config`` JSAPI signature (auth-contacts.md §10.4) — pure functions, no I/O.

The hashed string is ``jsapi_ticket=<ticket>&noncestr=<nonce>&timestamp=<ts>&url=<url>``, with
the URL normalised like DingTalk's official Java code: the ``#fragment`` dropped and the query
decoded with ``URLDecoder`` semantics (``%XX`` as UTF-8, ``+`` → space). SHA-256 by default, as
the current docs say; SHA-1 for older clients (EB-17). Output: lower-case hex.
"""

from __future__ import annotations

import hashlib
from typing import Literal
from urllib.parse import unquote_plus

JsapiAlgorithm = Literal["sha256", "sha1"]


def normalize_jsapi_url(url: str) -> str:
    """The URL as DingTalk signs it: ``scheme "://" authority path`` plus ``"?"`` and the
    URL-decoded query when the URL has a ``?``; the fragment is removed. Scheme, authority
    (an explicit ``:80`` stays) and path are kept as given, except the scheme is lower-cased
    (Java's ``URL.getProtocol()``)."""
    without_fragment = url.partition("#")[0]
    head, sep, query = without_fragment.partition("?")
    scheme, colon, rest = head.partition(":")
    if colon and scheme and "/" not in scheme:
        head = f"{scheme.lower()}:{rest}"
    if not sep:
        return head
    return f"{head}?{unquote_plus(query, encoding='utf-8', errors='replace')}"


def jsapi_plaintext(ticket: str, nonce_str: str, timestamp: str | int, url: str) -> str:
    """The exact string that is hashed (``url`` is used as given: normalise it first)."""
    return f"jsapi_ticket={ticket}&noncestr={nonce_str}&timestamp={timestamp}&url={url}"


def sign_jsapi(
    ticket: str,
    nonce_str: str,
    timestamp: str | int,
    url: str,
    algorithm: JsapiAlgorithm = "sha256",
    *,
    normalize: bool = True,
) -> str:
    """The ``dd.config`` ``signature`` for a page URL (normalised unless ``normalize=False``).

    ``timestamp`` is opaque (EB-18): pass the same value you give ``dd.config`` as ``timeStamp``.
    """
    if algorithm not in ("sha256", "sha1"):
        raise ValueError("algorithm must be 'sha256' or 'sha1'")
    signed_url = normalize_jsapi_url(url) if normalize else url
    plain = jsapi_plaintext(ticket, nonce_str, timestamp, signed_url).encode("utf-8")
    return hashlib.new(algorithm, plain).hexdigest()
