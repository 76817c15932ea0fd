"""Password hashing (Argon2id) and the password policy.

Policy: at least 12 characters with upper, lower, digit and symbol, and not a common password. The common
list is zxcvbn's 30,000 most used passwords (shipped with the `zxcvbn` package); a password is refused when it,
or its letters with leetspeak undone and digits/symbols stripped from the ends, is in that list.
"""

from __future__ import annotations

import re
import secrets
import string
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from core.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the user does not exist, so both paths cost one Argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(24))

_LEET = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def policy_violations(password: str) -> list[str]:
    """Every reason the password is refused (empty when acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters")
    if not re.search(r"[a-z]", password):
        problems.append("must contain a lowercase letter")
    if not re.search(r"[A-Z]", password):
        problems.append("must contain an uppercase letter")
    if not re.search(r"\d", password):
        problems.append("must contain a digit")
    if not re.search(r"[^A-Za-z0-9]", password):
        problems.append("must contain a symbol")
    if is_common(password):
        problems.append("is too common; choose a password that is not in lists of leaked passwords")
    return problems


def is_common(password: str) -> bool:
    lowered = password.lower()
    common = common_passwords()
    if lowered in common:
        return True
    core = lowered.strip(string.digits + string.punctuation + " ")
    return any(len(c) >= 4 and c in common for c in (core, core.translate(_LEET)))


def check_policy(password: str) -> None:
    problems = policy_violations(password)
    if problems:
        raise ValidationFailed(
            "Password " + "; ".join(problems), details=[{"field": "password", "message": p} for p in problems]
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-work verification: a missing hash still costs one Argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password(length: int = 20) -> str:
    """A random password that satisfies the policy (first-run admin, invitations)."""
    alphabet = string.ascii_letters + string.digits + "!#%*+-=?@^_"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if not policy_violations(candidate):
            return candidate
