"""infra.template.Resolver: !GetAtt X.Arn follows X's type, and the list form of !Sub uses its variable map."""

from __future__ import annotations

from typing import Any

import pytest

from infra.template import Resolver, declarations, load_template

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Default": "dev"}},
    "Resources": {
        "Work": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "w-${Stage}"}}},
        "Photos": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "photos-bucket"}},
        "Handler": {"Type": "AWS::Serverless::Function", "Properties": {"FunctionName": "do-it"}},
        "Unnamed": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Nightly": {"Type": "AWS::Events::Rule", "Properties": {"Name": "nightly"}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
    },
}


def resolve(node: Any) -> Any:
    return Resolver(TEMPLATE, {"Stage": "test"}).value(node)


def test_getatt_arn_follows_the_resource_type() -> None:
    assert resolve({"Fn::GetAtt": ["Work", "Arn"]}) == "arn:aws:sqs:us-east-1:123456789012:w-test"
    assert resolve({"Fn::GetAtt": ["Photos", "Arn"]}) == "arn:aws:s3:::photos-bucket"
    assert resolve({"Fn::GetAtt": ["Handler", "Arn"]}) == "arn:aws:lambda:us-east-1:123456789012:function:do-it"
    assert resolve({"Fn::GetAtt": ["Unnamed", "Arn"]}) == "arn:aws:lambda:us-east-1:123456789012:function:Unnamed"
    assert resolve({"Fn::GetAtt": ["Nightly", "Arn"]}) == "arn:aws:events:us-east-1:123456789012:rule/nightly"


def test_getatt_arn_of_a_type_without_a_known_format_is_refused() -> None:
    with pytest.raises(ValueError, match=r"!GetAtt Alarm.Arn: no ARN format is known for a AWS::CloudWatch::Alarm"):
        resolve({"Fn::GetAtt": ["Alarm", "Arn"]})


def test_sub_list_form_uses_its_variable_map_first() -> None:
    variables = {"Prefix": "p", "Queue": {"Fn::GetAtt": ["Work", "Arn"]}, "Photos": "mine"}
    node = {"Fn::Sub": ["${Prefix}-${Stage}-${Queue}-${Photos}", variables]}
    assert resolve(node) == "p-test-arn:aws:sqs:us-east-1:123456789012:w-test-mine"
    assert resolve({"Fn::Sub": ["plain-${Stage}"]}) == "plain-test"
    assert resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Photos}"}) == "arn:aws:s3:::photos-bucket"


def test_function_settings_are_read_with_the_declarations() -> None:
    found = declarations("dev").handlers
    template = load_template()
    defaults = template["Globals"]["Function"]
    for logical_id, handler in found.items():
        props = template["Resources"][logical_id]["Properties"]
        assert handler.settings.timeout_seconds == int(props.get("Timeout", defaults.get("Timeout", 30)))
        assert handler.settings.memory_mb == int(props.get("MemorySize", defaults.get("MemorySize", 512)))
