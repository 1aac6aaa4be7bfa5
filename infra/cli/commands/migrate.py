"""`deertrack migrate`: create the role/database when possible, then apply pending migrations.

The command is the batch image's own (gpu_batch/command.py, `deertrack-batch migrate`, the ECS
migrate task), so the image needs no infra/.
"""

from __future__ import annotations

from gpu_batch.command import migrate_database, run_migrate
from gpu_batch.command import register_migrate as register

__all__ = ["migrate_database", "register", "run_migrate"]
