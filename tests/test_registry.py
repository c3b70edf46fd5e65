"""Every registered guardrail is documented in the README (its own section with its config) and
has its own test file, and the registry holds exactly SPEC §8's seven guardrails, each under its name."""

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


def test_registry_knows_every_guardrail_of_the_spec():
    assert set(registry.known_names()) == {
        "blocked_user_check", "banned_keywords", "llmguard_moderations", "llamaguard_moderations",
        "google_text_moderation", "openai_moderations", "lakera_prompt_injection"}
    for name in registry.known_names():
        assert registry.get(name).name == name
