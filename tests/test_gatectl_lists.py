"""gatectl user block|unblock|blocked and keywords add|remove|list against a real gated: human and
--json output (= the API's JSON), idempotent answers, effect on LLM requests, exit codes."""

from __future__ import annotations

import json

import pytest

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, mock_config
from tests.test_gatectl import gatectl


@pytest.fixture
def instance(gated):
    config = mock_config()
    config["litellm_settings"] = {"callbacks": ["blocked_user_check", "banned_keywords"]}
    return gated(config)


def ctl(instance, *args: str):
    return gatectl("--url", instance.url, "--key", MASTER_KEY, *args)


def test_block_unblock_blocked(instance):
    first = ctl(instance, "user", "block", "eve", "mallory")
    assert first.returncode == 0 and "eve, mallory" in first.stdout
    again = json.loads(ctl(instance, "--json", "user", "block", "eve").stdout)
    assert again == {"changed": [], "unchanged": ["eve"]}
    assert Api(instance.url, MASTER_KEY).chat(user="eve").status_code == 403
    listed = ctl(instance, "user", "blocked")
    assert "eve" in listed.stdout and "mallory" in listed.stdout
    assert json.loads(ctl(instance, "--json", "user", "blocked").stdout) == \
        Api(instance.url, MASTER_KEY).get("/user/blocked").json()
    assert ctl(instance, "user", "unblock", "eve").returncode == 0
    assert Api(instance.url, MASTER_KEY).chat(user="eve").status_code == 200


def test_keywords(instance):
    assert ctl(instance, "keywords", "add", "zebra", "top secret").returncode == 0
    assert Api(instance.url, MASTER_KEY).chat(messages=[{"role": "user", "content": "TOP  Secret"}]).status_code == 400
    listed = json.loads(ctl(instance, "--json", "keywords", "list").stdout)
    assert listed == {"data": ["top secret", "zebra"]}
    assert "zebra" in ctl(instance, "keywords", "list").stdout
    removed = json.loads(ctl(instance, "--json", "keywords", "remove", "zebra", "unknown").stdout)
    assert removed == {"changed": ["zebra"], "unchanged": ["unknown"]}


def test_errors(instance):
    assert ctl(instance, "keywords", "add").returncode == 2
    assert ctl(instance, "user", "block").returncode == 2
    blank = ctl(instance, "keywords", "add", " ")
    assert blank.returncode == 1 and "visible characters" in blank.stderr
    user_key = Api(instance.url, MASTER_KEY).ok("/key/generate", {})["key"]
    refused = gatectl("--url", instance.url, "--key", user_key, "keywords", "list")
    assert refused.returncode == 1 and "master key" in refused.stderr
