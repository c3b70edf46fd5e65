"""Token prices and costs. A deployment's own `input_cost_per_token`/`output_cost_per_token` win;
else the built-in table (prices.json, by upstream model name); `mock/` defaults to $1/$2 per
million tokens. No price → cost None (`cost_status: unknown`), never a silent 0."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from gated.config import LitellmParams

MOCK_PRICE = (1e-6, 2e-6)
# Dollar amounts are kept to 12 decimal places (a millionth of a micro-dollar), in Python and in the
# SQL that adds them up, so sums show 0.000969 rather than 0.0009689999999999995.
MONEY_DIGITS = 12


def money(amount: float) -> float:
    return round(amount, MONEY_DIGITS)


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return money(prompt_tokens * self.input + completion_tokens * self.output)


@cache
def builtin_prices() -> dict[str, Price]:
    raw = json.loads(resources.files("gated").joinpath("prices.json").read_text(encoding="utf-8"))
    return {name: Price(p["input"], p["output"]) for name, p in raw.items() if not name.startswith("_")}


def price_for(params: LitellmParams) -> Price | None:
    if params.input_cost_per_token is not None or params.output_cost_per_token is not None:
        return Price(params.input_cost_per_token or 0.0, params.output_cost_per_token or 0.0)
    if params.provider == "mock":
        return Price(*MOCK_PRICE)
    return builtin_prices().get(params.upstream_model)


def estimate_tokens(texts: Iterable[str]) -> int:
    """The documented estimate used when an upstream reports no usage: UTF-8 bytes of all the
    texts together / 4, rounded up."""
    return math.ceil(sum(len(t.encode("utf-8")) for t in texts) / 4)
