"""SPEC §5.1 role matrix on every admin route, for {no key, user key, team-admin key, master key},
and the limits of a team admin: its own team only, never above the team's budget or models."""

from __future__ import annotations

import pytest

from gated.routes import ADMIN_ONLY, SCOPED, all_routes
from tests.support.api import Api
from tests.support.gated import MASTER_KEY, Gated, mock_config


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    instance = Gated(tmp_path_factory.mktemp("roles"), mock_config()).start()
    admin = Api(instance.url, MASTER_KEY)
    admin.ok("/team/new", {"team_id": "red", "max_budget": 10, "models": ["llama3", "gpt-3.5-turbo"],
                           "members_with_roles": [{"role": "admin", "user_id": "rita"},
                                                  {"role": "user", "user_id": "uma"}]})
    admin.ok("/team/new", {"team_id": "blue"})
    team_admin = admin.ok("/key/generate", {"team_id": "red", "user_id": "rita", "key_alias": "rita"})
    user = admin.ok("/key/generate", {"team_id": "red", "user_id": "uma", "key_alias": "uma"})
    blue_key = admin.ok("/key/generate", {"team_id": "blue", "key_alias": "blue-1"})
    yield {"instance": instance, "admin": admin, "team_admin": admin.as_key(team_admin["key"]),
           "user": admin.as_key(user["key"]), "anonymous": Api(instance.url, None),
           "user_row": user, "team_admin_row": team_admin, "blue_key": blue_key}
    instance.stop()


# (method, path, body or query) → expected status for (anonymous, user, team_admin, admin); bodies
# aim at objects outside any team-admin scope, so only the master key may act
MATRIX = [
    ("POST", "/team/new", {"team_alias": "x-{role}"}, (401, 403, 403, 200)),
    ("GET", "/team/list", {}, (401, 403, 403, 200)),
    ("GET", "/team/info", {"team_id": "blue"}, (401, 403, 403, 200)),
    ("POST", "/team/update", {"team_id": "blue", "tags": ["t"]}, (401, 403, 403, 200)),
    ("POST", "/team/block", {"team_id": "blue"}, (401, 403, 403, 200)),
    ("POST", "/team/unblock", {"team_id": "blue"}, (401, 403, 403, 200)),
    ("POST", "/team/delete", {"team_ids": ["nonexistent"]}, (401, 403, 403, 404)),
    ("POST", "/key/generate", {"team_id": "blue"}, (401, 403, 403, 200)),
    ("GET", "/key/list", {"team_id": "blue"}, (401, 403, 403, 200)),
    ("GET", "/key/info", {"key": "{blue}"}, (401, 403, 403, 200)),
    ("POST", "/key/info", {"key": "{blue}"}, (401, 403, 403, 200)),
    ("POST", "/key/update", {"key": "{blue}", "tags": ["t"]}, (401, 403, 403, 200)),
    ("POST", "/key/regenerate", {"key": "{blue}"}, (401, 403, 403, 200)),
    ("POST", "/key/delete", {"keys": ["0" * 64]}, (401, 403, 404, 404)),
    ("POST", "/user/new", {"user_alias": "n-{role}"}, (401, 403, 403, 200)),
    ("GET", "/user/list", {}, (401, 403, 403, 200)),
    ("GET", "/user/info", {"user_id": "nobody"}, (401, 403, 403, 404)),
    ("POST", "/user/update", {"user_id": "nobody", "user_alias": "x"}, (401, 403, 403, 404)),
    ("POST", "/user/delete", {"user_ids": ["nobody"]}, (401, 403, 403, 404)),
    ("GET", "/audit", {}, (401, 403, 403, 200)),
    ("GET", "/audit/some-id", {}, (401, 403, 403, 404)),
    ("GET", "/spend/tags", {}, (401, 403, 403, 200)),
    ("GET", "/spend/logs", {}, (401, 200, 200, 200)),   # a key reads its own rows
    ("GET", "/spend/keys", {}, (401, 403, 403, 200)),
    ("GET", "/spend/teams", {}, (401, 403, 403, 200)),
    ("GET", "/spend/users", {}, (401, 403, 403, 200)),
    ("POST", "/user/block", {"user_ids": ["eve"]}, (401, 403, 403, 200)),
    ("POST", "/user/unblock", {"user_ids": ["eve"]}, (401, 403, 403, 200)),
    ("POST", "/customer/block", {"user_ids": ["cat"]}, (401, 403, 403, 200)),
    ("POST", "/customer/unblock", {"user_ids": ["cat"]}, (401, 403, 403, 200)),
    ("POST", "/end_user/block", {"user_ids": ["end"]}, (401, 403, 403, 200)),
    ("POST", "/end_user/unblock", {"user_ids": ["end"]}, (401, 403, 403, 200)),
    ("GET", "/user/blocked", {}, (401, 403, 403, 200)),
    ("GET", "/banned_keywords", {}, (401, 403, 403, 200)),
    ("POST", "/banned_keywords/add", {"keywords": ["kw"]}, (401, 403, 403, 200)),
    ("POST", "/banned_keywords/remove", {"keywords": ["kw"]}, (401, 403, 403, 200)),
]
ROLES = ("anonymous", "user", "team_admin", "admin")


@pytest.mark.parametrize("method, path, payload, expected", MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX])
def test_matrix(world, method, path, payload, expected):
    for role, status in zip(ROLES, expected, strict=True):
        caller: Api = world[role]
        filled = {k: (world["blue_key"]["token_id"] if v == "{blue}" else v.replace("{role}", role))
                  if isinstance(v, str) else v for k, v in payload.items()}
        response = caller.get(path, **filled) if method == "GET" else caller.post(path, filled)
        assert response.status_code == status, (role, response.text)
        if status in (401, 403):
            error = response.json()["error"]
            assert error["code"] in ("invalid_api_key", "forbidden") and set(error) >= {"message", "type"}
            assert "data" not in response.json()


def test_the_matrix_covers_every_route_that_needs_a_role():
    """A new admin route cannot slip in without its row here."""
    needing_a_role = {(r.method, r.path.replace("{id}", "some-id")) for r in all_routes()
                      if r.role in (ADMIN_ONLY, SCOPED)}
    assert needing_a_role == {(method, path) for method, path, _, _ in MATRIX}


def test_a_plain_key_gets_403_before_any_lookup(world):
    """A user key learns nothing about ids it may not touch, whether they exist or not."""
    for path, body in (("/key/update", {"key": "0" * 64, "tags": []}), ("/key/regenerate", {"key": "0" * 64}),
                       ("/key/delete", {"keys": ["0" * 64]}), ("/team/update", {"team_id": "nope", "tags": []})):
        assert world["user"].post(path, body).status_code == 403, path


def test_every_key_reads_its_own_info_but_no_other(world):
    user = world["user"]
    mine = user.get("/key/info", key=world["user_row"]["key"])
    assert mine.status_code == 200 and mine.json()["info"]["key_alias"] == "uma"
    assert user.get("/key/info", key=world["team_admin_row"]["token_id"]).status_code == 403


def test_team_admin_manages_its_own_team_keys(world):
    team_admin, admin = world["team_admin"], world["admin"]
    created = team_admin.ok("/key/generate", {"models": ["llama3"], "max_budget": 5})
    assert created["team_id"] == "red"
    assert team_admin.ok("/key/update", {"key": created["token_id"], "max_budget": 1})["max_budget"] == 1
    listing = team_admin.get("/key/list").json()
    assert {k["team_id"] for k in listing["data"]} == {"red"}
    assert team_admin.get("/key/info", key=world["user_row"]["token_id"]).status_code == 200
    info = team_admin.get("/team/info", team_id="red").json()
    assert info["team_info"]["team_id"] == "red"
    members = [{"role": "admin", "user_id": "rita"}, {"role": "user", "user_id": "uma"},
               {"role": "user", "user_id": "new"}]
    assert team_admin.ok("/team/update", {"team_id": "red", "members_with_roles": members})[
        "members_with_roles"] == members
    regenerated = team_admin.ok("/key/regenerate", {"key": created["token_id"]})
    assert regenerated["team_id"] == "red"
    assert team_admin.ok("/key/delete", {"keys": [regenerated["token_id"]]})["deleted"]
    assert admin.get("/team/info", team_id="red").status_code == 200


def test_team_admin_stays_within_its_team(world):
    team_admin = world["team_admin"]
    over_budget = team_admin.post("/key/generate", {"max_budget": 11})
    assert over_budget.status_code == 403 and over_budget.json()["error"]["param"] == "max_budget"
    unbounded = team_admin.post("/key/generate", {})
    assert unbounded.status_code == 403, "a key without a budget would exceed the team's"
    wrong_model = team_admin.post("/key/generate", {"max_budget": 1, "models": ["embed"]})
    assert wrong_model.status_code == 403 and wrong_model.json()["error"]["param"] == "models"
    assert team_admin.post("/key/generate", {"team_id": "blue", "max_budget": 1}).status_code == 403
    moved = team_admin.post("/key/update", {"key": world["user_row"]["token_id"], "team_id": "blue"})
    assert moved.status_code == 403
    assert team_admin.post("/team/update", {"team_id": "red", "max_budget": 1000}).status_code == 403
    other_team_key = world["admin"].ok("/key/generate", {"team_id": "blue"})
    assert team_admin.post("/key/delete", {"keys": [other_team_key["token_id"]]}).status_code == 403


def test_open_mode_refuses_admin_routes_with_a_hint(gated):
    config = mock_config()
    del config["general_settings"]["master_key"]
    instance = gated(config)
    response = Api(instance.url, None).post("/team/new", {})
    assert response.status_code == 403
    assert "master_key" in response.json()["error"]["message"]
