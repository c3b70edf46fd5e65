"""Schema migrations. Released `mNNN_` functions are never edited; add a new one instead."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("gated")


@migrations()
def m001_spend_logs(db: Database) -> None:
    db["spend_logs"].create(
        {
            "id": int,
            "request_id": str,
            "call_type": str,
            "token_id": str,
            "key_alias": str,
            "team_id": str,
            "user_id": str,
            "end_user": str,
            "model_group": str,
            "model": str,
            "deployment": str,
            "prompt_tokens": int,
            "completion_tokens": int,
            "total_tokens": int,
            "spend": float,
            "cost_status": str,
            "usage_estimated": int,
            "start_time": str,
            "end_time": str,
            "ttft_ms": float,
            "status": str,
            "rejected_by": str,
            "error_code": str,
            "tags": str,
            "spend_logs_metadata": str,
        },
        pk="id",
        not_null={"request_id", "call_type", "start_time", "status", "cost_status"},
    )
    db["spend_logs"].create_index(["start_time"])
    db["spend_logs"].create_index(["request_id"])
    db["spend_log_tags"].create(
        {"log_id": int, "tag": str, "start_time": str, "spend": float, "status": str},
        pk=("log_id", "tag"),
        foreign_keys=[("log_id", "spend_logs", "id")],
    )
    db["spend_log_tags"].create_index(["tag", "start_time"])
