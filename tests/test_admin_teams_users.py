"""SPEC §5.2 teams and users: create/update/delete/info/list, block/unblock, members shorthands,
blocked teams refused, deletes taking their keys along, validation."""

from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, mock_config


@pytest.fixture
def instance(gated):
    return gated(mock_config())


@pytest.fixture
def admin(instance):
    return Api(instance.url, MASTER_KEY)


def test_seed_team_new_example(admin):
    team = admin.ok("/team/new", {"max_budget": 2})
    assert team["max_budget"] == 2.0 and len(team["team_id"]) == 36
    assert team["spend"] == 0 and team["members_with_roles"] == [] and team["blocked"] is False


def test_team_members_shorthands_and_info(admin):
    team = admin.ok("/team/new", {"team_id": "web", "team_alias": "Web", "admins": ["ann"], "members": ["bob"],
                                  "members_with_roles": [{"role": "user", "user_id": "cy"}]})
    assert team["members_with_roles"] == [{"role": "user", "user_id": "cy"}, {"role": "admin", "user_id": "ann"},
                                          {"role": "user", "user_id": "bob"}]
    key = admin.ok("/key/generate", {"team_id": "web", "key_alias": "web-1"})
    info = admin.get("/team/info", team_id="web").json()
    assert info["team_id"] == "web" and info["team_info"]["team_alias"] == "Web"
    assert info["keys"] == [{"token_id": key["token_id"], "key_name": key["key_name"], "key_alias": "web-1"}]
    assert admin.get("/team/info", team_id="nope").status_code == 404


def test_team_update_and_list(admin):
    admin.ok("/team/new", {"team_id": "a", "models": ["llama3"]})
    admin.ok("/team/new", {"team_id": "b"})
    updated = admin.ok("/team/update", {"team_id": "a", "models": [], "tpm_limit": 0, "blocked": False})
    assert updated["models"] == [] and updated["tpm_limit"] == 0
    listing = admin.get("/team/list").json()
    assert [t["team_id"] for t in listing["data"]] == ["a", "b"] and listing["next_cursor"] is None
    first = admin.get("/team/list", limit=1).json()
    second = admin.get("/team/list", limit=1, cursor=first["next_cursor"]).json()
    assert [first["data"][0]["team_id"], second["data"][0]["team_id"]] == ["a", "b"]
    for path in ("/team/list", "/user/list", "/key/list"):   # a cursor the API did not hand out
        response = admin.get(path, cursor="zzz")
        assert response.status_code == 400 and response.json()["error"]["param"] == "cursor"
    assert admin.post("/team/update", {"team_id": "zzz", "max_budget": 1}).status_code == 404


def test_duplicate_team_id_and_alias_are_409(admin):
    admin.ok("/team/new", {"team_id": "t1", "team_alias": "One"})
    assert admin.post("/team/new", {"team_id": "t1"}).status_code == 409
    assert admin.post("/team/new", {"team_alias": "One"}).status_code == 409


def test_blocked_team_is_refused_then_unblocked(admin):
    admin.ok("/team/new", {"team_id": "t"})
    key = admin.as_key(admin.ok("/key/generate", {"team_id": "t"})["key"])
    assert key.chat().status_code == 200
    assert admin.ok("/team/block", {"team_id": "t"})["blocked"] is True
    refused = key.chat()
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "team_blocked"
    admin.ok("/team/unblock", {"team_id": "t"})
    assert key.chat().status_code == 200
    assert admin.post("/team/block", {"team_id": "missing"}).status_code == 404


def test_blocked_key_and_model_access(admin):
    admin.ok("/team/new", {"team_id": "t", "models": ["llama3", "gpt-3.5-turbo"]})
    created = admin.ok("/key/generate", {"team_id": "t", "models": ["llama3"]})
    key = admin.as_key(created["key"])
    assert key.chat("llama3").status_code == 200
    wrong = key.chat("gpt-3.5-turbo")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "model_not_allowed"
    admin.ok("/key/update", {"key": created["key"], "models": []})
    assert key.chat("gpt-3.5-turbo").status_code == 200
    admin.ok("/team/update", {"team_id": "t", "models": ["llama3"]})
    assert key.chat("gpt-3.5-turbo").json()["error"]["code"] == "model_not_allowed"
    admin.ok("/key/update", {"key": created["key"], "blocked": True})
    blocked = key.chat("llama3")
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "key_blocked"


def test_models_endpoint_lists_only_what_the_key_may_use(admin):
    key = admin.as_key(admin.ok("/key/generate", {"models": ["llama3"]})["key"])
    assert [m["id"] for m in key.get("/v1/models").json()["data"]] == ["llama3"]


def test_team_delete_takes_its_keys(admin, instance):
    admin.ok("/team/new", {"team_id": "gone"})
    keys = [admin.ok("/key/generate", {"team_id": "gone"}) for _ in range(3)]
    assert admin.post("/team/delete", {"team_ids": ["gone", "missing"]}).status_code == 404
    assert admin.as_key(keys[0]["key"]).chat().status_code == 200
    assert admin.ok("/team/delete", {"team_ids": ["gone"]}) == {"deleted": ["gone"]}
    assert all(admin.as_key(k["key"]).chat().status_code == 401 for k in keys)
    deletes = instance.rows("select table_name, object_id from audit_log where action = 'deleted'")
    assert sorted(d["object_id"] for d in deletes if d["table_name"] == "keys") == sorted(k["token_id"] for k in keys)
    assert [d["object_id"] for d in deletes if d["table_name"] == "teams"] == ["gone"]


def test_users_lifecycle(admin, instance):
    user = admin.ok("/user/new", {"user_id": "ann", "user_alias": "Ann", "max_budget": 10, "metadata": {"x": 1}})
    assert user["user_id"] == "ann" and user["spend"] == 0
    assert admin.post("/user/new", {"user_id": "ann"}).status_code == 409
    taken = admin.post("/user/new", {"user_id": "ann2", "user_alias": "Ann"})
    assert taken.status_code == 409 and taken.json()["error"]["param"] == "user_alias"
    generated = admin.ok("/user/new", {})
    assert len(generated["user_id"]) == 36
    key = admin.ok("/key/generate", {"user_id": "ann"})
    info = admin.get("/user/info", user_id="ann").json()
    assert info["user_info"]["user_alias"] == "Ann" and info["keys"][0]["token_id"] == key["token_id"]
    assert admin.ok("/user/update", {"user_id": "ann", "max_budget": None})["max_budget"] is None
    assert [u["user_id"] for u in admin.get("/user/list").json()["data"]] == sorted(["ann", generated["user_id"]])
    second_key = admin.ok("/key/generate", {"user_id": "ann"})
    assert admin.ok("/user/delete", {"user_ids": ["ann"]}) == {"deleted": ["ann"]}
    assert admin.as_key(key["key"]).chat().status_code == 401
    deleted = admin.get("/audit", action="deleted").json()["data"]
    assert sorted((r["table_name"], r["object_id"]) for r in deleted) == sorted(
        [("keys", key["token_id"]), ("keys", second_key["token_id"]), ("users", "ann")]), "one row per object"
    assert admin.get("/user/info", user_id="ann").status_code == 404
    assert admin.post("/user/delete", {"user_ids": ["ann"]}).status_code == 404


@pytest.mark.parametrize("path, body, param", [
    ("/team/new", {"max_budget": -2}, "max_budget"), ("/team/new", {"budget_duration": "5x"}, "budget_duration"),
    ("/team/new", {"members_with_roles": [{"role": "owner", "user_id": "a"}]}, "members_with_roles[0].role"),
    ("/team/new", {"admins": "ann"}, "admins"), ("/team/new", {"rpm_limit": -1}, "rpm_limit"),
    ("/team/new", {"team": "x"}, "team"), ("/team/update", {"team_id": "t", "blocked": 1}, "blocked"),
    ("/user/new", {"max_budget": "lots"}, "max_budget"), ("/user/new", {"user_id": 5}, "user_id"),
    ("/user/update", {"user_id": "u", "email": "a@b"}, "email"),
    ("/team/new", {"models": ["nope"]}, "models"),
    ("/team/update", {"team_id": "t", "models": ["gpt-3.5-turbo", "gpt-3.5"]}, "models"),
])
def test_team_and_user_validation(admin, instance, path, body, param):
    response = admin.post(path, body)
    assert response.status_code == 400 and response.json()["error"]["param"] == param, response.text
    assert instance.rows("select * from audit_log") == []
