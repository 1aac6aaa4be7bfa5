"""The batch scaler in template.yaml (BatchScalerFunction's inline code): queue depth -> jobs.

Its code is taken from the template and run here against in-process stand-ins for SQS and AWS Batch:
neither emulator runs AWS Batch without Docker, and what is under test is the arithmetic and the calls
it makes, not AWS.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import boto3
import pytest

from infra.template import load_template

TEMPLATE = load_template()
SCALER = TEMPLATE["Resources"]["BatchScalerFunction"]["Properties"]
ACTIVE = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


class FakeSqs:
    def __init__(self, depth: dict[str, int]) -> None:
        self.depth = depth

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        assert AttributeNames == ["ApproximateNumberOfMessages"]
        return {"Attributes": {"ApproximateNumberOfMessages": str(self.depth[QueueUrl])}}


class FakePaginator:
    def __init__(self, jobs: dict[tuple[str, str], int]) -> None:
        self.jobs = jobs

    def paginate(self, jobQueue: str, jobStatus: str) -> list[dict[str, Any]]:  # noqa: N803
        count = self.jobs.get((jobQueue, jobStatus), 0)
        return [{"jobSummaryList": [{}] * min(count, 100)}, {"jobSummaryList": [{}] * max(0, count - 100)}]


class FakeBatch:
    def __init__(self, jobs: dict[tuple[str, str], int]) -> None:
        self.jobs = jobs
        self.submitted: list[dict[str, str]] = []

    def get_paginator(self, name: str) -> FakePaginator:
        assert name == "list_jobs"
        return FakePaginator(self.jobs)

    def submit_job(self, **kwargs: str) -> dict[str, str]:
        self.submitted.append(kwargs)
        return {"jobId": str(len(self.submitted))}


ENV = {
    "WORKERS": "exports,reid",
    "EXPORTS_QUEUE_URL": "q/exports", "EXPORTS_JOB_QUEUE": "jq/exports", "EXPORTS_JOB_DEFINITION": "jd/exports",
    "EXPORTS_MAX_JOBS": "2", "EXPORTS_MESSAGES_PER_JOB": "10",
    "REID_QUEUE_URL": "q/reid", "REID_JOB_QUEUE": "jq/reid", "REID_JOB_DEFINITION": "jd/reid",
    "REID_MAX_JOBS": "3", "REID_MESSAGES_PER_JOB": "50",
}


def load_scaler(monkeypatch: pytest.MonkeyPatch, sqs: FakeSqs, batch: FakeBatch) -> ModuleType:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    clients = {"sqs": sqs, "batch": batch}
    monkeypatch.setattr(boto3, "client", lambda service, **_: clients[service])
    module = ModuleType("batch_scaler")
    exec(compile(SCALER["Code"]["ZipFile"], "template.yaml:BatchScalerFunction", "exec"), module.__dict__)  # noqa: S102
    return module


def run(monkeypatch: pytest.MonkeyPatch, depth: dict[str, int],
        jobs: dict[tuple[str, str], int] | None = None) -> tuple[dict[str, Any], FakeBatch]:
    batch = FakeBatch(jobs or {})
    scaler = load_scaler(monkeypatch, FakeSqs(depth), batch)
    return scaler.handler({"source": "aws.events"}, None), batch


def test_no_backlog_submits_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    decisions, batch = run(monkeypatch, {"q/exports": 0, "q/reid": 0})
    assert batch.submitted == []
    assert decisions == {"exports": {"backlog": 0, "active": 0, "submitted": 0},
                         "reid": {"backlog": 0, "active": 0, "submitted": 0}}


def test_one_message_starts_one_job(monkeypatch: pytest.MonkeyPatch) -> None:
    _, batch = run(monkeypatch, {"q/exports": 1, "q/reid": 0})
    assert len(batch.submitted) == 1
    job = batch.submitted[0]
    assert job["jobQueue"] == "jq/exports" and job["jobDefinition"] == "jd/exports"
    assert job["jobName"].startswith("deertrack-exports-")


def test_jobs_grow_with_depth_up_to_the_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    decisions, batch = run(monkeypatch, {"q/exports": 15, "q/reid": 10_000})
    assert decisions["exports"]["submitted"] == math.ceil(15 / 10) == 2
    assert decisions["reid"]["submitted"] == 3  # capped by REID_MAX_JOBS
    assert [j["jobQueue"] for j in batch.submitted] == ["jq/exports"] * 2 + ["jq/reid"] * 3


def test_jobs_already_queued_or_running_count(monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = {("jq/reid", "RUNNING"): 1, ("jq/reid", "RUNNABLE"): 1, ("jq/exports", "STARTING"): 2,
            ("jq/reid", "SUCCEEDED"): 40}
    decisions, _ = run(monkeypatch, {"q/exports": 15, "q/reid": 120}, jobs)
    assert decisions["exports"] == {"backlog": 15, "active": 2, "submitted": 0}
    assert decisions["reid"] == {"backlog": 120, "active": 2, "submitted": 1}


def test_the_scaler_is_wired_to_the_queues_and_jobs_it_names() -> None:
    env = SCALER["Environment"]["Variables"]
    workers = env["WORKERS"].split(",")
    jobs = {props["ContainerProperties"]["Command"][0]: logical_id
            for logical_id, resource in TEMPLATE["Resources"].items()
            if resource["Type"] == "AWS::Batch::JobDefinition" for props in [resource["Properties"]]}
    assert sorted(workers) == sorted(jobs)
    for worker in workers:
        prefix = worker.upper()
        assert env[f"{prefix}_JOB_DEFINITION"] == {"Ref": jobs[worker]}
        assert env[f"{prefix}_QUEUE_URL"] == {"Ref": f"{worker.capitalize()}Queue"}
        for key in ("JOB_QUEUE", "MAX_JOBS", "MESSAGES_PER_JOB"):
            assert f"{prefix}_{key}" in env
    assert len(SCALER["Code"]["ZipFile"]) <= 4096  # CloudFormation's limit for inline Lambda code


def test_the_scaler_runs_every_minute() -> None:
    rule = TEMPLATE["Resources"]["BatchScalerSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["BatchScalerFunction", "Arn"]}
