"""Local administrator accounts: for operators who manage Metis without an LMS launch.

Passwords are stored only as werkzeug scrypt hashes. Logins are checked in constant time (an
unknown username costs the same hash check as a known one) and limited per username and client
address in Redis, so that guessing is slow and the answer never says which part was wrong.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from lti_tool.core.db.models import AdminAccount

MIN_PASSWORD_LENGTH = 12
# scrypt hashes anything, but a megabyte password would cost CPU on every failed login.
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 150
HASH_METHOD = "scrypt"

LOGIN_LIMIT = 5
LOGIN_WINDOW_S = 5 * 60


@functools.cache
def _dummy_hash() -> str:
    """Checked when the username is unknown, so that a miss takes as long as a wrong password
    (made on first use: importing this module does no hashing)."""
    return generate_password_hash("metis-no-such-admin", method=HASH_METHOD)


class AdminAccountError(Exception):
    """Bad operator input; the message says what to fix."""


@dataclass(frozen=True)
class AccountView:
    id: int
    username: str
    created_at: datetime
    last_login_at: datetime | None


def normalise_username(username: str) -> str:
    return username.strip()


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminAccountError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AdminAccountError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise AdminAccountError("the password cannot be only spaces")


def create_account(session: Session, username: str, password: str) -> AdminAccount:
    name = normalise_username(username)
    if not name or len(name) > MAX_USERNAME_LENGTH:
        raise AdminAccountError(f"the username must be 1-{MAX_USERNAME_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in name):
        raise AdminAccountError("the username cannot contain spaces or control characters")
    check_new_password(password)
    # Usernames are unique regardless of case, so "Admin" cannot shadow "admin".
    clash = session.scalar(
        select(AdminAccount.id).where(func.lower(AdminAccount.username) == name.lower())
    )
    if clash is not None:
        raise AdminAccountError(f"an admin account named {name!r} already exists")
    account = AdminAccount(
        username=name, password_hash=generate_password_hash(password, method=HASH_METHOD)
    )
    session.add(account)
    session.flush()
    return account


def list_accounts(session: Session) -> list[AccountView]:
    rows = session.scalars(select(AdminAccount).order_by(AdminAccount.username))
    return [AccountView(a.id, a.username, a.created_at, a.last_login_at) for a in rows]


def authenticate(
    session: Session, username: str, password: str, *, now: datetime | None = None
) -> AccountView | None:
    """The account when username and password match, else None (the caller says nothing more)."""
    name = normalise_username(username)
    account = None
    if name and len(name) <= MAX_USERNAME_LENGTH:
        account = session.scalar(
            select(AdminAccount).where(func.lower(AdminAccount.username) == name.lower())
        )
    candidate = password[:MAX_PASSWORD_LENGTH]
    # Always run one hash check (werkzeug compares digests in constant time).
    ok = check_password_hash(account.password_hash if account else _dummy_hash(), candidate)
    if account is None or not ok or len(password) > MAX_PASSWORD_LENGTH:
        return None
    account.last_login_at = now or datetime.now(UTC)
    session.flush()
    return AccountView(account.id, account.username, account.created_at, account.last_login_at)


def load_account(session: Session, account_id: int) -> AccountView | None:
    account = session.get(AdminAccount, account_id)
    if account is None:
        return None
    return AccountView(account.id, account.username, account.created_at, account.last_login_at)


class LoginLimiter:
    """At most LOGIN_LIMIT login attempts per username and client network per window; a
    successful login clears the count.

    An attempt is counted before its password is checked (one atomic INCR), so parallel
    requests cannot all slip under the limit while the slow scrypt check runs. IPv6 clients
    are counted per /64, the block one host can hop around in.
    """

    def __init__(
        self, client: redis.Redis, limit: int = LOGIN_LIMIT, window_s: int = LOGIN_WINDOW_S
    ) -> None:
        self.client = client
        self.limit = limit
        self.window_s = window_s

    @staticmethod
    def network(address: str) -> str:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if ip.version == 6:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return str(ip)

    @classmethod
    def key(cls, username: str, address: str) -> str:
        # Hashed: Redis holds no usernames or addresses in clear.
        raw = f"{normalise_username(username).lower()}|{cls.network(address)}".encode()
        return "metis:admin-login:" + hashlib.sha256(raw).hexdigest()

    def attempt(self, username: str, address: str) -> int:
        """Count this attempt; the seconds to wait when it is over the limit, else 0."""
        key = self.key(username, address)
        pipe = self.client.pipeline()
        pipe.incr(key)
        # The window starts at the first attempt and is not extended by later ones.
        pipe.expire(key, self.window_s, nx=True)
        count, _ = pipe.execute()
        if int(count) <= self.limit:
            return 0
        return max(int(self.client.ttl(key)), 1)

    def succeeded(self, username: str, address: str) -> None:
        self.client.delete(self.key(username, address))
