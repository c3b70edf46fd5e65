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
    assert again == {"changed": [], "unchanged": ["eve"], "enforced": True}
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
    assert listed == {"data": ["top secret", "zebra"], "next_cursor": None, "enforced": True}
    assert "zebra" in ctl(instance, "keywords", "list").stdout
    removed = json.loads(ctl(instance, "--json", "keywords", "remove", "zebra", "unknown").stdout)
    assert removed == {"changed": ["zebra"], "unchanged": ["unknown"], "enforced": True}


def test_lists_page_in_order(instance):
    ctl(instance, "keywords", "add", *(f"word{i:02}" for i in range(5)))
    first = json.loads(ctl(instance, "--json", "keywords", "list", "--limit", "2").stdout)
    assert first["data"] == ["word00", "word01"] and first["next_cursor"]
    human = ctl(instance, "keywords", "list", "--limit", "2", "--cursor", first["next_cursor"])
    assert "word02" in human.stdout and "word03" in human.stdout and "word01" not in human.stdout
    assert "continue with --cursor" in human.stdout
    last = json.loads(ctl(instance, "--json", "keywords", "list", "--limit", "3",
                          "--cursor", first["next_cursor"]).stdout)
    assert last == {"data": ["word02", "word03", "word04"], "next_cursor": None, "enforced": True}
    bad = ctl(instance, "keywords", "list", "--cursor", "made-up")
    assert bad.returncode == 1 and "cursor" in bad.stderr


def test_a_list_without_its_guardrail_is_kept_but_says_so(gated):
    instance = gated(mock_config())
    added = ctl(instance, "keywords", "add", "hello")
    assert added.returncode == 0 and "banned_keywords is not in litellm_settings.callbacks" in added.stderr
    assert Api(instance.url, MASTER_KEY).chat(messages=[{"role": "user", "content": "hello"}]).status_code == 200
    blocked = json.loads(ctl(instance, "--json", "user", "block", "eve").stdout)
    assert blocked == {"changed": ["eve"], "unchanged": [], "enforced": False}
    assert "blocked_user_check is not in" in ctl(instance, "user", "blocked").stderr


def test_errors(instance):
    assert ctl(instance, "keywords", "add").returncode == 2
    assert ctl(instance, "user", "block").returncode == 2
    blank = ctl(instance, "keywords", "add", " ")
    assert blank.returncode == 1 and "visible characters" in blank.stderr
    user_key = Api(instance.url, MASTER_KEY).ok("/key/generate", {})["key"]
    refused = gatectl("--url", instance.url, "--key", user_key, "keywords", "list")
    assert refused.returncode == 1 and "master key" in refused.stderr


@pytest.mark.parametrize("path", ["/user/blocked", "/banned_keywords"])
@pytest.mark.parametrize("query, param", [({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"),
                                          ({"limit": "ten"}, "limit"), ({"cursor": "made-up"}, "cursor")])
def test_list_paging_bad_input_is_a_400_naming_it(instance, path, query, param):
    response = Api(instance.url, MASTER_KEY).get(path, **query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", param)
