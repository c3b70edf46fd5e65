"""A property-based run of schemathesis against /openapi.json on a running gated with the master
key: thousands of generated requests, no 5xx and no response that violates its documented schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.gated import MASTER_KEY, mock_config

ST = Path(sys.executable).parent / "st"


def test_no_server_errors_and_responses_match_the_schema(gated):
    instance = gated(mock_config(enable_public_model_hub=True))
    result = subprocess.run(
        [str(ST), "run", instance.url + "/openapi.json", "--checks", "not_a_server_error,response_schema_conformance",
         "--header", f"Authorization: Bearer {MASTER_KEY}", "--max-examples", "10", "--seed", "1",
         "--request-timeout", "10", "--no-color"],
        capture_output=True, text=True, timeout=420)
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert " passed" in summary and "failed" not in summary.split("Test cases:")[-1]
    assert "Traceback" not in instance.logs()
