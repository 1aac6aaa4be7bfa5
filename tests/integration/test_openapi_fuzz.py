"""The OpenAPI document and the API cannot drift apart: schemathesis generates requests from the served
document (`GET /api/openapi.json`), valid ones and invalid ones, sends them over real HTTP to the running app
and runs every check on the answers.

* no 5xx (not_a_server_error);
* a request the document calls valid is accepted: 2xx, or 404 for an id that does not exist, or a 400 naming
  only a rule the operation lists as checked beyond its schema (tests/openapi_fuzz_checks.py);
* a request the document calls invalid is refused (4xx; a 207 names the refused records);
* status codes, content types, headers and bodies conform to the document;
* methods the document does not declare are not 501 (UNDECLARED_METHODS below).

Deterministic (a fixed seed, derandomized) and bounded (MAX_EXAMPLES per operation), so CI stays stable and
within a few minutes. The same command runs against `make run`:
`schemathesis run http://127.0.0.1:8001/api/openapi.json -H "Authorization: Bearer $TOKEN" --config-file ...`
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deertrack.auth import Role
from tests.auth_tokens import token
from tests.export_api_client import seed

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
SEED = 20261203
#: Undeclared methods: each path is also sent every method it does not declare, TRACE and QUERY included, and
#: must get the local server's JSON 405 with Allow (as API Gateway answers), never a 5xx or a 501 page.
UNDECLARED = ["get", "put", "post", "delete", "options", "patch", "trace", "query"]

CONFIG = """\
seed = {seed}
[generation]
mode = "all"
max-examples = {max_examples}
deterministic = true
[phases.stateful]
enabled = false
[phases.coverage]
unexpected-methods = {undeclared}
[checks]
positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]
negative_data_rejection.expected-statuses = ["207", "400", "401", "403", "404", "405", "409"]
"""


def test_every_route_keeps_the_documents_promises(api: str, tmp_path: Path) -> None:
    seed()  # two cameras, two deer, six detections: some generated ids exist
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(seed=SEED, max_examples=MAX_EXAMPLES, undeclared=json.dumps(UNDECLARED)))
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.openapi_fuzz_checks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(config), "run",
               f"{api}/api/openapi.json", "--checks", "all",
               "--header", f"Authorization: Bearer {token(Role.ADMIN, user='fuzz-admin')}",
               "--workers", "1", "--request-timeout", "30", "--max-failures", "50"]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    if os.environ.get("FUZZ_OUTPUT"):  # where to keep the whole report (a failing run's is long)
        Path(os.environ["FUZZ_OUTPUT"]).write_text(run.stdout + run.stderr)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
