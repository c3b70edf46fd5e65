"""`gatectl spend tags|logs|keys|teams|users` (SPEC §7, §11) against a real gated with tagged mock
requests: the tag table draws a bar per tag (the biggest spend the longest), --json is the API's
JSON unchanged, --csv parses and matches the API, --start/--end narrow the window, `spend logs`
filters and `--all --csv` exports every row exactly once across pages (progress only on a
terminal stderr), and exit codes 1 (non-admin key, the API's 400), 2 (bad or reversed days),
3 (daemon down)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from gatectl.output import usd
from tests.support.api import Api
from tests.support.gated import MASTER_KEY, Gated, base_env, free_port, mock_config
from tests.test_gatectl import gatectl
from tests.test_gatectl_admin import WIDE, admin, admin_json, api, one_line_error

BAR = "█▏▎▍▌▋▊▉"
WIDTH = 30  # output.BAR_WIDTH: the biggest spend gets this many full blocks


def chat(caller: Api, words: int, **extra: Any) -> dict[str, Any]:
    response = caller.chat(messages=[{"role": "user", "content": "hello " * words}], **extra)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One gated with spend from the master key and two keys (one in a team, owned by a user),
    tagged requests of different sizes, an end user and one rejected request; read-only tests."""
    instance = Gated(tmp_path_factory.mktemp("spend"), mock_config()).start()
    root = Api(instance.url, MASTER_KEY)
    root.ok("/team/new", {"team_id": "t-spend", "team_alias": "Spenders"})
    root.ok("/user/new", {"user_id": "u-spend", "user_alias": "alice"})
    team_key = root.ok("/key/generate", {"key_alias": "team-key", "team_id": "t-spend", "user_id": "u-spend"})
    lone_key = root.ok("/key/generate", {"key_alias": "lone-key", "models": ["llama3"]})
    chat(root, 300, metadata={"tags": ["big"]})
    chat(root, 300, metadata={"tags": ["big", "[red]x"]})  # markup-like text is shown as is
    chat(root.as_key(team_key["key"]), 40, metadata={"tags": ["mid", "big"]}, user="customer-7")
    chat(root.as_key(lone_key["key"]), 1, model="llama3", metadata={"tags": ["small"]})
    refused = root.as_key(lone_key["key"]).chat(metadata={"tags": ["small"]})  # gpt-3.5-turbo: not allowed
    assert refused.status_code >= 400
    rows = instance.wait_rows(5)
    assert len(rows) == 5
    yield {"gated": instance, "url": instance.url, "team_key": team_key, "lone_key": lone_key, "rows": rows}
    instance.stop()


def bar_length(line: str) -> float:
    """Cells of the bar drawn on a table line (a partial block counts its eighths)."""
    return sum(1 if ch == "█" else BAR.index(ch) / 8 for ch in line if ch in BAR)


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


# -- spend tags -------------------------------------------------------------------------------------

def test_tag_bars_shrink_to_fit_a_narrow_terminal(world):
    result = gatectl("--url", world["url"], "--key", MASTER_KEY, "spend", "tags", env={"COLUMNS": "52"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= 52, result.stdout
    assert not [ln for ln in lines if re.match(r"│\s+│", ln)], "no row runs onto a second line"
    for entry in api(world["url"], "GET", "/spend/tags"):
        [line] = [ln for ln in lines if ln.startswith(f"│ {entry['individual_request_tag']} ")]
        assert usd(entry["total_spend"]) in line, "the row is not folded onto a second line"
        assert 0 < bar_length(line) < WIDTH


def test_tags_table_has_a_bar_per_tag_longest_for_the_biggest(world):
    report = api(world["url"], "GET", "/spend/tags")
    assert [e["individual_request_tag"] for e in report][0] == "big" and len(report) == 4
    result = admin(world["url"], "spend", "tags")
    assert result.returncode == 0, result.stderr
    lines = {e["individual_request_tag"]: [ln for ln in result.stdout.splitlines()
                                           if ln.startswith(f"│ {e['individual_request_tag']} ")]
             for e in report}
    assert all(len(found) == 1 for found in lines.values()), result.stdout
    bars = {tag: bar_length(found[0]) for tag, found in lines.items()}
    assert bars["big"] == WIDTH
    for entry in report[1:]:
        tag = entry["individual_request_tag"]
        assert 0 < bars[tag] < WIDTH
        assert bars[tag] == pytest.approx(WIDTH * entry["total_spend"] / report[0]["total_spend"], abs=0.2)
    assert bars == dict(sorted(bars.items(), key=lambda kv: -kv[1]))  # ordered like the spend
    assert f"│ {report[0]['log_count']} " in lines["big"][0] and "$0.0" in lines["big"][0]


def test_tags_json_is_the_api_list_unchanged(world):
    expected = api(world["url"], "GET", "/spend/tags")
    assert admin_json(world["url"], "spend", "tags") == expected
    after = admin(world["url"], "spend", "tags", "--json")  # the option also works after the command
    assert after.returncode == 0 and json.loads(after.stdout) == expected


def test_tags_csv_matches_the_api(world):
    result = admin(world["url"], "spend", "tags", "--csv")
    assert result.returncode == 0 and result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.stdout.splitlines()[0] == "tag,log_count,total_spend"
    expected = api(world["url"], "GET", "/spend/tags")
    assert [{"individual_request_tag": r["tag"], "log_count": int(r["log_count"]),
             "total_spend": float(r["total_spend"])} for r in rows] == expected  # exact floats


def test_start_and_end_narrow_the_window(world):
    url, day = world["url"], today()
    assert admin_json(url, "spend", "tags", "--start", day, "--end", day) == api(url, "GET", "/spend/tags")
    past = ("--start", "2001-01-01", "--end", "2001-12-31")
    assert admin_json(url, "spend", "tags", *past) == []
    assert admin(url, "spend", "tags", "--csv", *past).stdout == "tag,log_count,total_spend\n"
    table = admin(url, "spend", "tags", *past)
    assert table.returncode == 0 and "big" not in table.stdout and "█" not in table.stdout
    assert admin_json(url, "spend", "logs", *past)["data"] == []
    for group in ("keys", "teams", "users"):
        assert admin_json(url, "spend", group, *past)["data"] == []
    assert len(admin_json(url, "spend", "logs", "--start", day)["data"]) == 5


# -- spend logs -------------------------------------------------------------------------------------

def test_logs_filters_are_sent_as_the_api_filters(world):
    url, team_key = world["url"], world["team_key"]
    cases = [
        (("--key", team_key["token_id"]), {"token_id": team_key["token_id"]}, 1),
        (("--team", "t-spend"), {"team_id": "t-spend"}, 1),
        (("--user", "u-spend"), {"user_id": "u-spend"}, 1),
        (("--end-user", "customer-7"), {"end_user": "customer-7"}, 1),
        (("--tag", "big"), {"tag": "big"}, 3),
        (("--status", "rejected"), {"status": "rejected"}, 1),
        (("--status", "success", "--tag", "small"), {"status": "success", "tag": "small"}, 1),
        (("--limit", "2"), {"limit": 2}, 2),
    ]
    for args, params, count in cases:
        got = admin_json(url, "spend", "logs", *args)
        assert got == api(url, "GET", "/spend/logs", params=params), args
        assert len(got["data"]) == count, args
    one = world["rows"][0]["request_id"]
    assert [r["request_id"] for r in admin_json(url, "spend", "logs", "--request-id", one)["data"]] == [one]


def test_logs_table(world):
    url = world["url"]
    rows = api(url, "GET", "/spend/logs")["data"]
    table = admin(url, "spend", "logs")
    assert table.returncode == 0, table.stderr
    for row in rows:
        assert row["request_id"] in table.stdout
    assert "rejected (model_access)" in table.stdout and "mid, big" in table.stdout
    assert f"{today()} " in table.stdout and "more rows" not in table.stdout
    page = admin(url, "spend", "logs", "--limit", "2")
    cursor = api(url, "GET", "/spend/logs", params={"limit": 2})["next_cursor"]
    assert f"more rows: continue with --cursor {cursor}" in page.stdout
    rejected = admin(url, "spend", "logs", "--status", "rejected")
    assert rejected.stdout.count("rejected (model_access)") == 1 and "success" not in rejected.stdout


def test_logs_csv_has_every_field_of_the_page(world):
    url = world["url"]
    result = admin(url, "spend", "logs", "--limit", "3", "--csv")
    assert result.returncode == 0
    page = api(url, "GET", "/spend/logs", params={"limit": 3})
    assert result.stderr == f"more rows: continue with --cursor {page['next_cursor']}, or pass --all\n"
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3 and list(rows[0]) == list(page["data"][0])
    for got, want in zip(rows, page["data"], strict=True):
        assert got["request_id"] == want["request_id"] and json.loads(got["tags"]) == want["tags"]
        assert got["spend"] == ("" if want["spend"] is None else repr(want["spend"]))
        assert got["usage_estimated"] == json.dumps(want["usage_estimated"])
        assert got["end_user"] == (want["end_user"] or "")


def test_logs_all_follows_every_page_exactly_once(gated):
    instance = gated(mock_config())
    root = Api(instance.url, MASTER_KEY)
    ids = [chat(root, n + 1, metadata={"tags": [f"t{n % 3}"]})["id"] for n in range(7)]
    assert len(ids) == 7
    rows = instance.wait_rows(7)
    every = {r["request_id"] for r in rows}
    assert len(every) == 7

    result = admin(instance.url, "spend", "logs", "--all", "--csv", "--limit", "2")
    assert result.returncode == 0 and result.stderr == ""  # no progress: stderr is not a terminal
    exported = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(exported) == 7 and {r["request_id"] for r in exported} == every
    assert [r["request_id"] for r in exported] == [r["request_id"] for r in reversed(rows)]  # newest first

    as_json = admin_json(instance.url, "spend", "logs", "--all", "--limit", "2")
    assert as_json["next_cursor"] is None
    assert as_json["data"] == api(instance.url, "GET", "/spend/logs")["data"]
    table = admin(instance.url, "spend", "logs", "--all", "--limit", "2")
    assert all(r in table.stdout for r in every) and "more rows" not in table.stdout
    tagged = admin(instance.url, "spend", "logs", "--all", "--csv", "--limit", "1", "--tag", "t0")
    assert len(list(csv.DictReader(io.StringIO(tagged.stdout)))) == 3


def test_progress_goes_to_a_terminal_stderr_never_to_stdout(world):
    main, side = pty.openpty()
    env = {**base_env(), **WIDE, "TERM": "xterm"}
    with subprocess.Popen([sys.executable, "-m", "gatectl", "--url", world["url"], "--key", MASTER_KEY,
                           "spend", "logs", "--all", "--csv", "--limit", "1"],
                          stdout=subprocess.PIPE, stderr=side, env=env, text=True) as proc:
        os.close(side)
        stdout, _ = proc.communicate(timeout=30)
    terminal = b""
    while select.select([main], [], [], 0.5)[0]:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the other side is closed
            break
        if not chunk:
            break
        terminal += chunk
    os.close(main)
    assert proc.returncode == 0
    assert b"5 rows fetched" in terminal
    exported = list(csv.DictReader(io.StringIO(stdout)))
    assert len(exported) == 5 and "rows fetched" not in stdout


# -- spend keys|teams|users -------------------------------------------------------------------------

def test_summaries_human_and_json(world):
    url, team_key, lone_key = world["url"], world["team_key"], world["lone_key"]
    for group in ("keys", "teams", "users"):
        expected = api(url, "GET", f"/spend/{group}")
        assert admin_json(url, "spend", group) == expected
        assert admin_json(url, "spend", group, "--start", today()) == expected
        after = admin(url, "spend", group, "--json")
        assert json.loads(after.stdout) == expected
    keys = admin(url, "spend", "keys")
    assert keys.returncode == 0, keys.stderr
    assert team_key["token_id"] in keys.stdout and lone_key["token_id"] in keys.stdout
    assert "team-key" in keys.stdout and "lone-key" in keys.stdout and "(master key)" in keys.stdout
    [lone] = [line for line in keys.stdout.splitlines() if lone_key["token_id"] in line]
    assert "│ 2 " in lone and "│ 1 " in lone  # two requests, one succeeded
    teams = admin(url, "spend", "teams")
    assert "t-spend" in teams.stdout and "Spenders" in teams.stdout and "(no team)" in teams.stdout
    users = admin(url, "spend", "users")
    assert "u-spend" in users.stdout and "alice" in users.stdout
    page = admin(url, "spend", "teams", "--limit", "2")  # t-spend sorts after the no-team row
    assert "t-spend" in page.stdout and "more rows" not in page.stdout


def test_summary_pages_continue_after_the_row_without_an_id(world):
    url = world["url"]
    page = admin(url, "spend", "teams", "--limit", "1")
    assert page.returncode == 0 and "(no team)" in page.stdout
    assert "more rows: continue with --cursor" in page.stdout


# -- exit codes -------------------------------------------------------------------------------------

def test_a_non_admin_key_is_refused_with_exit_1_but_reads_its_own_logs(world):
    url, lone_key = world["url"], world["lone_key"]
    for group in ("tags", "keys", "teams", "users"):
        result = gatectl("--url", url, "--key", lone_key["key"], "spend", group)
        assert result.returncode == 1, (group, result.stderr)
        assert one_line_error(result) == ("gatectl: error: this route needs the master key (hint: this needs "
                                           "the master key (or a key with the right role))")
        assert lone_key["key"] not in result.stderr
    own = gatectl("--url", url, "--key", lone_key["key"], "--json", "spend", "logs")
    assert own.returncode == 0
    assert {r["token_id"] for r in json.loads(own.stdout)["data"]} == {lone_key["token_id"]}


def test_bad_days_are_exit_2_before_any_request(world):
    url = world["url"]
    for args in (("tags", "--start", "2024-13-01"), ("tags", "--end", "yesterday"), ("logs", "--start", "2024-1-5"),
                 ("keys", "--end", "2024-02-30"), ("teams", "--start", "2024-05-02", "--end", "2024-05-01"),
                 ("users", "--start", "20240501")):
        result = admin(url, "spend", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "--start" in one_line_error(result) or "--end" in one_line_error(result)
        assert result.stdout == ""
    down = admin(f"http://127.0.0.1:{free_port()}", "spend", "tags", "--start", "2024-13-01")
    assert down.returncode == 2  # checked before any request
    for args in (("logs", "--status", "lost"), ("tags", "--json", "--csv"), ("logs", "--limit", "0"),
                 ("keys", "--bogus")):
        result = admin(url, "spend", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, args


def test_the_servers_400_is_exit_1_with_its_message(world):
    result = admin(world["url"], "spend", "logs", "--cursor", "not-a-cursor")
    assert result.returncode == 1
    assert one_line_error(result) == "gatectl: error: cursor is not one this API returned"


def test_daemon_down_is_exit_3():
    down = f"http://127.0.0.1:{free_port()}"
    for args in (("tags",), ("logs", "--all", "--csv"), ("keys",), ("teams",), ("users", "--json")):
        result = admin(down, "spend", *args)
        assert result.returncode == 3, args
        assert "cannot reach gated" in one_line_error(result) and result.stdout == ""
