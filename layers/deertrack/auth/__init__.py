"""Who is calling and what they may do: the roles, and the principal read from a verified token's claims."""

from deertrack.auth.principal import (
    S3_REQUESTS_SERVICE,
    SCHEDULE_SERVICE,
    SERVICE_PREFIX,
    SERVICES,
    Principal,
    principal_from_claims,
)
from deertrack.auth.roles import GROUPS_CLAIM, Role, role_of_groups

__all__ = [
    "GROUPS_CLAIM",
    "SCHEDULE_SERVICE",
    "SERVICES",
    "SERVICE_PREFIX",
    "S3_REQUESTS_SERVICE",
    "Principal",
    "Role",
    "principal_from_claims",
    "role_of_groups",
]
