"""API keys: how they look, how they are hashed, what each role may do."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

KEY_PREFIX = "attain"


class Role(StrEnum):
    ADMIN = "admin"
    BUREAU = "bureau"
    DISTRICT = "district"
    DEPARTMENT = "department"
    SCRAPER = "scraper"


READ_ROLES = frozenset({Role.ADMIN, Role.BUREAU, Role.DISTRICT, Role.DEPARTMENT})
METRICS_ROLES = frozenset({Role.ADMIN, Role.BUREAU, Role.SCRAPER})
WRITE_ROLES = frozenset({Role.ADMIN, Role.DISTRICT})
# Reports on plan deliverables: admin any, a department key its own department's.
REPORT_ROLES = frozenset({Role.ADMIN, Role.DEPARTMENT})


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    secret: str
    key_hash: str

    @property
    def token(self) -> str:
        return f"{KEY_PREFIX}_{self.prefix}_{self.secret}"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, name, role and, for district keys, its unit; for department keys, the
    department."""

    key_id: int
    name: str
    role: Role
    unit_code: str | None
    department_code: str | None = None

    def may_report_for(self, departments: "tuple[str, ...] | list[str]") -> bool:
        """Whether this key may report on a deliverable listing these departments."""
        if self.role == Role.ADMIN:
            return True
        return self.role == Role.DEPARTMENT and self.department_code in departments


def hash_token(token: str) -> str:
    """SHA-256 of the whole token: keys are long random strings, so a slow hash buys nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate() -> NewKey:
    """A fresh random key."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    return NewKey(prefix=prefix, secret=secret, key_hash=hash_token(f"{KEY_PREFIX}_{prefix}_{secret}"))


def split(token: str) -> str | None:
    """The lookup prefix of a well-formed token, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 8 or not parts[2]:
        return None
    return parts[1]


def matches(token: str, key_hash: str) -> bool:
    """Constant-time comparison of a presented token against a stored hash."""
    return hmac.compare_digest(hash_token(token), key_hash)
