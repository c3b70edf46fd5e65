"""Per-request access checks of SPEC §5.3 that need no database: blocked key or team, and whether
the key and its team may use the requested model group."""

from __future__ import annotations

from gated.auth import Principal
from gated.errors import Forbidden

MODEL_ACCESS = "model_access"


def may_use(principal: Principal, model_group: str) -> bool:
    view = principal.view
    if view is None:
        return True
    return all(not models or model_group in models
               for models in (view.key.get("models"), (view.team or {}).get("models")))


def check_access(principal: Principal, model_group: str) -> None:
    view = principal.view
    if view is None:
        return
    if view.key.get("blocked"):
        raise Forbidden("this key is blocked", code="key_blocked", rejected_by="key_blocked")
    if view.team is not None and view.team.get("blocked"):
        raise Forbidden("this key's team is blocked", code="team_blocked", rejected_by="team_blocked")
    for owner, models in (("key", view.key.get("models")), ("team", (view.team or {}).get("models"))):
        if models and model_group not in models:
            raise Forbidden(f"this {owner} may not use model '{model_group}'", param="model",
                            code="model_not_allowed", rejected_by=MODEL_ACCESS)
