"""Logging setup: text or one-JSON-object-per-line, secrets masked on every record."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import time
from typing import Any

import orjson
from aiohttp.http_exceptions import HttpProcessingError

from gated.redact import SecretFilter, mask_keys

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_FLUSH_SECONDS = 0.05
ACCESS_FLUSH_LINES = 256


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class MalformedHttpFilter(logging.Filter):
    """aiohttp logs a client's malformed HTTP (a NUL in a header, say) as an ERROR with a traceback;
    it is the client's fault, so keep one informative line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg, record.args = "refused a malformed HTTP request: %s", (str(error.message).strip()[:200],)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def ms(seconds: float) -> float:
    """A duration (seconds >= 0) as logs and spend rows give it: milliseconds to the microsecond,
    half a microsecond rounded up. round(seconds * 1000, 3) gives the same figure but at exact
    halves, at several times the cost: with digits it formats and parses a decimal string, and a
    request takes several (SPEC §12)."""
    return int(seconds * 1_000_000 + 0.5) / 1000


@functools.lru_cache(maxsize=4)
def _local_second(seconds: int, pattern: str) -> str:
    """A second in local time, as logging's formatters write it; each formatted once."""
    return time.strftime(pattern, time.localtime(seconds))


class AccessLog:
    """The access line of every request, written straight to the log handler's stream: through
    `logging` a line costs about 20 µs, a fifth of a request's budget (SPEC §12). The line is
    what that handler would write (TEXT_FORMAT or JsonFormatter's fields), its message masked
    like SecretFilter masks; without a handler (no setup_logging()), lines go through `logging`.
    Lines are written together every ACCESS_FLUSH_SECONDS, before any other record (so the log
    keeps its order) and when gated stops: a kill -9 loses at most that interval."""

    def __init__(self, handler: logging.StreamHandler[Any] | None = None, json_lines: bool = False,
                 secrets: frozenset[str] = frozenset()) -> None:
        self.logger = logging.getLogger("gated.access")
        self._handler, self._json, self._secrets = handler, json_lines, secrets
        self._pending: list[str] = []

    def __call__(self, message: str, fields: dict[str, Any]) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        handler = self._handler
        if handler is None:
            self.logger.info("%s", message, extra={"fields": fields})
            return
        message = mask_keys(message, self._secrets)
        now = time.time()
        second = int(now)
        if self._json:
            line = orjson.dumps({"time": _local_second(second, "%Y-%m-%dT%H:%M:%S"), "level": "info",
                                 "logger": self.logger.name, "message": message, **fields}, default=str).decode()
        else:
            line = (f"{_local_second(second, '%Y-%m-%d %H:%M:%S')},{int((now - second) * 1000):03d} INFO "
                    f"{self.logger.name}: {message}")
        with handler.lock:  # type: ignore[union-attr]   # flush() may run on the store's thread
            self._pending.append(line + "\n")
            queued = len(self._pending)
        if queued >= ACCESS_FLUSH_LINES:
            self.flush()
        elif queued == 1:
            try:
                asyncio.get_running_loop().call_later(ACCESS_FLUSH_SECONDS, self.flush)
            except RuntimeError:   # no event loop (not on the serving thread): at once
                self.flush()

    def flush(self) -> None:
        handler = self._handler
        if handler is None or not self._pending:
            return
        with handler.lock:  # type: ignore[union-attr]
            lines, self._pending = self._pending, []
            handler.stream.write("".join(lines))
            handler.stream.flush()

    def before_record(self, record: logging.LogRecord) -> bool:
        """A handler filter: the access lines queued so far go out before this record."""
        self.flush()
        return True


def setup_logging(level: str, fmt: str, secrets: frozenset[str]) -> AccessLog:
    """Configure the root logger; returns the access log that writes to the same handler."""
    # no format here shows the caller, thread or process: skip collecting them on every record
    # (the logging HOWTO's "Optimization"; the caller's frame walk is most of a record's cost)
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(SecretFilter(secrets))
    access_log = AccessLog(handler, fmt == "json", secrets)
    handler.addFilter(access_log.before_record)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.server").addFilter(MalformedHttpFilter())
    return access_log
