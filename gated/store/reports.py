"""ReportStore: the spend reports of SPEC §7 and retention. Roll-ups are updated row by row inside
the spend writer's transaction; reports read roll-ups (fast on any history) or, for /spend/logs,
the indexed detail rows."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson

from gated.pricing import MONEY_DIGITS

NO_ID = ""  # roll-up rows use "" for a missing key/team/user (NULL would break the unique index)
GROUPS = {"keys": "token_id", "teams": "team_id", "users": "user_id"}
DETAILS = {  # columns of the object itself shown next to its roll-up totals
    "keys": ("key_name", "key_alias", "team_id", "user_id"),
    "teams": ("team_alias",),
    "users": ("user_alias",),
}
LOG_FILTERS = ("token_id", "team_id", "user_id", "end_user", "request_id", "status")


class ReportStore:
    conn: sqlite3.Connection

    def roll_up(self, rows: Iterable[dict[str, Any]]) -> None:
        """Inside the caller's transaction: add a batch of spend rows to the daily roll-ups, one
        upsert per (day, key, team, user, status) and per (day, tag) rather than per row."""
        daily: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0, 0.0, 0])
        tagged: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0])
        for row in rows:
            day, spend = row["start_time"][:10], row["spend"] or 0.0
            totals = daily[(day, row["token_id"] or NO_ID, row["team_id"] or NO_ID, row["user_id"] or NO_ID,
                            row["status"])]
            totals[0] += 1
            totals[1] += spend
            totals[2] += row["total_tokens"]
            if row["status"] == "success":
                for tag in row["tag_list"]:
                    tag_totals = tagged[(day, tag)]
                    tag_totals[0] += 1
                    tag_totals[1] += spend
        self.conn.executemany(
            "INSERT INTO spend_daily (day, token_id, team_id, user_id, status, log_count, total_spend, total_tokens)"
            f" VALUES (?, ?, ?, ?, ?, ?, round(?, {MONEY_DIGITS}), ?)"
            " ON CONFLICT(day, token_id, team_id, user_id, status) DO UPDATE SET"
            " log_count = log_count + excluded.log_count,"
            f" total_spend = round(total_spend + excluded.total_spend, {MONEY_DIGITS}),"
            " total_tokens = total_tokens + excluded.total_tokens",
            [(*key, *totals) for key, totals in daily.items()])
        self.conn.executemany(
            f"INSERT INTO spend_tag_daily (day, tag, log_count, total_spend) VALUES (?, ?, ?, round(?, {MONEY_DIGITS}))"
            " ON CONFLICT(day, tag) DO UPDATE SET log_count = log_count + excluded.log_count,"
            f" total_spend = round(total_spend + excluded.total_spend, {MONEY_DIGITS})",
            [(*key, *totals) for key, totals in tagged.items()])

    def spend_by_tag(self, start_day: str | None, end_day: str | None) -> list[dict[str, Any]]:
        where, params = _day_window(start_day, end_day)
        rows = self.conn.execute(
            f"SELECT tag, sum(log_count) AS log_count, round(sum(total_spend), {MONEY_DIGITS}) AS total_spend"
            f" FROM spend_tag_daily"
            f" WHERE {where} GROUP BY tag ORDER BY total_spend DESC, tag", params).fetchall()
        return [{"individual_request_tag": r["tag"], "log_count": r["log_count"], "total_spend": r["total_spend"]}
                for r in rows]

    def spend_by(self, group: str, start_day: str | None, end_day: str | None, limit: int,
                 cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        column = GROUPS[group]
        where, params = _day_window(start_day, end_day)
        if cursor is not None:
            where += f" AND {column} > ?"
            params.append(cursor)
        rows = self.conn.execute(
            f"SELECT {column} AS id, sum(log_count) AS log_count,"
            f" round(sum(total_spend), {MONEY_DIGITS}) AS total_spend,"
            f" sum(total_tokens) AS total_tokens,"
            f" sum(CASE WHEN status = 'success' THEN log_count ELSE 0 END) AS success_count"
            f" FROM spend_daily WHERE {where} GROUP BY {column} ORDER BY {column} LIMIT ?",
            (*params, limit + 1)).fetchall()
        page = [{column: r["id"] or None, "log_count": r["log_count"], "success_count": r["success_count"],
                 "total_spend": r["total_spend"], "total_tokens": r["total_tokens"]} for r in rows[:limit]]
        self._add_details(group, page)
        return page, (rows[limit - 1]["id"] if len(rows) > limit else None)

    def _add_details(self, group: str, page: list[dict[str, Any]]) -> None:
        """Every entry gets the same fields; the object's own values where it (still) exists."""
        column = GROUPS[group]
        names = [n for n in (*DETAILS[group], "spend", "lifetime_spend", "max_budget") if n != column]
        ids = [entry[column] for entry in page if entry[column]]
        found = {r[column]: r for r in self.conn.execute(
            f"SELECT {column}, {', '.join(names)} FROM {group} WHERE {column} IN ({', '.join('?' * len(ids))})",
            ids)} if ids else {}
        for entry in page:
            row = found.get(entry[column])
            for name in names:
                entry.setdefault(name, row[name] if row is not None else None)

    def spend_logs(self, filters: dict[str, Any], tag: str | None, start: str | None, end: str | None,
                   limit: int, cursor: int | None) -> tuple[list[dict[str, Any]], int | None]:
        where, params = ["1=1"], []
        for column, value in filters.items():
            where.append(f"l.{column} IS ?")
            params.append(value)
        if tag is not None:
            where.append("l.id IN (SELECT log_id FROM spend_log_tags WHERE tag = ?)")
            params.append(tag)
        if start is not None:
            where.append("l.start_time >= ?")
            params.append(start)
        if end is not None:
            where.append("l.start_time < ?")
            params.append(end)
        if cursor is not None:
            where.append("l.id < ?")
            params.append(cursor)
        rows = self.conn.execute(f"SELECT l.* FROM spend_logs l WHERE {' AND '.join(where)} ORDER BY l.id DESC LIMIT ?",
                                 (*params, limit + 1)).fetchall()
        page = [_log_row(r) for r in rows[:limit]]
        return page, (rows[limit - 1]["id"] if len(rows) > limit else None)

    def prune_spend_logs(self, before: str) -> int:
        """Delete detail rows that started before `before`; roll-ups and lifetime totals stay."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute("DELETE FROM spend_log_tags WHERE log_id IN (SELECT id FROM spend_logs"
                              " WHERE start_time < ?)", (before,))
            deleted = self.conn.execute("DELETE FROM spend_logs WHERE start_time < ?", (before,)).rowcount
            self.conn.execute("COMMIT")
            return deleted
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise


def _day_window(start_day: str | None, end_day: str | None) -> tuple[str, list[Any]]:
    where, params = ["1=1"], []
    if start_day is not None:
        where.append("day >= ?")
        params.append(start_day)
    if end_day is not None:
        where.append("day <= ?")
        params.append(end_day)
    return " AND ".join(where), params


def _log_row(row: sqlite3.Row) -> dict[str, Any]:
    out = {k: row[k] for k in row.keys() if k != "id"}
    out["tags"] = orjson.loads(out["tags"]) if out["tags"] else []
    out["spend_logs_metadata"] = orjson.loads(out["spend_logs_metadata"]) if out["spend_logs_metadata"] else None
    out["usage_estimated"] = bool(out["usage_estimated"])
    return out
