"""Running the real `gated` as a subprocess on a free port, with a config written from a dict."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

MASTER_KEY = "sk-test-master-0123456789abcdefghijkl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATED_")}
    env.update(AWS_EC2_METADATA_DISABLED="true", NO_GCE_CHECK="true")
    return env


class Gated:
    def __init__(self, tmp: Path, config: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> None:
        self.dir = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.config_path = tmp / "gated.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.db = tmp / "gated.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "gated.log"
        self.args = args
        self.env = {**base_env(), **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gated", "--config", str(self.config_path), "--port", str(self.port),
                "--db", str(self.db), *self.args]

    def start(self, timeout: float = 15) -> Gated:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gated exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + "/health/readiness", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"gated did not become ready:\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rows(self, sql: str = "select * from spend_logs order by id",
             params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        conn = sqlite3.connect(self.db)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, params)]
        finally:
            conn.close()

    def settled_rows(self) -> list[dict[str, Any]]:
        """The rows once the spend writer has written what earlier requests queued (two reads a
        couple of flush intervals apart agree)."""
        rows = self.rows()
        while True:
            time.sleep(0.12)
            again = self.rows()
            if len(again) == len(rows):
                return again
            rows = again

    def wait_rows(self, count: int, timeout: float = 5) -> list[dict[str, Any]]:
        """Spend rows are written in batches; wait until `count` are there."""
        deadline = time.monotonic() + timeout
        rows = self.rows()
        while len(rows) < count and time.monotonic() < deadline:
            time.sleep(0.05)
            rows = self.rows()
        return rows


def run_gated(tmp: Path, config: dict[str, Any], *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """Run gated expecting it to exit (config errors etc.)."""
    path = tmp / "gated.yaml"
    path.write_text(yaml.safe_dump(config) if isinstance(config, dict) else config)
    return subprocess.run([sys.executable, "-m", "gated", "--config", str(path), "--port", str(free_port()),
                           "--db", str(tmp / "gated.db"), *args],
                          capture_output=True, text=True, timeout=timeout, env=base_env())


def mock_config(**general: Any) -> dict[str, Any]:
    return {
        "model_list": [
            {"model_name": "gpt-3.5-turbo", "litellm_params": {"model": "mock/gpt-3.5-turbo"}},
            {"model_name": "llama3", "litellm_params": {"model": "mock/llama3"}},
            {"model_name": "embed", "litellm_params": {"model": "mock/embed"}, "model_info": {"mode": "embedding"}},
            {"model_name": "mod", "litellm_params": {"model": "mock/mod", "input_cost_per_token": 0,
                                                      "output_cost_per_token": 0},
             "model_info": {"mode": "moderation"}},
        ],
        "general_settings": {"master_key": MASTER_KEY, **general},
    }


def upstream_config(base: str, groups: dict[str, list[str]], **router: Any) -> dict[str, Any]:
    """Model groups backed by the fake upstream: {group: [upstream model, ...]}."""
    model_list = [
        {"model_name": group, "litellm_params": {"model": f"openai/{m}", "api_base": base,
                                                 "api_key": "sk-provider-secret-abcdefghijklmnop0123",
                                                 "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}}
        for group, models in groups.items() for m in models
    ]
    return {"model_list": model_list, "router_settings": {"num_retries": 2, **router},
            "general_settings": {"master_key": MASTER_KEY}}
