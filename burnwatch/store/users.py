"""Users and roles. Passwords are stored as Argon2id hashes (argon2-cffi, RFC 9106)."""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise
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


#: Passwords from the top of public breach-corpus frequency lists (8 characters or more: the
#: shorter ones are refused by length anyway), plus a few Vietnamese favourites and this
#: service's name. Compared case-insensitively with the whole password (NIST SP 800-63B
#: 5.1.1.2: "passwords obtained from previous breach corpuses", "context-specific words").
_COMMON_PASSWORDS = """
    password password1 password12 password123 password! passw0rd p@ssw0rd p@ssword pa$$word
    12345678 123456789 1234567890 0123456789 987654321 123123123 12341234 11223344 147258369
    123456789a 123456a@ a1234567 a123456789 aa123456 abc12345 abcd1234 asdf1234 1234qwer
    1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx zaq1zaq1 q1w2e3r4 qwerty12 qwerty123 qwertyui
    qwertyuiop asdfghjk asdfghjkl zxcvbnm1 123qweasd qweasdzxc qazwsxedc 1qazxsw2
    iloveyou iloveyou1 sunshine princess football baseball basketball superman batman123
    starwars whatever trustno1 letmein1 letmein123 welcome1 welcome123 changeme changeme1
    admin123 admin1234 administrator root1234 computer internet michael1 jennifer charlie1
    dragon12 monkey123 shadow12 master12 mustang1 corvette mercedes liverpool chelsea1
    arsenal1 manchester 1qaz@wsx secret12 secret123 test1234 testtest guest123 default1
    anhyeuem anhyeuem1 emyeuanh matkhau1 matkhau123 vietnam1 vietnam123 hanoi123 saigon123
    burnwatch burnwatch1 burnwatch123
"""
COMMON_PASSWORDS = frozenset(_COMMON_PASSWORDS.split())
_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is refused (one message), or None: the NIST SP 800-63B checks that
    need no network — at least 8 characters, not containing the username (3 characters or
    more, compared NFKC-casefolded), not one repeated character, not a simple sequence
    (``12345678``, ``hgfedcba``, ``qwertyui``), not one of :data:`COMMON_PASSWORDS`."""
    if len(password) < 8:
        return "password must have at least 8 characters"
    folded = fold(password)
    name = fold(username)
    if len(name) >= 3 and name in folded:
        return "password must not contain the username"
    if len(set(folded)) == 1:
        return "password must not be one character repeated"
    if _is_sequence(folded):
        return "password must not be a simple sequence (like 12345678, abcdefgh or qwertyui)"
    if folded in COMMON_PASSWORDS:
        return "password is one of the most common passwords; choose another"
    return None


def _is_sequence(text: str) -> bool:
    """Consecutive code points up or down (``abcdefgh``, ``87654321``), or a run along a
    keyboard row either way (``qwertyui``, ``lkjhgfds``)."""
    steps = {ord(b) - ord(a) for a, b in pairwise(text)}
    if steps in ({1}, {-1}):
        return True
    return any(text in row or text in row[::-1] for row in _KEYBOARD_ROWS)


def fold(text: str) -> str:
    """``text`` NFKC-normalised and case-folded (``Ａdmin`` and ``ADMIN`` fold to ``admin``)."""
    import unicodedata

    return unicodedata.normalize("NFKC", text).casefold()


def hash_password(password: str, username: str = "") -> str:
    """The Argon2id hash of an acceptable password (:func:`password_problem`), InputError else."""
    problem = password_problem(password, username)
    if problem is not None:
        raise InputError(problem)
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
    username = unicodedata.normalize("NFC", username)
    check_username(username)
    taken = users_named(session, username)
    if taken:
        same = "" if taken[0].username == username else f" (as {taken[0].username!r})"
        raise ConflictError(f"user {username!r} already exists{same}")
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password, username),
        province=unicodedata.normalize("NFC", province) if province else None,
        full_name=full_name,
        active=True,
    )
    session.add(user)
    session.flush()
    audit(session, actor, "user.add", "users", user.id, username=username, role=role, province=province)
    return user


def check_username(username: str) -> None:
    """InputError unless ``username`` is letters, digits, '.', '-' or '_' of one script
    (``аdmin`` with a Cyrillic ``а`` is refused; Vietnamese ``nguyễn.văn`` is Latin)."""
    if not username or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        raise InputError(f"username {username!r} must be letters, digits, '.', '-' or '_'")
    found = scripts(username)
    if len(found) > 1:
        raise InputError(
            f"username {username!r} mixes scripts ({', '.join(sorted(found))}): use letters of one script"
        )


def scripts(text: str) -> set[str]:
    """The scripts of ``text``'s letters, from their Unicode names (``LATIN SMALL LETTER U
    WITH HORN`` -> ``LATIN``, ``CYRILLIC SMALL LETTER A`` -> ``CYRILLIC``); digits, marks and
    punctuation have none."""
    import unicodedata

    letters = (ch for ch in text if unicodedata.category(ch).startswith("L"))
    return {unicodedata.name(ch, "?").split(" ")[0] for ch in letters}


def users_named(session: Session, username: str, *, active_only: bool = False) -> list[User]:
    """Users whose name is ``username`` once NFKC-normalised and case-folded (:func:`fold`:
    ``Admin``, ``ADMIN`` and full-width ``Ａdmin`` are ``admin``), the exact spelling first.
    The users table is small: the names are folded here, not in SQL (SQLite cannot)."""
    stmt = select(User).order_by(User.id)
    if active_only:
        stmt = stmt.where(User.active.is_(True))
    key = fold(username)
    found = [u for u in session.scalars(stmt) if fold(u.username) == key]
    return sorted(found, key=lambda u: u.username != username)


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

    user = login_user(session, username)
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash if user is not None else _dummy_hash(hasher), password)
    except VerificationError as exc:
        raise AuthenticationError("wrong username or password") from exc
    if user is None:  # only if someone typed the dummy password
        raise AuthenticationError("wrong username or password")
    return user


def login_user(session: Session, username: str) -> User | None:
    """The active user a login name means: the exact name, else the one user whose folded
    name (:func:`users_named`) is the same (``Admin`` logs in as ``admin``); None when there is
    none, or several look-alikes from before names were folded (none is guessed)."""
    found = users_named(session, username, active_only=True)
    if found and (found[0].username == username or len(found) == 1):
        return found[0]
    return None


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
