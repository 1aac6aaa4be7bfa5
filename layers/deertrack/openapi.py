"""The API's OpenAPI 3 document, built from a route table and the pydantic models' JSON schemas.

Every HTTP route of the Chalice app is documented here (a test checks that each route of the app
is documented and each documented route exists). Document a route next to where it is defined:

    from deertrack import openapi

    openapi.document("GET", "/api/deer/{deer_id}", summary="One deer",
                     responses={200: openapi.Reply("The deer", DeerView), 404: openapi.Reply("Unknown deer")})

or as a decorator above (outside) the Chalice route decorator:

    @openapi.documented("GET", "/api/deer/{deer_id}", summary="One deer", responses={...})
    @deer_routes.route("/api/deer/{deer_id}", methods=["GET"])
    def get_deer(deer_id: str) -> Response: ...

`{name}` segments become path parameters; a Reply's `model` is any pydantic model (or a JSON
schema dict), gathered under components/schemas.

Sign-in is not documented route by route: `build_document(roles=...)` takes each route's declared role
(functions/chalicelib/access.py) and gives every route that needs a token the bearer security requirement,
its least role (`x-minimum-role`) and the 401 and 403 answers; public routes get `security: []`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from deertrack.problems import ProblemBody

F = TypeVar("F", bound=Callable[..., Any])
Schema = type[BaseModel] | dict[str, Any] | None

REF_TEMPLATE = "#/components/schemas/{model}"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: The security scheme every signed-in route requires, and the declaration of a route that needs none.
SECURITY_SCHEME = "bearerAuth"
PUBLIC = "public"


@dataclass(frozen=True)
class Reply:
    description: str
    model: Schema = None
    headers: Mapping[str, str] = field(default_factory=dict)  # header name -> description
    media_type: str = "application/json"


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    responses: Mapping[int, Reply]
    request: Schema = None
    description: str = ""
    tags: tuple[str, ...] = ()
    headers: tuple[Header, ...] = ()
    query: tuple[Header, ...] = ()  # query parameters (name, description, required)

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"\{([^}+]+)\+?\}", self.path)


_OPERATIONS: dict[tuple[str, str], Operation] = {}


def document(method: str, path: str, *, summary: str, responses: Mapping[int, Reply],
             request: Schema = None, description: str = "", tags: Iterable[str] = (),
             headers: Iterable[Header] = (), query: Iterable[Header] = ()) -> Operation:
    """Record one route (method + path exactly as given to Chalice). Re-documenting replaces."""
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unsupported method {method}")
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path}")
    operation = Operation(method, path, summary, dict(responses), request, description, tuple(tags),
                          tuple(headers), tuple(query))
    _OPERATIONS[(method, path)] = operation
    return operation


def documented(method: str, path: str, **kwargs: Any) -> Callable[[F], F]:
    """Decorator form of `document`; returns the function unchanged."""

    def decorate(func: F) -> F:
        document(method, path, **kwargs)
        return func

    return decorate


def operations() -> list[Operation]:
    return sorted(_OPERATIONS.values(), key=lambda op: (op.path, METHODS.index(op.method)))


def documented_routes() -> set[tuple[str, str]]:
    """{(METHOD, path)} of every documented route."""
    return set(_OPERATIONS)


def _collect_models(ops: list[Operation]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for op in ops:
        for schema in (op.request, *(reply.model for reply in op.responses.values())):
            if isinstance(schema, type) and issubclass(schema, BaseModel):
                found[f"{schema.__module__}.{schema.__qualname__}"] = schema
    return list(found.values())


#: The answers every route that needs a token can give.
UNAUTHORIZED = Reply("No token, or an expired one, or one not signed by the user pool's keys or not issued for "
                     "this API", ProblemBody, headers={"WWW-Authenticate": "Bearer challenge (RFC 6750)"})
FORBIDDEN = Reply("The token's role does not allow this", ProblemBody)


def _secured(op: Operation, role: str | None) -> Operation:
    """`op` with the 401 and 403 answers (unless it documents its own)."""
    if role == PUBLIC:
        return op
    return Operation(op.method, op.path, op.summary, {401: UNAUTHORIZED, 403: FORBIDDEN, **op.responses},
                     op.request, op.description, op.tags, op.headers, op.query)


def build_document(title: str = "deertrack API", version: str = "0.1.0", servers: Iterable[str] = (),
                   roles: Mapping[tuple[str, str], str | None] | None = None) -> dict[str, Any]:
    """The document; `roles` maps (METHOD, path) to its least role or PUBLIC (every route needs a token
    unless it is PUBLIC there)."""
    roles = roles or {}
    ops = [_secured(op, roles.get((op.method, op.path))) for op in operations()]
    models = _collect_models(ops)
    refs, definitions = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
    components = definitions.get("$defs", {})

    def schema_of(schema: Schema) -> dict[str, Any] | None:
        if schema is None:
            return None
        if isinstance(schema, dict):
            return schema
        return refs[(schema, "validation")]

    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in op.path_parameters
        ]
        parameters += [{"name": h.name, "in": "header", "required": h.required, "description": h.description,
                        "schema": {"type": "string"}} for h in op.headers]
        parameters += [{"name": q.name, "in": "query", "required": q.required, "description": q.description,
                        "schema": {"type": "string"}} for q in op.query]
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": _operation_id(op),
            "responses": {},
        }
        role = roles.get((op.method, op.path))
        if op.description:
            entry["description"] = op.description
        if role == PUBLIC:
            entry["security"] = []
        else:
            entry["security"] = [{SECURITY_SCHEME: []}]
            if role is not None:
                entry["x-minimum-role"] = str(role)
        if op.tags:
            entry["tags"] = list(op.tags)
        if parameters:
            entry["parameters"] = parameters
        request_schema = schema_of(op.request)
        if request_schema is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": request_schema}}}
        for status, reply in sorted(op.responses.items()):
            response: dict[str, Any] = {"description": reply.description}
            reply_schema = schema_of(reply.model)
            if reply_schema is not None:
                response["content"] = {reply.media_type: {"schema": reply_schema}}
            if reply.headers:
                response["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                       for name, text in reply.headers.items()}
            entry["responses"][str(status)] = response
        paths.setdefault(op.path, {})[op.method.lower()] = entry

    document_: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {SECURITY_SCHEME: {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A Cognito user pool token (locally: `deertrack token`). Its `cognito:groups` give "
                           "the role: viewer < reviewer < admin; each route names its least role in "
                           "x-minimum-role.",
        }}},
        "security": [{SECURITY_SCHEME: []}],
    }
    servers = list(servers)
    if servers:
        document_["servers"] = [{"url": url} for url in servers]
    return document_


def _operation_id(op: Operation) -> str:
    words = re.sub(r"[{}]", "", op.path).strip("/").replace("-", "_").split("/")
    return "_".join([op.method.lower(), *[w for w in words if w]])
