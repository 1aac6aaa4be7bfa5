"""The embedded LocalStack: its open-source core in host mode, a child process with every file under one folder.

It runs from its own virtualenv (runtime.py) in its own process group, serves SQS, S3, EventBridge,
STS and IAM on a loopback port, and keeps everything it writes (state, S3 objects, temporary files,
its log) under `<state dir>/localstack/`; the run folder is emptied at each start. Stopping sends
SIGTERM to the group and kills what is left; one left running by a stack that was killed hard is
found through its pid file and stopped at the next start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from deertrack.logs import logger
from infra.localstack.runtime import LAUNCHER, LocalStackRuntime, LocalStackUnavailable
from infra.ports import free_port
from infra.processes import spawn, stop_group
from infra.services import ServiceError, stop_stale, wait_until

SERVICES = ("sqs", "s3", "events", "sts", "iam")
START_TIMEOUT_SECONDS = 60
#: Variables of ours that must not leak into LocalStack's own boto3 (it would call itself through them).
_NOT_INHERITED = ("AWS_ENDPOINT_URL", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")


def localstack_health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """LocalStack's own health document at url (`/_localstack/health`), or None when none answers there."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/_localstack/health", timeout=timeout) as answer:
            document = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return document if isinstance(document, dict) and "services" in document else None


class EmbeddedLocalStack:
    """LocalStack on 127.0.0.1:port (a free one when port is None), with its files under state_dir/localstack."""

    name = "localstack"

    def __init__(self, state_dir: Path, host: str = "127.0.0.1", port: int | None = None,
                 runtime: LocalStackRuntime | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.directory = state_dir / "localstack"
        self.runtime = runtime or LocalStackRuntime.for_state_dir(state_dir)
        self.files = self.directory / "run"
        self.log = self.directory / "localstack.log"
        self.pid_file = self.directory / "server.pid"
        self.version: str | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        env.update({
            "SERVICES": ",".join(SERVICES),
            "GATEWAY_LISTEN": f"{self.host}:{self.port}",
            "LOCALSTACK_HOST": f"{self.host}:{self.port}",
            # Queue URLs as http://127.0.0.1:<port>/queue/<region>/<account>/<name>: no DNS name to resolve.
            "SQS_ENDPOINT_STRATEGY": "path",
            "DNS_ADDRESS": "0",  # no DNS server of its own
            "DISABLE_EVENTS": "1",  # no usage analytics sent anywhere
            "SKIP_SSL_CERT_DOWNLOAD": "1",  # no call out for a TLS certificate at start (it makes its own)
            # Host mode even inside a container (it would otherwise write under /var/lib/localstack).
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(self.files / "filesystem"),
            "TEMP": str(self.files / "tmp"),  # tempfile.gettempdir(): LocalStack's /tmp/localstack
            "DEERTRACK_LOCALSTACK_S3_DIR": str(self.files / "s3"),  # read by launch.py
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        })
        env.pop("TMPDIR", None)  # LocalStack reads TMPDIR as a deprecated setting of its own
        return env

    def start(self, cancelled: threading.Event | None = None) -> EmbeddedLocalStack:
        """Install if needed, start, wait for every service to be available; LocalStackUnavailable says why not."""
        self.runtime.ensure(cancelled)
        self.directory.mkdir(parents=True, exist_ok=True)
        stop_stale(self.pid_file, LAUNCHER.name, signal.SIGTERM, self.files)
        shutil.rmtree(self.files, ignore_errors=True)
        for sub in ("filesystem", "tmp", "s3"):
            (self.files / sub).mkdir(parents=True)
        with self.log.open("ab") as output:
            self.process = spawn([str(self.runtime.python), str(LAUNCHER)], env=self._environment(), output=output,
                                 cwd=self.files)
        self.pid_file.write_text(f"{self.process.pid}\n")
        try:
            wait_until(self._ready, self.process, "LocalStack", self.log, START_TIMEOUT_SECONDS, cancelled)
        except ServiceError as exc:
            self.stop()
            raise LocalStackUnavailable(str(exc)) from exc
        logger.info("LocalStack started", extra={"url": self.url, "pid": self.process.pid, "version": self.version,
                                                 "files": str(self.files)})
        return self

    def _ready(self) -> bool:
        health = localstack_health(self.url, timeout=1.0)
        if health is None:
            return False
        states = health.get("services", {})
        if all(states.get(service) in ("available", "running") for service in SERVICES):
            self.version = str(health.get("version") or "") or None
            return True
        return False

    def client(self, service: str) -> Any:
        """A boto3 client of this LocalStack, whatever AWS_ENDPOINT_URL names (dummy credentials)."""
        return boto3.session.Session().client(
            service, endpoint_url=self.url, region_name=os.environ.get("AWS_REGION", "us-east-1"),
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}))

    def reset(self) -> None:
        """Forget every rule, queue and bucket (the open-source core has no reset call of its own)."""
        events = self.client("events")
        for page in events.get_paginator("list_rules").paginate():
            for rule in page["Rules"]:
                targets = [t["Id"] for t in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]]
                if targets:
                    events.remove_targets(Rule=rule["Name"], Ids=targets)
                events.delete_rule(Name=rule["Name"])
        sqs = self.client("sqs")
        for page in sqs.get_paginator("list_queues").paginate():
            for queue_url in page.get("QueueUrls", []):
                sqs.delete_queue(QueueUrl=queue_url)
        s3 = self.client("s3")
        for bucket in s3.list_buckets()["Buckets"]:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    s3.delete_objects(Bucket=bucket["Name"], Delete={"Objects": keys, "Quiet": True})
            s3.delete_bucket(Bucket=bucket["Name"])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self, cancelled: threading.Event | None = None) -> EmbeddedLocalStack:
        """Stop what is left of it and start it again on the same port, empty (the run folder is emptied)."""
        self.stop()
        return self.start(cancelled)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, signal.SIGTERM, 15)
            self.pid_file.unlink(missing_ok=True)
            self.process = None
