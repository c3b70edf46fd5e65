"""`llamaguard_moderations` (SPEC §8.5): ask a Llama Guard model on a SageMaker endpoint whether the
conversation is safe. The whole conversation goes into one Llama Guard 1 style prompt as
`User:`/`Agent:` turns; the first line of the answer is `safe` or `unsafe`, the second the violated
category codes. boto3 is imported only when this guardrail is configured, and its blocking
`invoke_endpoint` runs in a worker thread; every SDK failure becomes a GuardrailError."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gated.errors import InvalidRequest
from gated.guardrails.base import ALLOW, CheckContext, Guardrail, GuardrailDeps, GuardrailError, Verdict
from gated.guardrails.registry import register
from gated.guardrails.text import Segment

if TYPE_CHECKING:
    from gated.config import CallbackSettings, LitellmSettings

log = logging.getLogger(__name__)

MODEL_PREFIX = "sagemaker/"
REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_REGION_NAME")
PARAMETERS = {"max_new_tokens": 32, "temperature": 0}
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

# The Llama Guard 1 taxonomy (codes O1–O6), described in our own words.
DEFAULT_CATEGORIES = """\
O1: Violence and Hate.
Must not: help plan or carry out violence; express hatred of, or demean, people because of who they
are (race, ethnicity, religion, nationality, gender, sexual orientation, disability and the like).
May: describe violence or hateful attitudes in order to explain, report on or discourage them.
O2: Sexual Content.
Must not: produce sexually explicit material or take part in sexual role play.
May: discuss sexuality, sexual health and relationships in a factual, educational way.
O3: Criminal Planning.
Must not: help plan or commit crimes such as theft, fraud, kidnapping or breaking into systems,
nor help avoid being caught.
May: explain how crimes happen in general terms, or how to prevent and detect them.
O4: Guns and Illegal Weapons.
Must not: help obtain, build or use firearms, explosives, or chemical or biological weapons
outside the law.
May: talk about weapons and their regulation in general, informative terms.
O5: Regulated or Controlled Substances.
Must not: help make, buy, sell or misuse illegal drugs, tobacco, alcohol or cannabis, or divert
prescription medicines.
May: give factual information about such substances, their effects and treatment for addiction.
O6: Self-Harm.
Must not: encourage or give instructions for suicide or self-injury, or romanticise them.
May: offer support, point to professional help and discuss self-harm in a caring, factual way."""

TEMPLATE = """\
[INST] Task: Decide whether the '{target}' messages in the conversation below contain unsafe \
content, judged against the categories that follow.

<BEGIN UNSAFE CONTENT CATEGORIES>
{categories}
<END UNSAFE CONTENT CATEGORIES>

<BEGIN CONVERSATION>

{conversation}

<END CONVERSATION>

Give your safety assessment of the {target} messages in the conversation above:
- The first line must be exactly 'safe' or 'unsafe'.
- When unsafe, the second line must list the codes of the violated categories, separated by commas. [/INST]"""


def _speaker(role: str) -> str:
    # Only the model's own turns are the Agent's; system, developer and tool text all come from the caller.
    return "Agent" if role == "assistant" else "User"


def build_prompt(segments: list[Segment], categories: str) -> str:
    turns = [f"{_speaker(s.role)}: {s.text}" for s in segments]
    target = _speaker(segments[-1].role)
    return TEMPLATE.format(target=target, categories=categories, conversation="\n\n".join(turns))


def generated_text(raw: bytes) -> str:
    """The generated text of a TGI/JumpStart reply: `[{"generated_text": …}]` or `{"generated_text": …}`."""
    try:
        reply: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise GuardrailError("LlamaGuard reply is not JSON") from None
    if isinstance(reply, list) and reply:
        reply = reply[0]
    text = reply.get("generated_text") if isinstance(reply, dict) else None
    if not isinstance(text, str):
        raise GuardrailError("LlamaGuard reply has no generated_text")
    return text


def parse_verdict(text: str) -> list[str] | None:
    """None when safe, else the violated category codes; GuardrailError when neither."""
    lines = [line.strip() for line in text.strip().splitlines()]
    first = lines[0].lower() if lines else ""
    if first == "safe":
        return None
    if first != "unsafe":
        raise GuardrailError("LlamaGuard reply is neither 'safe' nor 'unsafe'")
    codes = [code.strip() for code in lines[1].split(",")] if len(lines) > 1 else []
    return [code for code in codes if _CODE.match(code)]


def read_categories(path: str, base_dir: Path) -> str:
    where = "litellm_settings.llamaguard_unsafe_content_categories"
    try:
        text = (base_dir / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ValueError(f"{where}: cannot read {path}: {reason}") from None
    if not text.strip():
        raise ValueError(f"{where}: {path} is empty")
    return text.strip("\r\n")


def aws_region() -> str:
    for name in REGION_VARS:
        if os.environ.get(name):
            return os.environ[name]
    raise ValueError("no AWS region for the SageMaker endpoint: set AWS_REGION (or AWS_DEFAULT_REGION / "
                     "AWS_REGION_NAME)")


def sagemaker_invoker(endpoint: str, endpoint_url: str | None, timeout: float) -> Callable[[str], bytes]:
    """The SDK adapter: a blocking `prompt -> reply bytes` call that raises only GuardrailError."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "sagemaker-runtime", region_name=aws_region(), endpoint_url=endpoint_url,
        # The runner owns the deadline; a retry hidden inside it would only eat that budget.
        config=Config(connect_timeout=timeout, read_timeout=timeout, max_pool_connections=50,
                      retries={"max_attempts": 1, "mode": "standard"}),
    )

    def invoke(prompt: str) -> bytes:
        body = json.dumps({"inputs": prompt, "parameters": PARAMETERS})
        try:
            response = client.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                              Accept="application/json", Body=body)
            return bytes(response["Body"].read())
        except ClientError as exc:
            # The code (e.g. ModelError, ValidationError) is enough; messages can carry endpoint ARNs.
            code = exc.response.get("Error", {}).get("Code", "an error")
            raise GuardrailError(f"SageMaker returned {code}") from None
        except BotoCoreError as exc:
            raise GuardrailError(f"SageMaker call failed ({type(exc).__name__})") from None

    return invoke


@register
class LlamaGuardModerations(Guardrail):
    name = "llamaguard_moderations"

    def __init__(self, invoke: Callable[[str], bytes], categories: str, executor: Executor | None) -> None:
        self.invoke = invoke
        self.categories = categories
        self.executor = executor

    @classmethod
    def from_config(cls, settings: LitellmSettings, callback: CallbackSettings,
                    deps: GuardrailDeps) -> LlamaGuardModerations:
        model = settings.llamaguard_model_name or ""
        endpoint = model.removeprefix(MODEL_PREFIX)
        if not model.startswith(MODEL_PREFIX) or not endpoint:
            shown = repr(model) if model else "missing"
            raise ValueError(f"litellm_settings.llamaguard_model_name must be 'sagemaker/<endpoint-name>' "
                             f"(got {shown})")
        categories = DEFAULT_CATEGORIES
        if settings.llamaguard_unsafe_content_categories:
            categories = read_categories(settings.llamaguard_unsafe_content_categories, deps.base_dir)
        invoke = sagemaker_invoker(endpoint, settings.llamaguard_endpoint_url, callback.timeout)
        return cls(invoke, categories, deps.executor)

    async def check(self, ctx: CheckContext) -> Verdict:
        if not ctx.segments:
            return ALLOW
        prompt = build_prompt(ctx.segments, self.categories)
        raw = await asyncio.get_running_loop().run_in_executor(self.executor, self.invoke, prompt)
        codes = parse_verdict(generated_text(raw))
        if codes is None:
            return ALLOW
        listed = f" (categories: {', '.join(codes)})" if codes else ""
        log.info("LlamaGuard flagged request %s%s", ctx.request_id, listed)
        return Verdict(InvalidRequest(f"the request was flagged by LlamaGuard content moderation{listed}",
                                      code="content_policy_violation", extra={"categories": codes}))
