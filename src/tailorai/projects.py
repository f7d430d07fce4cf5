"""Projects and their keys.

Every event and key belongs to one project. A project has public keys (`tk_pub_...`: event
capture only, safe to embed in web pages) and secret keys (`tk_sec_...`: everything else). A key
is shown once, when created; the store keeps only its SHA-256 and a short prefix to list it by.

>>> key = create_key(Store(), "shop", "public")
>>> authenticate(Store(), key).project_id
'shop'
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from tailorai.errors import ConfigError
from tailorai.store.tables import ApiKeyRow, DashboardSessionRow, ProjectRow

__all__ = [
    "KEY_KINDS",
    "ApiKey",
    "authenticate",
    "create_key",
    "end_session",
    "ensure_project",
    "list_keys",
    "looks_like_key",
    "revoke_key",
    "session_of",
    "start_session",
]

KEY_KINDS = {"public": "tk_pub_", "secret": "tk_sec_"}
_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """What a key grants: its project, and `public` (capture only) or `secret`."""

    project_id: str
    kind: str
    prefix: str
    name: str | None = None
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project_id,
            "kind": self.kind,
            "prefix": self.prefix,
            "name": self.name,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _info(row: ApiKeyRow) -> ApiKey:
    return ApiKey(row.project_id, row.kind, row.prefix, row.name, row.created_at, row.revoked_at)


def ensure_project(store: Any, project: str) -> bool:
    """Create `project` unless it exists; True when it was created."""
    if not _PROJECT.match(project):
        raise ConfigError(
            f"Project name {project!r} is not allowed: use 1-64 letters, digits, '.', '_' or "
            "'-', starting with a letter or digit."
        )
    with store.session() as s:
        if s.get(ProjectRow, project) is not None:
            return False
        s.add(ProjectRow(id=project))
    return True


def create_key(store: Any, project: str, kind: str = "secret", *, name: str | None = None) -> str:
    """A new key of `project` (created when new); the only time the key itself is seen."""
    if kind not in KEY_KINDS:
        raise ConfigError(f"A key is 'public' or 'secret', got {kind!r}.")
    ensure_project(store, project)
    key = KEY_KINDS[kind] + secrets.token_urlsafe(32)
    with store.session() as s:
        s.add(
            ApiKeyRow(
                project_id=project, kind=kind, prefix=key[:14], key_hash=_hash(key), name=name
            )
        )
    return key


_KEY_SHAPE = re.compile(
    "^(?:" + "|".join(re.escape(p) for p in KEY_KINDS.values()) + r")[A-Za-z0-9_-]{43}$"
)


def looks_like_key(key: str) -> bool:
    """Whether `key` has the shape `create_key` makes (a kind's prefix, 43 URL-safe
    characters): anything else is refused before it is hashed or looked up."""
    return len(key) <= 64 and _KEY_SHAPE.match(key) is not None


def authenticate(store: Any, key: str) -> ApiKey | None:
    """The project and kind `key` grants, or None for an unknown or revoked key."""
    if not key or not looks_like_key(key):
        return None
    with store.session() as s:
        row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == _hash(key)))
        if row is None or row.revoked_at is not None:
            return None
        return _info(row)


def list_keys(store: Any, project: str | None = None) -> list[ApiKey]:
    query = select(ApiKeyRow).order_by(ApiKeyRow.project_id, ApiKeyRow.id)
    if project is not None:
        query = query.where(ApiKeyRow.project_id == project)
    with store.session() as s:
        return [_info(row) for row in s.scalars(query)]


def revoke_key(store: Any, prefix: str) -> ApiKey:
    """Revoke the key listed with `prefix`; it stops working at once."""
    with store.session() as s:
        rows = list(s.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)))
        if len(rows) != 1:
            found = "no key" if not rows else f"{len(rows)} keys"
            raise ConfigError(
                f"{found} with prefix {prefix!r}. `tailor keys list` shows each key's prefix."
            )
        rows[0].revoked_at = rows[0].revoked_at or datetime.now(UTC)
        return _info(rows[0])


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in dashboard browser: the key it signed in with, and its forms' CSRF token."""

    key: ApiKey
    csrf: str


def start_session(store: Any, key: str, *, days: float = 7.0) -> tuple[str, Session] | None:
    """A new dashboard session for a valid, unrevoked `key`: the cookie's token (shown only
    now) and the session; None when the key does not sign in."""
    if not looks_like_key(key):
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    with store.session() as s:
        row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == _hash(key)))
        if row is None or row.revoked_at is not None:
            return None
        s.execute(delete(DashboardSessionRow).where(DashboardSessionRow.expires_at < now))
        s.add(
            DashboardSessionRow(
                token_hash=_hash(token),
                key_id=row.id,
                csrf=csrf,
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
        )
        return token, Session(_info(row), csrf)


def session_of(store: Any, token: str) -> Session | None:
    """The live session of a cookie's `token`: None when unknown, signed out, expired, or its
    key revoked."""
    if not token or len(token) > 64:
        return None
    with store.session() as s:
        found = s.execute(
            select(DashboardSessionRow, ApiKeyRow)
            .join(ApiKeyRow, ApiKeyRow.id == DashboardSessionRow.key_id)
            .where(DashboardSessionRow.token_hash == _hash(token))
        ).first()
        if found is None:
            return None
        session, key = found
        expires = session.expires_at.replace(tzinfo=session.expires_at.tzinfo or UTC)
        if key.revoked_at is not None or expires < datetime.now(UTC):
            return None
        return Session(_info(key), session.csrf)


def end_session(store: Any, token: str) -> None:
    """Sign the session out: its cookie, replayed, no longer works."""
    if token:
        with store.session() as s:
            s.execute(
                delete(DashboardSessionRow).where(DashboardSessionRow.token_hash == _hash(token))
            )
