"""The SPEC §5.1 role matrix for admin objects that team admins may touch: keys of their own
team, their own team's info and members. Everything else is the master key's."""

from __future__ import annotations

from typing import Any

from gated.auth import ADMIN, TEAM_ADMIN, Principal
from gated.errors import Forbidden


def require_team_scope(principal: Principal, team_id: str | None) -> None:
    """Admin: anything. Team admin: only objects of its own team. Others: nothing."""
    if principal.role == ADMIN:
        return
    if principal.role == TEAM_ADMIN and team_id is not None and team_id == principal.team_id:
        return
    raise Forbidden("this needs the master key or an admin of the object's team")


def require_key_manager(principal: Principal) -> None:
    """Managing keys needs the master key or a team admin; checked before any lookup, so a plain
    key learns nothing (not even whether an id exists)."""
    if principal.role not in (ADMIN, TEAM_ADMIN):
        raise Forbidden("this needs the master key or an admin of the key's team")


def require_within_team(principal: Principal, team: dict[str, Any] | None, fields: dict[str, Any]) -> None:
    """A team admin may not give a key more budget or models than its team has."""
    if principal.role != TEAM_ADMIN or team is None:
        return
    budget = fields.get("max_budget")
    if team.get("max_budget") is not None and (budget is None or budget > team["max_budget"]):
        raise Forbidden(f"max_budget may not exceed the team's ({team['max_budget']})", param="max_budget")
    team_models = team.get("models") or []
    models = fields.get("models") or []
    if team_models and (not models or not set(models) <= set(team_models)):
        raise Forbidden("models must be a subset of the team's models", param="models")
