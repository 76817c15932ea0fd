"""Field encryption at rest (AES-256-GCM) for secrets the CRM must store and use again, such as webhook
signing secrets or integration tokens. The key is derived from the `field_encryption_key` secret."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.config import get_settings
from core.errors import ValidationFailed

_VERSION = "v1"


@lru_cache
def _cipher() -> AESGCM:
    secret = get_settings().secret("field_encryption_key").encode()
    key = hashlib.sha256(b"clientforge-field-encryption:" + secret).digest()
    return AESGCM(key)


def encrypt(plaintext: str, *, context: str = "") -> str:
    """`v1:<base64(nonce + ciphertext + tag)>`; `context` (e.g. a tenant id) must match at decryption."""
    nonce = os.urandom(12)
    sealed = _cipher().encrypt(nonce, plaintext.encode(), context.encode() or None)
    return f"{_VERSION}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt(token: str, *, context: str = "") -> str:
    version, _, payload = token.partition(":")
    if version != _VERSION:
        raise ValidationFailed("Unknown encrypted value format")
    raw = base64.urlsafe_b64decode(payload.encode())
    try:
        return _cipher().decrypt(raw[:12], raw[12:], context.encode() or None).decode()
    except InvalidTag as exc:
        raise ValidationFailed("Encrypted value was tampered with or belongs elsewhere") from exc


def reset_cipher() -> None:
    _cipher.cache_clear()
