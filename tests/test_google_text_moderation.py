"""SPEC §8.6 google_text_moderation, through a real gated subprocess against a fake of Google NL's
REST `documents:moderateText`: every text of the request goes out as one document joined by blank
lines; a category whose confidence is above its threshold is a 400 content_policy_violation naming
the normalised categories, without the upstream ever being called (spend row rejected, cost 0);
threshold 0 blocks any non-zero confidence; a per-category override (both spellings) beats the
global threshold; a 500, a hang past the timeout, a garbage reply and an unreachable endpoint are
503 guardrail_unavailable under fail_closed (naming no internal address) and pass under fail_open;
calls are signed with the service account named by GOOGLE_APPLICATION_CREDENTIALS; an out-of-range
threshold or missing credentials stop gated with a one-line config error."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gated.guardrails.google_text_moderation import normalise
from tests.support.api import Api
from tests.support.gated import MASTER_KEY, Gated, free_port, run_gated, upstream_config
from tests.support.guard_fakes import assert_unavailable
from tests.support.sdk_fakes import GOOGLE_CATEGORIES, GoogleNLFake
from tests.support.upstream import FakeUpstream

NAME = "google_text_moderation"
GOOGLE_ENV = {"NO_GCE_CHECK": "true", "GOOGLE_APPLICATION_CREDENTIALS": ""}


def google_config(upstream: FakeUpstream, endpoint: str, on_error: str = "fail_closed",
                  **settings: Any) -> dict[str, Any]:
    config = upstream_config(upstream.base, {"gpt-3.5-turbo": ["m"]})
    config["litellm_settings"] = {"callbacks": [NAME], "google_moderation_api_endpoint": endpoint,
                                  "google_moderation_anonymous_credentials": True, **settings}
    config["callback_settings"] = {NAME: {"timeout": 0.5, "on_error": on_error}}
    return config


def chat(instance: Gated, text: str) -> httpx.Response:
    return Api(instance.url, MASTER_KEY).chat(messages=[{"role": "user", "content": text}])


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
def fake() -> Iterator[GoogleNLFake]:
    server = GoogleNLFake(hang_seconds=3.0).start()
    yield server
    server.stop()


def _module_gated(factory: pytest.TempPathFactory, config: dict[str, Any]) -> Iterator[Gated]:
    instance = Gated(factory.mktemp("google"), config, env=GOOGLE_ENV).start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def closed(tmp_path_factory, upstream, fake) -> Iterator[Gated]:
    """Global threshold 0.5; toxic overridden up to 0.9, violent down to 0.1 (the two spellings)."""
    yield from _module_gated(tmp_path_factory, google_config(
        upstream, fake.base, google_moderation_confidence_threshold=0.5,
        toxic_confidence_threshold=0.9, violent_threshold=0.1))


@pytest.fixture(scope="module")
def opened(tmp_path_factory, upstream, fake) -> Iterator[Gated]:
    yield from _module_gated(tmp_path_factory, google_config(upstream, fake.base, on_error="fail_open"))


@pytest.fixture(scope="module")
def zero(tmp_path_factory, upstream, fake) -> Iterator[Gated]:
    yield from _module_gated(tmp_path_factory, google_config(
        upstream, f"{fake.base}/", google_moderation_confidence_threshold=0))


@pytest.fixture(autouse=True)
def _clean(upstream, fake):
    upstream.received.clear()
    fake.reset()
    fake.scores = {}


@pytest.mark.parametrize("name, normalised", [
    ("Death, Harm & Tragedy", "death_harm_and_tragedy"), ("Firearms & Weapons", "firearms_and_weapons"),
    ("Religion & Belief", "religion_and_belief"), ("War & Conflict", "war_and_conflict"),
    ("Illicit Drugs", "illicit_drugs"), ("Public Safety", "public_safety"), ("Toxic", "toxic"),
])
def test_category_names_are_normalised(name, normalised):
    assert normalise(name) == normalised


def test_every_category_name_normalises_to_a_configurable_one():
    from gated.config import GOOGLE_CATEGORIES as CONFIGURABLE
    assert sorted(normalise(n) for n in GOOGLE_CATEGORIES) == sorted(CONFIGURABLE)


def test_clean_request_passes_with_all_texts_in_one_document(closed, fake, upstream):
    fake.scores = {"Toxic": 0.4, "Insult": 0.5, "Politics": 0.2}   # none above its threshold
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "first part"},
                                             {"type": "text", "text": "second part"}]},
                {"role": "assistant", "content": "noted"}, {"role": "user", "content": "go on"}]
    response = Api(closed.url, MASTER_KEY).chat(messages=messages)
    assert response.status_code == 200, response.text
    assert fake.documents() == ["Be brief.\n\nfirst part\n\nsecond part\n\nnoted\n\ngo on"]
    path, body = fake.received[0]
    assert path == "/v2/documents:moderateText" and body["document"]["type"] in (1, "PLAIN_TEXT")
    assert len(upstream.received) == 1


def test_flagged_request_is_refused_before_the_upstream(closed, fake, upstream):
    fake.scores = {"Insult": 0.75, "Death, Harm & Tragedy": 0.6, "Toxic": 0.3}
    response = chat(closed, "you are worthless")
    assert response.status_code == 400, response.text
    assert response.json() == {"error": {
        "message": "the request was flagged by Google content moderation (categories: insult, death_harm_and_tragedy)",
        "type": "invalid_request_error", "param": None, "code": "content_policy_violation",
        "guardrail": NAME, "categories": ["insult", "death_harm_and_tragedy"]}}
    assert upstream.received == []
    row = spend_row(closed, response)
    assert (row["status"], row["rejected_by"], row["spend"]) == ("rejected", NAME, 0)


@pytest.mark.parametrize("scores, status, categories", [
    ({"Toxic": 0.85}, 200, None),                  # toxic_confidence_threshold 0.9 beats the global 0.5
    ({"Toxic": 0.95}, 400, ["toxic"]),
    ({"Violent": 0.2}, 400, ["violent"]),          # violent_threshold 0.1 beats the global 0.5
    ({"Violent": 0.1}, 200, None),                 # equal to the threshold is not above it
    ({"Sexual": 0.5}, 200, None), ({"Sexual": 0.51}, 400, ["sexual"]),
])
def test_per_category_overrides_beat_the_global_threshold(closed, fake, scores, status, categories):
    fake.scores = scores
    response = chat(closed, f"some text {scores}")
    assert response.status_code == status, response.text
    if categories is not None:
        assert response.json()["error"]["categories"] == categories


def test_threshold_zero_blocks_any_non_zero_confidence(zero, fake):
    assert chat(zero, "perfectly clean").status_code == 200
    fake.scores = {"Finance": 0.001}
    response = chat(zero, "a little money talk")
    assert response.status_code == 400 and response.json()["error"]["categories"] == ["finance"]


@pytest.mark.parametrize("mode", ["500", "hang", "garbage"])
def test_service_failures_follow_on_error(closed, opened, fake, upstream, mode):
    fake.reset(mode)
    response = chat(closed, f"hello {mode}")
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert (error["code"], error["type"], error["guardrail"]) == ("guardrail_unavailable", "service_unavailable", NAME)
    assert "127.0.0.1" not in response.text and str(fake.port) not in response.text
    assert "10.9.8.7" not in response.text
    assert response.headers["x-should-retry"] == "false"
    assert upstream.received == []
    assert chat(opened, f"hello again {mode}").status_code == 200
    assert len(upstream.received) == 1


@pytest.mark.parametrize("on_error, status", [("fail_closed", 503), ("fail_open", 200)])
def test_unreachable_endpoint(gated, upstream, on_error, status):
    port = free_port()
    instance = gated(google_config(upstream, f"http://127.0.0.1:{port}", on_error=on_error), env=GOOGLE_ENV)
    response = chat(instance, "anyone there?")
    assert response.status_code == status, response.text
    assert str(port) not in response.text
    if status == 503:
        assert_unavailable(response, NAME)
    assert len(upstream.received) == (status == 200)


@pytest.mark.parametrize("key, value, path", [
    ("google_moderation_confidence_threshold", 1.5, "litellm_settings.google_moderation_confidence_threshold"),
    ("google_moderation_confidence_threshold", -0.1, "litellm_settings.google_moderation_confidence_threshold"),
    ("toxic_confidence_threshold", 2, "litellm_settings.google_category_thresholds.toxic"),
    ("violent_threshold", -1, "litellm_settings.google_category_thresholds.violent"),
])
def test_out_of_range_threshold_is_a_config_error(tmp_path, upstream, key, value, path):
    result = run_gated(tmp_path, google_config(upstream, "http://127.0.0.1:9", **{key: value}))
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"gated: config error: {path}: "), line


def test_missing_credentials_is_a_config_error(tmp_path, upstream):
    config = google_config(upstream, "http://127.0.0.1:9", google_moderation_anonymous_credentials=False)
    instance = Gated(tmp_path, config, env={**GOOGLE_ENV, "CLOUDSDK_CONFIG": str(tmp_path / "gcloud")})
    result = subprocess.run(instance.command(), capture_output=True, text=True, timeout=30, env=instance.env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "config error" in line]
    assert line == (f"gated: config error: litellm_settings.callbacks[0]: {NAME}: no Google credentials found: "
                    "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file"), line


def test_credentials_come_from_google_application_credentials(gated, tmp_path, upstream, fake):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps({
        "type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
        "client_email": "gate@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": f"{fake.base}/token"}))
    config = google_config(upstream, fake.base, google_moderation_anonymous_credentials=False)
    instance = gated(config, env={**GOOGLE_ENV, "GOOGLE_APPLICATION_CREDENTIALS": str(key_file)})
    assert chat(instance, "hello with credentials").status_code == 200
    assert chat(instance, "and again").status_code == 200
    assert fake.documents() == ["hello with credentials", "and again"]
    # A service account signs its own JWT (no token exchange), with the key from the file.
    assert all(a is not None and a.startswith("Bearer ") for a in fake.authorizations)
    payload = fake.authorizations[0].removeprefix("Bearer ").split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "gate@p.iam.gserviceaccount.com"
