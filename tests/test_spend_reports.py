"""SPEC §7 spend reports: /spend/tags from the seed's SDK, curl and LangChain examples; tag
counting; UTC day windows; /spend/logs filters, paging and own-key access; /spend/keys|teams|users;
retention keeping lifetime totals equal to the roll-ups."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import openai
import pytest

from gated.spend.record import SpendRecord
from gated.store.store import Store, migrate
from tests.support.api import Api
from tests.support.gated import MASTER_KEY, Gated, mock_config

TAGS = ["model-anthropic-claude-v2.1", "app-web-prod"]


@pytest.fixture
def instance(gated):
    return gated(mock_config())


@pytest.fixture
def admin(instance):
    return Api(instance.url, MASTER_KEY)


def test_seed_tag_examples_sdk_curl_langchain(instance, admin):
    from langchain_openai import ChatOpenAI

    client = openai.OpenAI(api_key=MASTER_KEY, base_url=instance.url)
    client.chat.completions.create(
        model="gpt-3.5-turbo",
        messages=[{"role": "user", "content": "this is a test request, write a short poem"}],
        extra_body={"metadata": {"tags": TAGS}})
    body = json.dumps({"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "what llm are you"}],
                       "metadata": {"tags": TAGS}})
    subprocess.run(["curl", "-s", "-f", instance.url + "/chat/completions", "-H", f"Authorization: Bearer {MASTER_KEY}",
                    "-H", "Content-Type: application/json", "-d", body], check=True, capture_output=True, timeout=10)
    chat = ChatOpenAI(base_url=instance.url, api_key=MASTER_KEY, model="gpt-3.5-turbo", temperature=0.1,
                      extra_body={"metadata": {"tags": TAGS}})
    chat.invoke([("system", "You are a helpful assistant."), ("human", "why is a gateway useful? one sentence")])
    rows = instance.wait_rows(3)
    total = sum(r["spend"] for r in rows)
    report = admin.get("/spend/tags").json()
    assert [r["individual_request_tag"] for r in report] == sorted(TAGS)  # equal spend: ordered by name
    for entry in report:
        assert entry["log_count"] == 3 and entry["total_spend"] == pytest.approx(total)
    assert json.loads(rows[2]["tags"]) == TAGS and rows[2]["end_user"] is None


def test_tags_count_once_per_request_and_untagged_requests_appear_only_per_key(instance, admin):
    key = admin.ok("/key/generate", {"key_alias": "k"})
    caller = Api(instance.url, key["key"])
    assert caller.chat(tags=["a", "b", "a"]).status_code == 200
    assert caller.chat().status_code == 200
    instance.wait_rows(2)
    report = {r["individual_request_tag"]: r for r in admin.get("/spend/tags").json()}
    assert set(report) == {"a", "b"} and report["a"]["log_count"] == 1 and report["b"]["log_count"] == 1
    keys = admin.get("/spend/keys").json()["data"]
    [mine] = [k for k in keys if k["token_id"] == key["token_id"]]
    assert mine["log_count"] == 2 and mine["key_alias"] == "k"
    assert mine["total_spend"] == pytest.approx(mine["lifetime_spend"])


def test_money_is_kept_to_twelve_decimal_places(instance, admin):
    """Costs add up as 0.000969, not 0.0009689999999999995, in headers, reports and key totals."""
    key = admin.ok("/key/generate", {"key_alias": "cents", "max_budget": 5})
    caller = Api(instance.url, key["key"])
    costs = []
    for words in range(1, 16):
        response = caller.chat(tags=["t"], messages=[{"role": "user", "content": "word " * words * 7}])
        costs.append(float(response.headers["x-gated-response-cost"]))
    instance.wait_rows(15)
    [tag] = admin.get("/spend/tags").json()
    [mine] = [k for k in admin.get("/spend/keys").json()["data"] if k["token_id"] == key["token_id"]]
    info = admin.get("/key/info", key=key["token_id"]).json()["info"]
    for amount in (*costs, tag["total_spend"], mine["total_spend"], info["spend"]):
        assert amount == round(amount, 12) and len(repr(amount)) <= 16, amount
    assert tag["total_spend"] == mine["total_spend"] == info["spend"] == pytest.approx(sum(costs))


def test_key_and_team_tags_join_the_request_tags(instance, admin):
    admin.ok("/team/new", {"team_id": "t", "tags": ["team-tag", "shared"]})
    key = admin.ok("/key/generate", {"team_id": "t", "tags": ["key-tag", "shared"]})
    Api(instance.url, key["key"]).chat(tags=["req"])
    [row] = instance.wait_rows(1)
    assert json.loads(row["tags"]) == ["req", "key-tag", "shared", "team-tag"]


@pytest.mark.parametrize("path, body", [
    ("/v1/completions", {"model": "llama3", "prompt": "x"}),
    ("/v1/embeddings", {"model": "embed", "input": "x"}),
    ("/v1/chat/completions", {"model": "llama3", "messages": [{"role": "user", "content": "x"}], "stream": True}),
])
def test_tags_on_every_call_type(instance, admin, path, body):
    response = admin.post(path, {**body, "metadata": {"tags": ["t1"]}, "tags": ["t2"]},
                          headers={"x-gated-tags": "t3"})
    assert response.status_code == 200
    instance.wait_rows(1)
    assert [r["individual_request_tag"] for r in admin.get("/spend/tags").json()] == ["t1", "t2", "t3"]


def record(start: str, tags: list[str], spend_tokens: int, status: str = "success") -> dict:
    from datetime import datetime

    from gated.pricing import Price
    from gated.spend.record import iso

    rec = SpendRecord(request_id=f"r-{start}", call_type="chat", model_group="g",
                      start_time=iso(datetime.fromisoformat(start.replace("Z", "+00:00"))), tags=tags, status=status,
                      price=Price(1e-6, 0), prompt_tokens=spend_tokens)
    return rec.to_row()


def test_day_windows_are_utc_and_inclusive(tmp_path):
    """Rows written by the real Store (as the spend writer does) at chosen instants."""
    db = tmp_path / "g" / "gated.db"
    db.parent.mkdir()
    migrate(db)
    store = Store.open(db)
    store.insert_spend([record("2026-01-31T23:59:59Z", ["edge"], 10), record("2026-02-01T00:00:00Z", ["edge"], 20),
                        record("2026-01-15T12:00:00Z", ["mid"], 5),
                        record("2026-01-20T12:00:00Z", ["mid"], 7, status="error")])
    store.close()
    instance = Gated(db.parent, mock_config()).start()
    try:
        admin = Api(instance.url, MASTER_KEY)

        def report(**window: str) -> dict:
            return {r["individual_request_tag"]: (r["log_count"], r["total_spend"])
                    for r in admin.get("/spend/tags", **window).json()}
        january = report(start_date="2026-01-01", end_date="2026-01-31")
        assert january == {"edge": (1, pytest.approx(10e-6)), "mid": (1, pytest.approx(5e-6))}
        assert report(start_date="2026-02-01", end_date="2026-02-01") == {"edge": (1, pytest.approx(20e-6))}
        assert report() == {"edge": (2, pytest.approx(30e-6)), "mid": (1, pytest.approx(5e-6))}
        assert report(start_date="2026-02-02") == {}
        logs = admin.get("/spend/logs", start_date="2026-01-31", end_date="2026-01-31").json()["data"]
        assert [r["start_time"] for r in logs] == ["2026-01-31T23:59:59.000000Z"]
        for bad in ({"start_date": "2026-02-30"}, {"end_date": "01/02/2026"},
                    {"start_date": "2026-02-02", "end_date": "2026-02-01"}):
            response = admin.get("/spend/tags", **bad)
            assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
    finally:
        instance.stop()


def test_spend_logs_filters_paging_and_own_key_access(instance, admin):
    mine = admin.ok("/key/generate", {"user_id": "ann"})
    other = admin.ok("/key/generate", {"user_id": "bob"})
    for _ in range(3):
        Api(instance.url, mine["key"]).chat(tags=["x"], user="customer-1")
    Api(instance.url, other["key"]).chat()
    instance.wait_rows(4)
    own = Api(instance.url, mine["key"]).get("/spend/logs").json()["data"]
    assert len(own) == 3 and {r["token_id"] for r in own} == {mine["token_id"]}
    sneaky = Api(instance.url, mine["key"]).get("/spend/logs", token_id=other["token_id"])
    assert sneaky.status_code == 403 and "data" not in sneaky.json(), "another key's logs are refused, not faked"
    named = Api(instance.url, mine["key"]).get("/spend/logs", token_id=mine["token_id"]).json()["data"]
    assert len(named) == 3
    other_team = Api(instance.url, mine["key"]).get("/spend/logs", team_id="someone-elses")
    assert other_team.status_code == 403 and other_team.json()["error"]["param"] == "team_id"
    assert len(admin.get("/spend/logs", user_id="bob").json()["data"]) == 1
    assert len(admin.get("/spend/logs", tag="x").json()["data"]) == 3
    assert len(admin.get("/spend/logs", end_user="customer-1").json()["data"]) == 3
    first = admin.get("/spend/logs", limit=3).json()
    second = admin.get("/spend/logs", limit=3, cursor=first["next_cursor"]).json()
    assert len(first["data"]) == 3 and len(second["data"]) == 1 and second["next_cursor"] is None
    assert admin.get("/spend/logs", cursor="zz").status_code == 400
    assert Api(instance.url, mine["key"]).get("/spend/tags").status_code == 403
    assert Api(instance.url, mine["key"]).get("/spend/keys").status_code == 403
    assert Api(instance.url, None).get("/spend/logs").status_code == 401


def test_team_and_user_summaries(instance, admin):
    admin.ok("/team/new", {"team_id": "t", "team_alias": "T"})
    admin.ok("/user/new", {"user_id": "ann"})
    key = admin.ok("/key/generate", {"team_id": "t", "user_id": "ann"})
    Api(instance.url, key["key"]).chat()
    instance.wait_rows(1)
    [team] = admin.get("/spend/teams").json()["data"]
    [user] = admin.get("/spend/users").json()["data"]
    assert team["team_id"] == "t" and team["team_alias"] == "T" and team["log_count"] == 1
    assert user["user_id"] == "ann" and user["total_spend"] > 0
    assert user["total_spend"] == pytest.approx(user["lifetime_spend"])


def test_retention_prunes_rows_but_not_totals(tmp_path):
    db = tmp_path / "g" / "gated.db"
    db.parent.mkdir()
    instance = Gated(db.parent, mock_config()).start()
    admin = Api(instance.url, MASTER_KEY)
    admin.ok("/team/new", {"team_id": "t"})
    key = admin.ok("/key/generate", {"team_id": "t"})
    for _ in range(4):
        Api(instance.url, key["key"]).chat(tags=["kept"])
    instance.wait_rows(4)
    instance.stop()
    conn = sqlite3.connect(db)
    conn.execute("UPDATE spend_logs SET start_time = '2020-01-01T00:00:00.000000Z' WHERE id <= 3")
    conn.commit()
    conn.close()
    config = mock_config(spend_logs_retention_days=30)
    pruned = Gated(db.parent, config).start()
    try:
        rows = pruned.wait_rows(99, timeout=1)
        assert len(rows) == 1, "rows older than the retention window are gone"
        api = Api(pruned.url, MASTER_KEY)
        info = api.get("/key/info", key=key["token_id"]).json()["info"]
        [summary] = [k for k in api.get("/spend/keys").json()["data"] if k["token_id"] == key["token_id"]]
        assert summary["log_count"] == 4 and summary["total_spend"] == pytest.approx(info["lifetime_spend"])
        assert api.get("/spend/tags").json()[0]["log_count"] == 4
    finally:
        pruned.stop()


def test_bad_request_tags_are_400(admin):
    for body in ({"tags": "a"}, {"tags": [""]}, {"metadata": {"tags": [5]}}, {"tags": [f"t{i}" for i in range(40)]}):
        response = admin.chat(**body)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"



def test_summary_paging_passes_the_row_without_an_id(instance, admin):
    for team in ("a", "b"):
        admin.ok("/team/new", {"team_id": team})
        Api(instance.url, admin.ok("/key/generate", {"team_id": team})["key"]).chat()
    admin.chat()  # the master key: no team
    instance.wait_rows(3)
    seen, cursor = [], None
    for _ in range(5):
        page = admin.get("/spend/teams", limit=1, **({"cursor": cursor} if cursor else {})).json()
        seen += [(row["team_id"], set(row)) for row in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [team for team, _ in seen] == [None, "a", "b"]
    assert len({frozenset(fields) for _, fields in seen}) == 1, "every row has the same fields"
    assert admin.get("/spend/teams", cursor="a").status_code == 400


def test_spend_logs_filter_values(instance, admin):
    admin.chat()
    instance.wait_rows(1)
    assert admin.get("/spend/logs", status="bogus").status_code == 400
    assert len(admin.get("/spend/logs", team_id="", status="success").json()["data"]) == 1
