"""SPEC §8.2 blocked_user_check: the seed's examples, all four id sources, list files, the admin
API (idempotent, audited per changed id, effective at once in every worker) and the startup merge
rule (an id unblocked through the API stays unblocked after a restart)."""

from __future__ import annotations

import openai
import pytest

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, Gated, mock_config

POEM = [{"role": "user", "content": "this is a test request, write a short poem"}]


def blocking_config(users: list[str] | str = ("user_id_1", "user_id_2")) -> dict:
    config = mock_config()
    config["litellm_settings"] = {"callbacks": ["blocked_user_check"],
                                  "blocked_user_list": list(users) if not isinstance(users, str) else users}
    return config


@pytest.fixture
def instance(gated):
    return gated(blocking_config())


def test_seed_example_sdk_user_is_refused(instance):
    client = openai.OpenAI(api_key=MASTER_KEY, base_url=instance.url, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=POEM, user="user_id_1")
    assert caught.value.status_code == 403 and caught.value.code == "user_blocked"
    assert client.chat.completions.create(model="gpt-3.5-turbo", messages=POEM, user="someone").choices
    row = instance.wait_rows(2)[0]
    assert (row["status"], row["rejected_by"], row["end_user"]) == ("rejected", "blocked_user_check", "user_id_1")


def test_each_id_source(instance):
    api = Api(instance.url, MASTER_KEY)
    assert api.chat(user="user_id_2").status_code == 403
    assert api.chat(user_id="user_id_2").status_code == 403
    assert api.chat(metadata={"user_id": "user_id_2"}).status_code == 403
    key = api.ok("/key/generate", {"user_id": "user_id_2"})["key"]
    response = Api(instance.url, key).chat()
    assert response.status_code == 403 and response.json()["error"]["code"] == "user_blocked"
    assert api.chat(user="fine", metadata={"user_id": "also-fine"}).status_code == 200


def test_block_unblock_seed_curl_examples_idempotent_and_audited(instance):
    api = Api(instance.url, MASTER_KEY)
    changed, unchanged = {"changed": ["user_id_3"], "unchanged": [], "enforced": True}, \
        {"changed": [], "unchanged": ["user_id_3"], "enforced": True}
    assert api.ok("/user/block", {"user_ids": ["user_id_3"]}) == changed
    assert api.chat(user="user_id_3").status_code == 403, "effective on the very next request"
    assert api.ok("/user/block", {"user_ids": ["user_id_3"]}) == unchanged
    assert api.ok("/user/unblock", {"user_ids": ["user_id_3"]}) == changed
    assert api.ok("/user/unblock", {"user_ids": ["user_id_3"]})["changed"] == []
    assert api.chat(user="user_id_3").status_code == 200
    audit = api.get("/audit", table_name="blocked_users", object_id="user_id_3").json()["data"]
    assert [r["action"] for r in audit] == ["unblocked", "blocked"]
    assert api.ok("/customer/block", {"user_ids": ["c1"]})["changed"] == ["c1"]
    assert api.ok("/end_user/unblock", {"user_ids": ["c1"]})["changed"] == ["c1"]
    assert api.get("/user/blocked").json()["data"] == ["user_id_1", "user_id_2"]
    for bad in ({}, {"user_ids": []}, {"user_ids": "x"}, {"user_ids": [1]}, {"user_ids": ["a"], "x": 1}):
        assert api.post("/user/block", bad).status_code == 400, bad
    assert Api(instance.url, api.ok("/key/generate", {})["key"]).post("/user/block", {"user_ids": ["z"]}).status_code \
        == 403


def test_unblock_survives_restart_and_new_config_entries_are_added(tmp_path):
    directory = tmp_path / "g"
    first = Gated(directory, blocking_config(["user_id_1"])).start()
    Api(first.url, MASTER_KEY).ok("/user/unblock", {"user_ids": ["user_id_1"]})
    first.stop()
    second = Gated(directory, blocking_config(["user_id_1", "newcomer"])).start()
    try:
        api = Api(second.url, MASTER_KEY)
        assert api.get("/user/blocked").json()["data"] == ["newcomer"]
        assert api.chat(user="user_id_1").status_code == 200
        assert api.chat(user="newcomer").status_code == 403
    finally:
        second.stop()


def test_list_file(gated, tmp_path):
    (tmp_path / "g0").mkdir()
    (tmp_path / "g0" / "blocked.txt").write_text("# bad actors\nmallory\n\n  trudy  \n")
    instance = gated(blocking_config("blocked.txt"))
    api = Api(instance.url, MASTER_KEY)
    assert api.get("/user/blocked").json()["data"] == ["mallory", "trudy"]
    assert api.chat(user="trudy").status_code == 403


def test_routes_exist_without_the_callback_but_enforce_nothing(gated):
    instance = gated(mock_config())
    api = Api(instance.url, MASTER_KEY)
    assert api.ok("/user/block", {"user_ids": ["x"]})["changed"] == ["x"]
    assert api.chat(user="x").status_code == 200


def test_block_reaches_every_worker(gated):
    instance = gated(blocking_config(), "--workers", "2")
    api = Api(instance.url, MASTER_KEY)
    import httpx
    body = {"model": "llama3", "user": "eve", "messages": [{"role": "user", "content": "x"}]}
    for _ in range(6):  # warm both workers' caches
        with httpx.Client() as client:
            client.post(instance.url + "/v1/chat/completions", headers=api.headers(),
                        json=body)
    api.ok("/user/block", {"user_ids": ["eve"]})
    for _ in range(10):
        with httpx.Client() as client:
            response = client.post(instance.url + "/v1/chat/completions", headers=api.headers(),
                                   json=body)
            assert response.status_code == 403
