"""Shared fixtures: a fake upstream server and a factory for real `gated` subprocesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.gated import Gated, mock_config
from tests.support.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream(slow_seconds=3.0).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mock_gated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gated]:
    """One gated on the mock provider shared by a module's read-mostly tests (10 kB body limit)."""
    instance = Gated(tmp_path_factory.mktemp("mock"), mock_config(max_request_size_mb=0.01)).start()
    yield instance
    instance.stop()


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[Callable[..., Gated]]:
    started: list[Gated] = []

    def start(config: dict[str, Any], *args: str, env: dict[str, str] | None = None) -> Gated:
        instance = Gated(tmp_path / f"g{len(started)}", config, *args, env=env)
        started.append(instance)
        return instance.start()

    yield start
    for instance in started:
        instance.stop()
