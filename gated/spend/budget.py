"""Budget admission (SPEC §5.3): the worst case a request could cost, reserved atomically on every
budgeted key/team/user before the upstream call and settled to the real cost with its spend row."""

from __future__ import annotations

from gated.auth import Principal
from gated.errors import BudgetExceeded, Forbidden
from gated.pricing import Price
from gated.routing.router import DeploymentState
from gated.store.budgets import Target
from gated.store.store import Store
from gated.store.worker import StoreWorker

DEFAULT_MAX_OUTPUT = 4096
NAMES = {"keys": "key", "teams": "team", "users": "user"}


def targets(principal: Principal) -> tuple[list[Target], list[Target]]:
    """(every key/team/user the cost is charged to, those of them that have a max_budget)."""
    view = principal.view
    if view is None:
        return [], []
    charged: list[Target] = []
    budgeted: list[Target] = []
    for table, pk, row in (("keys", "token_id", view.key), ("teams", "team_id", view.team),
                           ("users", "user_id", view.user)):
        if row is not None:
            charged.append((table, row[pk]))
            if row.get("max_budget") is not None:
                budgeted.append((table, row[pk]))
    return charged, budgeted


def worst_price(states: list[DeploymentState], group: str) -> Price:
    prices = [s.price for s in states]
    if any(p is None for p in prices):
        raise Forbidden(f"model '{group}' has no price, and this key, its team or its user has a budget",
                        param="model", code="model_not_priced", rejected_by="budget")
    return Price(max(p.input for p in prices if p), max(p.output for p in prices if p))


def worst_case(states: list[DeploymentState], group: str, prompt_tokens: int, max_output: int | None) -> float:
    """The most the request could cost on any of the group's deployments (priced once, by the Router)."""
    price = worst_price(states, group)
    limits = [s.deployment.model_info.max_output_tokens for s in states if s.deployment.model_info.max_output_tokens]
    output = max_output if max_output is not None else (max(limits) if limits else DEFAULT_MAX_OUTPUT)
    return prompt_tokens * price.input + output * price.output


async def reserve(store: StoreWorker, budgeted: list[Target], amount: float) -> None:
    refused = await store.run(Store.reserve, budgeted, amount)
    if refused is not None:
        raise BudgetExceeded(f"the {NAMES[refused[0]]}'s budget does not cover this request",
                             rejected_by="budget")
