"""The batch image: the export worker and its renderers (PDF reports, ZIP archives, Camtrap DP), the re-ID model
runtime (torch embedder, pipeline, training), backfill execution, and the worker loops."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = [
    "archives", "backfill", "camtrap_dp", "command", "crops", "export_renderers", "export_worker", "job_run",
    "queue_loop", "reid", "reid_training", "reports", "visibility"
]
