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


_BUDGET = {"max_budget": float, "budget_duration": str, "budget_reset_at": str, "spend": float,
           "lifetime_spend": float, "reserved": float}


@migrations()
def m002_keys_teams_users_audit(db: Database) -> None:
    db["teams"].create(
        {"team_id": str, "team_alias": str, "members_with_roles": str, "models": str, "blocked": int,
         "tpm_limit": int, "rpm_limit": int, "metadata": str, "tags": str, **_BUDGET,
         "created_at": str, "updated_at": str},
        pk="team_id", not_null={"spend", "lifetime_spend", "reserved", "blocked"},
        defaults={"spend": 0.0, "lifetime_spend": 0.0, "reserved": 0.0, "blocked": 0},
    )
    db["teams"].create_index(["team_alias"], unique=True)
    db["users"].create(
        {"user_id": str, "user_alias": str, "metadata": str, **_BUDGET, "created_at": str, "updated_at": str},
        pk="user_id", not_null={"spend", "lifetime_spend", "reserved"},
        defaults={"spend": 0.0, "lifetime_spend": 0.0, "reserved": 0.0},
    )
    db["users"].create_index(["user_alias"], unique=True)
    db["keys"].create(
        {"token_id": str, "key_name": str, "key_alias": str, "team_id": str, "user_id": str, "models": str,
         "duration": str, "expires": str, "metadata": str, "permissions": str, "tpm_limit": int, "rpm_limit": int,
         "max_parallel_requests": int, "blocked": int, "tags": str, **_BUDGET, "created_at": str,
         "updated_at": str},
        pk="token_id", not_null={"spend", "lifetime_spend", "reserved", "blocked", "key_name"},
        defaults={"spend": 0.0, "lifetime_spend": 0.0, "reserved": 0.0, "blocked": 0},
        foreign_keys=[("team_id", "teams", "team_id")],
    )
    db["keys"].create_index(["key_alias"], unique=True)
    db["keys"].create_index(["team_id"])
    db["keys"].create_index(["user_id"])
    db["audit_log"].create(
        {"seq": int, "id": str, "updated_at": str, "changed_by": str, "changed_by_api_key": str, "action": str,
         "table_name": str, "object_id": str, "before_value": str, "updated_values": str},
        pk="seq", not_null={"id", "updated_at", "changed_by", "action", "table_name", "object_id"},
    )
    db["audit_log"].create_index(["id"], unique=True)
    db["audit_log"].create_index(["object_id"])
    db["audit_log"].create_index(["updated_at"])
    db["admin_state"].create({"name": str, "version": int}, pk="name")
    db["admin_state"].insert({"name": "admin", "version": 0})


@migrations()
def m003_rate_limits(db: Database) -> None:
    db["rate_usage"].create({"scope": str, "window": str, "requests": int, "tokens": int},
                            pk=("scope", "window"), not_null={"requests", "tokens"},
                            defaults={"requests": 0, "tokens": 0})
    db["in_flight"].create({"scope": str, "count": int}, pk="scope", not_null={"count"}, defaults={"count": 0})


@migrations()
def m004_spend_rollups(db: Database) -> None:
    """Daily roll-ups written in the same transaction as each spend row: reports read these, and
    retention never touches them, so lifetime totals always equal their sums."""
    db["spend_tag_daily"].create({"day": str, "tag": str, "log_count": int, "total_spend": float},
                                 pk=("day", "tag"), not_null={"log_count", "total_spend"})
    db["spend_tag_daily"].create_index(["tag"])
    db["spend_daily"].create(
        {"day": str, "token_id": str, "team_id": str, "user_id": str, "status": str, "log_count": int,
         "total_spend": float, "total_tokens": int},
        not_null={"day", "token_id", "team_id", "user_id", "status", "log_count", "total_spend", "total_tokens"},
    )
    db["spend_daily"].create_index(["day", "token_id", "team_id", "user_id", "status"], unique=True)


@migrations()
def m005_guardrail_lists(db: Database) -> None:
    """Blocked end users and banned keywords (the database is their source of truth), and which
    config entries were already seen at an earlier start (so an API unblock survives restarts)."""
    db["blocked_users"].create({"user_id": str, "created_at": str}, pk="user_id")
    db["banned_keywords"].create({"keyword": str, "created_at": str}, pk="keyword")
    db["list_seen"].create({"list": str, "value": str}, pk=("list", "value"))
    db["admin_state"].insert({"name": "lists", "version": 0})


@migrations()
def m006_key_renames(db: Database) -> None:
    """Regenerating a key changes its token_id (the hash of the new secret). Requests admitted under
    the old id settle after it: this maps every former id to the current one."""
    db["key_renames"].create({"old_token_id": str, "new_token_id": str}, pk="old_token_id",
                             not_null={"new_token_id"})
