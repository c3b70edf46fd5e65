"""SPEC §8.3 banned_keywords: normalisation and word boundaries, keyword files, every place text
can hide in a request, non-streamed and streamed answers (a keyword split across chunks never
reaches the client; clean streams arrive unchanged), and the admin API."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from gated.guardrails.keywords import KeywordMatcher
from tests.support.api import Api
from tests.support.gated import MASTER_KEY, Gated, mock_config, upstream_config


@pytest.mark.parametrize("keyword, text, hit", [
    ("ass", "a class act", False), ("ass", "you ass!", True), ("hello", "HELLO, world", True),
    ("hello", "ｈｅｌｌｏ there", True), ("hello", "he\u200bllo", True), ("hello", "hellothere", False),
    ("hello  world", "say hello world", True), ("hello world", "hello \t\n world", True),
    ("café", "CAFE\u0301 au lait", True), ("秘密", "这是秘密文件", True), ("ลับ", "ข้อมูลลับมาก", True),
    ("straße", "STRASSE", True), ("", "anything", False),
])
def test_word_mode(keyword, text, hit):
    assert (KeywordMatcher([keyword]).find(text) is not None) is hit


def test_substring_mode():
    matcher = KeywordMatcher(["ass"], mode="substring")
    assert matcher.find("a class act") == "ass"


def test_many_keywords_report_the_configured_spelling():
    matcher = KeywordMatcher([f"word{i}" for i in range(10_000)] + ["Secret Project"])
    assert matcher.find("about the SECRET   project today") == "Secret Project"
    assert matcher.find("word10000") is None and matcher.find("x word9999 y") == "word9999"


@pytest.fixture
def keyword_gated(gated, tmp_path):
    config = mock_config()
    config["litellm_settings"] = {"callbacks": ["banned_keywords"], "banned_keywords_list": ["hello", "top secret"]}
    return gated(config)


def test_seed_example(keyword_gated):
    response = Api(keyword_gated.url, MASTER_KEY).post("/chat/completions", {
        "model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "Hello world!"}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "banned_keyword" and "hello" in error["message"] and error["guardrail"] == "banned_keywords"


def test_keyword_file_with_comments_blank_lines_and_crlf(gated, tmp_path):
    config = mock_config()
    instance_dir = tmp_path / "g0"
    instance_dir.mkdir()
    (instance_dir / "banned.txt").write_bytes(
        b"\xef\xbb\xbf# words we refuse\r\nalpha\r\n\r\n  beta gamma  \r\n#delta\r\n")   # with a BOM
    config["litellm_settings"] = {"callbacks": ["banned_keywords"], "banned_keywords_list": "banned.txt"}
    instance = gated(config)
    api = Api(instance.url, MASTER_KEY)
    assert api.get("/banned_keywords").json()["data"] == ["alpha", "beta gamma"]
    assert api.chat(messages=[{"role": "user", "content": "alpha"}]).status_code == 400
    assert api.chat(messages=[{"role": "user", "content": "beta  gamma!"}]).status_code == 400
    assert api.chat(messages=[{"role": "user", "content": "delta # words we refuse"}]).status_code == 200


def test_keywords_removed_by_the_api_stay_removed_after_a_restart(tmp_path):
    """SPEC §8.3 uses §8.2's startup merge: the database is the source of truth; only config entries
    never seen at an earlier start are added."""
    def config(keywords):
        cfg = mock_config()
        cfg["litellm_settings"] = {"callbacks": ["banned_keywords"], "banned_keywords_list": keywords}
        return cfg

    first = Gated(tmp_path / "g", config(["alpha", "beta"])).start()
    Api(first.url, MASTER_KEY).ok("/banned_keywords/remove", {"keywords": ["alpha"]})
    first.stop()
    second = Gated(tmp_path / "g", config(["alpha", "beta", "gamma"])).start()
    try:
        api = Api(second.url, MASTER_KEY)
        assert api.get("/banned_keywords").json()["data"] == ["beta", "gamma"]
        assert api.chat(messages=[{"role": "user", "content": "alpha"}]).status_code == 200
        assert api.chat(messages=[{"role": "user", "content": "gamma"}]).status_code == 400
    finally:
        second.stop()


def test_missing_keyword_file_is_a_config_error(tmp_path):
    from tests.support.gated import run_gated
    config = mock_config()
    config["litellm_settings"] = {"banned_keywords_list": "nope.txt"}
    result = run_gated(tmp_path, config)
    assert result.returncode == 2 and "litellm_settings.banned_keywords_list: cannot read nope.txt" in result.stderr


COVERAGE = [
    ("/v1/chat/completions", {"messages": [{"role": "system", "content": "hello"}, {"role": "user", "content": "x"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "hello"},
                                           {"role": "user", "content": "y"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "text", "text": "fine"},
                                                                         {"type": "text", "text": "top  SECRET"}]}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}, {
        "role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "lookup", "arguments": json.dumps({"q": "hello"})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "c",
                                                                              "content": "Hello"}]}),
    ("/v1/completions", {"prompt": "say hello"}),
    ("/v1/completions", {"prompt": ["fine", "hello again"]}),
    ("/v1/embeddings", {"model": "embed", "input": "hello"}),
    ("/v1/embeddings", {"model": "embed", "input": ["a", "b hello"]}),
    ("/v1/moderations", {"model": "mod", "input": [{"type": "text", "text": "fine"},
                                                   {"type": "text", "text": "hello"}]}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}, {   # arguments as an object
        "role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "lookup", "arguments": {"q": "hello"}}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}),
]


@pytest.mark.parametrize("path, body", COVERAGE)
def test_every_text_location_is_checked(keyword_gated, path, body):
    response = Api(keyword_gated.url, MASTER_KEY).post(path, {"model": "gpt-3.5-turbo", **body})
    assert response.status_code == 400 and response.json()["error"]["code"] == "banned_keyword", response.text
    row = keyword_gated.wait_rows(1)[-1]
    assert (row["status"], row["rejected_by"], row["spend"]) == ("rejected", "banned_keywords", 0)


def test_token_arrays_are_skipped(keyword_gated):
    response = Api(keyword_gated.url, MASTER_KEY).post("/v1/embeddings", {"model": "embed", "input": [1, 2, 3]})
    assert response.status_code == 200


def test_non_streamed_answer_is_checked_and_charged(keyword_gated):
    api = Api(keyword_gated.url, MASTER_KEY)
    response = api.chat(messages=[{"role": "user", "content": "greet me"}], mock_response="well, Hello there")
    assert response.status_code == 400 and "answer" in response.json()["error"]["message"]
    row = keyword_gated.wait_rows(1)[-1]
    assert row["status"] == "rejected" and row["rejected_by"] == "banned_keywords" and row["spend"] > 0


@pytest.fixture
def streaming(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["m"]})
    config["litellm_settings"] = {"callbacks": ["banned_keywords"], "banned_keywords_list": ["seven eight", "nine"]}
    return gated(config)


def raw_stream(instance, body: dict) -> list[str]:
    events = []
    with httpx.stream("POST", instance.url + "/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line[6:])
    return events


def test_keyword_split_across_upstream_chunks_never_reaches_the_client(streaming):
    # the fake upstream streams "one ", "two ", … "seven ", "eight": the keyword spans two chunks
    events = raw_stream(streaming, {"model": "g", "stream": True, "messages": [{"role": "user", "content": "go"}]})
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in map(json.loads, events[:-1]))
    assert "seven" not in text and "eight" not in text
    error = json.loads(events[-1])["error"]
    assert error["code"] == "banned_keyword" and error["guardrail"] == "banned_keywords"
    assert "[DONE]" not in events
    row = streaming.wait_rows(1)[-1]
    assert row["status"] == "rejected" and row["rejected_by"] == "banned_keywords"


def test_clean_stream_arrives_unchanged(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["m"]})
    config["litellm_settings"] = {"callbacks": ["banned_keywords"], "banned_keywords_list": ["forbidden"]}
    guarded = gated(config)
    plain = gated(upstream_config(upstream.base, {"g": ["m"]}))
    body = {"model": "g", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "go"}]}
    assert raw_stream(guarded, body) == raw_stream(plain, body)
    client = openai.OpenAI(base_url=guarded.url + "/v1", api_key=MASTER_KEY, max_retries=0)
    chunks = list(client.chat.completions.create(model="g", messages=[{"role": "user", "content": "go"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two three four five six seven eight"


@pytest.fixture
def scripted(gated, upstream):
    config = upstream_config(upstream.base, {"g": ["m"]})
    config["litellm_settings"] = {"callbacks": ["banned_keywords"], "banned_keywords_list": ["ass", "top secret"]}
    instance = gated(config)

    def stream(*pieces):
        """Stream chunks scripted as (choice index, content) or (choice index, None, tool arguments);
        returns (text per choice as received, tool arguments, the final error or None)."""
        choices = []
        for index, content, *arguments in pieces:
            delta = ({"content": content} if content is not None else
                     {"tool_calls": [{"index": 0, "function": {"arguments": arguments[0]}}]})
            choices.append([{"index": index, "delta": delta, "finish_reason": None}])
        choices.append([{"index": i, "delta": {}, "finish_reason": "stop"} for i in sorted({p[0] for p in pieces})])
        events = raw_stream(instance, {"model": "g", "stream": True, "scripted_choices": choices,
                                       "messages": [{"role": "user", "content": "go"}]})
        error = json.loads(events.pop())["error"] if events[-1] != "[DONE]" else None
        texts: dict[int, str] = {}
        arguments_seen = ""
        for event in events:
            if event == "[DONE]":
                continue
            for choice in json.loads(event)["choices"]:
                delta = choice["delta"]
                texts[choice["index"]] = texts.get(choice["index"], "") + (delta.get("content") or "")
                arguments_seen += "".join(c["function"]["arguments"] for c in delta.get("tool_calls") or ())
        return texts, arguments_seen, error

    return stream


def test_a_word_split_across_chunks_is_judged_whole(scripted):
    # "ass" ends a chunk but the word goes on: "assets" is clean, as it is when not streamed
    assert scripted((0, "my "), (0, "ass"), (0, "ets are"), (0, " fine")) == ({0: "my assets are fine"}, "", None)
    assert scripted((0, "first cl"), (0, "ass"), (0, " seats")) == ({0: "first class seats"}, "", None)
    # one character a chunk: the left context of a word is never cut off
    text = "a class act, glass passes, and classy assets"
    assert scripted(*((0, char) for char in text)) == ({0: text}, "", None)
    texts, _, error = scripted((0, "you "), (0, "ass"), (0, "!"))
    assert error["code"] == "banned_keyword" and "ass" not in texts.get(0, "")
    texts, _, error = scripted((0, "you "), (0, "ass"))   # the keyword ends the stream
    assert error["code"] == "banned_keyword" and "ass" not in texts.get(0, "")


def test_several_choices_are_checked_each_on_its_own(scripted):
    clean = scripted((0, "top "), (1, "and "), (0, "marks"), (1, "secret"))   # "top secret" only across choices
    assert clean == ({0: "top marks", 1: "and secret"}, "", None)
    texts, _, error = scripted((0, "the "), (1, "a "), (0, "top "), (1, "b "), (0, "secret"), (1, "c"))
    assert error["code"] == "banned_keyword" and "secret" not in texts.get(0, "")


def test_tool_call_arguments_split_across_chunks_are_checked(scripted):
    _, arguments, error = scripted((0, None, '{"q": "top se'), (0, None, 'cret files"}'))
    assert error["code"] == "banned_keyword" and "cret" not in arguments
    assert scripted((0, None, '{"q": "top '), (0, None, 'marks"}')) == ({0: ""}, '{"q": "top marks"}', None)


def test_output_check_can_be_turned_off(gated):
    config = mock_config()
    config["litellm_settings"] = {"callbacks": ["banned_keywords"], "banned_keywords_list": ["hello"],
                                  "banned_keywords_check_output": False}
    instance = gated(config)
    response = Api(instance.url, MASTER_KEY).chat(messages=[{"role": "user", "content": "x"}], mock_response="hello")
    assert response.status_code == 200


def test_keywords_that_normalise_alike_are_one_keyword(keyword_gated):
    api = Api(keyword_gated.url, MASTER_KEY)
    added = api.ok("/banned_keywords/add", {"keywords": ["Zebra", "zebra", "ＺＥＢＲＡ"]})
    assert added == {"changed": ["Zebra"], "unchanged": [], "enforced": True}
    assert api.ok("/banned_keywords/add", {"keywords": ["HELLO"]})["unchanged"] == ["hello"]
    assert api.ok("/banned_keywords/remove", {"keywords": ["zebra"]})["changed"] == ["Zebra"]
    assert api.chat(messages=[{"role": "user", "content": "a zebra"}]).status_code == 200
    audit = api.get("/audit", table_name="banned_keywords").json()["data"]
    assert [(r["action"], r["object_id"]) for r in audit if "zebra" in r["object_id"].casefold()] == [
        ("deleted", "Zebra"), ("created", "Zebra")], "one keyword, one row per change"


def test_admin_api_add_remove_list_audited_and_effective(keyword_gated):
    api = Api(keyword_gated.url, MASTER_KEY)
    assert api.ok("/banned_keywords/add", {"keywords": ["zebra", "hello"]}) == {
        "changed": ["zebra"], "unchanged": ["hello"], "enforced": True}
    assert api.chat(messages=[{"role": "user", "content": "a Zebra"}]).status_code == 400
    assert api.ok("/banned_keywords/remove", {"keywords": ["zebra", "never-there"]}) == {
        "changed": ["zebra"], "unchanged": ["never-there"], "enforced": True}
    assert api.chat(messages=[{"role": "user", "content": "a Zebra"}]).status_code == 200
    assert api.get("/banned_keywords").json()["data"] == ["hello", "top secret"]
    audit = api.get("/audit", table_name="banned_keywords").json()["data"]
    assert [(r["action"], r["object_id"]) for r in audit][:2] == [("deleted", "zebra"), ("created", "zebra")]
    for bad in ({}, {"keywords": []}, {"keywords": "zebra"}, {"keywords": [" \u200b "]}, {"keywords": [3]},
                {"keywords": ["a"], "extra": 1}):
        assert api.post("/banned_keywords/add", bad).status_code == 400, bad
    user_key = api.ok("/key/generate", {})["key"]
    assert Api(keyword_gated.url, user_key).post("/banned_keywords/add", {"keywords": ["x"]}).status_code == 403
    assert Api(keyword_gated.url, None).get("/banned_keywords").status_code == 401
