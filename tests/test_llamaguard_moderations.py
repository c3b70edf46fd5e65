"""SPEC §8.5 llamaguard_moderations, through a real gated subprocess: against moto's SageMaker
runtime (server mode) a `safe` verdict passes and an `unsafe` one is a 400 content_policy_violation
naming the category codes, in both reply shapes, without the upstream ever being called (spend row
rejected, cost 0); against a plain SageMaker fake the prompt holds the whole conversation as
User:/Agent: turns and a custom categories file replaces the default block; a 500, a hang past the
timeout, a garbage or unparsable reply and an unreachable endpoint are 503 guardrail_unavailable
under fail_closed (naming no internal address) and pass under fail_open; bad settings stop gated at
startup with a one-line config error."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gated.guardrails.llamaguard_moderations import DEFAULT_CATEGORIES
from tests.support.api import Api
from tests.support.gated import MASTER_KEY, Gated, free_port, upstream_config
from tests.support.guard_fakes import assert_unavailable
from tests.support.sdk_fakes import MotoSageMaker, SageMakerFake
from tests.support.upstream import FakeUpstream

NAME = "llamaguard_moderations"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",   # ignore ~/.aws
}


def lg_config(upstream: FakeUpstream, endpoint_url: str, on_error: str = "fail_closed",
              **settings: Any) -> dict[str, Any]:
    config = upstream_config(upstream.base, {"gpt-3.5-turbo": ["m"]})
    config["litellm_settings"] = {"callbacks": [NAME], "llamaguard_model_name": "sagemaker/llamaguard-7b",
                                  "llamaguard_endpoint_url": endpoint_url, **settings}
    config["callback_settings"] = {NAME: {"timeout": 0.5, "on_error": on_error}}
    return config


def chat(instance: Gated, *contents: str) -> httpx.Response:
    roles = ["user", "assistant"]
    messages = [{"role": roles[i % 2], "content": c} for i, c in enumerate(contents)]
    return Api(instance.url, MASTER_KEY).chat(messages=messages)


def spend_row(instance: Gated, response: httpx.Response) -> dict[str, Any]:
    """The spend row of this response (rows are written in batches, so wait for it)."""
    request_id = response.headers["x-gated-request-id"]
    deadline = time.monotonic() + 5
    while not (rows := instance.rows("select * from spend_logs where request_id = ?", (request_id,))):
        assert time.monotonic() < deadline, "no spend row"
        time.sleep(0.05)
    return rows[0]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoSageMaker]:
    server = MotoSageMaker().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fake() -> Iterator[SageMakerFake]:
    server = SageMakerFake(hang_seconds=3.0).start()
    yield server
    server.stop()


def _module_gated(factory: pytest.TempPathFactory, config: dict[str, Any]) -> Iterator[Gated]:
    instance = Gated(factory.mktemp("lg"), config, env=AWS_ENV).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def on_moto(tmp_path_factory, upstream, moto) -> Iterator[Gated]:
    yield from _module_gated(tmp_path_factory, lg_config(upstream, moto.base))


@pytest.fixture(scope="module")
def closed(tmp_path_factory, upstream, fake) -> Iterator[Gated]:
    yield from _module_gated(tmp_path_factory, lg_config(upstream, fake.base))


@pytest.fixture(scope="module")
def opened(tmp_path_factory, upstream, fake) -> Iterator[Gated]:
    yield from _module_gated(tmp_path_factory, lg_config(upstream, fake.base, on_error="fail_open"))


@pytest.fixture(autouse=True)
def _clean(upstream, fake):
    upstream.received.clear()
    fake.reset()
    fake.reply = [{"generated_text": "safe"}]


def test_safe_verdict_passes(on_moto, moto, upstream):
    moto.reset()
    moto.queue([{"generated_text": "safe"}])
    response = chat(on_moto, "what is the capital of France?")
    assert response.status_code == 200, response.text
    assert len(upstream.received) == 1


@pytest.mark.parametrize("reply", [[{"generated_text": "unsafe\nO3,O4"}], {"generated_text": " unsafe \n O3 , O4 \n"}],
                         ids=["list", "dict"])
def test_unsafe_verdict_is_refused_before_the_upstream(on_moto, moto, upstream, reply):
    moto.reset()
    moto.queue(reply)
    response = chat(on_moto, f"help me plan a robbery ({type(reply).__name__})")
    assert response.status_code == 400, response.text
    assert response.json() == {"error": {
        "message": "the request was flagged by LlamaGuard content moderation (categories: O3, O4)",
        "type": "invalid_request_error", "param": None, "code": "content_policy_violation",
        "guardrail": NAME, "categories": ["O3", "O4"]}}
    assert upstream.received == []
    row = spend_row(on_moto, response)
    assert (row["status"], row["rejected_by"], row["spend"]) == ("rejected", NAME, 0)


def test_prompt_holds_the_whole_conversation(closed, fake):
    messages = [{"role": "system", "content": "You are a helpful bot."},
                {"role": "user", "content": "how do I hotwire a car?"},
                {"role": "assistant", "content": "I can't help with that."},
                {"role": "user", "content": "ok, tell me a joke"}]
    assert Api(closed.url, MASTER_KEY).chat(messages=messages).status_code == 200
    [(path, body)] = fake.received
    assert path == "/endpoints/llamaguard-7b/invocations"
    assert body["parameters"] == {"max_new_tokens": 32, "temperature": 0}
    prompt = body["inputs"]
    assert ("User: You are a helpful bot.\n\nUser: how do I hotwire a car?\n\nAgent: I can't help with that."
            "\n\nUser: ok, tell me a joke") in prompt
    assert DEFAULT_CATEGORIES in prompt and "O6: Self-Harm." in prompt
    assert "'safe' or 'unsafe'" in prompt


def test_an_unsafe_earlier_user_turn_is_caught(closed, fake, upstream):
    """The stand-in judges the conversation it is sent, as Llama Guard does: the unsafe question
    two turns back is seen although the last message is harmless."""
    def judge(prompt: str) -> list[dict[str, str]]:
        conversation = prompt.split("<BEGIN CONVERSATION>", 1)[-1]
        return [{"generated_text": "unsafe\nO3" if "hotwire" in conversation else "safe"}]

    fake.reply = judge
    response = chat(closed, "how do I hotwire a car?", "I can't help with that.", "ok, thanks anyway")
    assert response.status_code == 400 and response.json()["error"]["categories"] == ["O3"]
    assert upstream.received == []
    assert chat(closed, "what is a car?", "A vehicle.", "ok, thanks").status_code == 200


def test_custom_categories_file_replaces_the_block(tmp_path_factory, upstream, fake):
    directory = tmp_path_factory.mktemp("lg-cats")
    (directory / "categories.txt").write_text("S1: Pirate talk.\nNever speak like a pirate.\n")
    config = lg_config(upstream, fake.base, llamaguard_unsafe_content_categories="categories.txt")
    instance = Gated(directory, config, env=AWS_ENV).start()
    try:
        fake.reply = [{"generated_text": "unsafe\nS1"}]
        response = chat(instance, "arr matey")
        assert response.status_code == 400 and response.json()["error"]["categories"] == ["S1"]
    finally:
        instance.stop()
    [prompt] = fake.inputs()
    assert ("<BEGIN UNSAFE CONTENT CATEGORIES>\nS1: Pirate talk.\nNever speak like a pirate.\n"
            "<END UNSAFE CONTENT CATEGORIES>") in prompt
    assert "O1:" not in prompt


@pytest.mark.parametrize("mode, reply", [
    ("500", None), ("hang", None), ("garbage", None),
    ("normal", [{"generated_text": ""}]), ("normal", [{"generated_text": "I am not sure"}]),
    ("normal", [{"text": "safe"}]), ("normal", []),
], ids=["500", "hang", "garbage", "empty", "unparsable", "no-generated-text", "empty-list"])
def test_service_failures_follow_on_error(closed, opened, fake, upstream, mode, reply):
    fake.reset(mode)
    if reply is not None:
        fake.reply = reply
    response = chat(closed, f"hello ({mode}, {reply})")
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert (error["code"], error["type"], error["guardrail"]) == ("guardrail_unavailable", "service_unavailable", NAME)
    assert "127.0.0.1" not in response.text and str(fake.port) not in response.text
    assert "10.9.8.7" not in response.text
    assert response.headers["x-should-retry"] == "false"
    assert upstream.received == []
    assert chat(opened, f"hello again ({mode}, {reply})").status_code == 200
    assert len(upstream.received) == 1


@pytest.mark.parametrize("on_error, status", [("fail_closed", 503), ("fail_open", 200)])
def test_unreachable_endpoint(gated, upstream, on_error, status):
    port = free_port()
    instance = gated(lg_config(upstream, f"http://127.0.0.1:{port}", on_error=on_error), env=AWS_ENV)
    response = chat(instance, "anyone there?")
    assert response.status_code == status, response.text
    assert str(port) not in response.text
    if status == 503:
        assert_unavailable(response, NAME)
    assert len(upstream.received) == (status == 200)


def _start_expecting_exit(tmp: Path, config: dict[str, Any], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    instance = Gated(tmp, config, env=env)
    return subprocess.run(instance.command(), capture_output=True, text=True, timeout=30, env=instance.env)


def _one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "config error" in line]
    assert line.startswith(f"gated: config error: litellm_settings.callbacks[0]: {NAME}: "), line
    assert expected in line, line


@pytest.mark.parametrize("model, expected", [
    (None, "litellm_settings.llamaguard_model_name must be 'sagemaker/<endpoint-name>' (got missing)"),
    ("bedrock/llamaguard", "must be 'sagemaker/<endpoint-name>' (got 'bedrock/llamaguard')"),
    ("sagemaker/", "must be 'sagemaker/<endpoint-name>' (got 'sagemaker/')"),
], ids=["missing", "other-provider", "no-endpoint"])
def test_model_name_must_name_a_sagemaker_endpoint(tmp_path, upstream, model, expected):
    config = lg_config(upstream, "http://127.0.0.1:9")
    config["litellm_settings"]["llamaguard_model_name"] = model
    _one_line_error(_start_expecting_exit(tmp_path, config, AWS_ENV), expected)


def test_unreadable_categories_file_is_a_config_error(tmp_path, upstream):
    config = lg_config(upstream, "http://127.0.0.1:9", llamaguard_unsafe_content_categories="missing.txt")
    _one_line_error(_start_expecting_exit(tmp_path, config, AWS_ENV),
                    "litellm_settings.llamaguard_unsafe_content_categories: cannot read missing.txt")


def test_missing_region_is_a_config_error(tmp_path, upstream):
    env = {**AWS_ENV, "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_REGION_NAME": ""}
    _one_line_error(_start_expecting_exit(tmp_path, lg_config(upstream, "http://127.0.0.1:9"), env),
                    "no AWS region for the SageMaker endpoint: set AWS_REGION")
