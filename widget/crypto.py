"""Widget key secrets at rest: encrypted with Fernet keys from the environment
(``WIDGET_KEYS_FERNET_KEYS``), so a copy of the database alone gives no usable signing key.

Several Fernet keys may be listed, newest first (MultiFernet): new secrets are encrypted with
the first, and any listed key decrypts, so the environment key can be rotated. With none set
(development), one is derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.WIDGET_KEYS_FERNET_KEYS if k.strip()]
    if not keys:
        digest = hashlib.sha256(b"widget-keys:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def new_secret() -> str:
    """384 random bits, URL-safe (64 characters): what the host portal's server signs with."""
    return secrets.token_urlsafe(48)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
