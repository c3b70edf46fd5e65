"""Request and response models of the admin API. Strict types, unknown fields refused, negative
numbers and bad durations refused — each becomes a 400 naming the field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from gated.durations import check_duration
from gated.routes import Schema

Money = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0, le=2**53 - 1)]   # within what SQLite and JSON numbers hold exactly
Duration = Annotated[str, AfterValidator(check_duration)]
Name = Annotated[str, Field(min_length=1, max_length=256)]
Tag = Annotated[str, Field(min_length=1, max_length=128)]


class _Body(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


class Member(_Body):
    role: Literal["admin", "user"]
    user_id: Name


class KeyFields(_Body):
    models: list[Name] | None = None
    max_budget: Money | None = None
    budget_duration: Duration | None = None
    duration: Duration | None = None
    metadata: dict[str, Any] | None = None
    permissions: dict[str, Any] | None = None
    team_id: Name | None = None
    user_id: Name | None = None
    key_alias: Name | None = None
    tpm_limit: Count | None = None
    rpm_limit: Count | None = None
    max_parallel_requests: Count | None = None
    blocked: bool | None = None
    tags: list[Tag] | None = None


class KeyGenerate(KeyFields):
    pass


class KeyUpdate(KeyFields):
    key: Name


class KeyRef(_Body):
    key: Name


class KeyDelete(_Body):
    keys: Annotated[list[Name], Field(min_length=1)]


class TeamFields(_Body):
    team_alias: Name | None = None
    members_with_roles: list[Member] | None = None
    admins: list[Name] | None = None
    members: list[Name] | None = None
    max_budget: Money | None = None
    budget_duration: Duration | None = None
    models: list[Name] | None = None
    blocked: bool | None = None
    tpm_limit: Count | None = None
    rpm_limit: Count | None = None
    metadata: dict[str, Any] | None = None
    tags: list[Tag] | None = None

    @model_validator(mode="after")
    def _fold_shorthands(self) -> TeamFields:
        """`admins` / `members` are shorthands for entries of `members_with_roles`."""
        if self.admins is None and self.members is None:
            return self
        members = list(self.members_with_roles or [])
        members += [Member(role="admin", user_id=u) for u in self.admins or []]
        members += [Member(role="user", user_id=u) for u in self.members or []]
        self.members_with_roles = members
        self.admins = self.members = None
        return self


class TeamNew(TeamFields):
    team_id: Name | None = None


class TeamUpdate(TeamFields):
    team_id: Name


class TeamDelete(_Body):
    team_ids: Annotated[list[Name], Field(min_length=1)]


class TeamRef(_Body):
    team_id: Name


class UserFields(_Body):
    user_alias: Name | None = None
    max_budget: Money | None = None
    budget_duration: Duration | None = None
    metadata: dict[str, Any] | None = None


class UserNew(UserFields):
    user_id: Name | None = None


class UserUpdate(UserFields):
    user_id: Name


class UserDelete(_Body):
    user_ids: Annotated[list[Name], Field(min_length=1)]


class UserIds(_Body):
    user_ids: Annotated[list[Name], Field(min_length=1, max_length=1000)]


Keyword = Annotated[str, Field(min_length=1, max_length=256)]


class Keywords(_Body):
    keywords: Annotated[list[Keyword], Field(min_length=1, max_length=10000)]


class ListChange(Schema):
    changed: list[str]
    unchanged: list[str]
    enforced: bool = Field(description="whether the list's guardrail is in litellm_settings.callbacks")


class ListValues(Schema):
    data: list[str]
    next_cursor: str | None
    enforced: bool = Field(description="whether the list's guardrail is in litellm_settings.callbacks")


class _Open(Schema):
    model_config = ConfigDict(extra="allow")


class KeyOut(_Open):
    token_id: str
    key_name: str
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    models: list[str] = []
    max_budget: float | None = None
    spend: float = 0
    lifetime_spend: float = 0
    expires: str | None = None
    blocked: bool = False
    created_at: str | None = None


class KeyGenerated(KeyOut):
    key: str


class KeyInfo(_Open):
    key: str
    info: KeyOut


class TeamOut(_Open):
    team_id: str
    team_alias: str | None = None
    members_with_roles: list[dict[str, Any]] = []
    max_budget: float | None = None
    spend: float = 0
    lifetime_spend: float = 0
    blocked: bool = False


class TeamInfo(_Open):
    team_id: str
    team_info: TeamOut
    keys: list[dict[str, Any]]


class UserOut(_Open):
    user_id: str
    user_alias: str | None = None
    max_budget: float | None = None
    spend: float = 0
    lifetime_spend: float = 0


class UserInfo(_Open):
    user_id: str
    user_info: UserOut
    keys: list[dict[str, Any]]


class AuditEntry(_Open):
    id: str
    updated_at: str
    changed_by: str
    changed_by_api_key: str | None
    action: str
    table_name: str
    object_id: str
    before_value: dict[str, Any] | None
    updated_values: dict[str, Any] | None


class Page(_Open):
    data: list[dict[str, Any]]
    next_cursor: str | None


class Deleted(_Open):
    deleted: list[str]
