"""The API's OpenAPI 3.1 document, derived from the Chalice app's own routes and the pydantic models.

A route's method and path are written once, in its Chalice decorator; its documentation sits on the view,
under that decorator, and names the models it reads and answers:

    @deer_routes.route("/api/deer/{deer_id}", methods=["GET"])
    @openapi.operation("One deer", query=DeerTimelineQuery,
                       responses={200: openapi.Reply("The deer", DeerView), 404: openapi.Reply("Unknown deer")})
    @requires(Role.VIEWER)
    @answers_problems
    def get_deer(deer_id: str) -> Response: ...

`build_document(app)` walks `app.routes` (path, methods, view function): each path parameter gets its schema
from `deertrack.inputs.path_schema`, each query parameter its schema from the `query` model's JSON schema,
each body and reply the model's `model_json_schema` (gathered under components/schemas). Rules no JSON Schema
can say (`beyond_schema`: date order, ids that must exist…) are written into the operation's description and
listed, by rule name, in `x-rules-beyond-schema`: a 400 for a request the schema calls valid names only those.

Sign-in is not documented route by route: `roles` maps each route to its declared role
(functions/chalicelib/access.py); every route that needs a token gets the bearer security requirement, its
least role (`x-minimum-role`) and the 401 and 403 answers; public routes get `security: []`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from chalice import Chalice
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from deertrack.inputs import path_schema
from deertrack.problems import NO_NUL_PATTERN, SERVICE_RETRY_AFTER_SECONDS, ProblemBody

F = TypeVar("F", bound=Callable[..., Any])
Schema = type[BaseModel] | dict[str, Any] | None

REF_TEMPLATE = "#/components/schemas/{model}"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: The security scheme every signed-in route requires, and the declaration of a route that needs none.
SECURITY_SCHEME = "bearerAuth"
PUBLIC = "public"
#: The attribute of a view that holds its documentation (functools.wraps carries it to outer wrappers).
DOC_ATTRIBUTE = "openapi_documentation"


@dataclass(frozen=True)
class Reply:
    description: str
    model: Schema = None
    headers: Mapping[str, str | Mapping[str, Any]] = field(default_factory=dict)  # name -> description | header
    media_type: str = "application/json"


@dataclass(frozen=True)
class Header:
    name: str
    description: str
    required: bool = False
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Documentation:
    """What a view says about itself; the route gives the method and path."""

    summary: str
    responses: Mapping[int, Reply]
    request: Schema = None
    request_required: bool = True
    query: type[BaseModel] | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    headers: tuple[Header, ...] = ()
    beyond_schema: Mapping[str, str] = field(default_factory=dict)  # rule -> the rule in words


@dataclass(frozen=True)
class Operation:
    """One route (method + path, from the app) with its documentation."""

    method: str
    path: str
    summary: str
    responses: Mapping[int, Reply]
    doc: Documentation | None = None

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"\{([^}+]+)\+?\}", self.path)


_DOCUMENTED: dict[int, Callable[..., Any]] = {}


def operation(summary: str, *, responses: Mapping[int, Reply], request: Schema = None, request_required: bool = True,
              query: type[BaseModel] | None = None, description: str = "", tags: Iterable[str] = (),
              headers: Iterable[Header] = (), beyond_schema: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """Attach the view's documentation (put it under the route decorator); returns the view unchanged."""
    doc = Documentation(summary, dict(responses), request, request_required, query, description, tuple(tags),
                        tuple(headers), dict(beyond_schema or {}))

    def attach(view: F) -> F:
        setattr(view, DOC_ATTRIBUTE, doc)
        _DOCUMENTED[id(view)] = view
        return view

    return attach


def documentation_of(view: Callable[..., Any]) -> Documentation | None:
    return getattr(view, DOC_ATTRIBUTE, None)


_app: Chalice | None = None


def describe(app: Chalice) -> None:
    """Name the app the document describes (once, in functions/app.py)."""
    global _app
    _app = app


def _the_app(app: Chalice | None) -> Chalice:
    chosen = app or _app
    if chosen is None:
        raise RuntimeError("no app: call openapi.describe(app) or pass app=")
    return chosen


def operations(app: Chalice | None = None) -> list[Operation]:
    """Every route of the app, with its documentation (None where the view has none), in path order."""
    found = []
    for path, methods in _the_app(app).routes.items():
        for method, entry in methods.items():
            doc = documentation_of(entry.view_function)
            found.append(Operation(method, path, doc.summary if doc else "", doc.responses if doc else {}, doc))
    return sorted(found, key=lambda op: (op.path, METHODS.index(op.method) if op.method in METHODS else 99))


def documented_routes(app: Chalice | None = None) -> set[tuple[str, str]]:
    """{(METHOD, path)} of every route whose view carries its documentation."""
    return {(op.method, op.path) for op in operations(app) if op.doc is not None}


def undocumented_routes(app: Chalice | None = None) -> set[tuple[str, str]]:
    return {(op.method, op.path) for op in operations(app) if op.doc is None}


def unrouted_views(app: Chalice | None = None, within: tuple[str, ...] = ()) -> list[str]:
    """Documented views (of modules named `within…`, or all) that no route of the app serves (a route removed,
    its documentation left)."""
    served: set[int] = set()
    for methods in _the_app(app).routes.values():
        for entry in methods.values():
            view = entry.view_function
            while view is not None:  # the route may hold a wrapper of the documented view
                served.add(id(view))
                view = getattr(view, "__wrapped__", None)
    return sorted(f"{v.__module__}.{v.__qualname__}" for key, v in _DOCUMENTED.items()
                  if key not in served and v.__module__.startswith(within or ("",)))


#: The answers every route that needs a token can give.
UNAUTHORIZED = Reply("No token, or an expired one, or one not signed by the user pool's keys or not issued for "
                     "this API", ProblemBody, headers={"WWW-Authenticate": "Bearer challenge (RFC 6750)"})
FORBIDDEN = Reply("The token's role does not allow this", ProblemBody)
#: The header of every 503: the seconds to wait.
RETRY_AFTER = {"description": "Seconds to wait before retrying",
               "schema": {"type": "integer", "minimum": 1, "example": SERVICE_RETRY_AFTER_SECONDS}}


def _collect_models(docs: Iterable[Documentation]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for doc in docs:
        for schema in (doc.request, *(reply.model for reply in doc.responses.values())):
            if isinstance(schema, type) and issubclass(schema, BaseModel):
                found[f"{schema.__module__}.{schema.__qualname__}"] = schema
    return list(found.values())


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One parameter per field of a query model, typed by its JSON schema (null alternatives dropped: a query
    string has no null)."""
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        description = prop.pop("description", "")
        prop.pop("title", None)
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if len(options) == 1:
            prop = {**options[0], **prop}
        elif options:
            prop["anyOf"] = options
        if prop.get("default", 0) is None:
            del prop["default"]
        parameter = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def _text_without_nul(node: Any, components: dict[str, Any], seen: set[str]) -> None:
    """Give every plain string of a request (followed through its $refs) the NO_NUL_PATTERN; a string with a
    pattern of its own must refuse NUL itself (tests/unit/test_openapi_contract.py checks)."""
    if isinstance(node, list):
        for item in node:
            _text_without_nul(item, components, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen and name in components:
            seen.add(name)
            _text_without_nul(components[name], components, seen)
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
        node["pattern"] = NO_NUL_PATTERN
    for key, value in node.items():
        if key not in ("$ref", "default", "examples", "const", "enum"):
            _text_without_nul(value, components, seen)


def _description(doc: Documentation) -> str:
    if not doc.beyond_schema:
        return doc.description
    rules = "; ".join(f"`{rule}`: {words}" for rule, words in doc.beyond_schema.items())
    text = f"Checked beyond this schema (answered 400/404 naming the rule): {rules}."
    return f"{doc.description}\n\n{text}" if doc.description else text


def build_document(app: Chalice | None = None, title: str = "deertrack API", version: str = "0.1.0",
                   servers: Iterable[str] = (),
                   roles: Mapping[tuple[str, str], str | None] | None = None) -> dict[str, Any]:
    """The document of every documented route of `app` (by default the one `describe` named); `roles` maps
    (METHOD, path) to its least role or PUBLIC (every route needs a token unless it is PUBLIC there)."""
    roles = roles or {}
    ops = []
    for op in operations(app):
        if op.doc is None:
            continue
        role = roles.get((op.method, op.path))
        if role != PUBLIC:
            op = replace(op, doc=replace(op.doc, responses={401: UNAUTHORIZED, 403: FORBIDDEN, **op.doc.responses}))
        ops.append(op)
    models = _collect_models(op.doc for op in ops if op.doc)
    refs, definitions = models_json_schema([(m, "validation") for m in models], ref_template=REF_TEMPLATE)
    components = definitions.get("$defs", {})

    def schema_of(schema: Schema) -> dict[str, Any] | None:
        if schema is None:
            return None
        if isinstance(schema, dict):
            return schema
        return refs[(schema, "validation")]

    paths: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for op in ops:
        doc = op.doc
        assert doc is not None
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": path_schema(name)}
            for name in op.path_parameters
        ]
        parameters += [{"name": h.name, "in": "header", "required": h.required, "description": h.description,
                        "schema": dict(h.schema)} for h in doc.headers]
        if doc.query is not None:
            parameters += _query_parameters(doc.query)
        entry: dict[str, Any] = {
            "summary": doc.summary,
            "operationId": _operation_id(op),
            "responses": {},
        }
        role = roles.get((op.method, op.path))
        description = _description(doc)
        if description:
            entry["description"] = description
        entry["x-rules-beyond-schema"] = sorted(doc.beyond_schema)
        if role == PUBLIC:
            entry["security"] = []
        else:
            entry["security"] = [{SECURITY_SCHEME: []}]
            if role is not None:
                entry["x-minimum-role"] = str(role)
        if doc.tags:
            entry["tags"] = list(doc.tags)
        if parameters:
            entry["parameters"] = parameters
        for parameter in parameters:
            _text_without_nul(parameter["schema"], components, seen)
        request_schema = schema_of(doc.request)
        if request_schema is not None:
            _text_without_nul(request_schema, components, seen)
            entry["requestBody"] = {"required": doc.request_required,
                                    "content": {"application/json": {"schema": request_schema}}}
        for status, reply in sorted(doc.responses.items()):
            response: dict[str, Any] = {"description": reply.description}
            reply_schema = schema_of(reply.model)
            if reply_schema is not None:
                response["content"] = {reply.media_type: {"schema": reply_schema}}
            if reply.headers:
                response["headers"] = {name: ({"description": text, "schema": {"type": "string"}}
                                              if isinstance(text, str) else dict(text))
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
    words = re.sub(r"[{}]", "", op.path).strip("/").replace("-", "_").replace(".", "_").split("/")
    return "_".join([op.method.lower(), *[w for w in words if w]])
