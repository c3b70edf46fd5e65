"""SPEC §10 model hub: /public/model_hub JSON and the /model_hub page (rendered by a real headless
Chromium: every public group's name and prices), public_model_groups, off by default, never a
credential or an upstream address; /model_group/info for a key."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import browser
from tests.support.api import Api
from tests.support.gated import MASTER_KEY, mock_config

ARTIFACTS = Path(__file__).parent.parent / "artifacts"


def hub_config(**litellm) -> dict:
    config = mock_config(enable_public_model_hub=True)
    config["model_list"].append({"model_name": "gpt-4o", "litellm_params": {
        "model": "openai/gpt-4o", "api_base": "http://10.9.8.7:8000/v1", "api_key": "sk-secret-provider-key-123456789",
        "input_cost_per_token": 0.0000025, "output_cost_per_token": 0.00001},
        "model_info": {"mode": "chat", "max_input_tokens": 128000, "max_output_tokens": 16384,
                       "description": "OpenAI's flagship", "features": ["vision", "tools"]}})
    config["litellm_settings"] = litellm
    return config


def test_json_lists_groups_with_prices_and_no_secrets(gated):
    instance = gated(hub_config())
    response = httpx.get(instance.url + "/public/model_hub")
    assert response.status_code == 200
    groups = {g["model_group"]: g for g in response.json()["data"]}
    assert set(groups) == {"gpt-3.5-turbo", "llama3", "embed", "mod", "gpt-4o"}
    assert groups["gpt-4o"] == {
        "model_group": "gpt-4o", "providers": ["openai"], "mode": "chat", "max_input_tokens": 128000,
        "max_output_tokens": 16384, "input_cost_per_million": 2.5, "output_cost_per_million": 10.0,
        "description": "OpenAI's flagship", "features": ["tools", "vision"]}
    assert groups["llama3"]["input_cost_per_million"] == 1.0
    for text in (response.text, httpx.get(instance.url + "/model_hub").text):
        assert "10.9.8.7" not in text and "sk-secret" not in text and "api_base" not in text


def test_public_model_groups_limit_the_hub_and_default_is_off(gated):
    limited = gated(hub_config(public_model_groups=["gpt-4o"]))
    assert [g["model_group"] for g in httpx.get(limited.url + "/public/model_hub").json()["data"]] == ["gpt-4o"]
    off = gated(mock_config())
    for path in ("/model_hub", "/public/model_hub"):
        assert httpx.get(off.url + path).status_code == 404


def test_model_group_info_shows_what_the_key_may_use(gated):
    instance = gated(hub_config(public_model_groups=["gpt-4o"]))
    admin = Api(instance.url, MASTER_KEY)
    key = Api(instance.url, admin.ok("/key/generate", {"models": ["llama3"]})["key"])
    assert [g["model_group"] for g in key.get("/model_group/info").json()["data"]] == ["llama3"]
    assert len(admin.get("/model_group/info").json()["data"]) == 5
    assert Api(instance.url, None).get("/model_group/info").status_code == 401


def test_page_renders_every_public_group_in_chromium(gated):
    instance = gated(hub_config(public_model_groups=["gpt-4o", "llama3", "gpt-3.5-turbo"]))
    rendered = browser.dom(instance.url + "/model_hub")
    for name, price_in, price_out in (("gpt-4o", "$2.5", "$10"), ("llama3", "$1", "$2"),
                                      ("gpt-3.5-turbo", "$1", "$2")):
        card = rendered.split(f'data-group="{name}"', 1)[1].split("</article>", 1)[0]
        assert f"<h2>{name}</h2>" in card
        assert f"{price_in} / 1M tokens" in card and f"{price_out} / 1M tokens" in card
    assert "embed" not in rendered
    assert "<title>Model hub — " in rendered and "3 model group(s)" in rendered
    card = rendered.split('data-group="gpt-4o"', 1)[1].split("</article>", 1)[0]
    assert '<span class="mode">chat</span>' in card and "OpenAI's flagship" in card
    assert "128,000 in · 16,384 out" in card and "openai" in card
    browser.screenshot(instance.url + "/model_hub", ARTIFACTS / "model_hub.png")


@pytest.mark.parametrize("path", ["/model_hub", "/public/model_hub", "/metrics", "/health/readiness"])
def test_public_pages_need_no_key(gated, path):
    instance = gated(hub_config())
    assert httpx.get(instance.url + path).status_code == 200
