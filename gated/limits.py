"""Rate-limit admission (SPEC §5.3): rpm / tpm / max_parallel_requests of the key and its team,
exact across workers. Keys and teams without limits pay nothing: no database call at all."""

from __future__ import annotations

from gated.auth import Principal
from gated.errors import RateLimited
from gated.spend.record import utc_now
from gated.store.limits import Limits
from gated.store.renames import KEY_SCOPE
from gated.store.store import Store
from gated.store.worker import StoreWorker


def limits_for(principal: Principal) -> list[Limits]:
    view = principal.view
    if view is None:
        return []
    found = []
    key, team = view.key, view.team
    if key.get("rpm_limit") is not None or key.get("tpm_limit") is not None or \
            key.get("max_parallel_requests") is not None:
        found.append(Limits(KEY_SCOPE + key["token_id"], key.get("rpm_limit"), key.get("tpm_limit"),
                            key.get("max_parallel_requests")))
    if team is not None and (team.get("rpm_limit") is not None or team.get("tpm_limit") is not None):
        found.append(Limits(f"teams:{team['team_id']}", team.get("rpm_limit"), team.get("tpm_limit")))
    return found


async def admit(store: StoreWorker, limits: list[Limits]) -> None:
    refused = await store.run(Store.admit, limits, utc_now())
    if refused is not None:
        scope, what, retry_after = refused
        owner = scope.split(":", 1)[0].rstrip("s")
        raise RateLimited(f"the {owner}'s {what} is reached; retry in {retry_after}s",
                          headers={"Retry-After": str(retry_after)}, rejected_by="rate_limit")
