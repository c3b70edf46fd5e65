"""SPEC §2–§3 config loading: each kind of problem → exit 2 with one line naming its YAML path and
no traceback; known-but-unsupported keys warn and are ignored; os.environ/NAME substitution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gated.config import ConfigError, load_config, parse_config
from tests.support.gated import base_env, mock_config, run_gated

BASE = {"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/m"}}]}


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, Path("."))
    return caught.value.problems


@pytest.mark.parametrize("raw, expected", [
    ({"model_list": [{"model_name": "m", "litellm_params": {"model": "anthropic/claude"}}]},
     "model_list[0].litellm_params.model: unsupported provider 'anthropic'; supported: azure, mock, openai"),
    ({"model_list": [{"model_name": "m", "litellm_params": {"model": "gpt-4o"}}]},
     "model_list[0].litellm_params.model: must be 'provider/model'"),
    ({"model_list": [{"model_name": "m", "litellm_params": {"model": "azure/dep"}}]},
     "model_list[0].litellm_params: azure/ deployments need api_base and api_version"),
    ({**BASE, "litellm_settings": {"callbacks": ["not_a_guardrail", "lakera"]}},
     "litellm_settings.callbacks[0]: unknown guardrail 'not_a_guardrail'; known: "),
    ({**BASE, "router_settings": {"routing_strategy": "fastest"}},
     "router_settings.routing_strategy: Input should be 'least-busy' or 'simple-shuffle'"),
    ({**BASE, "router_settings": {"num_retries": -1}}, "router_settings.num_retries: Input should be greater"),
    ({**BASE, "general_settings": {"master_kye": "x"}},
     "general_settings.master_kye: unknown key (did you mean 'master_key'?)"),
    ({**BASE, "general_settings": {"max_request_size_mb": "big"}}, "general_settings.max_request_size_mb: "),
    ({**BASE, "litellm_settings": {"google_moderation_confidence_threshold": 1.5}},
     "litellm_settings.google_moderation_confidence_threshold: Input should be less than or equal to 1"),
    ({**BASE, "litellm_settings": {"violent_threshold": -0.1}},
     "litellm_settings.google_category_thresholds.violent: Input should be greater than or equal to 0"),
    ({**BASE, "callback_settings": {"x": {"timeout": 1}}}, "callback_settings.x: unknown guardrail"),
    ({**BASE, "model_list": [{"model_name": "", "litellm_params": {"model": "mock/m"}}]}, "model_list[0].model_name"),
    ({"model_lists": []}, "model_lists: unknown key (did you mean 'model_list'?)"),
])
def test_each_problem_names_its_path(raw, expected):
    found = problems(raw)
    assert any(p.startswith(expected) for p in found), found


def test_several_problems_are_all_reported():
    found = problems({"model_list": [{"model_name": "m", "litellm_params": {"model": "x/y"}}],
                      "router_settings": {"cooldown_time": -1}})
    assert len(found) == 2


def test_missing_environment_variable(monkeypatch):
    monkeypatch.delenv("GATED_TEST_NOPE", raising=False)
    found = problems({**BASE, "general_settings": {"master_key": "os.environ/GATED_TEST_NOPE"}})
    assert found == ["general_settings.master_key: environment variable GATED_TEST_NOPE is not set"]


def test_environment_substitution_anywhere(monkeypatch):
    monkeypatch.setenv("GATED_TEST_BASE", "http://127.0.0.1:9/v1")
    config, _ = parse_config({"model_list": [{"model_name": "m", "litellm_params": {
        "model": "openai/m", "api_base": "os.environ/GATED_TEST_BASE"}}]}, Path("."))
    assert config.model_list[0].litellm_params.api_base == "http://127.0.0.1:9/v1"


def test_unsupported_seed_keys_warn_and_are_ignored():
    config, warnings = parse_config({**BASE, "environment_variables": {"A": "b"},
                                     "litellm_settings": {"success_callback": ["langfuse"]},
                                     "router_settings": {"redis_host": "x"}}, Path("."))
    assert warnings == ["environment_variables: not supported by gated; ignored",
                        "litellm_settings.success_callback: not supported by gated; ignored",
                        "router_settings.redis_host: not supported by gated; ignored"]
    assert config.litellm_settings.callbacks == []


def test_settings_defaults():
    config, _ = parse_config(BASE, Path("."))
    assert config.router_settings.routing_strategy == "least-busy"
    assert (config.router_settings.num_retries, config.router_settings.cooldown_time) == (2, 30)
    assert config.general_settings.max_request_size_mb == 10
    assert config.litellm_settings.store_audit_logs is True
    assert config.litellm_settings.google_moderation_confidence_threshold == 0.8


def test_both_threshold_spellings_are_collected():
    config, _ = parse_config({**BASE, "litellm_settings": {"toxic_confidence_threshold": 0.1,
                                                           "violent_threshold": 0,
                                                           "death_harm_and_tragedy_threshold": 0.3}}, Path("."))
    assert config.litellm_settings.google_category_thresholds == {
        "toxic": 0.1, "violent": 0, "death_harm_and_tragedy": 0.3}


def test_quickstart_config_is_valid():
    config, warnings = load_config(Path(__file__).parent.parent / "examples" / "quickstart.yaml")
    assert {"gpt-3.5-turbo", "fake-openai-endpoint", "llama3"} <= set(config.groups())
    assert config.general_settings.enable_public_model_hub is True
    assert any("well-known" in w for w in warnings)


def test_invalid_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list: [\n  - oops: {")
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    assert "not valid YAML (line" in caught.value.problems[0]
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("raw, expected", [
    ({"model_list": [{"model_name": "m", "litellm_params": {"model": "bedrock/x"}}]},
     "gated: config error: model_list[0].litellm_params.model: unsupported provider 'bedrock'"),
    ({**BASE, "litellm_settings": {"callbacks": ["lakera"]}},
     "gated: config error: litellm_settings.callbacks[0]: unknown guardrail 'lakera'"),
    ({**BASE, "general_settings": {"master_key": "os.environ/GATED_TEST_UNSET_VAR"}},
     "gated: config error: general_settings.master_key: environment variable GATED_TEST_UNSET_VAR is not set"),
    ({**BASE, "general_settings": {"master_kye": "x"}},
     "gated: config error: general_settings.master_kye: unknown key (did you mean 'master_key'?)"),
    ({**BASE, "router_settings": {"num_retries": "two"}}, "gated: config error: router_settings.num_retries: "),
    ({"model_list": [{"model_name": "m", "litellm_params": {"model": "azure/dep"}}]},
     "gated: config error: model_list[0].litellm_params: azure/ deployments need api_base and api_version"),
    ({**BASE, "litellm_settings": {"banned_keywords_list": "missing.txt", "callbacks": ["banned_keywords"]}},
     "gated: config error: litellm_settings.banned_keywords_list: cannot read missing.txt"),
    ("model_list: [\n  - oops: {", "gated: config error: "),
])
def test_gated_exits_2_with_one_line_per_problem(tmp_path, raw, expected):
    result = run_gated(tmp_path, raw)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_config_file_exits_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "gated", "--config", str(tmp_path / "nope.yaml")],
                            capture_output=True, text=True, timeout=20, env=base_env())
    assert result.returncode == 2 and "nope.yaml" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_loopback_rules(tmp_path):
    no_key = mock_config()
    del no_key["general_settings"]["master_key"]
    refused = run_gated(tmp_path, no_key, "--host", "0.0.0.0")
    assert refused.returncode == 2 and "--insecure-open" in refused.stderr
    well_known = mock_config()
    well_known["general_settings"]["master_key"] = "sk-1234"
    refused = run_gated(tmp_path, well_known, "--host", "0.0.0.0")
    assert refused.returncode == 2 and "well-known example key is refused" in refused.stderr
    assert "sk-1234" not in refused.stderr
