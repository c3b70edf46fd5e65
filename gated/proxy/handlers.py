"""The OpenAI-compatible route handlers: read the request, pick a deployment through the router,
relay the answer, and leave one spend row behind whatever happened (SPEC §4, §7)."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import orjson
from aiohttp import web

from gated import appkeys, limits
from gated.auth import Principal
from gated.config import Deployment
from gated.errors import GatewayError, ModelNotFound
from gated.guardrails.base import CheckContext
from gated.guardrails.runner import RunReport
from gated.providers.base import CHAT, COMPLETION, EMBEDDING, MODERATION, UpstreamCall
from gated.proxy import schemas
from gated.proxy.access import check_access, may_use
from gated.proxy.relay import ProxyContext, relay_json, relay_stream, upstream_error
from gated.proxy.request import parse_json_object, parse_request, read_body, upstream_body
from gated.routes import ANY_KEY, Route
from gated.spend import budget
from gated.spend.record import ERROR, REJECTED, SpendRecord
from gated.store.store import Store

log = logging.getLogger(__name__)


def owner_tags(principal: Principal, request_tags: list[str]) -> list[str]:
    """The request's tags, then the key's and its team's, de-duplicated in that order."""
    view = principal.view
    if view is None:
        return request_tags
    key_tags = view.key.get("tags")
    team_tags = view.team.get("tags") if view.team else None
    if not key_tags and not team_tags:
        return request_tags
    return list(dict.fromkeys([*request_tags, *(key_tags or ()), *(team_tags or ())]))


def _default_moderation_group(request: web.Request) -> str | None:
    for deployment in request.app[appkeys.CONFIG].model_list:
        if deployment.model_info.mode == "moderation":
            return deployment.model_name
    return None


async def _proxy(request: web.Request, call_type: str) -> web.StreamResponse:
    turns = request.app[appkeys.TURNS]
    turns.in_flight += 1
    try:
        response = await _handle(request, call_type)
        if turns.crowded and not response.prepared:   # a whole answer goes with the others of this turn
            await turns.end()
        return response
    finally:
        turns.in_flight -= 1


async def _handle(request: web.Request, call_type: str) -> web.StreamResponse:
    app = request.app
    config = app[appkeys.CONFIG]
    router = app[appkeys.ROUTER]
    started = request[appkeys.STARTED]
    raw = await read_body(request, config.general_settings.max_request_bytes)
    llm = parse_request(call_type, parse_json_object(raw), request.headers)
    if llm.model_group is None:
        llm.model_group = _default_moderation_group(request)
    if llm.model_group not in router.groups:
        raise ModelNotFound(f"model '{llm.model_group}' is not configured on this gateway", param="model")
    principal: Principal = request[appkeys.PRINCIPAL]
    record = SpendRecord(
        request_id=request[appkeys.REQUEST_ID], call_type=call_type, model_group=llm.model_group,
        token_id=principal.token_id, key_alias=principal.key_alias, team_id=principal.team_id,
        user_id=principal.user_id, end_user=llm.end_user, tags=owner_tags(principal, llm.tags),
        spend_logs_metadata=llm.metadata.get("spend_logs_metadata"),
    )
    ctx = ProxyContext(llm, record, started, app[appkeys.SETTINGS]["secrets"], runner=app[appkeys.GUARDRAILS])
    request[appkeys.LOG_FIELDS].update(model=llm.model_group, token_id=principal.token_id)
    guarded = RunReport()
    try:
        await _admit(app, principal, ctx)
        if ctx.runner:
            ctx.guard = guard_context(ctx, principal)
            await ctx.runner.check_input(ctx.guard, guarded)
        return await _forward(request, ctx, config.router_settings.timeout)
    except GatewayError as exc:
        record.status = REJECTED if exc.rejected_by else ERROR
        record.rejected_by, record.error_code = exc.rejected_by, exc.code
        raise
    finally:
        if ctx.parallel_scopes:
            await app[appkeys.STORE].run(Store.finish, ctx.parallel_scopes)
        row = record.to_row()
        request[appkeys.LOG_FIELDS].update(cost=row["spend"], overhead_ms=ctx.overhead)
        if guarded.timings_ms:
            request[appkeys.LOG_FIELDS]["guardrails_ms"] = guarded.timings_ms
        spend = app[appkeys.SPEND]
        if not spend.queue(row):
            await spend.put(row)
        if ctx.end_stream is not None:
            with contextlib.suppress(ConnectionResetError):   # the client left before the last bytes
                await ctx.end_stream()


async def _admit(app: web.Application, principal: Principal, ctx: ProxyContext) -> None:
    """SPEC §5.3 in order: model access, rate limits, budgets (reserved until the row settles)."""
    group, record = ctx.llm.model_group or "", ctx.record
    check_access(principal, group)
    if scoped := limits.limits_for(principal):
        await limits.admit(app[appkeys.STORE], scoped)
        record.limit_scopes = [s.scope for s in scoped]
        ctx.parallel_scopes = [s.scope for s in scoped if s.parallel is not None]
    record.budget_targets, budgeted = budget.targets(principal)
    if budgeted:
        amount = budget.worst_case(app[appkeys.ROUTER].groups[group], group, ctx.prompt_estimate(),
                                   ctx.llm.max_output_tokens)
        await budget.reserve(app[appkeys.STORE], budgeted, amount)
        record.reserved = amount


def guard_context(ctx: ProxyContext, principal: Principal) -> CheckContext:
    llm = ctx.llm
    candidates = (llm.end_user, llm.body.get("user_id"), llm.metadata.get("user_id"), principal.user_id)
    return CheckContext(
        call_type=llm.call_type, body=llm.body, segments=ctx.segments(), request_id=ctx.record.request_id,
        end_user_ids=[c for c in candidates if isinstance(c, str) and c],
        key_permissions=principal.key.get("permissions") or {}, request_metadata=llm.metadata,
    )


async def _forward(request: web.Request, ctx: ProxyContext, request_timeout: float) -> web.StreamResponse:
    llm = ctx.llm

    def build(deployment: Deployment, remaining: float) -> UpstreamCall:
        params = deployment.litellm_params
        return UpstreamCall(
            call_type=llm.call_type, body=upstream_body(llm, params), stream=llm.stream,
            request_id=ctx.record.request_id, total_timeout=remaining,
            read_timeout=params.timeout or request_timeout, mock_response=llm.mock_response,
        )

    waited = time.perf_counter()
    lease = await request.app[appkeys.ROUTER].send(llm.model_group or "", build, ctx.started + request_timeout)
    ctx.upstream_seconds += time.perf_counter() - waited
    params = lease.state.deployment.litellm_params
    ctx.record.deployment, ctx.record.model, ctx.record.price = lease.state.label, params.model, lease.state.price
    if ctx.record.price is None and not lease.state.warned_unpriced:
        lease.state.warned_unpriced = True
        log.warning("no price for deployment %s: its spend rows have spend null and cost_status unknown; "
                    "set input_cost_per_token / output_cost_per_token", lease.state.label)
    try:
        if lease.response.status >= 400:
            raise upstream_error(lease.response.status, lease.response.body, ctx.secrets)
        if lease.response.events is not None:
            return await relay_stream(request, lease, ctx)
        return await relay_json(lease, ctx)
    finally:
        lease.release()


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await _proxy(request, CHAT)


async def completions(request: web.Request) -> web.StreamResponse:
    return await _proxy(request, COMPLETION)


async def embeddings(request: web.Request) -> web.StreamResponse:
    return await _proxy(request, EMBEDDING)


async def moderations(request: web.Request) -> web.StreamResponse:
    return await _proxy(request, MODERATION)


async def list_models(request: web.Request) -> web.Response:
    created = request.app[appkeys.SETTINGS]["started_at"]
    principal: Principal = request[appkeys.PRINCIPAL]
    data: list[dict[str, Any]] = [
        {"id": name, "object": "model", "created": created, "owned_by": deps[0].deployment.litellm_params.provider}
        for name, deps in request.app[appkeys.ROUTER].groups.items() if may_use(principal, name)
    ]
    return web.Response(body=orjson.dumps({"object": "list", "data": data}), content_type="application/json")


def _both(method: str, path: str, handler: Any, summary: str, req: Any, resp: Any) -> list[Route]:
    return [Route(method, prefix + path, handler, ANY_KEY, summary, req, resp, openai=True, group="openai")
            for prefix in ("/v1", "")]


ROUTES: list[Route] = [
    *_both("POST", "/chat/completions", chat_completions, "Create a chat completion (SSE with stream: true)",
           schemas.ChatCompletionRequest, schemas.ChatCompletionResponse),
    *_both("POST", "/completions", completions, "Create a text completion",
           schemas.CompletionRequest, schemas.CompletionResponse),
    *_both("POST", "/embeddings", embeddings, "Create embeddings", schemas.EmbeddingRequest, schemas.EmbeddingResponse),
    *_both("POST", "/moderations", moderations, "Classify text with a moderation model",
           schemas.ModerationRequest, schemas.ModerationResponse),
    *_both("GET", "/models", list_models, "List the model groups this key may use", None, schemas.ModelList),
]
