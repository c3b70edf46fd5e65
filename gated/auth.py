"""Authentication: who is calling (a Principal with a role). The master key is compared in
constant time; virtual keys are looked up by their SHA-256 (the only form stored); open mode (no
master key) lets LLM routes through and refuses admin routes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gated.directory import Directory, KeyView
from gated.errors import AuthenticationFailed, Forbidden
from gated.store.admin import Actor

ADMIN, TEAM_ADMIN, USER, OPEN = "admin", "team_admin", "user", "open"


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    view: KeyView | None = None     # the virtual key with its team and user; None for master / open

    @property
    def token_id(self) -> str | None:
        return self.view.key["token_id"] if self.view else None

    @property
    def key(self) -> dict[str, Any]:
        return self.view.key if self.view else {}

    @property
    def team_id(self) -> str | None:
        return self.key.get("team_id")

    @property
    def user_id(self) -> str | None:
        return self.key.get("user_id")

    @property
    def key_alias(self) -> str | None:
        return self.key.get("key_alias")

    def actor(self) -> Actor:
        if self.role in (ADMIN, OPEN):
            return Actor("admin", None)
        return Actor(self.user_id or str(self.token_id), self.token_id)


MASTER = Principal(ADMIN)
ANONYMOUS = Principal(OPEN)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def presented_key(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("Authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return authorization.strip()
    return headers.get("x-api-key") or headers.get("api-key") or None


def role_of(view: KeyView) -> str:
    user_id = view.key.get("user_id")
    if view.team and user_id:
        for member in view.team.get("members_with_roles") or ():
            if member.get("user_id") == user_id and member.get("role") == "admin":
                return TEAM_ADMIN
    return USER


class Authenticator:
    def __init__(self, master_key: str | None, directory: Directory | None = None) -> None:
        self._master_digest = hashlib.sha256(master_key.encode()).digest() if master_key else None
        self.directory = directory

    @property
    def open_mode(self) -> bool:
        return self._master_digest is None

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        if self.directory is not None:
            await self.directory.sync()
        key = presented_key(headers)
        if self._master_digest is None:
            return ANONYMOUS
        if key is None:
            raise AuthenticationFailed("missing API key: send 'Authorization: Bearer <key>'")
        digest = hashlib.sha256(key.encode())
        if hmac.compare_digest(digest.digest(), self._master_digest):
            return MASTER
        # A stored hash is never a credential: only a key whose own hash is stored gets in.
        view = await self.directory.key(digest.hexdigest()) if self.directory and key.startswith("sk-") else None
        if view is None:
            raise AuthenticationFailed("invalid API key")
        expires = view.expires
        if expires is not None and expires <= dt.datetime.now(dt.UTC):
            raise AuthenticationFailed("this key has expired", code="key_expired")
        return Principal(role_of(view), view)

    def require_admin(self, principal: Principal) -> None:
        if principal.role == ADMIN:
            return
        if principal.role == OPEN:
            raise Forbidden("admin routes need a master key: set general_settings.master_key "
                            "(or GATED_MASTER_KEY) and restart gated")
        raise Forbidden("this route needs the master key")
