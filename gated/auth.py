"""Authentication: who is calling (a Principal with a role). The master key is compared in
constant time; open mode (no master key) lets LLM routes through and refuses admin routes."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from gated.errors import AuthenticationFailed, Forbidden

ADMIN, TEAM_ADMIN, USER, OPEN = "admin", "team_admin", "user", "open"


@dataclass(frozen=True, slots=True)
class Principal:
    role: str
    token_id: str | None = None     # SHA-256 of a virtual key; None for the master key / open mode
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None


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


class Authenticator:
    def __init__(self, master_key: str | None) -> None:
        self._master_digest = hashlib.sha256(master_key.encode()).digest() if master_key else None

    @property
    def open_mode(self) -> bool:
        return self._master_digest is None

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        key = presented_key(headers)
        if self._master_digest is None:
            return ANONYMOUS
        if key is None:
            raise AuthenticationFailed("missing API key: send 'Authorization: Bearer <key>'")
        if hmac.compare_digest(hashlib.sha256(key.encode()).digest(), self._master_digest):
            return MASTER
        raise AuthenticationFailed("invalid API key")

    def require_admin(self, principal: Principal) -> None:
        if principal.role == ADMIN:
            return
        if principal.role == OPEN:
            raise Forbidden("admin routes need a master key: set general_settings.master_key "
                            "(or GATED_MASTER_KEY) and restart gated")
        raise Forbidden("this route needs the master key")
