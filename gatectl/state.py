"""Global options resolved once: flag > environment (typer reads GATED_URL / GATED_MASTER_KEY) >
profile file > default (SPEC §11)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from gatectl.client import Client

DEFAULT_URL = "http://127.0.0.1:4000"
DEFAULT_TIMEOUT = 30.0


def profile_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gatectl" / "config.toml"


def _profile() -> dict[str, object]:
    path = profile_path()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None


class InvalidUrl(ValueError):
    pass


def _checked_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidUrl(f"{url!r} is not an http(s) URL of gated")
    return url


@dataclass
class State:
    url: str
    key: str | None
    timeout: float
    json: bool

    @classmethod
    def resolve(cls, url: str | None, key: str | None, timeout: float | None, as_json: bool) -> State:
        profile = _profile()
        return cls(
            url=_checked_url(url or str(profile.get("url") or DEFAULT_URL)),
            key=key or _str_or_none(profile.get("key")),
            timeout=timeout or _profile_timeout(profile),
            json=as_json,
        )

    def client(self) -> Client:
        return Client(self.url, self.key, self.timeout)


def _profile_timeout(profile: dict[str, object]) -> float:
    value = profile.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"timeout in {profile_path()} must be a number of seconds above 0, not {value!r}")
    return float(value)


def _str_or_none(value: object) -> str | None:
    return str(value) if value else None
