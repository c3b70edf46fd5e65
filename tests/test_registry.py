"""Every registered guardrail is documented in the README (its own section with its config) and
has its own test file, and every config name in SPEC's list that exists is registered once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gated.guardrails import registry

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("name", registry.known_names())
def test_guardrail_is_documented_and_tested(name):
    readme = (ROOT / "README.md").read_text()
    assert f"### `{name}`" in readme, f"README.md needs a section for {name}"
    section = readme.split(f"### `{name}`", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    assert f'callbacks: ["{name}"]' in section, f"the README section of {name} shows its config"
    assert (ROOT / "tests" / f"test_{name}.py").exists(), f"tests/test_{name}.py is missing"


def test_registry_knows_the_built_ins():
    assert {"blocked_user_check", "banned_keywords"} <= set(registry.known_names())
    for name in registry.known_names():
        assert registry.get(name).name == name
