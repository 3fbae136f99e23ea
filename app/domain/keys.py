"""API keys: how they look, how they are hashed, what each role may do."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.domain.times import parse_as_of
from app.i18n import _

KEY_PREFIX = "attain"
# last_used_at is written at most this often per key: a busy key costs one UPDATE a minute, not one per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Role(StrEnum):
    ADMIN = "admin"
    BUREAU = "bureau"
    DISTRICT = "district"
    DEPARTMENT = "department"
    SCRAPER = "scraper"
    REVIEWER = "reviewer"  # the city bureau's statistics desk: approves or returns district submissions
    LEADER = "leader"  # 局领导 and the 督查 office: write 批示, decide extension requests


READ_ROLES = frozenset({Role.ADMIN, Role.BUREAU, Role.DISTRICT, Role.DEPARTMENT, Role.REVIEWER, Role.LEADER})
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


def is_active(*, revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
    """A key authenticates until it is revoked or its expiry (inclusive) has passed."""
    return revoked_at is None and (expires_at is None or now <= expires_at)


def parse_expiry(text: str, *, now: datetime) -> datetime:
    """`--expires`: a date (valid through the end of that day in Asia/Shanghai) or an RFC 3339 instant, in the
    future; ValueError otherwise."""
    when = parse_as_of(text)
    if when <= now:
        raise ValueError(_("the expiry {when} has already passed", when=when.isoformat()))
    return when


def stale_use(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether last_used_at is old enough to be written again."""
    return last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION


def rotated_expiry(expires_at: datetime | None, *, now: datetime, grace: timedelta) -> datetime:
    """When a rotated-out key stops working: after the grace period, or at its own expiry if that comes first."""
    end = now + grace
    return end if expires_at is None else min(expires_at, end)
