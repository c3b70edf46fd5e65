"""Removing secrets and internal addresses from text that leaves the process (errors, logs)."""

from __future__ import annotations

import logging
import re

# A virtual or provider key: "sk-" then 20+ key characters; also bearer tokens in echoed headers.
_KEY = re.compile(r"\bsk-[A-Za-z0-9_\-]{20,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+")
_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b")
_HOST_PORT = re.compile(r"\b[a-zA-Z0-9\-]+(?:\.[a-zA-Z0-9\-]+)*:\d{2,5}\b")


def scrub(text: str, secrets: frozenset[str] = frozenset()) -> str:
    """Mask key-like strings, known secrets, URLs and host:port pairs."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _KEY.sub("[redacted]", text)
    text = _URL.sub("[address]", text)
    text = _IPV4.sub("[address]", text)
    return _HOST_PORT.sub("[address]", text)


def mask_keys(text: str, secrets: frozenset[str] = frozenset()) -> str:
    """Mask only secrets (used for log lines, where paths and addresses are useful)."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, "[redacted]")
    if "sk-" in text or "bearer" in text.lower():   # what _KEY can match starts with one of these
        text = _KEY.sub("[redacted]", text)
    return text


class SecretFilter(logging.Filter):
    """Rewrites every log record so no configured secret or key-like string reaches a handler."""

    def __init__(self, secrets: frozenset[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_keys(message, self.secrets)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True
