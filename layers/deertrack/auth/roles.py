"""The three roles, each allowed what the one below it is and more: viewer < reviewer < admin.

A user's role is the highest of their Cognito groups (the `cognito:groups` claim) that is a role.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

#: The claim that lists a Cognito user's groups.
GROUPS_CLAIM = "cognito:groups"


class Role(StrEnum):
    VIEWER = "viewer"  # reads everything, requests exports, sees its own jobs
    REVIEWER = "reviewer"  # also corrects detections, merges and unmerges deer
    ADMIN = "admin"  # also starts backfills and sees everyone's jobs

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        return self.rank >= needed.rank


_ORDER = (Role.VIEWER, Role.REVIEWER, Role.ADMIN)


def role_of_groups(groups: Iterable[str]) -> Role | None:
    """The highest role among `groups`; None when none of them is a role."""
    known = [Role(g) for g in groups if g in Role.__members__.values()]
    return max(known, key=lambda role: role.rank) if known else None
