"""Do template.yaml and the code agree? The checker behind tests/unit/test_template_consistency.py.

The code side is read from the Chalice app object itself (`app.routes`, `app.event_sources`) and from
the settings (every queue and bucket name the code uses, RESOURCE_SUFFIXES); the template side from
infra.template.declarations(), the very declarations the local stack creates its queues, buckets and
notifications from and the event pump routes events with, plus the ApiFunction's HttpApi events.

`template_problems()` returns one sentence per disagreement (empty: they agree), each naming the
handler, route, queue or bucket and the side it is missing from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalice import Chalice
from chalice.app import ScheduledEventConfig, SQSEventConfig

from deertrack.settings import RESOURCE_SUFFIXES, Settings
from infra.template import TEMPLATE_PATH, declarations, load_template

#: template.yaml's function for every HTTP route: the Chalice app object itself.
API_HANDLER = "app.app"


@dataclass(frozen=True)
class CodeSurface:
    """What functions/app.py and the settings name."""

    routes: frozenset[tuple[str, str]]  # (path, METHOD)
    sqs_handlers: dict[str, tuple[str, int]]  # "app.handle_x" -> (queue name, batch size)
    schedule_handlers: dict[str, str]  # "app.backfill_nightly" -> rate(...) / cron(...)
    queue_names: dict[str, str]  # settings field -> queue name
    bucket_names: dict[str, str]  # settings field -> bucket name
    other_sources: list[str] = field(default_factory=list)  # event sources template.yaml cannot express


def code_surface(app: Chalice, settings: Settings) -> CodeSurface:
    routes = frozenset((path, method.upper()) for path, methods in app.routes.items() for method in methods)
    sqs: dict[str, tuple[str, int]] = {}
    schedules: dict[str, str] = {}
    other: list[str] = []
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig):
            sqs[source.handler_string] = (str(source.queue), int(source.batch_size))
        elif isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            schedules[source.handler_string] = expression if isinstance(expression, str) else expression.to_string()
        else:
            other.append(f"{source.handler_string} ({type(source).__name__})")
    return CodeSurface(
        routes=routes,
        sqs_handlers=sqs,
        schedule_handlers=schedules,
        queue_names={f: getattr(settings, f) for f in RESOURCE_SUFFIXES if f.endswith("_queue_name")},
        bucket_names={f: getattr(settings, f) for f in RESOURCE_SUFFIXES if f.endswith("_bucket")},
        other_sources=other,
    )


def _api_events(template: dict[str, Any]) -> tuple[dict[tuple[str, str], str], list[str]]:
    """(path, METHOD) -> function logical id for every HttpApi/Api event, and problems with them."""
    routes: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        for name, event in props.get("Events", {}).items():
            if event.get("Type") not in ("HttpApi", "Api"):
                continue
            event_props = event.get("Properties", {})
            path, method = str(event_props.get("Path", "")), str(event_props.get("Method", "")).upper()
            where = f"template.yaml {logical_id}.Events.{name} ({method} {path})"
            if props.get("Handler") != API_HANDLER:
                problems.append(f"{where} is on a function whose Handler is {props.get('Handler')!r}, "
                                f"not the Chalice app {API_HANDLER!r}")
            if method == "ANY" or "+}" in path:
                problems.append(f"{where}: Chalice dispatches on the route's own path and method; "
                                "a catch-all route never matches one")
            if event.get("Type") == "HttpApi" and str(event_props.get("PayloadFormatVersion")) != "1.0":
                problems.append(f"{where} needs PayloadFormatVersion '1.0' (the event shape Chalice reads)")
            routes[(path, method)] = logical_id
    return routes, problems


def template_problems(code: CodeSurface, stage: str, path: Path = TEMPLATE_PATH) -> list[str]:
    """Every way template.yaml (at `path`, for `stage`) and the code disagree."""
    template = load_template(path)
    decl = declarations(stage, path)
    problems: list[str] = [f"functions/app.py has an event source template.yaml cannot deploy: {s}"
                           for s in code.other_sources]
    declared_queues = {q.name for q in decl.queues.values()}
    declared_buckets = {b.name for b in decl.buckets.values()}

    def queue_of(logical_id: str | None) -> str | None:
        queue = decl.queues.get(logical_id or "")
        return queue.name if queue else None

    # HTTP routes: every Chalice route is an HttpApi event of the Chalice app function, and no more.
    api_routes, api_problems = _api_events(template)
    problems += api_problems
    for path_, method in sorted(code.routes - set(api_routes)):
        problems.append(f"route {method} {path_} (functions/app.py) has no HttpApi event in template.yaml")
    for path_, method in sorted(set(api_routes) - code.routes):
        problems.append(f"template.yaml routes {method} {path_} to {api_routes[(path_, method)]}, "
                        "but functions/app.py has no such route")
    if code.routes and not any(h.handler == API_HANDLER for h in decl.handlers.values()):
        problems.append(f"template.yaml has no function with Handler {API_HANDLER} for the HTTP routes")

    # SQS and schedule handlers: each has its function and event source, and nothing else does.
    by_handler: dict[str, list[Any]] = {}
    for handler in decl.handlers.values():
        by_handler.setdefault(handler.handler, []).append(handler)
    for handler_string, (queue, batch_size) in sorted(code.sqs_handlers.items()):
        if queue not in declared_queues:
            problems.append(f"queue {queue} (listened to by {handler_string}) is not declared in template.yaml")
        functions = by_handler.get(handler_string, [])
        if not functions:
            problems.append(f"SQS handler {handler_string} (queue {queue}) in functions/app.py has no function "
                            "in template.yaml")
            continue
        fed = [f for f in functions if f.queue]
        if not fed:
            problems.append(f"template.yaml's {functions[0].logical_id} ({handler_string}) has no SQS event; "
                            f"functions/app.py listens to {queue}")
            continue
        for function in fed:
            name = queue_of(function.queue)
            if name is None:
                problems.append(f"template.yaml's {function.logical_id} ({handler_string}) is fed by queue "
                                f"{function.queue}, which template.yaml does not declare")
            elif name != queue:
                problems.append(f"{handler_string} listens to {queue} in functions/app.py but template.yaml "
                                f"feeds {function.logical_id} from {name}")
            if function.batch_size != batch_size:
                problems.append(f"{handler_string}: batch size {batch_size} in functions/app.py, "
                                f"{function.batch_size} in template.yaml")
    for handler_string, expression in sorted(code.schedule_handlers.items()):
        scheduled = [f for f in by_handler.get(handler_string, []) if f.schedule]
        if not scheduled:
            problems.append(f"schedule handler {handler_string} ({expression}) in functions/app.py has no "
                            "function with a Schedule event in template.yaml")
        for function in scheduled:
            if function.schedule != expression:
                problems.append(f"{handler_string} runs on {expression} in functions/app.py but on "
                                f"{function.schedule} in template.yaml's {function.logical_id}")
    for handler in decl.handlers.values():
        if handler.handler == API_HANDLER:
            continue
        if handler.queue and handler.handler not in code.sqs_handlers:
            problems.append(f"template.yaml's {handler.logical_id} calls {handler.handler} for queue "
                            f"{queue_of(handler.queue) or handler.queue}, but functions/app.py has no such "
                            "SQS handler")
        if handler.schedule and handler.handler not in code.schedule_handlers:
            problems.append(f"template.yaml's {handler.logical_id} calls {handler.handler} on {handler.schedule}, "
                            "but functions/app.py has no such schedule handler")
        if not handler.queue and not handler.schedule:
            problems.append(f"template.yaml's {handler.logical_id} ({handler.handler}) has no event source")

    # Every queue and bucket the code names exists; every notification feeds a declared, consumed queue.
    for setting, name in sorted(code.queue_names.items()):
        if name not in declared_queues:
            problems.append(f"queue {name} (settings.{setting}) is not declared in template.yaml")
    for setting, name in sorted(code.bucket_names.items()):
        if name not in declared_buckets:
            problems.append(f"bucket {name} (settings.{setting}) is not declared in template.yaml")
    consumed = {h.queue for h in decl.handlers.values() if h.queue}
    for bucket in decl.buckets.values():
        for event, queue_id, prefix, suffix in bucket.queue_notifications:
            where = f"bucket {bucket.name} notification {event} {prefix}*{suffix}"
            if queue_id not in decl.queues:
                problems.append(f"{where} targets queue {queue_id}, which template.yaml does not declare")
            elif queue_id not in consumed:
                problems.append(f"{where} targets {decl.queues[queue_id].name}, which no function consumes")
    for queue in decl.queues.values():
        if queue.dead_letter and queue.dead_letter not in decl.queues:
            problems.append(f"queue {queue.name} redrives to {queue.dead_letter}, which template.yaml does not "
                            "declare")
    return problems
