"""SPEC §6: every error this gateway can produce so far, on real routes, in one envelope shape —
status, type, code, param — with x-should-retry where the gateway already retried."""

from __future__ import annotations

import httpx
import pytest

from tests.support.gated import MASTER_KEY, mock_config, upstream_config
from tests.support.upstream import LEAKY_MESSAGE

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
CHAT = {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "hi"}]}


def assert_envelope(response: httpx.Response, status: int, type_: str, code: str, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == (type_, code)
    assert error["param"] == param
    assert error["message"] and "Traceback" not in error["message"]
    return error


@pytest.mark.parametrize("body, param", [
    (b"{not json", None),
    (b"[1, 2]", None),
    (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
    (b'{"model": 5, "messages": []}', "model"),
    (b'{"model": "gpt-3.5-turbo"}', "messages"),
    (b'{"model": "gpt-3.5-turbo", "messages": []}', "messages"),
    (b'{"model": "gpt-3.5-turbo", "messages": ["hi"]}', "messages[0]"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": 5}]}', "messages[0].content"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": ["hi"]}]}', "messages[0].content"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user"}], "stream": "yes"}', "stream"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user"}], "max_tokens": -1}', "max_tokens"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user"}], "max_tokens": true}', "max_tokens"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user"}], "metadata": []}', "metadata"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user"}], "tags": "a"}', "tags"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user"}], "tags": [""]}', "tags"),
    (b'{"model": "gpt-3.5-turbo", "messages": [{"role": "user"}], "metadata": {"tags": [1]}}', "metadata.tags"),
])
def test_bad_chat_bodies_are_400_and_leave_no_row(mock_gated, body, param):
    before = len(mock_gated.settled_rows())
    response = httpx.post(mock_gated.url + "/v1/chat/completions", content=body, headers=AUTH)
    assert_envelope(response, 400, "invalid_request_error", "invalid_request", param)
    assert len(mock_gated.wait_rows(before + 1, timeout=0.2)) == before


def test_too_many_tags_and_too_long_tag(mock_gated):
    many = {**CHAT, "tags": [f"t{i}" for i in range(33)]}
    assert_envelope(httpx.post(mock_gated.url + "/chat/completions", json=many, headers=AUTH),
                    400, "invalid_request_error", "invalid_request", "tags")
    long_tag = {**CHAT, "metadata": {"tags": ["x" * 129]}}
    assert_envelope(httpx.post(mock_gated.url + "/chat/completions", json=long_tag, headers=AUTH),
                    400, "invalid_request_error", "invalid_request", "metadata.tags")
    header = httpx.post(mock_gated.url + "/chat/completions", json=CHAT,
                        headers={**AUTH, "x-gated-tags": "ok," + "y" * 200})
    assert_envelope(header, 400, "invalid_request_error", "invalid_request", "x-gated-tags")


@pytest.mark.parametrize("path, body, param", [
    ("/v1/completions", {"model": "gpt-3.5-turbo"}, "prompt"),
    ("/v1/completions", {"model": "gpt-3.5-turbo", "prompt": 7}, "prompt"),
    ("/v1/embeddings", {"model": "embed"}, "input"),
    ("/v1/moderations", {}, "input"),
])
def test_bad_bodies_on_other_routes(mock_gated, path, body, param):
    assert_envelope(httpx.post(mock_gated.url + path, json=body, headers=AUTH),
                    400, "invalid_request_error", "invalid_request", param)


def test_auth_errors(mock_gated):
    url = mock_gated.url + "/v1/chat/completions"
    assert_envelope(httpx.post(url, json=CHAT), 401, "authentication_error", "invalid_api_key")
    wrong = httpx.post(url, json=CHAT, headers={"Authorization": "Bearer sk-wrong"})
    error = assert_envelope(wrong, 401, "authentication_error", "invalid_api_key")
    assert "sk-wrong" not in error["message"]
    assert_envelope(httpx.get(mock_gated.url + "/v1/models"), 401, "authentication_error", "invalid_api_key")


def test_unknown_model_route_and_method(mock_gated):
    before = len(mock_gated.settled_rows())
    unknown_model = httpx.post(mock_gated.url + "/v1/chat/completions", headers=AUTH,
                               json={**CHAT, "model": "gpt-9"})
    assert_envelope(unknown_model, 404, "invalid_request_error", "model_not_found", "model")
    for path in ("/v1/responses", "/v1/images/generations", "/v1/audio/speech", "/v1/files", "/v1/batches",
                 "/nothing/here"):
        assert_envelope(httpx.post(mock_gated.url + path, headers=AUTH, json={}),
                        404, "invalid_request_error", "unsupported_route", "path")
    assert_envelope(httpx.get(mock_gated.url + "/v1/chat/completions", headers=AUTH),
                    405, "invalid_request_error", "method_not_allowed")
    assert_envelope(httpx.delete(mock_gated.url + "/health/liveliness"),
                    405, "invalid_request_error", "method_not_allowed")
    assert len(mock_gated.wait_rows(before + 1, timeout=0.2)) == before, "no spend row for unknown models"


def test_body_too_large(mock_gated):
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 20_000}]}
    assert_envelope(httpx.post(mock_gated.url + "/v1/chat/completions", json=big, headers=AUTH),
                    413, "invalid_request_error", "request_too_large")


def test_upstream_errors(gated, upstream):
    config = upstream_config(upstream.base, {"bad": ["bad400-m"], "down": ["fail500-a", "fail500-b"],
                                             "slow": ["slow-m"], "garbage": ["garbage-m"], "busy": ["rate429-m"]},
                             num_retries=1, timeout=1)
    instance = gated(config)
    url = instance.url + "/v1/chat/completions"

    relayed = httpx.post(url, headers=AUTH, json={**CHAT, "model": "bad"})
    error = assert_envelope(relayed, 400, "invalid_request_error", "context_length_exceeded", "messages")
    assert "sk-abcdefghij" not in error["message"] and "10.1.2.3" not in error["message"]
    assert "bad input" in error["message"] and LEAKY_MESSAGE != error["message"]

    failed = httpx.post(url, headers=AUTH, json={**CHAT, "model": "down"})
    assert_envelope(failed, 502, "upstream_error", "upstream_error")
    assert failed.headers["x-should-retry"] == "false"
    assert "127.0.0.1" not in failed.text and str(upstream.port) not in failed.text

    busy = httpx.post(url, headers=AUTH, json={**CHAT, "model": "busy"})
    assert_envelope(busy, 502, "upstream_error", "upstream_error")

    garbage = httpx.post(url, headers=AUTH, json={**CHAT, "model": "garbage"})
    assert_envelope(garbage, 502, "upstream_error", "upstream_error")

    slow = httpx.post(url, headers=AUTH, json={**CHAT, "model": "slow"}, timeout=10)
    assert_envelope(slow, 504, "upstream_error", "upstream_timeout")
    assert slow.headers["x-should-retry"] == "false"

    rows = instance.wait_rows(5)
    assert [(r["model_group"], r["status"], r["error_code"]) for r in rows] == [
        ("bad", "error", "context_length_exceeded"), ("down", "error", "upstream_error"),
        ("busy", "error", "upstream_error"), ("garbage", "error", "upstream_error"),
        ("slow", "error", "upstream_timeout"),
    ]
    assert all(r["spend"] == 0 for r in rows)
    assert "sk-provider-secret" not in instance.logs()


def test_open_mode_serves_llm_routes_without_a_key(gated):
    config = mock_config()
    del config["general_settings"]["master_key"]
    instance = gated(config)
    assert httpx.post(instance.url + "/v1/chat/completions", json=CHAT).status_code == 200
    assert instance.wait_rows(1)[0]["token_id"] is None


def test_an_unexpected_failure_is_a_500_envelope_and_readiness_says_so(gated):
    """A real fault: the database file is overwritten under a running gated. Every route that needs
    it answers 500 internal_error (logged with its traceback, which never reaches the client), and
    /health/readiness turns 503."""
    instance = gated(mock_config())
    assert httpx.get(instance.url + "/health/readiness").status_code == 200
    httpx.post(instance.url + "/team/new", json={"team_id": "t"}, headers=AUTH).raise_for_status()
    for path in (instance.db, instance.db.with_name(instance.db.name + "-wal")):
        if path.exists():
            path.write_bytes(b"\x00 not a database " * (path.stat().st_size // 17 + 1))
    error = assert_envelope(httpx.get(instance.url + "/team/list", headers=AUTH), 500, "server_error", "internal_error")
    assert "sqlite" not in error["message"].lower()
    assert_envelope(httpx.post(instance.url + "/v1/chat/completions", json=CHAT, headers=AUTH),
                    500, "server_error", "internal_error")
    ready = httpx.get(instance.url + "/health/readiness")
    assert ready.status_code == 503 and ready.json()["db"] == "unreachable"
    assert "Traceback" in instance.logs() and "unhandled error on GET /team/list" in instance.logs()


@pytest.mark.parametrize("path, query, param", [
    ("/key/list", {"limit": "²"}, "limit"), ("/audit", {"cursor": "²"}, "cursor"),
    ("/audit", {"cursor": "9" * 23}, "cursor"), ("/spend/logs", {"cursor": "9" * 23}, "cursor"),
    ("/spend/logs", {"end_date": "9999-12-31"}, "end_date"), ("/audit", {"end_date": "9999-12-31"}, "end_date"),
    ("/spend/tags", {"start_date": "20260101"}, "start_date"), ("/spend/tags", {"end_date": "2026-W01-1"}, "end_date"),
    ("/spend/keys", {"start_date": "2026-02-30"}, "start_date"),
])
def test_odd_query_parameters_are_400_naming_them(mock_gated, path, query, param):
    response = httpx.get(mock_gated.url + path, params=query, headers=AUTH)
    assert_envelope(response, 400, "invalid_request_error", "invalid_request", param)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/team/new"])
def test_a_body_that_is_not_in_its_content_encoding_is_400(mock_gated, path):
    response = httpx.post(mock_gated.url + path, content=b'{"model": "llama3"}',
                          headers={**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    error = assert_envelope(response, 400, "invalid_request_error", "invalid_request")
    assert "gzip" in error["message"]


def test_a_key_quoted_back_in_an_error_is_masked(mock_gated):
    key = httpx.post(mock_gated.url + "/key/generate", json={}, headers=AUTH).json()["key"]
    for response in (httpx.post(mock_gated.url + "/v1/chat/completions", headers=AUTH,
                                json={"model": key, "messages": [{"role": "user", "content": "x"}]}),
                     httpx.post(mock_gated.url + "/key/generate", json={"team_id": key}, headers=AUTH),
                     httpx.get(mock_gated.url + "/" + key, headers=AUTH)):
        assert response.status_code == 404 and key not in response.text and key[3:] not in response.text


DEEP = "[" * 300 + "]" * 300


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions",
     '{"model": "llama3", "messages": [{"role": "user", "content": "x"}], "custom": ' + DEEP + "}"),
    ("/team/new", '{"metadata": {"a": ' + DEEP + "}}"),
])
def test_a_body_nested_too_deep_to_forward_is_400(mock_gated, path, body):
    response = httpx.post(mock_gated.url + path, content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert_envelope(response, 400, "invalid_request_error", "invalid_request")


def test_a_body_with_many_brackets_but_shallow_is_fine(mock_gated):
    wide = {**CHAT, "custom": [[1]] * 400}
    assert httpx.post(mock_gated.url + "/v1/chat/completions", json=wide, headers=AUTH).status_code == 200
