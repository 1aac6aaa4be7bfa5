"""Schemathesis checks of our own, loaded by the fuzz test (SCHEMATHESIS_HOOKS=tests.openapi_fuzz_checks).

The built-in checks judge status codes; these say what our answers mean:

* `refusals_name_rules_beyond_schema`: a request the document calls valid may still be refused with a 400, but
  only for a rule JSON Schema cannot say, one the operation lists in `x-rules-beyond-schema` (date order, ids
  that must exist…). A 400 naming any other rule means the document let through something the code refuses.
* `partial_answers_name_what_was_refused`: a 207 (ingest stored part of a batch) lists what it refused in
  `details`, so it is a refusal of the invalid part, never a silent acceptance.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, Response


def _details(response: Response) -> list[dict[str, Any]]:
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return []
    return body.get("details", []) if isinstance(body, dict) else []


@schemathesis.check
def refusals_name_rules_beyond_schema(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    allowed = set(case.operation.definition.raw.get("x-rules-beyond-schema", []))
    rules = {detail.get("rule") for detail in _details(response)}
    unexpected = sorted(str(rule) for rule in rules - allowed)
    if unexpected or not rules:
        raise AssertionError(f"a request the document calls valid was refused for {unexpected or 'no rule'}; "
                             f"the operation lists {sorted(allowed)} as checked beyond its schema: "
                             f"{response.content[:500]!r}")
    return True


@schemathesis.check
def partial_answers_name_what_was_refused(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    if response.status_code != 207:
        return None
    if not _details(response):
        raise AssertionError("a 207 must list what it refused in `details`")
    return True
