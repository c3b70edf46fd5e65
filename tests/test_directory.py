"""Keys, teams and users are cached per worker for the hot path; an admin change made through any
worker applies to the very next request in every worker (SPEC §5, DESIGN "State")."""

from __future__ import annotations

import httpx

from tests.support.api import Api
from tests.support.gated import MASTER_KEY, mock_config

CHAT = {"model": "llama3", "messages": [{"role": "user", "content": "x"}]}


def fresh_connection_statuses(url: str, key: str, count: int = 12) -> list[int]:
    """New connection per call, so SO_REUSEPORT spreads the calls over both workers."""
    statuses = []
    for _ in range(count):
        with httpx.Client() as client:
            statuses.append(client.post(url + "/v1/chat/completions", json=CHAT,
                                        headers={"Authorization": f"Bearer {key}"}).status_code)
    return statuses


def test_changes_reach_every_worker_at_once(gated):
    instance = gated(mock_config(), "--workers", "2")
    admin = Api(instance.url, MASTER_KEY)
    admin.ok("/team/new", {"team_id": "t"})
    key = admin.ok("/key/generate", {"team_id": "t"})
    assert set(fresh_connection_statuses(instance.url, key["key"])) == {200}  # both workers cache the key
    admin.ok("/key/update", {"key": key["token_id"], "blocked": True})
    assert set(fresh_connection_statuses(instance.url, key["key"])) == {403}
    admin.ok("/key/update", {"key": key["token_id"], "blocked": False})
    admin.ok("/team/block", {"team_id": "t"})
    assert set(fresh_connection_statuses(instance.url, key["key"])) == {403}
    admin.ok("/team/unblock", {"team_id": "t"})
    assert set(fresh_connection_statuses(instance.url, key["key"])) == {200}
    regenerated = admin.ok("/key/regenerate", {"key": key["token_id"]})
    assert set(fresh_connection_statuses(instance.url, key["key"])) == {401}
    assert set(fresh_connection_statuses(instance.url, regenerated["key"])) == {200}
    admin.ok("/key/delete", {"keys": [regenerated["token_id"]]})
    assert set(fresh_connection_statuses(instance.url, regenerated["key"])) == {401}


def test_budget_and_model_edits_reach_every_worker_at_once(gated):
    instance = gated(mock_config(), "--workers", "2")
    admin = Api(instance.url, MASTER_KEY)
    key = admin.ok("/key/generate", {"models": ["llama3"]})
    assert set(fresh_connection_statuses(instance.url, key["key"])) == {200}
    admin.ok("/key/update", {"key": key["token_id"], "max_budget": 0})
    refused = fresh_connection_statuses(instance.url, key["key"])
    assert set(refused) == {429}, "a zero budget refuses at once, in both workers"
    admin.ok("/key/update", {"key": key["token_id"], "max_budget": None, "models": ["gpt-3.5-turbo"]})
    assert set(fresh_connection_statuses(instance.url, key["key"])) == {403}, "llama3 is no longer allowed"
