"""Dev tooling, never shipped to AWS: the CLI, the dev stack (emulator, event sources, API server), demo data,
benchmarks and the threshold analysis plots."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = [
    "analysis", "api_server", "authorizer", "bench", "camtrap_import", "cli", "demo", "emulator", "event_sources",
    "eventbridge", "localstack", "processes", "resources", "review_timing", "schedules", "services", "stack",
    "template", "user_pool"
]
