"""DingTalk HTTP-push callback crypto (事件订阅加解密): AES-256-CBC, 32-byte pad, SHA-1 signature.

Exactly the algorithm of ``shared/dingtalk/events.md`` §1.2–§1.3::

    AESKey    = base64_decode(EncodingAESKey + "=")         (32 bytes; IV = AESKey[:16])
    plaintext = random(16) ‖ msg_len (4 bytes BE, UTF-8 byte length) ‖ msg ‖ receiver_id
    padded    = plaintext ‖ pad × byte(pad), pad = 32 − len % 32 (1..32)
    encrypt   = base64(AES-256-CBC(padded))
    signature = sha1_hex("".join(sorted([token, timestamp, nonce, encrypt])))

Receivers verify the signature (``signature`` or ``msg_signature``, constant time) *before*
decrypting, strip any pad value 1..32 without an alignment check (EB-75), check the length field
against the buffer, and check that the trailing bytes equal the receiver id (the AppKey for
console subscriptions, the corpId for ``register_call_back``, the suiteKey for ISV apps).

Errors are :class:`CallbackCryptoError` with DingTalk's codes (errors-and-limits.md §4):
900004 illegal aes key, 900005 signature mismatch, 900008 decryption error, 900009 length
mismatch, 900010 receiver id mismatch. Messages never contain the token or the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import string
import struct
import time
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
_ALNUM = string.ascii_letters + string.digits

ILLEGAL_AES_KEY = 900004
SIGNATURE_MISMATCH = 900005
ENCRYPTION_ERROR = 900007
DECRYPTION_ERROR = 900008
LENGTH_MISMATCH = 900009
RECEIVER_MISMATCH = 900010


class CallbackCryptoError(ValueError):
    """A callback could not be verified or decrypted; ``code`` is DingTalk's 9000xx code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message

    @property
    def likely_cause(self) -> str:
        """What a receiver's operator should check, for logs (never in a reply): a signature
        mismatch means the token differs; a message that does not decrypt under a valid
        signature (bad padding, length field, receiver id, not UTF-8) means the AES key or the
        receiver id differs."""
        if self.code == SIGNATURE_MISMATCH:
            return "signature mismatch: check the token"
        cause = "cannot decrypt: check the AES key and receiver id"
        if self.code == RECEIVER_MISMATCH:  # decrypted, but for another receiver
            return f"{cause} (the receiver id differs)"
        if self.code in (DECRYPTION_ERROR, LENGTH_MISMATCH):
            return cause
        return self.message


def random_alnum(n: int) -> str:
    """``n`` random characters from ``[A-Za-z0-9]`` (random prefixes, nonces)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def sign(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``lowercase_hex(sha1(concat(sorted([token, timestamp, nonce, encrypt]))))`` over the
    values exactly as transmitted (events.md §1.3)."""
    parts = sorted([str(token), str(timestamp), str(nonce), encrypt])
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def _aes_key(encoding_aes_key: str) -> bytes:
    if (
        not isinstance(encoding_aes_key, str)
        or len(encoding_aes_key) != 43
        or any(c not in _ALNUM for c in encoding_aes_key)
    ):
        raise CallbackCryptoError(
            ILLEGAL_AES_KEY, "illegal aes key: need 43 characters [a-zA-Z0-9]"
        )
    return base64.b64decode(encoding_aes_key + "=")


class CallbackCrypto:
    """Encrypt, decrypt and sign DingTalk callback messages for one subscription.

    ``token``: the callback token; ``aes_key``: the 43-character EncodingAESKey;
    ``receiver_id``: appended to every plaintext and checked on decryption (AppKey, corpId or
    suiteKey — events.md §1.1). Raises :class:`CallbackCryptoError` (900004) for a bad key.
    """

    def __init__(self, token: str, aes_key: str, receiver_id: str) -> None:
        self.token = token
        self.key = _aes_key(aes_key)
        self.iv = self.key[:16]
        self.receiver_id = receiver_id

    def __repr__(self) -> str:  # never the token or the key
        return f"CallbackCrypto(receiver_id={self.receiver_id!r})"

    # -- primitives ----------------------------------------------------------------------------
    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        """The SHA-1 signature of (token, timestamp, nonce, encrypt)."""
        return sign(self.token, timestamp, nonce, encrypt)

    def verify(self, signature: str | None, timestamp: str, nonce: str, encrypt: str) -> None:
        """Check ``signature`` in constant time; raises ``CallbackCryptoError`` (900005)."""
        expected = self.sign(timestamp, nonce, encrypt).encode("ascii")
        # Compared as bytes: ``compare_digest`` refuses a non-ASCII str (TypeError).
        given = str(signature or "").lower().encode("utf-8", "surrogatepass")
        if not given or not hmac.compare_digest(expected, given):
            raise CallbackCryptoError(SIGNATURE_MISMATCH, "signature mismatch")

    def encrypt(self, msg: str, random_prefix: str | None = None) -> str:
        """Base64 of the AES-256-CBC encryption of ``msg`` (fresh random prefix unless given;
        a 16-character prefix is only for test vectors)."""
        prefix = (random_prefix if random_prefix is not None else random_alnum(16)).encode()
        if len(prefix) != 16:
            raise CallbackCryptoError(ENCRYPTION_ERROR, "random prefix must be 16 bytes")
        body = msg.encode("utf-8")
        plain = prefix + struct.pack(">I", len(body)) + body + self.receiver_id.encode("utf-8")
        pad = BLOCK - len(plain) % BLOCK
        padded = plain + bytes([pad]) * pad
        enc = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).encryptor()
        return base64.b64encode(enc.update(padded) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> str:
        """The message inside ``encrypt``; raises ``CallbackCryptoError`` (900008 not base64 /
        not a whole number of AES blocks / bad padding, 900009 length field, 900010 receiver id).
        Whitespace in the base64 text (76-character lines) is ignored."""
        try:
            compact = "".join(str(encrypt).split())
            raw = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            raise CallbackCryptoError(DECRYPTION_ERROR, "encrypt is not base64") from None
        if not raw or len(raw) % 16:
            raise CallbackCryptoError(DECRYPTION_ERROR, "ciphertext is not whole AES blocks")
        dec = Cipher(algorithms.AES(self.key), modes.CBC(self.iv)).decryptor()
        padded = dec.update(raw) + dec.finalize()
        pad = padded[-1]
        if not 1 <= pad <= BLOCK or pad > len(padded):
            raise CallbackCryptoError(DECRYPTION_ERROR, "illegal padding")
        plain = padded[:-pad]
        if len(plain) < 20:
            raise CallbackCryptoError(LENGTH_MISMATCH, "plaintext shorter than its header")
        (length,) = struct.unpack(">I", plain[16:20])
        if length > len(plain) - 20:
            raise CallbackCryptoError(LENGTH_MISMATCH, "length field larger than the message")
        msg = plain[20 : 20 + length]
        receiver = plain[20 + length :]
        if not hmac.compare_digest(receiver, self.receiver_id.encode("utf-8")):
            raise CallbackCryptoError(RECEIVER_MISMATCH, "receiver id mismatch")
        try:
            return msg.decode("utf-8")
        except UnicodeDecodeError:
            raise CallbackCryptoError(DECRYPTION_ERROR, "message is not UTF-8") from None

    # -- request / reply -----------------------------------------------------------------------
    def decrypt_request(
        self, signature: str | None, timestamp: str, nonce: str, encrypt: str
    ) -> str:
        """Verify then decrypt a push (``?signature|msg_signature&timestamp&nonce`` +
        ``{"encrypt"}``); returns the plaintext. Raises ``CallbackCryptoError``."""
        self.verify(signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def decrypt_event(
        self, signature: str | None, timestamp: str, nonce: str, encrypt: str
    ) -> dict[str, Any]:
        """:meth:`decrypt_request` parsed as the JSON object every event is (900001 if not)."""
        text = self.decrypt_request(signature, timestamp, nonce, encrypt)
        try:
            data = json.loads(text)
        except ValueError:
            raise CallbackCryptoError(900001, "plaintext is not JSON") from None
        if not isinstance(data, dict):
            raise CallbackCryptoError(900001, "plaintext is not a JSON object")
        return data

    def encrypt_message(
        self,
        msg: str,
        timestamp: str | None = None,
        nonce: str | None = None,
        random_prefix: str | None = None,
    ) -> dict[str, str]:
        """The reply shape ``{msg_signature, timeStamp, nonce, encrypt}`` for ``msg`` (echo the
        request's ``timestamp``/``nonce`` when given, EB-73)."""
        ts = timestamp if timestamp is not None else str(int(time.time() * 1000))
        nn = nonce if nonce is not None else random_alnum(8)
        enc = self.encrypt(msg, random_prefix)
        return {
            "msg_signature": self.sign(ts, nn, enc),
            "timeStamp": ts,
            "nonce": nn,
            "encrypt": enc,
        }

    def success_reply(
        self, timestamp: str | None = None, nonce: str | None = None
    ) -> dict[str, str]:
        """The encrypted ``success`` reply DingTalk requires (events.md §1.5)."""
        return self.encrypt_message("success", timestamp, nonce)


__all__ = [
    "BLOCK",
    "DECRYPTION_ERROR",
    "ILLEGAL_AES_KEY",
    "LENGTH_MISMATCH",
    "RECEIVER_MISMATCH",
    "SIGNATURE_MISMATCH",
    "CallbackCrypto",
    "CallbackCryptoError",
    "random_alnum",
    "sign",
]
