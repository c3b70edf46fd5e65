"""Budget admission (SPEC §5.3): the worst case a request could cost, reserved atomically on every
budgeted key/team/user before the upstream call and settled to the real cost with its spend row."""

from __future__ import annotations

from gated.auth import Principal
from gated.config import Deployment
from gated.errors import BudgetExceeded, Forbidden
from gated.pricing import Price, price_for
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


def worst_price(deployments: list[Deployment], group: str) -> Price:
    prices = [price_for(d.litellm_params) for d in deployments]
    if any(p is None for p in prices):
        raise Forbidden(f"model '{group}' has no price, and this key, its team or its user has a budget",
                        param="model", code="model_not_priced", rejected_by="budget")
    return Price(max(p.input for p in prices if p), max(p.output for p in prices if p))


def worst_case(deployments: list[Deployment], group: str, prompt_tokens: int, max_output: int | None) -> float:
    price = worst_price(deployments, group)
    limits = [d.model_info.max_output_tokens for d in deployments if d.model_info.max_output_tokens]
    output = max_output if max_output is not None else (max(limits) if limits else DEFAULT_MAX_OUTPUT)
    return prompt_tokens * price.input + output * price.output


async def reserve(store: StoreWorker, budgeted: list[Target], amount: float) -> None:
    refused = await store.run(Store.reserve, budgeted, amount)
    if refused is not None:
        raise BudgetExceeded(f"the {NAMES[refused[0]]}'s budget does not cover this request",
                             rejected_by="budget")
