"""The principal of a request: the user and role named by the claims of its verified token.

API Gateway's JWT authorizer (and the local API server, the same way) puts the claims in
`requestContext.authorizer.jwt.claims`. There every value is a string: a list claim such as
`cognito:groups` arrives as "[reviewer viewer]"; a claims dict parsed from the token itself has a list.
Work nobody asked for over HTTP belongs to a named service identity (SERVICES).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from deertrack.auth.roles import GROUPS_CLAIM, Role, role_of_groups

SERVICE_PREFIX = "service:"
#: Export requests dropped under export-requests/ in the requests bucket.
S3_REQUESTS_SERVICE = SERVICE_PREFIX + "s3-export-requests"
#: The EventBridge schedules (the nightly backfill).
SCHEDULE_SERVICE = SERVICE_PREFIX + "schedule"
SERVICES = frozenset({S3_REQUESTS_SERVICE, SCHEDULE_SERVICE})


class Principal(BaseModel):
    """Who asked: `user` (the token's username, else its subject) and their highest `role`."""

    model_config = ConfigDict(frozen=True)

    user: str = Field(min_length=1)
    role: Role | None = None
    subject: str | None = None

    def allows(self, needed: Role) -> bool:
        return self.role is not None and self.role.allows(needed)

    def sees(self, owner: str | None) -> bool:
        """Whether a job owned by `owner` is visible to this principal: its owner's, or an admin's."""
        return self.allows(Role.ADMIN) or (owner is not None and owner == self.user)


def groups_of(value: Any) -> list[str]:
    """`cognito:groups` as a list, whether a JSON list or API Gateway's "[a b]" string."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part for part in text.replace(",", " ").split() if part]


def principal_from_claims(claims: Mapping[str, Any]) -> Principal | None:
    """The principal of verified claims; None when they name nobody (no username and no subject)."""
    subject = claims.get("sub")
    user = claims.get("cognito:username") or claims.get("username") or subject
    if not user:
        return None
    return Principal(user=str(user), role=role_of_groups(groups_of(claims.get(GROUPS_CLAIM))),
                     subject=None if subject is None else str(subject))
