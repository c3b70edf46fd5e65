"""Reading a guardrail list from config: a YAML list, or a `.txt` path relative to the config file
(UTF-8, one entry a line; trimmed; blank lines and `#` comments skipped; CRLF and a byte-order
mark tolerated)."""

from __future__ import annotations

from pathlib import Path


def read_list(value: list[str] | str, base_dir: Path) -> list[str]:
    if isinstance(value, list):
        return [v.strip() for v in value if v.strip()]
    path = Path(value)
    path = path if path.is_absolute() else base_dir / path
    try:
        text = path.read_text(encoding="utf-8-sig")   # a byte-order mark (Windows editors) is not an entry
    except OSError as exc:
        raise ValueError(f"cannot read {value}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{value} is not UTF-8 text (byte {exc.start})") from None
    entries = (line.strip() for line in text.splitlines())
    return [entry for entry in entries if entry and not entry.startswith("#")]
