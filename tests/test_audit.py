"""SPEC §9 audit log: one row per change written with it, none for failed or no-op changes,
the exact changed_by / before_value / updated_values rules, masking, filters and paging."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, mock_config


@pytest.fixture
def instance(gated):
    return gated(mock_config())


@pytest.fixture
def admin(instance):
    return Api(instance.url, MASTER_KEY)


def entries(admin: Api, **filters) -> list[dict]:
    response = admin.get("/audit", **filters)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_seed_example_team_new_then_audit(instance):
    def curl(*args: str) -> str:
        return subprocess.run(["curl", "-s", *args], capture_output=True, text=True, check=True, timeout=10).stdout

    import json
    team = json.loads(curl(instance.url + "/team/new", "-H", f"Authorization: Bearer {MASTER_KEY}",
                           "-H", "Content-Type: application/json", "-d", '{"max_budget": 2}'))
    rows = json.loads(curl(instance.url + "/audit", "-H", f"Authorization: Bearer {MASTER_KEY}"))["data"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["action"], row["table_name"], row["object_id"]) == ("created", "teams", team["team_id"])
    assert row["before_value"] is None and row["updated_values"]["max_budget"] == 2.0
    assert row["changed_by"] == "admin" and row["changed_by_api_key"] is None
    assert row["updated_at"].endswith("Z") and len(row["id"]) == 36


def test_update_records_only_changed_fields_and_noops_write_nothing(admin):
    admin.ok("/team/new", {"team_id": "t", "max_budget": 1, "tags": ["a"]})
    admin.ok("/team/update", {"team_id": "t", "max_budget": 3, "tags": ["a"]})
    admin.ok("/team/update", {"team_id": "t", "max_budget": 3})       # no-op
    admin.ok("/team/unblock", {"team_id": "t"})                       # no-op: not blocked
    admin.ok("/team/block", {"team_id": "t"})
    admin.ok("/team/block", {"team_id": "t"})                         # no-op
    rows = entries(admin, object_id="t")
    assert [r["action"] for r in rows] == ["blocked", "updated", "created"]
    updated = rows[1]
    assert updated["updated_values"] == {"max_budget": 3.0}
    assert updated["before_value"]["max_budget"] == 1.0 and updated["before_value"]["tags"] == ["a"]
    assert rows[0]["updated_values"] == {"blocked": True}


def test_failed_changes_leave_no_row(admin):
    admin.ok("/team/new", {"team_id": "t", "team_alias": "T"})
    before = len(entries(admin))
    assert admin.post("/team/delete", {"team_ids": ["t", "missing"]}).status_code == 404
    assert admin.post("/team/new", {"team_alias": "T"}).status_code == 409
    assert admin.post("/key/generate", {"max_budget": -1}).status_code == 400
    assert admin.post("/user/update", {"user_id": "nobody", "user_alias": "x"}).status_code == 404
    assert len(entries(admin)) == before


def test_team_delete_writes_one_row_per_key_and_for_the_team(admin):
    admin.ok("/team/new", {"team_id": "t"})
    keys = [admin.ok("/key/generate", {"team_id": "t"})["token_id"] for _ in range(3)]
    admin.ok("/team/delete", {"team_ids": ["t"]})
    deleted = entries(admin, action="deleted")
    assert sorted(r["object_id"] for r in deleted if r["table_name"] == "keys") == sorted(keys)
    assert [r["object_id"] for r in deleted if r["table_name"] == "teams"] == ["t"]
    assert all(r["updated_values"] is None and r["before_value"] for r in deleted)


def test_an_id_given_twice_is_deleted_and_audited_once(admin):
    admin.ok("/team/new", {"team_id": "t2"})
    key = admin.ok("/key/generate", {})
    assert admin.ok("/key/delete", {"keys": [key["token_id"], key["key"], key["token_id"]]}) == {
        "deleted": [key["token_id"]]}
    assert admin.ok("/team/delete", {"team_ids": ["t2", "t2"]}) == {"deleted": ["t2"]}
    deleted = entries(admin, action="deleted")
    assert sorted(r["object_id"] for r in deleted) == sorted([key["token_id"], "t2"])


def test_changed_by_a_team_admin_key(admin):
    admin.ok("/team/new", {"team_id": "t", "admins": ["rita"]})
    rita = admin.ok("/key/generate", {"team_id": "t", "user_id": "rita"})
    nameless = admin.ok("/key/generate", {"team_id": "t"})
    admin.ok("/team/update", {"team_id": "t", "admins": ["rita"], "members": [], "models": []})
    created = Api(admin.url, rita["key"]).ok("/key/generate", {})
    row = entries(admin, object_id=created["token_id"])[0]
    assert (row["changed_by"], row["changed_by_api_key"]) == ("rita", rita["token_id"])
    assert nameless["token_id"] != row["changed_by"]


def test_regenerate_and_masking(admin, instance):
    key = admin.ok("/key/generate", {"metadata": {"note": "old secret sk-abcdefghijklmnopqrstuvwxyz0123"}})
    fresh = admin.ok("/key/regenerate", {"key": key["key"]})
    row = entries(admin, action="regenerated")[0]
    assert row["object_id"] == key["token_id"] and row["updated_values"]["token_id"] == fresh["token_id"]
    created = entries(admin, action="created")[0]
    assert created["updated_values"]["metadata"]["note"] == "old secret sk-[masked]"
    assert created["updated_values"]["key_name"] == key["key_name"]
    instance.stop()
    wal = instance.db.with_name(instance.db.name + "-wal")
    data = instance.db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert key["key"].encode() not in data and fresh["key"].encode() not in data


def test_entry_filters_and_paging(admin):
    for i in range(5):
        admin.ok("/user/new", {"user_id": f"u{i}"})
    admin.ok("/team/new", {"team_id": "t"})
    users = entries(admin, table_name="users")
    assert [r["object_id"] for r in users] == ["u4", "u3", "u2", "u1", "u0"], "newest first"
    one = admin.get(f"/audit/{users[0]['id']}").json()
    assert one == users[0]
    assert admin.get("/audit/not-an-id").status_code == 404
    first = admin.get("/audit", limit=4).json()
    second = admin.get("/audit", limit=4, cursor=first["next_cursor"]).json()
    assert len(first["data"]) == 4 and len(second["data"]) == 2 and second["next_cursor"] is None
    assert not {r["id"] for r in first["data"]} & {r["id"] for r in second["data"]}
    assert entries(admin, changed_by="admin", action="created", table_name="teams")[0]["object_id"] == "t"
    today = users[0]["updated_at"][:10]
    assert len(entries(admin, start_date=today, end_date=today)) == 6
    assert entries(admin, end_date="2000-01-01") == []
    for bad in ({"start_date": "yesterday"}, {"end_date": "2026-13-01"}, {"limit": "x"},
                {"start_date": "2026-02-02", "end_date": "2026-02-01"}, {"cursor": "abc"},
                {"action": "exploded"}, {"table_name": "tables"}):
        assert admin.get("/audit", **bad).status_code == 400, bad


def test_audit_can_be_switched_off(gated):
    config = mock_config()
    config["litellm_settings"] = {"store_audit_logs": False}
    instance = gated(config)
    admin = Api(instance.url, MASTER_KEY)
    admin.ok("/team/new", {})
    assert entries(admin) == []
