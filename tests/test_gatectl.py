"""gatectl's skeleton (SPEC §11) against a real gated: health, models list, --json = the API's JSON,
exit codes 0/1/2/3 with one-line errors and hints, and option precedence."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.support.gated import MASTER_KEY, base_env, free_port


def gatectl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gatectl", *args], capture_output=True, text=True, timeout=30,
                          env={**base_env(), "COLUMNS": "120", **(env or {})})


def test_health(mock_gated):
    result = gatectl("--url", mock_gated.url, "health")
    assert result.returncode == 0, result.stderr
    assert "healthy" in result.stdout and "connected" in result.stdout
    as_json = json.loads(gatectl("--url", mock_gated.url, "--json", "health").stdout)
    assert as_json["readiness"] == httpx.get(mock_gated.url + "/health/readiness").json()


def test_models_list_table_and_json(mock_gated):
    table = gatectl("--url", mock_gated.url, "--key", MASTER_KEY, "models", "list")
    assert table.returncode == 0 and "gpt-3.5-turbo" in table.stdout and "llama3" in table.stdout
    raw = gatectl("--url", mock_gated.url, "--key", MASTER_KEY, "--json", "models", "list")
    api = httpx.get(mock_gated.url + "/v1/models", headers={"Authorization": f"Bearer {MASTER_KEY}"}).json()
    assert json.loads(raw.stdout) == api


def test_key_from_environment(mock_gated):
    result = gatectl("--json", "models", "list", env={"GATED_URL": mock_gated.url, "GATED_MASTER_KEY": MASTER_KEY})
    assert result.returncode == 0 and json.loads(result.stdout)["object"] == "list"


def test_flag_beats_environment_and_profile(mock_gated, tmp_path):
    profile = tmp_path / "gatectl" / "config.toml"
    profile.parent.mkdir()
    profile.write_text(f'url = "{mock_gated.url}"\nkey = "{MASTER_KEY}"\n')
    from_profile = gatectl("--json", "models", "list", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert from_profile.returncode == 0
    env_wins = gatectl("models", "list", env={"XDG_CONFIG_HOME": str(tmp_path), "GATED_MASTER_KEY": "sk-nope"})
    assert env_wins.returncode == 1
    flag_wins = gatectl("--key", MASTER_KEY, "models", "list",
                        env={"XDG_CONFIG_HOME": str(tmp_path), "GATED_MASTER_KEY": "sk-nope"})
    assert flag_wins.returncode == 0


def test_environment_url_beats_the_profile_and_a_bad_profile_is_a_usage_error(mock_gated, tmp_path):
    profile = tmp_path / "gatectl" / "config.toml"
    profile.parent.mkdir()
    profile.write_text(f'url = "http://127.0.0.1:{free_port()}"\nkey = "{MASTER_KEY}"\ntimeout = 5\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert gatectl("models", "list", env=env).returncode == 3, "the profile's (dead) URL is used"
    assert gatectl("models", "list", env={**env, "GATED_URL": mock_gated.url}).returncode == 0
    for text, problem in (('url = "unclosed\n', "cannot read"), ('timeout = "soon"\n', "timeout in"),
                          ("timeout = 0\n", "timeout in")):
        profile.write_text(text)
        result = gatectl("--url", mock_gated.url, "health", env=env)
        assert result.returncode == 2 and problem in result.stderr, result.stderr
        assert "fix or remove the profile file" in result.stderr and "Traceback" not in result.stderr


def test_refused_is_exit_1_with_hint(mock_gated):
    result = gatectl("--url", mock_gated.url, "--key", "sk-wrong", "models", "list")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "gatectl: error: invalid API key (hint: check --key / GATED_MASTER_KEY)"]
    assert "sk-wrong" not in result.stderr


def test_daemon_down_is_exit_3():
    result = gatectl("--url", f"http://127.0.0.1:{free_port()}", "health")
    assert result.returncode == 3
    assert "cannot reach gated" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_url_that_is_not_http_is_a_usage_error():
    for url in ("not-a-url", "ftp://127.0.0.1:4000", "http://"):
        result = gatectl("--url", url, "health")
        assert result.returncode == 2, url
        assert result.stderr.strip().splitlines() == [
            f"gatectl: error: {url!r} is not an http(s) URL of gated "
            "(hint: pass --url http://HOST:PORT or set GATED_URL)"]


def test_usage_errors_are_exit_2():
    assert gatectl("no-such-command").returncode == 2
    assert gatectl("--timeout", "soon", "health").returncode == 2
    assert gatectl("models", "list", "--bogus").returncode == 2
