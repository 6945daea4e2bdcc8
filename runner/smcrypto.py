"""National cryptography (国密) the bus and its adapters share: SM3 digests, HMAC-SM3, SM4-CBC.

SM3 (GB/T 32905-2016) and SM4 (GB/T 32907-2016) come from the ``cryptography`` package (OpenSSL
underneath); nothing here is hand-written cryptography. Keys are bytes handed in by the caller
from its config; nothing here logs, returns or puts into an exception message a key, a plaintext
or a string to sign.

Example::

    sm3_hex(b"abc")                      # '66c7f0f4…8f4ba8e0'
    hmac_sm3_hex(key, b"string to sign")  # 64 lower-case hex
    sm4_cbc_decrypt(key, iv, sm4_cbc_encrypt(key, iv, b"plain")) == b"plain"
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["SM4_BLOCK", "hmac_sm3_hex", "same_hex", "sm3_hex", "sm4_cbc_decrypt", "sm4_cbc_encrypt"]

SM4_BLOCK = 16
"""SM4 block and key size in bytes."""


def sm3_hex(data: bytes) -> str:
    """Lower-case hex SM3 digest of ``data`` (64 characters)."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def hmac_sm3_hex(key: bytes, data: bytes) -> str:
    """Lower-case hex HMAC (RFC 2104) with SM3 as the hash (block size 64 bytes)."""
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()


def same_hex(expected: str, given: str) -> bool:
    """Constant-time comparison of two hex strings, case-insensitive."""
    return hmac.compare_digest(
        expected.lower().encode("ascii"), given.strip().lower().encode("ascii", "replace")
    )


def sm4_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """SM4-CBC with PKCS#7 padding."""
    padder = padding.PKCS7(SM4_BLOCK * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def sm4_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Undo ``sm4_cbc_encrypt``; ``ValueError`` when the length or the padding is wrong."""
    if not ciphertext or len(ciphertext) % SM4_BLOCK:
        raise ValueError("ciphertext length is not a positive multiple of 16 bytes")
    decryptor = Cipher(algorithms.SM4(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(SM4_BLOCK * 8).unpadder()
    return unpadder.update(padded) + unpadder.finalize()
