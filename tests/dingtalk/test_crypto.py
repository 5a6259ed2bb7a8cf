"""The callback crypto against every test vector of events.md §1.10, both directions, and the
ways a message can be wrong (padding 1..32, byte lengths, receiver id, key, base64)."""

from __future__ import annotations

import base64
import json
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from dingsync.dingtalk.crypto import (
    DECRYPTION_ERROR,
    ILLEGAL_AES_KEY,
    LENGTH_MISMATCH,
    RECEIVER_MISMATCH,
    SIGNATURE_MISMATCH,
    CallbackCrypto,
    CallbackCryptoError,
    sign,
)

B_TOKEN = "123456"
B_KEY = "4g5j64qlyl3zvetqxz5jiocdr586fn2zvjpa8zls3ij"
B_RECEIVER = "suite4xxxxxxxxxxxxxxx"
B_ENCRYPT = (
    "1a3NBxmCFwkCJvfoQ7WhJHB+iX3qHPsc9JbaDznE1i03peOk1LaOQoRz3+nlyGNhwmwJ3vDMG+OzrHMeiZI7gTRWVdUB"
    "mfxjZ8Ej23JVYa9VrYeJ5as7XM/ZpulX8NEQis44w53h1qAgnC3PRzM7Zc/D6Ibr0rgUathB6zRHP8PYrfgnNOS9PhSB"
    "dHlegK+AGGanfwjXuQ9+0pZcy0w9lQ=="
)
B_SIG = "5a65ceeef9aab2d149439f82dc191dd6c5cbe2c0"
B_PLAIN = (
    '{"EventType":"check_create_suite_url","Random":"LPIdSnlF",'
    '"TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}'
)
C_ENCRYPT = (
    "5DJFWzjRNOQk+5GSZxW+VrFMDWCIidPjEjg3//gm5x556BedVi62rDj1F9uXU97a4jw1R4FACUv9RCpoDobNqxhxRB2Y"
    "tW901k4KHbP1/wpFJ3xdLG0n0A8U1VhENg80zKJd+YROR0YMGum4WYuoXJ6J98vt0ihYeIFoapNddLML5MyNAGM9saSp"
    "kouDMSvD+iU14i7V8ix1ia1Tb9ogog=="
)
PREFIX = "1234567890123456"


def b() -> CallbackCrypto:
    return CallbackCrypto(B_TOKEN, B_KEY, B_RECEIVER)


def _raw_decrypt(key43: str, encrypt: str) -> bytes:
    key = base64.b64decode(key43 + "=")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    return dec.update(base64.b64decode(encrypt)) + dec.finalize()


def _raw_encrypt(key43: str, padded: bytes) -> str:
    key = base64.b64decode(key43 + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(padded) + enc.finalize()).decode()


def test_vector_b_signature_then_decrypt() -> None:
    crypto = b()
    assert sign(B_TOKEN, "1445827045067", "nEXhMP4r", B_ENCRYPT) == B_SIG
    assert crypto.decrypt_request(B_SIG, "1445827045067", "nEXhMP4r", B_ENCRYPT) == B_PLAIN
    buf = _raw_decrypt(B_KEY, B_ENCRYPT)
    assert len(buf) == 160 and buf[-1] == 22  # a 32-byte pad: impossible with 16-byte blocks
    assert buf[:16] == b"hU3bEfGZZewzhG5a"
    assert struct.unpack(">I", buf[16:20])[0] == 97


def test_vector_c_deterministic_encryption_both_ways() -> None:
    crypto = b()
    reply = crypto.encrypt_message(B_PLAIN, "1445827045067", "nEXhMP4r", PREFIX)
    assert reply == {
        "msg_signature": "bcf6dcefa4ce2dbaf7b0666c7264d46fd9aad4bd",
        "timeStamp": "1445827045067",
        "nonce": "nEXhMP4r",
        "encrypt": C_ENCRYPT,
    }
    assert crypto.decrypt(C_ENCRYPT) == B_PLAIN


@pytest.mark.parametrize(
    ("token", "key", "receiver", "ts", "nonce", "encrypt", "sig", "pad"),
    [
        (
            "mryue",
            "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7",
            "ding6ccabc44d2c8d38b",
            "1608001896814",
            "WL4PK6yA",
            "2UzJoJton0bJMAQF7A3bOGecNifPcoRPzahejI24sI4+k1oFTAPjw03IGqLyfWpFG9VlaslSWu0j5WIEWW1ggA==",
            "4f2f20ec5b83e45538452fe888ed5ce3828b3b7c",
            17,
        ),
        (
            B_TOKEN,
            B_KEY,
            B_RECEIVER,
            "1445827045067",
            "nEXhMP4r",
            "5DJFWzjRNOQk+5GSZxW+VpU/+Yf0KeplvXZ8LNdyQj5iN6tX2KSwwhy5oymzMpsFAiG4RS3L0/vY7TX4ZwLTFA==",
            "73813ea128535f7945c17f81069c6b8045361375",
            16,
        ),
    ],
    ids=["vector-D", "vector-G"],
)
def test_success_reply_vectors(
    token: str, key: str, receiver: str, ts: str, nonce: str, encrypt: str, sig: str, pad: int
) -> None:
    crypto = CallbackCrypto(token, key, receiver)
    reply = crypto.encrypt_message("success", ts, nonce, PREFIX)
    assert reply == {"msg_signature": sig, "timeStamp": ts, "nonce": nonce, "encrypt": encrypt}
    assert crypto.decrypt_request(sig, ts, nonce, encrypt) == "success"
    buf = _raw_decrypt(key, encrypt)
    assert len(buf) == 64 and buf[-1] == pad


def test_c_and_g_share_their_first_block_so_prefixes_must_be_random() -> None:
    crypto = b()
    assert C_ENCRYPT[:21] == crypto.encrypt("success", PREFIX)[:21]
    assert crypto.encrypt("success")[:21] != crypto.encrypt("success")[:21]


@pytest.mark.parametrize("pad", range(1, 33))
def test_any_pad_value_1_to_32_is_stripped_without_alignment_check(pad: int) -> None:
    base = '{"EventType":"user_add_org","UserId":["u1"]}'
    head = len(PREFIX) + 4 + len(B_RECEIVER)
    filler = (-(head + len(base) + pad)) % 16  # AES needs whole 16-byte blocks
    msg = base + " " * filler
    body = msg.encode()
    plain = PREFIX.encode() + struct.pack(">I", len(body)) + body + B_RECEIVER.encode()
    padded = plain + bytes([pad]) * pad
    assert len(padded) % 16 == 0
    assert b().decrypt(_raw_encrypt(B_KEY, padded)) == msg


def test_pkcs7_16_byte_padding_of_one_official_sample_is_accepted() -> None:
    body = "hello 钉钉".encode()
    for filler in range(16):  # every 16-byte pad length 1..16
        msg = body + b"x" * filler
        plain = PREFIX.encode() + struct.pack(">I", len(msg)) + msg + B_RECEIVER.encode()
        pad = 16 - len(plain) % 16
        assert b().decrypt(_raw_encrypt(B_KEY, plain + bytes([pad]) * pad)) == msg.decode()


def test_length_counts_utf8_bytes() -> None:
    crypto = b()
    msg = json.dumps({"EventType": "user_modify_org", "name": "张三丰"}, ensure_ascii=False)
    enc = crypto.encrypt(msg, PREFIX)
    buf = _raw_decrypt(B_KEY, enc)
    assert struct.unpack(">I", buf[16:20])[0] == len(msg.encode("utf-8")) > len(msg)
    assert crypto.decrypt(enc) == msg


def test_base64_with_line_breaks_is_accepted_and_signed_as_sent() -> None:
    crypto = b()
    enc = crypto.encrypt("x" * 200)
    wrapped = "\n".join(enc[i : i + 76] for i in range(0, len(enc), 76)) + "\n"
    sig = sign(B_TOKEN, "1", "n", wrapped)
    assert crypto.decrypt_request(sig, "1", "n", wrapped) == "x" * 200
    with pytest.raises(CallbackCryptoError):
        crypto.decrypt_request(sign(B_TOKEN, "1", "n", enc), "1", "n", wrapped)


def test_forged_signature_is_refused_before_decrypting() -> None:
    with pytest.raises(CallbackCryptoError) as err:
        b().decrypt_request("0" * 40, "1445827045067", "nEXhMP4r", "not base64 at all !!")
    assert err.value.code == SIGNATURE_MISMATCH  # not a decryption error: never decrypted


def test_wrong_receiver_id() -> None:
    with pytest.raises(CallbackCryptoError) as err:
        CallbackCrypto(B_TOKEN, B_KEY, "dingcorpid").decrypt(B_ENCRYPT)
    assert err.value.code == RECEIVER_MISMATCH


def test_length_field_larger_than_the_message() -> None:
    body = b'{"EventType":"x"}'
    plain = PREFIX.encode() + struct.pack(">I", 10_000) + body + B_RECEIVER.encode()
    pad = 32 - len(plain) % 32
    with pytest.raises(CallbackCryptoError) as err:
        b().decrypt(_raw_encrypt(B_KEY, plain + bytes([pad]) * pad))
    assert err.value.code == LENGTH_MISMATCH


@pytest.mark.parametrize(
    "encrypt", ["", "%%%notbase64%%%", B_ENCRYPT[:40], B_ENCRYPT[:-8] + "====", "QUJD"]
)
def test_truncated_or_non_base64(encrypt: str) -> None:
    with pytest.raises(CallbackCryptoError) as err:
        b().decrypt(encrypt)
    assert err.value.code in (DECRYPTION_ERROR, LENGTH_MISMATCH, RECEIVER_MISMATCH)


def test_wrong_aes_key_never_yields_a_message() -> None:
    other = CallbackCrypto(B_TOKEN, "a" * 43, B_RECEIVER)
    with pytest.raises(CallbackCryptoError):
        other.decrypt(B_ENCRYPT)


@pytest.mark.parametrize("key", ["short", "a" * 44, "a" * 42 + "=", "a" * 42 + "+"])
def test_illegal_aes_key(key: str) -> None:
    with pytest.raises(CallbackCryptoError) as err:
        CallbackCrypto("t", key, "r")
    assert err.value.code == ILLEGAL_AES_KEY


def test_repr_and_errors_hide_secrets() -> None:
    crypto = b()
    assert B_TOKEN not in repr(crypto) and B_KEY not in repr(crypto)
    try:
        crypto.decrypt_request("f" * 40, "1", "n", B_ENCRYPT)
    except CallbackCryptoError as exc:
        assert B_TOKEN not in str(exc) and B_KEY not in str(exc)
