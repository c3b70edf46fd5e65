"""gatectl's admin groups (SPEC §5.2, §9, §11) against a real gated: `team`, `key`, `user` and
`audit` commands in human and --json mode (--json = the API's JSON unchanged), "only the options
given are sent" on updates, paging hints, exit codes 1 (API refusal, with its message) / 2 (usage,
bad --metadata) / 3 (daemon down), and the README flow: team with a tiny budget → key → openai
SDK calls until 429 budget_exceeded → the audit log shows who created what."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from typing import Any

import httpx
import openai

from tests.support.gated import MASTER_KEY, free_port, mock_config
from tests.test_gatectl import gatectl

WIDE = {"COLUMNS": "250"}  # long ids (token_id) fit on one line in human tables


def admin(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return gatectl("--url", url, "--key", MASTER_KEY, *args, env={**WIDE, **(env or {})})


def admin_json(url: str, *args: str) -> Any:
    result = admin(url, "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def api(url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, url + path, headers={"Authorization": f"Bearer {MASTER_KEY}"}, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gatectl: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# -- teams ------------------------------------------------------------------------------------------

def test_team_new_sends_every_option(mock_gated):
    team_id = uid("t")
    created = admin_json(mock_gated.url, "team", "new", "--team-id", team_id, "--alias", uid("alias"),
                         "--max-budget", "12.5", "--budget-duration", "30d", "--models", "gpt-3.5-turbo, llama3",
                         "--admin", "alice", "--member", "bob", "--member", "carol", "--tpm-limit", "1000",
                         "--rpm-limit", "10", "--tag", "prod", "--tag", "eu", "--blocked",
                         "--metadata", '{"owner": "ops"}')
    assert created["team_id"] == team_id
    assert created["max_budget"] == 12.5 and created["budget_duration"] == "30d"
    assert created["models"] == ["gpt-3.5-turbo", "llama3"]
    assert created["members_with_roles"] == [{"role": "admin", "user_id": "alice"}, {"role": "user", "user_id": "bob"},
                                             {"role": "user", "user_id": "carol"}]
    assert (created["tpm_limit"], created["rpm_limit"], created["tags"]) == (1000, 10, ["prod", "eu"])
    assert created["blocked"] is True and created["metadata"] == {"owner": "ops"}
    assert created == api(mock_gated.url, "GET", "/team/info", params={"team_id": team_id})["team_info"]


def test_team_lifecycle_human_and_json(mock_gated):
    url, alias = mock_gated.url, uid("research")
    new = admin(url, "team", "new", "--alias", alias, "--max-budget", "5")
    assert new.returncode == 0, new.stderr
    assert "Team created" in new.stdout and alias in new.stdout
    team_id = re.search(r"team_id\s*│\s*(\S+)", new.stdout).group(1)

    info = admin(url, "team", "info", team_id)
    assert info.returncode == 0 and alias in info.stdout and "Keys of the team" in info.stdout
    assert admin_json(url, "team", "info", team_id) == api(url, "GET", "/team/info", params={"team_id": team_id})

    listed = admin(url, "team", "list")
    assert listed.returncode == 0 and team_id in listed.stdout and alias in listed.stdout
    assert admin_json(url, "team", "list") == api(url, "GET", "/team/list")

    updated = admin(url, "team", "update", team_id, "--rpm-limit", "7", "--models", "llama3")
    assert updated.returncode == 0 and "Team updated" in updated.stdout
    as_json = admin_json(url, "team", "update", team_id, "--max-budget", "6")
    assert as_json == api(url, "GET", "/team/info", params={"team_id": team_id})["team_info"]
    assert (as_json["rpm_limit"], as_json["models"], as_json["max_budget"], as_json["team_alias"]) == (
        7, ["llama3"], 6.0, alias)
    # only the options given are sent: the audit row of the last update names max_budget alone
    last = api(url, "GET", "/audit", params={"object_id": team_id, "action": "updated", "limit": 1})["data"][0]
    assert last["updated_values"] == {"max_budget": 6.0}

    blocked = admin(url, "team", "block", team_id)
    assert blocked.returncode == 0 and blocked.stdout.strip() == f"Team {team_id} blocked."
    assert admin_json(url, "team", "unblock", team_id)["blocked"] is False
    assert admin_json(url, "team", "block", team_id)["blocked"] is True
    unblocked = admin(url, "team", "unblock", team_id)
    assert unblocked.returncode == 0 and unblocked.stdout.strip() == f"Team {team_id} unblocked."

    other = admin_json(url, "team", "new")["team_id"]
    assert admin_json(url, "team", "delete", other) == {"deleted": [other]}
    deleted = admin(url, "team", "delete", team_id)
    assert deleted.returncode == 0 and deleted.stdout.strip() == f"Deleted teams: {team_id}"
    assert admin(url, "team", "info", team_id).returncode == 1


def test_list_paging_prints_the_cursor_hint(mock_gated):
    url = mock_gated.url
    for _ in range(3):
        admin_json(url, "team", "new")
    first = admin(url, "team", "list", "--limit", "1")
    assert first.returncode == 0, first.stderr
    cursor = re.search(r"continue with --cursor (\S+)", first.stdout).group(1)
    assert cursor == api(url, "GET", "/team/list", params={"limit": 1})["next_cursor"]
    second = admin_json(url, "team", "list", "--limit", "1", "--cursor", cursor)
    assert second == api(url, "GET", "/team/list", params={"limit": 1, "cursor": cursor})
    assert second["data"][0]["team_id"] > cursor.removeprefix("after:")
    everything = admin(url, "team", "list", "--limit", "1000")
    assert "--cursor" not in everything.stdout


# -- keys -------------------------------------------------------------------------------------------

def test_key_generate_shows_the_raw_key_once(mock_gated):
    url = mock_gated.url
    team_id = admin_json(url, "team", "new")["team_id"]
    result = admin(url, "key", "generate", "--team", team_id, "--alias", uid("k"), "--models", "gpt-3.5-turbo")
    assert result.returncode == 0, result.stderr
    raw = re.search(r"Key: (sk-[A-Za-z0-9_\-]{32,})\n", result.stdout).group(1)
    assert "will not be shown again" in result.stdout
    assert result.stdout.count(raw) == 1
    info = api(url, "POST", "/key/info", json={"key": raw})
    assert info["info"]["team_id"] == team_id and info["info"]["models"] == ["gpt-3.5-turbo"]
    assert info["info"]["key_name"] in result.stdout


def test_key_lifecycle_human_and_json(mock_gated):
    url = mock_gated.url
    team_id = admin_json(url, "team", "new")["team_id"]
    user_id = uid("u")
    created = admin_json(url, "key", "generate", "--team", team_id, "--user", user_id, "--alias", uid("k"),
                         "--models", "llama3", "--max-budget", "2", "--budget-duration", "30d", "--duration", "30d",
                         "--tpm-limit", "100", "--rpm-limit", "5", "--max-parallel", "2", "--tag", "a",
                         "--metadata", '{"app": "x"}', "--permissions", '{"enable_llm_guard_check": true}')
    raw, token_id = created["key"], created["token_id"]
    assert raw.startswith("sk-") and created["expires"] is not None
    assert (created["user_id"], created["max_parallel_requests"], created["permissions"]) == (
        user_id, 2, {"enable_llm_guard_check": True})

    info = admin_json(url, "key", "info", raw)
    assert info == api(url, "POST", "/key/info", json={"key": raw})
    assert info["key"] == token_id and {k: v for k, v in created.items() if k != "key"} == info["info"]
    human = admin(url, "key", "info", token_id)
    assert human.returncode == 0 and created["key_name"] in human.stdout and raw not in human.stdout

    listed = admin(url, "key", "list", "--team", team_id)
    assert listed.returncode == 0 and token_id in listed.stdout and created["key_name"] in listed.stdout
    assert admin_json(url, "key", "list", "--user", user_id) == api(url, "GET", "/key/list",
                                                                    params={"user_id": user_id})

    blocked = admin(url, "key", "update", raw, "--blocked")
    assert blocked.returncode == 0 and "updated" in blocked.stdout
    assert api(url, "POST", "/key/info", json={"key": raw})["info"]["blocked"] is True
    updated = admin_json(url, "key", "update", token_id, "--unblocked", "--models", "", "--tag", "")
    assert (updated["blocked"], updated["models"], updated["tags"], updated["max_budget"]) == (False, [], [], 2.0)
    assert updated == api(url, "POST", "/key/info", json={"key": token_id})["info"]

    regenerated = admin(url, "key", "regenerate", raw)
    assert regenerated.returncode == 0 and "will not be shown again" in regenerated.stdout
    new_raw = re.search(r"Key: (sk-\S+)", regenerated.stdout).group(1)
    assert new_raw != raw
    gone = admin(url, "key", "info", raw)
    assert gone.returncode == 1 and one_line_error(gone).startswith("gatectl: error: no such key")
    again = admin_json(url, "key", "regenerate", new_raw)
    assert again["key"] != new_raw and again["key_alias"] == created["key_alias"]

    deleted = admin(url, "key", "delete", again["key"])
    assert deleted.returncode == 0 and again["token_id"] in deleted.stdout
    other = admin_json(url, "key", "generate")
    assert admin_json(url, "key", "delete", other["token_id"]) == {"deleted": [other["token_id"]]}


# -- users ------------------------------------------------------------------------------------------

def test_user_lifecycle_human_and_json(mock_gated):
    url, user_id = mock_gated.url, uid("user")
    created = admin(url, "user", "new", "--user-id", user_id, "--alias", uid("ann"), "--max-budget", "3",
                    "--budget-duration", "4w", "--metadata", '{"dept": "r&d"}')
    assert created.returncode == 0 and "User created" in created.stdout and user_id in created.stdout
    key = admin_json(url, "key", "generate", "--user", user_id)

    info = admin(url, "user", "info", user_id)
    assert info.returncode == 0 and key["key_name"] in info.stdout and "4w" in info.stdout
    assert admin_json(url, "user", "info", user_id) == api(url, "GET", "/user/info", params={"user_id": user_id})

    listed = admin(url, "user", "list")
    assert listed.returncode == 0 and user_id in listed.stdout
    assert admin_json(url, "user", "list", "--limit", "2") == api(url, "GET", "/user/list", params={"limit": 2})

    updated = admin_json(url, "user", "update", user_id, "--max-budget", "4", "--metadata", "{}")
    assert (updated["max_budget"], updated["metadata"], updated["budget_duration"]) == (4.0, {}, "4w")
    assert updated == api(url, "GET", "/user/info", params={"user_id": user_id})["user_info"]
    human = admin(url, "user", "update", user_id, "--alias", uid("bea"))
    assert human.returncode == 0 and "User updated" in human.stdout

    deleted = admin(url, "user", "delete", user_id)
    assert deleted.returncode == 0 and deleted.stdout.strip() == f"Deleted users: {user_id}"
    assert admin(url, "key", "info", key["token_id"]).returncode == 1  # its keys went with it
    other = admin_json(url, "user", "new")["user_id"]
    assert admin_json(url, "user", "delete", other) == {"deleted": [other]}


# -- audit ------------------------------------------------------------------------------------------

def test_audit_list_and_show(mock_gated):
    url = mock_gated.url
    team_id = admin_json(url, "team", "new", "--alias", uid("audited"))["team_id"]
    admin_json(url, "team", "update", team_id, "--rpm-limit", "3")

    as_json = admin_json(url, "audit", "list", "--object-id", team_id)
    assert as_json == api(url, "GET", "/audit", params={"object_id": team_id})
    assert [e["action"] for e in as_json["data"]] == ["updated", "created"]  # newest first
    filtered = admin_json(url, "audit", "list", "--object-id", team_id, "--table", "teams", "--action", "created",
                          "--changed-by", "admin", "--start", "2000-01-01", "--end", "2999-12-31", "--limit", "5")
    assert [e["action"] for e in filtered["data"]] == ["created"]

    human = admin(url, "audit", "list", "--object-id", team_id)
    assert human.returncode == 0, human.stderr
    entry_id = as_json["data"][0]["id"]
    for text in (entry_id, "admin", "updated", "created", "teams", team_id):
        assert text in human.stdout
    paged = admin(url, "audit", "list", "--object-id", team_id, "--limit", "1")
    cursor = re.search(r"--cursor (\S+)", paged.stdout).group(1)
    rest = admin_json(url, "audit", "list", "--object-id", team_id, "--cursor", cursor)
    assert [e["action"] for e in rest["data"]] == ["created"]

    assert admin_json(url, "audit", "show", entry_id) == api(url, "GET", f"/audit/{entry_id}")
    shown = admin(url, "audit", "show", entry_id)
    assert shown.returncode == 0 and "before:" in shown.stdout and "after:" in shown.stdout
    after = shown.stdout.split("after:\n", 1)[1]
    assert json.loads(after) == {"rpm_limit": 3}
    missing = admin(url, "audit", "show", "no-such-entry")
    assert missing.returncode == 1 and "no such audit entry" in one_line_error(missing)


# -- errors and exit codes --------------------------------------------------------------------------

def test_unknown_team_is_exit_1_with_the_api_message(mock_gated):
    for args in (("team", "info", "nope"), ("team", "update", "nope", "--rpm-limit", "1"), ("team", "block", "nope"),
                 ("key", "generate", "--team", "nope")):
        result = admin(mock_gated.url, *args)
        assert result.returncode == 1, args
        assert one_line_error(result) == ("gatectl: error: team 'nope' does not exist "
                                          "(hint: check the id: the list commands show the existing ones)")
    result = admin(mock_gated.url, "team", "delete", "nope")
    assert result.returncode == 1 and "nothing was deleted" in one_line_error(result)


def test_duplicate_alias_is_exit_1_with_the_api_message(mock_gated):
    alias = uid("dup")
    assert admin(mock_gated.url, "team", "new", "--alias", alias).returncode == 0
    result = admin(mock_gated.url, "team", "new", "--alias", alias)
    assert result.returncode == 1
    assert one_line_error(result) == ("gatectl: error: this team_alias is already taken "
                                      "(hint: pick another id or alias)")
    assert admin(mock_gated.url, "key", "generate", "--alias", alias).returncode == 0
    assert admin(mock_gated.url, "key", "generate", "--alias", alias).returncode == 1


def test_api_validation_is_exit_1_naming_the_field(mock_gated):
    result = admin(mock_gated.url, "key", "generate", "--budget-duration", "soon")
    assert result.returncode == 1 and "budget_duration" in one_line_error(result)


def test_usage_errors_are_exit_2(mock_gated):
    url = mock_gated.url
    audit_before = api(url, "GET", "/audit", params={"limit": 1})["data"]
    bad_json = admin(url, "team", "new", "--metadata", "{not json")
    assert bad_json.returncode == 2
    assert one_line_error(bad_json).startswith("gatectl: error: --metadata is not valid JSON")
    not_object = admin(url, "key", "generate", "--permissions", "[1, 2]")
    assert not_object.returncode == 2 and "must be a JSON object" in one_line_error(not_object)
    assert admin(url, "user", "new", "--metadata", "").returncode == 2
    nothing = admin(url, "team", "update", "some-team")
    assert nothing.returncode == 2 and "nothing to change" in one_line_error(nothing)
    for args in (("team", "delete"), ("key", "info"), ("user", "info"), ("audit", "show"),
                 ("key", "generate", "--max-budget", "-1"), ("key", "generate", "--rpm-limit", "many"),
                 ("team", "list", "--limit", "0"), ("audit", "list", "--start", "2024-13-01"),
                 ("team", "new", "--bogus"), ("key", "frobnicate")):
        result = admin(url, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    # refused before any request: nothing was changed
    assert api(url, "GET", "/audit", params={"limit": 1})["data"] == audit_before


def test_daemon_down_is_exit_3():
    down = f"http://127.0.0.1:{free_port()}"
    for args in (("team", "list"), ("key", "generate"), ("user", "info", "x"), ("audit", "list")):
        result = admin(down, *args)
        assert result.returncode == 3, args
        assert "cannot reach gated" in one_line_error(result)


# -- the README flow --------------------------------------------------------------------------------

def test_readme_flow_budget_team_key_sdk_audit(gated):
    instance = gated(mock_config())
    url = instance.url
    team = admin(url, "team", "new", "--alias", "tiny", "--max-budget", "0.001")
    assert team.returncode == 0, team.stderr
    team_id = re.search(r"team_id\s*│\s*(\S+)", team.stdout).group(1)
    generated = admin(url, "key", "generate", "--team", team_id)
    assert generated.returncode == 0, generated.stderr
    raw = re.search(r"Key: (sk-\S+)", generated.stdout).group(1)

    with openai.OpenAI(base_url=url + "/v1", api_key=raw, max_retries=0) as client:
        successes, refusal = 0, None
        for _ in range(200):
            try:
                client.chat.completions.create(model="gpt-3.5-turbo", max_tokens=300,
                                               messages=[{"role": "user", "content": "hello " * 50}])
                successes += 1
            except openai.RateLimitError as exc:
                refusal = exc
                break
    assert successes >= 1 and refusal is not None
    assert refusal.status_code == 429 and refusal.code == "budget_exceeded"
    spent = admin_json(url, "team", "info", team_id)["team_info"]
    assert 0 < spent["spend"] <= 0.001

    token_id = api(url, "POST", "/key/info", json={"key": raw})["key"]
    audit = admin(url, "audit", "list")
    assert audit.returncode == 0, audit.stderr
    assert team_id in audit.stdout and token_id in audit.stdout and raw not in audit.stdout
    entries = admin_json(url, "audit", "list")["data"]
    assert [(e["action"], e["table_name"], e["object_id"]) for e in entries] == [
        ("created", "keys", token_id), ("created", "teams", team_id)]
