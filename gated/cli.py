"""`gated`: parse flags, load and check the config, migrate the database, serve (optionally as N
worker processes sharing one port through SO_REUSEPORT)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from gated import __version__
from gated.config import WELL_KNOWN_MASTER_KEY, CallbackSettings, Config, ConfigError, load_config
from gated.logs import AccessLog, setup_logging

log = logging.getLogger("gated")
MASTER_KEY_ENV = "GATED_MASTER_KEY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gated", description="gate's LLM gateway daemon")
    parser.add_argument("--config", required=True, help="path to the YAML config")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--db", help="SQLite path (default: general_settings.database_path, "
                        "else gated.db beside the config)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the port")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    parser.add_argument("--insecure-open", action="store_true",
                        help="allow serving a non-loopback host without a master key")
    parser.add_argument("--version", action="version", version=f"gated {__version__}")
    return parser


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def with_env_master_key(config: Config) -> Config:
    """Config file wins; the environment variable is the fallback (SPEC §2 precedence)."""
    if config.general_settings.master_key or not os.environ.get(MASTER_KEY_ENV):
        return config
    general = config.general_settings.model_copy(update={"master_key": os.environ[MASTER_KEY_ENV]})
    return config.model_copy(update={"general_settings": general})


def startup_problems(config: Config, host: str, insecure_open: bool, workers: int) -> list[str]:
    problems = []
    master_key = config.general_settings.master_key
    if not master_key and not is_loopback(host) and not insecure_open:
        problems.append(f"--host {host}: no master key is set and the host is not loopback; set "
                        f"general_settings.master_key (or {MASTER_KEY_ENV}), or pass --insecure-open")
    if master_key == WELL_KNOWN_MASTER_KEY and not is_loopback(host):
        problems.append(f"general_settings.master_key: the well-known example key is refused on --host {host}")
    if workers < 1:
        problems.append("--workers: must be at least 1")
    return problems


def guardrail_problems(config: Config) -> list[str]:
    """Each configured guardrail checks its own settings (env keys, base URLs, files) here, so a
    problem is a one-line config error rather than a traceback at app start. from_config does no
    network I/O, so building them twice is cheap; the app builds the real ones with real deps."""
    from gated.guardrails import registry
    from gated.guardrails.base import GuardrailDeps
    from gated.guardrails.keywords import KeywordMatcher

    deps = GuardrailDeps(base_dir=config.base_dir, is_blocked=lambda _: False, keywords=lambda: KeywordMatcher(()))
    problems = []
    for index, name in enumerate(config.litellm_settings.callbacks):
        callback = config.callback_settings.get(name, CallbackSettings())
        try:
            registry.get(name).from_config(config.litellm_settings, callback, deps)
        except ValueError as exc:
            problems.append(f"litellm_settings.callbacks[{index}]: {name}: {exc}")
    return problems


def database_path(args: argparse.Namespace, config: Config) -> Path:
    if args.db:
        return Path(args.db)
    if config.general_settings.database_path:
        return config.base_dir / config.general_settings.database_path
    return config.base_dir / "gated.db"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config, warnings = load_config(args.config)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"gated: config error: {problem}", file=sys.stderr)
        return 2
    config = with_env_master_key(config)
    access_log = setup_logging(args.log_level, args.log_format, config.secrets())
    problems = startup_problems(config, args.host, args.insecure_open, args.workers) + guardrail_problems(config)
    if problems:
        for problem in problems:
            print(f"gated: config error: {problem}", file=sys.stderr)
        return 2
    for warning in warnings:
        log.warning("config: %s", warning)
    if not config.general_settings.master_key:
        log.warning("no master key: LLM routes are open and admin routes are refused")
    db_path = database_path(args, config)
    if not prepare_database(db_path, config):
        return 1
    if args.workers == 1:
        serve(config, db_path, args.host, args.port, access_log, reuse_port=False)
        return 0
    return run_workers(config, db_path, args, access_log)


def prepare_database(db_path: Path, config: Config) -> bool:
    """Migrate the schema and merge the config's lists, in a child process: the migrations need
    sqlite-utils (4.5 MB of modules) and nothing else does, and an imported module would stay in
    the serving process's memory for good (idle RSS is a SPEC §12 bar). False: it failed (and said why)."""
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            from gated.store.store import migrate, seed_lists

            migrate(db_path)
            seed_lists(db_path, config)
            code = 0
        except BaseException:
            log.exception("preparing the database %s failed", db_path)
        finally:
            logging.shutdown()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def serve(config: Config, db_path: Path, host: str, port: int, access_log: AccessLog, reuse_port: bool) -> None:
    import uvloop  # a faster event loop: the gateway's own overhead is mostly event-loop work

    from gated.app import create_app

    try:
        web.run_app(
            create_app(config, db_path, access_log), host=host, port=port, reuse_port=reuse_port, access_log=None,
            loop=uvloop.new_event_loop(),
            shutdown_timeout=config.general_settings.shutdown_grace_seconds,
            print=lambda _: log.info("gated %s ready on http://%s:%s (pid %d)", __version__, host, port, os.getpid()),
        )
    finally:
        access_log.flush()


def run_workers(config: Config, db_path: Path, args: argparse.Namespace, access_log: AccessLog) -> int:
    metrics_dir = tempfile.mkdtemp(prefix="gated-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # read by prometheus_client when a worker imports it
    try:
        return _fork_workers(config, db_path, args, access_log)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _fork_workers(config: Config, db_path: Path, args: argparse.Namespace, access_log: AccessLog) -> int:
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            try:
                serve(config, db_path, args.host, args.port, access_log, reuse_port=True)
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return 0 if status in (0, -signal.SIGTERM, -signal.SIGINT) else 1
