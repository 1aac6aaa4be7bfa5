"""`deertrack worker NAME [ARGS…]`: run one of the batch workers in gpu_batch/ until stopped.

The command is the batch image's own (gpu_batch/command.py, `deertrack-batch worker`): WORKERS and
the parser live there, so the image needs no infra/.
"""

from __future__ import annotations

from gpu_batch.command import WORKERS, available, run_worker
from gpu_batch.command import register_worker as register

__all__ = ["WORKERS", "available", "register", "run_worker"]
