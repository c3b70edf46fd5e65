"""The daemon's process-level behaviour: --version, JSON request logs, no secret or query string in
any log line, --workers N sharing one port, and a clean exit on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx

from gated import __version__
from tests.support.gated import MASTER_KEY, upstream_config


def test_version():
    result = subprocess.run([sys.executable, "-m", "gated", "--version"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0 and result.stdout.strip() == f"gated {__version__}"


def test_json_logs_without_secrets_or_query_strings(gated, upstream):
    instance = gated(upstream_config(upstream.base, {"bad": ["bad400-m"], "ok": ["ok-m"]}),
                     "--log-format", "json", "--log-level", "debug")
    headers = {"Authorization": f"Bearer {MASTER_KEY}", "x-request-id": "log-test-1"}
    httpx.post(instance.url + "/v1/chat/completions?secret=querystring-value", headers=headers,
               json={"model": "ok", "messages": [{"role": "user", "content": "hi"}]})
    httpx.post(instance.url + "/v1/chat/completions", headers=headers,
               json={"model": "bad", "messages": [{"role": "user", "content": "hi"}]})
    guessed = {"Authorization": "Bearer sk-guess-abcdefghijklmnopqrstuvwxyz"}
    httpx.post(instance.url + "/v1/chat/completions", headers=guessed,
               json={"model": "ok", "messages": []})
    instance.stop()
    text = instance.logs()
    lines = [json.loads(line) for line in text.splitlines()]
    access = [line for line in lines if line["logger"] == "gated.access"]
    first = next(line for line in access if line.get("request_id") == "log-test-1")
    assert first["path"] == "/v1/chat/completions" and first["status"] == 200 and first["model"] == "ok"
    assert first["latency_ms"] >= 0 and first["cost"] > 0 and first["overhead_ms"] >= 0
    assert "token_id" in first and first["token_id"] is None, "the master key has no token_id"
    for secret in (MASTER_KEY, "sk-provider-secret-abcdefghijklmnop0123", "querystring-value",
                   "sk-guess-abcdefghijklmnopqrstuvwxyz", "sk-abcdefghijklmnopqrstuvwxyz123456"):
        assert secret not in text


def test_text_access_log_has_one_line_per_request_in_order_and_masked(gated, upstream):
    """Access lines are written in batches (bench/PROFILE.md); none may be lost, reordered or
    left unmasked, and a warning logged by a later request comes after the earlier lines."""
    instance = gated(upstream_config(upstream.base, {"ok": ["ok-m"], "bad": ["fail500-m"]}, num_retries=0))
    leaked = "sk-path-abcdefghijklmnopqrstuvwxyz"

    def call(request_id: str, path: str = "/v1/chat/completions", model: str = "ok") -> None:
        httpx.post(instance.url + path, headers={"Authorization": f"Bearer {MASTER_KEY}", "x-request-id": request_id},
                   json={"model": model, "messages": [{"role": "user", "content": "hi"}]})

    for n in range(6):
        call(f"order-{n}", path=f"/v1/{leaked}" if n == 3 else "/v1/chat/completions")
        if n == 1:
            call("order-bad", model="bad")    # the router logs a warning for the failed upstream
    assert instance.stop(signal.SIGTERM) == 0
    lines = instance.logs().splitlines()
    ids = [line.rsplit("id=", 1)[1] for line in lines if " INFO gated.access: " in line and "id=order-" in line]
    assert ids == ["order-0", "order-1", "order-bad", "order-2", "order-3", "order-4", "order-5"]
    warning = next(i for i, line in enumerate(lines) if "WARNING" in line and "fail500-m failed" in line)
    assert any("id=order-1" in line for line in lines[:warning]), "earlier access lines go out first"
    assert not any("id=order-bad" in line for line in lines[:warning]), "the warning came first"
    assert " 404 " in next(line for line in lines if "id=order-3" in line)
    assert leaked not in "\n".join(lines) and "[redacted]" in "\n".join(lines)


def test_workers_share_one_port_and_stop_cleanly(gated, upstream):
    instance = gated(upstream_config(upstream.base, {"ok": ["ok-m"]}), "--workers", "2")
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    for _ in range(20):
        with httpx.Client() as client:  # new connection each time, so the kernel spreads them
            response = client.post(instance.url + "/v1/chat/completions", headers=headers,
                                   json={"model": "ok", "messages": [{"role": "user", "content": "hi"}]})
            assert response.status_code == 200
    assert instance.stop(signal.SIGTERM) == 0
    assert len(instance.rows()) == 20
    assert len(set(line.split("(pid ")[1] for line in instance.logs().splitlines() if "ready on" in line)) == 2
