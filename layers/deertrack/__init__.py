"""deertrack, the Lambda layer: what the functions and the batch workers share (settings, schemas, job store,
AWS/Redis/PostgreSQL clients and the migrations, the domain rules and the re-ID maths that need no torch)."""

__version__ = "0.1.0"

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = [
    "analysis", "auth", "aws", "backfill", "classifications", "db", "dead_letters", "detection_filters", "exports",
    "health", "ingest", "jobs", "logs", "messages", "migrations", "openapi", "outages", "problems", "queues",
    "redis_client", "reid", "reports", "s3_events", "settings", "storage"
]
