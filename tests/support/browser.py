"""Debian's headless Chromium (never a downloaded browser), driven from the command line: the DOM
after the page's scripts ran, and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--virtual-time-budget=15000"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is missing: `make test` installs Debian's chromium package"
    return found


def run(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="gate-chromium-") as profile:
        return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=90)


def dom(url: str) -> str:
    result = run(url, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(url: str, path: Path, size: str = "1280,900") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    result = run(url, f"--screenshot={path}", f"--window-size={size}")
    assert result.returncode == 0 and path.exists() and path.stat().st_size > 10_000, result.stderr[-2000:]
    return path
