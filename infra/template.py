"""Read template.yaml: the one declaration of queues, buckets, notifications, handlers and schedules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags (!Ref, !Sub, …) into their long form."""


def _cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class QueueDecl:
    logical_id: str
    name: str
    attributes: dict[str, str]
    dead_letter: str | None = None  # logical id of its dead-letter queue
    max_receive_count: int | None = None


@dataclass
class BucketDecl:
    logical_id: str
    name: str
    # (event, queue logical id, prefix, suffix)
    queue_notifications: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class FunctionSettings:
    """What template.yaml says about one function beyond its handler: limits and response types."""

    timeout_seconds: int = 30
    memory_mb: int = 512
    report_batch_item_failures: bool = True


@dataclass
class HandlerDecl:
    logical_id: str
    handler: str  # e.g. "app.handle_export_request"
    queue: str | None = None  # logical id of the SQS event source
    batch_size: int = 10
    schedule: str | None = None  # rate(...) / cron(...)
    schedule_name: str | None = None  # the EventBridge rule's name (the event's Name, else SAM's logical id)
    settings: FunctionSettings = field(default_factory=FunctionSettings)


@dataclass
class Declarations:
    stage: str
    queues: dict[str, QueueDecl]
    buckets: dict[str, BucketDecl]
    handlers: dict[str, HandlerDecl]

    def queue_name(self, logical_id: str) -> str:
        return self.queues[logical_id].name


#: The property that names a resource of each type (without it, its logical id stands in locally).
NAME_PROPERTIES = {
    "AWS::SQS::Queue": "QueueName", "AWS::S3::Bucket": "BucketName", "AWS::SNS::Topic": "TopicName",
    "AWS::Serverless::Function": "FunctionName", "AWS::Lambda::Function": "FunctionName",
    "AWS::Events::Rule": "Name", "AWS::IAM::Role": "RoleName", "AWS::DynamoDB::Table": "TableName",
    "AWS::ECR::Repository": "RepositoryName",
}
#: The ARN of a resource of each type, from its physical name, as `!GetAtt X.Arn` gives it.
ARN_FORMATS = {
    "AWS::SQS::Queue": "arn:{partition}:sqs:{region}:{account}:{name}",
    "AWS::SNS::Topic": "arn:{partition}:sns:{region}:{account}:{name}",
    "AWS::S3::Bucket": "arn:{partition}:s3:::{name}",
    "AWS::Serverless::Function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
    "AWS::Lambda::Function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
    "AWS::Events::Rule": "arn:{partition}:events:{region}:{account}:rule/{name}",
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/{name}",
    "AWS::DynamoDB::Table": "arn:{partition}:dynamodb:{region}:{account}:table/{name}",
    "AWS::ECR::Repository": "arn:{partition}:ecr:{region}:{account}:repository/{name}",
}


class Resolver:
    """Resolves !Ref, !Sub and !GetAtt against a template's parameters and resources."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template = template
        self.params = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        }
        self.params.update(parameters)
        self.params.setdefault("AWS::Region", "us-east-1")
        self.params.setdefault("AWS::AccountId", "123456789012")
        self.params.setdefault("AWS::Partition", "aws")

    def physical_name(self, logical_id: str) -> str:
        resource = self.template["Resources"][logical_id]
        key = NAME_PROPERTIES.get(resource.get("Type", ""))
        props = resource.get("Properties", {})
        return self.value(props[key]) if key in props else logical_id

    def arn(self, logical_id: str) -> str:
        kind = self.template["Resources"][logical_id].get("Type", "")
        if kind not in ARN_FORMATS:
            raise ValueError(f"!GetAtt {logical_id}.Arn: no ARN format is known for a {kind or 'typeless resource'}")
        return ARN_FORMATS[kind].format(partition=self.params["AWS::Partition"], region=self.params["AWS::Region"],
                                        account=self.params["AWS::AccountId"], name=self.physical_name(logical_id))

    def sub(self, arg: str | list[Any]) -> str:
        """!Sub "text" or !Sub [text, {Var: value}]: the map's variables first, then parameters and resources."""
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1] if len(arg) > 1 else {})
        values = {name: self.value(node) for name, node in variables.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self.value({"Fn::GetAtt": [logical_id, attribute]}))
            return str(self.value({"Ref": name}))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def value(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                if arg in self.params:
                    return self.params[arg]
                return self.physical_name(arg)
            if fn == "Fn::Sub":
                return self.sub(arg)
            if fn == "Fn::GetAtt":
                logical_id, attribute = arg
                if attribute == "Arn":
                    return self.arn(logical_id)
                return self.physical_name(logical_id)
        if isinstance(node, dict):
            return {k: self.value(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.value(v) for v in node]
        return node


def logical_target(node: Any) -> str | None:
    """The logical id named by !GetAtt X.Arn or !Ref X."""
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        return node["Fn::GetAtt"][0]
    if isinstance(node, dict) and "Ref" in node:
        return node["Ref"]
    return None


@lru_cache(maxsize=8)
def declarations(stage: str = "dev", path: Path = TEMPLATE_PATH) -> Declarations:
    template = load_template(path)
    resolve = Resolver(template, {"Stage": stage})
    defaults = template.get("Globals", {}).get("Function", {})
    queues: dict[str, QueueDecl] = {}
    buckets: dict[str, BucketDecl] = {}
    handlers: dict[str, HandlerDecl] = {}
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::SQS::Queue":
            attributes = {
                k: str(resolve.value(props[k]))
                for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
                if k in props
            }
            redrive = props.get("RedrivePolicy")
            queues[logical_id] = QueueDecl(
                logical_id,
                resolve.value(props["QueueName"]),
                attributes,
                dead_letter=logical_target(redrive["deadLetterTargetArn"]) if redrive else None,
                max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
            )
        elif kind == "AWS::S3::Bucket":
            bucket = BucketDecl(logical_id, resolve.value(props["BucketName"]))
            for config in props.get("NotificationConfiguration", {}).get("QueueConfigurations", []):
                rules = {r["Name"]: r["Value"] for r in config.get("Filter", {}).get("S3Key", {}).get("Rules", [])}
                bucket.queue_notifications.append(
                    (config["Event"], logical_target(config["Queue"]), rules.get("prefix", ""),
                     rules.get("suffix", ""))
                )
            buckets[logical_id] = bucket
        elif kind == "AWS::Serverless::Function":
            decl = HandlerDecl(logical_id, props["Handler"])
            reports = True
            for event_id, event in props.get("Events", {}).items():
                event_props = event.get("Properties", {})
                if event["Type"] == "SQS":
                    decl.queue = logical_target(event_props["Queue"])
                    decl.batch_size = int(event_props.get("BatchSize", 10))
                    reports = "ReportBatchItemFailures" in event_props.get("FunctionResponseTypes", [])
                elif event["Type"] == "Schedule":
                    decl.schedule = str(resolve.value(event_props["Schedule"]))
                    decl.schedule_name = str(resolve.value(event_props.get("Name", f"{logical_id}{event_id}")))
            decl.settings = FunctionSettings(
                timeout_seconds=int(props.get("Timeout", defaults.get("Timeout", 30))),
                memory_mb=int(props.get("MemorySize", defaults.get("MemorySize", 512))),
                report_batch_item_failures=reports,
            )
            handlers[logical_id] = decl
    return Declarations(stage, queues, buckets, handlers)


def function_settings(path: Path = TEMPLATE_PATH) -> dict[str, FunctionSettings]:
    """Each function's limits and response types, by logical id."""
    return {logical_id: h.settings for logical_id, h in declarations(path=path).handlers.items()}
