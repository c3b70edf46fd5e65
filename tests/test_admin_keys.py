"""SPEC §5.1–§5.2 virtual keys: generated once and stored only as a hash, shown as key_name,
fields-present updates, regenerate, delete, info, list paging, and field validation (400 naming
the field, 404 unknown ids, 409 duplicates) that changes nothing."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, mock_config


@pytest.fixture
def instance(gated):
    return gated(mock_config())


@pytest.fixture
def admin(instance):
    return Api(instance.url, MASTER_KEY)


def test_generate_returns_the_raw_key_once_and_stores_only_its_hash(admin, instance):
    created = admin.ok("/key/generate", {"key_alias": "ci", "models": ["llama3"], "tags": ["ci"],
                                         "metadata": {"owner": "me"}})
    raw = created["key"]
    assert re.fullmatch(r"sk-[A-Za-z0-9_\-]{32,}", raw)
    assert created["token_id"] == hashlib.sha256(raw.encode()).hexdigest()
    assert created["key_name"] == "sk-..." + raw[-4:]
    assert created["expires"] is None and created["created_at"] and created["blocked"] is False
    assert created["models"] == ["llama3"] and created["metadata"] == {"owner": "me"}
    info = admin.get("/key/info", key=created["token_id"]).json()
    assert info["key"] == created["token_id"] and "key" not in info["info"]
    assert info["info"]["spend"] == 0 and info["info"]["lifetime_spend"] == 0
    instance.stop()
    assert raw.encode() not in instance.db.read_bytes()
    wal = instance.db.with_name(instance.db.name + "-wal")
    assert not wal.exists() or raw.encode() not in wal.read_bytes()


def test_the_key_works_and_its_hash_does_not(admin):
    created = admin.ok("/key/generate", {})
    assert admin.as_key(created["key"]).chat().status_code == 200
    refused = admin.as_key(created["token_id"]).chat()
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert admin.as_key("sk-" + created["token_id"]).chat().status_code == 401


def test_key_works_through_every_auth_header(admin):
    raw = admin.ok("/key/generate", {})["key"]
    import httpx
    body = {"model": "llama3", "messages": [{"role": "user", "content": "x"}]}
    for header in ({"x-api-key": raw}, {"api-key": raw}, {"Authorization": f"Bearer {raw}"}):
        assert httpx.post(admin.url + "/v1/chat/completions", json=body, headers=header).status_code == 200


def test_update_applies_fields_present_including_falsy_values(admin):
    created = admin.ok("/key/generate", {"models": ["llama3"], "max_budget": 5, "metadata": {"a": 1},
                                         "tpm_limit": 100})
    updated = admin.ok("/key/update", {"key": created["key"], "models": [], "max_budget": None,
                                       "metadata": {}, "tpm_limit": 0})
    assert (updated["models"], updated["max_budget"], updated["metadata"], updated["tpm_limit"]) == ([], None, {}, 0)
    untouched = admin.ok("/key/update", {"key": created["token_id"], "key_alias": "renamed"})
    assert untouched["tpm_limit"] == 0 and untouched["key_alias"] == "renamed"


def test_duration_sets_expiry_and_expired_key_is_401(admin, instance):
    month = admin.ok("/key/generate", {"duration": "30d"})
    assert month["expires"] > month["created_at"]
    created = admin.ok("/key/generate", {"duration": "1s"})
    assert admin.as_key(created["key"]).chat().status_code == 200, "cached while it is valid"
    time.sleep(1.1)
    response = admin.as_key(created["key"]).chat()
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "key_expired" and created["key"] not in response.text


def test_regenerate_replaces_the_secret_at_once(admin):
    created = admin.ok("/key/generate", {"key_alias": "rot", "max_budget": 3})
    old = admin.as_key(created["key"])
    assert old.chat().status_code == 200
    fresh = admin.ok("/key/regenerate", {"key": created["key"]})
    assert fresh["key"] != created["key"] and fresh["key_alias"] == "rot" and fresh["max_budget"] == 3
    assert old.chat().status_code == 401
    assert admin.as_key(fresh["key"]).chat().status_code == 200


def test_delete_and_unknown_ids(admin):
    one, two = admin.ok("/key/generate", {}), admin.ok("/key/generate", {})
    missing = admin.post("/key/delete", {"keys": [one["token_id"], "0" * 64]})
    assert missing.status_code == 404
    assert admin.as_key(one["key"]).chat().status_code == 200, "a failed delete deletes nothing"
    assert admin.ok("/key/delete", {"keys": [one["key"], two["token_id"]]})["deleted"] == [one["token_id"],
                                                                                           two["token_id"]]
    assert admin.as_key(one["key"]).chat().status_code == 401
    assert admin.get("/key/info", key=one["token_id"]).status_code == 404
    assert admin.post("/key/update", {"key": "sk-nope", "max_budget": 1}).status_code == 404
    assert admin.post("/key/regenerate", {"key": "nope"}).status_code == 404


def test_info_by_post_body_and_list_paging(admin):
    created = [admin.ok("/key/generate", {"key_alias": f"k{i}"}) for i in range(5)]
    by_post = admin.ok("/key/info", {"key": created[0]["key"]})
    assert by_post["info"]["key_alias"] == "k0"
    first = admin.get("/key/list", limit=2).json()
    second = admin.get("/key/list", limit=2, cursor=first["next_cursor"]).json()
    third = admin.get("/key/list", limit=2, cursor=second["next_cursor"]).json()
    ids = [k["token_id"] for page in (first, second, third) for k in page["data"]]
    assert sorted(ids) == sorted(k["token_id"] for k in created) and third["next_cursor"] is None
    assert admin.get("/key/list", limit=0).status_code == 400
    assert admin.get("/key/list", limit=1001).status_code == 400


def test_duplicate_alias_is_409(admin):
    admin.ok("/key/generate", {"key_alias": "same"})
    response = admin.post("/key/generate", {"key_alias": "same"})
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"


def test_unknown_team_is_404(admin):
    response = admin.post("/key/generate", {"team_id": "no-such-team"})
    assert response.status_code == 404 and response.json()["error"]["param"] == "team_id"


BAD_FIELDS = [
    ({"max_budget": -1}, "max_budget"), ({"max_budget": "banana"}, "max_budget"), ({"duration": "5x"}, "duration"),
    ({"budget_duration": "banana"}, "budget_duration"), ({"duration": 30}, "duration"),
    ({"models": "gpt-4"}, "models"), ({"models": [1]}, "models[0]"), ({"tpm_limit": -5}, "tpm_limit"),
    ({"rpm_limit": 1.5}, "rpm_limit"), ({"max_parallel_requests": "2"}, "max_parallel_requests"),
    ({"metadata": []}, "metadata"), ({"permissions": "all"}, "permissions"), ({"blocked": "no"}, "blocked"),
    ({"tags": [""]}, "tags[0]"), ({"key_alias": 7}, "key_alias"), ({"banana": 1}, "banana"),
    ({"team_id": ["x"]}, "team_id"), ({"models": ["gpt-3.5-turbo", "gpt-4"]}, "models"),
    ({"duration": "999999w"}, "duration"), ({"budget_duration": "1201mo"}, "budget_duration"),
    ({"duration": "30d\n"}, "duration"), ({"tpm_limit": 2**63}, "tpm_limit"),
    ({"max_parallel_requests": 2**64 - 1}, "max_parallel_requests"), ({"user_id": 5}, "user_id"),
    ({"rpm_limit": -1}, "rpm_limit"), ({"tags": "ci"}, "tags"),
]


@pytest.mark.parametrize("body, param", BAD_FIELDS)
def test_bad_fields_on_generate_and_update(admin, instance, body, param):
    target = admin.ok("/key/generate", {})
    audit_before = len(instance.rows("select * from audit_log"))
    keys_before = len(instance.rows("select * from keys"))
    for path, payload in (("/key/generate", body), ("/key/update", {"key": target["token_id"], **body})):
        response = admin.post(path, payload)
        assert response.status_code == 400, (path, response.text)
        error = response.json()["error"]
        assert error["param"] == param and error["code"] == "invalid_request"
    assert len(instance.rows("select * from audit_log")) == audit_before
    assert len(instance.rows("select * from keys")) == keys_before


@pytest.mark.parametrize("raw", [b"{oops", b"[]", b'"key"'])
def test_malformed_json_on_admin_routes(admin, raw):
    import httpx
    for path in ("/key/generate", "/key/update", "/team/new", "/user/new", "/key/delete"):
        response = httpx.post(admin.url + path, content=raw, headers=admin.headers())
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"


def test_missing_required_fields(admin):
    for path, param in (("/key/update", "key"), ("/key/delete", "keys"), ("/key/regenerate", "key"),
                        ("/team/update", "team_id"), ("/team/delete", "team_ids"), ("/user/update", "user_id")):
        response = admin.post(path, {})
        assert response.status_code == 400 and response.json()["error"]["param"] == param, path
    assert admin.get("/key/info").status_code == 400
    assert admin.get("/team/info").status_code == 400
