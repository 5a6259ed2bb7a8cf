"""Session tokens and the sealed tokens of the login-code replay cache — pure helpers.

A session token is 32 random bytes, URL-safe base64 (43 characters); only its SHA-256 (hex) is
stored. For the 60 s double-tap rule the token is also kept *sealed*: AES-GCM with a key derived
from the authCode that produced it, so only someone holding that code can get it back, and the
database row alone reveals neither the code nor the token.
"""

from __future__ import annotations

import hashlib
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def new_token() -> str:
    """A fresh opaque bearer token."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex of a session token (what ``web_sessions.token_hash`` holds)."""
    return hashlib.sha256(b"dingsync-session:" + token.encode("utf-8")).hexdigest()


def code_hash(corp_id: str, code: str) -> str:
    """SHA-256 hex identifying an authCode of ``corp_id`` (``web_login_codes.code_hash``)."""
    return hashlib.sha256(f"dingsync-authcode:{corp_id}:{code}".encode()).hexdigest()


def _code_key(corp_id: str, code: str) -> bytes:
    return hashlib.sha256(f"dingsync-seal:{corp_id}:{code}".encode()).digest()


def seal_token(corp_id: str, code: str, token: str) -> bytes:
    """``token`` encrypted with a key derived from ``code`` (nonce ‖ ciphertext)."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_code_key(corp_id, code)).encrypt(nonce, token.encode("utf-8"), None)


def unseal_token(corp_id: str, code: str, sealed: bytes) -> str | None:
    """The token sealed by :func:`seal_token` with the same code, else ``None``."""
    try:
        plain = AESGCM(_code_key(corp_id, code)).decrypt(
            bytes(sealed[:12]), bytes(sealed[12:]), None
        )
    except (InvalidTag, ValueError):
        return None
    return plain.decode("utf-8")
