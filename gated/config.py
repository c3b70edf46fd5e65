"""Loading the YAML config: `os.environ/NAME` substitution, validation into frozen pydantic models,
and problems reported one line each with their YAML path (ConfigError). No I/O beyond reading
the file itself."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gated.guardrails import registry
from gated.guardrails.lists import read_list

SUPPORTED_PROVIDERS = ("azure", "mock", "openai")
ENV_PREFIX = "os.environ/"
WELL_KNOWN_MASTER_KEY = "sk-1234"

# Keys the seed's product understands and we deliberately ignore (a warning each).
UNSUPPORTED_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"environment_variables", "guardrails", "litellm_params", "files_settings", "assistant_settings"}),
    "litellm_settings": frozenset({
        "success_callback", "failure_callback", "service_callback", "drop_params", "set_verbose",
        "json_logs", "num_retries", "request_timeout", "cache", "cache_params", "telemetry",
        "max_budget", "budget_duration", "default_team_settings", "redact_user_api_key_info",
        "turn_off_message_logging", "fallbacks", "context_window_fallbacks", "modify_params",
    }),
    "router_settings": frozenset({
        "redis_host", "redis_port", "redis_password", "redis_url", "fallbacks", "model_group_alias",
        "context_window_fallbacks", "enable_pre_call_checks", "retry_policy", "allowed_fails_policy",
        "provider_budget_config", "cache_responses", "default_litellm_params",
    }),
    "general_settings": frozenset({
        "database_url", "alerting", "alerting_threshold", "proxy_batch_write_at", "store_model_in_db",
        "disable_spend_logs", "allow_requests_on_db_unavailable", "background_health_checks",
        "health_check_interval", "ui_access_mode", "custom_auth", "alert_types",
        "database_connection_pool_limit", "public_routes", "allowed_routes", "infer_model_from_keys",
    }),
}

# Google's 16 moderation categories, normalised ("Death, Harm & Tragedy" → death_harm_and_tragedy).
GOOGLE_CATEGORIES = (
    "toxic", "insult", "profanity", "derogatory", "sexual", "death_harm_and_tragedy", "violent",
    "firearms_and_weapons", "public_safety", "health", "religion_and_belief", "illicit_drugs",
    "war_and_conflict", "politics", "finance", "legal",
)
_THRESHOLD_KEY = re.compile(r"^(?P<cat>[a-z_]+?)_(?:confidence_)?threshold$")

NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
PosInt = Annotated[int, Field(gt=0)]


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class LitellmParams(_Strict):
    model: str
    api_base: str | None = None
    api_key: str | None = None
    api_version: str | None = None
    input_cost_per_token: NonNegFloat | None = None
    output_cost_per_token: NonNegFloat | None = None
    rpm: PosInt | None = None
    tpm: PosInt | None = None
    timeout: PosFloat | None = None
    weight: PosFloat = 1.0
    mock_response: str | None = None
    mock_latency_ms: Annotated[int, Field(ge=0)] = 0
    forward_metadata: bool = False
    stream_usage: bool = True

    @field_validator("model")
    @classmethod
    def _provider_prefix(cls, value: str) -> str:
        provider, sep, rest = value.partition("/")
        if not sep or not rest:
            raise ValueError(f"must be 'provider/model' with provider one of: {', '.join(SUPPORTED_PROVIDERS)}")
        if provider not in SUPPORTED_PROVIDERS:
            raise ValueError(f"unsupported provider '{provider}'; supported: {', '.join(SUPPORTED_PROVIDERS)}")
        return value

    @model_validator(mode="after")
    def _azure_needs_base_and_version(self) -> LitellmParams:
        if self.provider == "azure" and not (self.api_base and self.api_version):
            raise ValueError("azure/ deployments need api_base and api_version")
        return self

    @property
    def provider(self) -> str:
        return self.model.partition("/")[0]

    @property
    def upstream_model(self) -> str:
        return self.model.partition("/")[2]


class ModelInfo(_Strict):
    mode: Literal["chat", "completion", "embedding", "moderation"] = "chat"
    max_input_tokens: PosInt | None = None
    max_output_tokens: PosInt | None = None
    description: str | None = None
    features: list[str] = []


class Deployment(_Strict):
    model_name: Annotated[str, Field(min_length=1)]
    litellm_params: LitellmParams
    model_info: ModelInfo = ModelInfo()


class RouterSettings(_Strict):
    routing_strategy: Literal["least-busy", "simple-shuffle"] = "least-busy"
    num_retries: Annotated[int, Field(ge=0)] = 2
    cooldown_time: NonNegFloat = 30.0
    allowed_fails: PosInt = 3
    timeout: PosFloat = 600.0


class LitellmSettings(_Strict):
    callbacks: list[str] = []
    store_audit_logs: bool = True
    blocked_user_list: list[str] | str = []
    banned_keywords_list: list[str] | str = []
    banned_keywords_match: Literal["word", "substring"] = "word"
    banned_keywords_check_output: bool = True
    llm_guard_mode: Literal["all", "key-specific", "request-specific"] = "all"
    llm_guard_api_base: str | None = None
    llamaguard_model_name: str | None = None
    llamaguard_unsafe_content_categories: str | None = None
    llamaguard_endpoint_url: str | None = None
    google_moderation_confidence_threshold: Annotated[float, Field(ge=0, le=1)] = 0.8
    google_category_thresholds: dict[str, Annotated[float, Field(ge=0, le=1)]] = {}
    google_moderation_api_endpoint: str | None = None
    google_moderation_anonymous_credentials: bool = False
    openai_moderations_api_base: str = "https://api.openai.com/v1"
    openai_moderations_model_name: str = "omni-moderation-latest"
    lakera_api_base: str | None = None
    public_model_groups: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _collect_category_thresholds(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        thresholds = dict(data.pop("google_category_thresholds", {}) or {})
        for key in list(data):
            match = _THRESHOLD_KEY.match(key) if isinstance(key, str) else None
            if match and match["cat"] in GOOGLE_CATEGORIES:
                thresholds[match["cat"]] = data.pop(key)
        data["google_category_thresholds"] = thresholds
        return data

    @field_validator("callbacks")
    @classmethod
    def _known_guardrails(cls, names: list[str]) -> list[str]:
        known = registry.known_names()
        for index, name in enumerate(names):
            if name not in known:
                raise ValueError(f"[{index}]: unknown guardrail '{name}'; known: {', '.join(known) or '(none)'}")
        return names


class CallbackSettings(_Strict):
    timeout: PosFloat = 5.0
    on_error: Literal["fail_closed", "fail_open"] = "fail_closed"


class GeneralSettings(_Strict):
    master_key: str | None = None
    database_path: str | None = None
    max_request_size_mb: PosFloat = 10.0
    shutdown_grace_seconds: NonNegFloat = 30.0
    spend_logs_retention_days: PosInt | None = None
    enable_public_model_hub: bool = False

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_size_mb * 1024 * 1024)


class Config(_Strict):
    model_list: list[Deployment] = []
    router_settings: RouterSettings = RouterSettings()
    litellm_settings: LitellmSettings = LitellmSettings()
    callback_settings: dict[str, CallbackSettings] = {}
    general_settings: GeneralSettings = GeneralSettings()
    base_dir: Path = Path(".")

    def groups(self) -> dict[str, list[Deployment]]:
        groups: dict[str, list[Deployment]] = {}
        for deployment in self.model_list:
            groups.setdefault(deployment.model_name, []).append(deployment)
        return groups

    def secrets(self) -> frozenset[str]:
        values = {self.general_settings.master_key}
        values.update(d.litellm_params.api_key for d in self.model_list)
        return frozenset(v for v in values if v)


def _substitute_env(node: Any, path: str, problems: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute_env(v, _join(path, str(k)), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_env(v, f"{path}[{i}]", problems) for i, v in enumerate(node)]
    if isinstance(node, str) and node.startswith(ENV_PREFIX):
        name = node[len(ENV_PREFIX):]
        if name not in os.environ:
            problems.append(f"{path}: environment variable {name} is not set")
            return None
        return os.environ[name]
    return node


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _drop_unsupported(data: dict[str, Any], warnings: list[str]) -> None:
    for block, keys in UNSUPPORTED_KEYS.items():
        target = data if not block else data.get(block)
        if not isinstance(target, dict):
            continue
        for key in [k for k in target if k in keys]:
            del target[key]
            warnings.append(f"{_join(block, key)}: not supported by gated; ignored")


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, str(part))
    return path


def _describe(error: dict[str, Any], data: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    path = _loc_to_path(loc)
    if error["type"] == "extra_forbidden":
        model_fields = _fields_at(loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), model_fields, n=1)
        suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
        return f"{path}: unknown key{suffix}"
    message = error["msg"].removeprefix("Value error, ")
    if message.startswith("[") and "]: " in message:  # a list item named by its validator
        index, _, message = message.partition(": ")
        path += index
    return f"{path}: {message}"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Config
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return list(model.model_fields) if model is not None else []


def load_config(path: str | Path) -> tuple[Config, list[str]]:
    """Read and validate; returns (config, warnings) or raises ConfigError with every problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError([f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    return parse_config(raw or {}, base_dir=path.resolve().parent)


def parse_config(raw: Any, base_dir: Path) -> tuple[Config, list[str]]:
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): must be a mapping"])
    problems: list[str] = []
    warnings: list[str] = []
    data = _substitute_env(raw, "", problems)
    _drop_unsupported(data, warnings)
    if problems:
        raise ConfigError(problems)
    data["base_dir"] = base_dir
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(e, data) for e in exc.errors()]) from None
    for key in ("blocked_user_list", "banned_keywords_list"):
        try:
            read_list(getattr(config.litellm_settings, key), base_dir)
        except ValueError as exc:
            problems.append(f"litellm_settings.{key}: {exc}")
    for name in config.callback_settings:
        if name not in registry.known_names():
            known = ", ".join(registry.known_names()) or "(none)"
            problems.append(f"callback_settings.{name}: unknown guardrail; known: {known}")
    if problems:
        raise ConfigError(problems)
    if config.general_settings.master_key == WELL_KNOWN_MASTER_KEY:
        warnings.append(
            "general_settings.master_key: this is the well-known example key from public docs; "
            "gated accepts it on a loopback host only"
        )
    return config, warnings
