"""template.yaml is valid: cfn-lint finds no errors, and the SAM translator turns it into plain
CloudFormation offline (what `sam deploy` has CloudFormation do), with the pieces we rely on.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from samtranslator.translator.transform import transform

from infra.template import TEMPLATE_PATH, load_template


class ManagedPolicyLoaderStub:
    """SAM asks this for the ARNs of AWS managed policies named in `Policies`. The template names
    none by bare name (only SAM policy templates, inline statements and full ARNs), so an empty map
    is the truth and no IAM call (no network) is needed."""

    def load(self) -> dict[str, str]:
        return {}


def packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` does before the transform: local CodeUri/ContentUri become S3 locations."""
    template = copy.deepcopy(template)
    globals_function = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_function.get("CodeUri"), str):
        globals_function["CodeUri"] = f"s3://deertrack-artifacts/{globals_function['CodeUri'].strip('/')}.zip"
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://deertrack-artifacts/{props[key].strip('/')}.zip"
    return template


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator's pseudo-parameters; no AWS call
        return transform(packaged(load_template()), {}, ManagedPolicyLoaderStub())


def test_cfn_lint_reports_no_errors() -> None:
    matches = lint_file(Path(TEMPLATE_PATH))
    errors = [m for m in matches if m.rule.id.startswith("E")]
    others = [m for m in matches if not m.rule.id.startswith("E")]
    for match in others:
        warnings.warn(f"cfn-lint {match.rule.id} line {match.linenumber}: {match.message}", stacklevel=1)
    assert not errors, "\n".join(f"{m.rule.id} line {m.linenumber}: {m.message}" for m in errors)


def test_sam_translates_to_plain_cloudformation(translated: dict[str, Any]) -> None:
    types = {r["Type"] for r in translated["Resources"].values()}
    assert not any(t.startswith("AWS::Serverless::") for t in types), types
    assert "Transform" not in translated
    for expected in ("AWS::ApiGatewayV2::Api", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::LayerVersion",
                     "AWS::Events::Rule", "AWS::Batch::ComputeEnvironment", "AWS::RDS::DBInstance",
                     "AWS::ElastiCache::ReplicationGroup"):
        assert expected in types


def test_every_function_gets_its_own_role(translated: dict[str, Any]) -> None:
    resources = translated["Resources"]
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    roles = [r["Properties"]["Role"] for r in functions.values()]
    assert len({str(role) for role in roles}) == len(functions)
    vpc_role = resources["ApiFunctionRole"]["Properties"]["ManagedPolicyArns"]
    assert any("AWSLambdaVPCAccessExecutionRole" in str(arn) for arn in vpc_role)


def test_translated_http_api_routes_use_payload_1_0(translated: dict[str, Any]) -> None:
    body = translated["Resources"]["HttpApi"]["Properties"]["Body"]
    operations = [op for methods in body["paths"].values() for op in methods.values()]
    assert len(operations) == sum(
        1 for e in load_template()["Resources"]["ApiFunction"]["Properties"]["Events"].values()
        if e["Type"] == "HttpApi")
    for op in operations:
        integration = op["x-amazon-apigateway-integration"]
        assert integration["payloadFormatVersion"] == "1.0"


def test_translated_sqs_sources_report_partial_failures(translated: dict[str, Any]) -> None:
    mappings = [r["Properties"] for r in translated["Resources"].values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == 3
    for mapping in mappings:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_translated_backfill_schedule_is_the_parameter(translated: dict[str, Any]) -> None:
    rules = {k: r["Properties"] for k, r in translated["Resources"].items() if r["Type"] == "AWS::Events::Rule"}
    assert rules["BackfillScheduleFunctionNightly"]["ScheduleExpression"] == {"Ref": "BackfillSchedule"}
    assert rules["BatchScalerSchedule"]["ScheduleExpression"] == "rate(1 minute)"


def test_translated_http_api_has_the_jwt_authorizer_on_every_route_but_the_public(translated: dict[str, Any]) -> None:
    body = translated["Resources"]["HttpApi"]["Properties"]["Body"]
    authorizer = body["components"]["securitySchemes"]["CognitoJwt"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "jwt" and authorizer["identitySource"] == "$request.header.Authorization"
    assert {"issuer", "audience"} <= set(authorizer["jwtConfiguration"])
    open_routes, guarded = set(), set()
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            (guarded if operation.get("security") == [{"CognitoJwt": []}] else open_routes).add((method, path))
    assert open_routes == {("get", "/api/health"), ("get", "/api/openapi.json"), ("get", "/review"),
                           ("get", "/review/{asset}")}
    events = load_template()["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    assert len(guarded) == sum(1 for e in events if e["Type"] == "HttpApi") - len(open_routes)
    types = {r["Type"] for r in translated["Resources"].values()}
    assert {"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolGroup"} <= types
