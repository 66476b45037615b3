"""Users and roles. Passwords are stored as Argon2id hashes (argon2-cffi, RFC 9106)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from burnwatch.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from burnwatch.store.chain import audit
from burnwatch.store.models import User

if TYPE_CHECKING:
    from argon2 import PasswordHasher

ROLES = ("admin", "analyst", "drone_operator", "inspector", "public")


@lru_cache(maxsize=1)
def password_hasher() -> PasswordHasher:
    """Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


#: Verified against when the user does not exist, so that an unknown name costs one Argon2
#: verification like a known one (no username enumeration by timing).
_DUMMY_PASSWORD = "burnwatch: no such user"


_DUMMY_HASHES: dict[tuple[object, ...], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash of a password nobody types, with ``hasher``'s parameters (made once for each
    set of parameters), so that verifying against it costs what a real verification does."""
    key = (hasher.type, hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = str(hasher.hash(_DUMMY_PASSWORD))
    return _DUMMY_HASHES[key]


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InputError("password must have at least 8 characters")
    return str(password_hasher().hash(password))


def add_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    *,
    province: str | None = None,
    full_name: str = "",
    actor: str = "system",
) -> User:
    """Create a user; ``province`` limits what they see (None = every province)."""
    import unicodedata

    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not username or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise InputError(f"username {username!r} must be letters, digits, '.', '-' or '_'")
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise ConflictError(f"user {username!r} already exists")
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password),
        province=unicodedata.normalize("NFC", province) if province else None,
        full_name=full_name,
        active=True,
    )
    session.add(user)
    session.flush()
    audit(session, actor, "user.add", "users", user.id, username=username, role=role, province=province)
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with this password, else AuthenticationError (same message either way).

    An unknown or inactive user's password is verified against a dummy hash, so both paths
    cost one Argon2 verification and the answer time does not tell which names exist."""
    from argon2.exceptions import VerificationError

    user = session.scalars(select(User).where(User.username == username, User.active.is_(True))).first()
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash if user is not None else _dummy_hash(hasher), password)
    except VerificationError as exc:
        raise AuthenticationError("wrong username or password") from exc
    if user is None:  # only if someone typed the dummy password
        raise AuthenticationError("wrong username or password")
    return user


def end_sessions(session: Session, username: str, epoch: int) -> bool:
    """Log ``username`` out everywhere: move their session epoch on from ``epoch`` (the one of
    the session ending), which makes every session token issued to them so far stale. False
    when the epoch had already moved on (logged out before)."""
    result = session.execute(
        update(User)
        .where(User.username == username, User.session_epoch == epoch)
        .values(session_epoch=User.session_epoch + 1)
    )
    return bool(getattr(result, "rowcount", 0))
