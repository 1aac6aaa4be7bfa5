"""Helpers for the export API tests: real HTTP calls, a tiny data set, queue and key inspection."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from deertrack import db, queues
from deertrack.messages import ExportJobMessage, parse_message
from deertrack.redis_client import get_redis
from deertrack.settings import get_settings
from tests.auth_tokens import default_token

#: `call(token=...)` default: the session's admin token (tests/auth_tokens.py).
DEFAULT_TOKEN: Any = object()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes = b""

    def problems(self) -> list[tuple[str, str]]:
        return [(d["field"], d["rule"]) for d in self.body["details"]]


def call(method: str, url: str, body: Any = None, *, raw: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30, token: str | None = DEFAULT_TOKEN) -> Answer:
    """One HTTP call with `Authorization: Bearer <token>` (the session's admin token unless `token` says
    otherwise; None sends no Authorization header)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    bearer = default_token() if token is DEFAULT_TOKEN else token
    sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {bearer}"} if bearer else {}),
            **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
            status, got = response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        payload, status, got = exc.read(), exc.code, dict(exc.headers)
    if "json" not in {k.lower(): v for k, v in got.items()}.get("content-type", "json"):
        return Answer(status, got, None, payload)  # a page, a picture: read `raw`
    text = payload.decode() if payload else ""
    return Answer(status, got, json.loads(text) if text.strip() else None, payload)


@dataclass
class Seed:
    location_ids: list[int] = field(default_factory=list)
    deer_ids: list[int] = field(default_factory=list)
    detection_ids: list[int] = field(default_factory=list)


def seed(con: Any = None) -> Seed:
    """2 cameras, 2 deer, 6 detections in 2024 (Sept-Nov); detection 6 is invalid (a false positive)."""
    own = con is None
    con = con or db.connect()
    try:
        s = Seed()
        for code in ("CAM-A", "CAM-B"):
            s.location_ids.append(con.run("INSERT INTO locations (code, name, latitude, longitude) "
                                          "VALUES (:c, :c, 44.1, -73.2) RETURNING id", c=code)[0][0])
        for name, sex in (("Big Ten", "buck"), ("Doe A", "doe")):
            s.deer_ids.append(con.run("INSERT INTO deer (name, sex) VALUES (:n, :s) RETURNING id",
                                      n=name, s=sex)[0][0])
        rows = [  # (camera index, day, classification, confidence, deer index, valid)
            (0, date(2024, 9, 10), "buck", 0.95, 0, True),
            (0, date(2024, 10, 5), "doe", 0.80, 1, True),
            (1, date(2024, 10, 20), "doe", 0.55, 1, True),
            (1, date(2024, 11, 2), "buck", 0.91, 0, True),
            (1, date(2024, 11, 30), "fawn", 0.70, None, True),
            (0, date(2024, 10, 6), "doe", 0.99, None, False),
        ]
        for n, (cam, day, cls, conf, deer, valid) in enumerate(rows):
            image = con.run("INSERT INTO images (s3_key, location_id, captured_at) VALUES (:k, :l, :t) RETURNING id",
                            k=f"images/{n}.jpg", l=s.location_ids[cam],
                            t=datetime(day.year, day.month, day.day, 6, 30, tzinfo=UTC))[0][0]
            s.detection_ids.append(con.run(
                "INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, "
                "classification, deer_id, is_valid) VALUES (:i, 1, 1, 50, 50, :c, :cls, :d, :v) RETURNING id",
                i=image, c=conf, cls=cls, d=None if deer is None else s.deer_ids[deer], v=valid)[0][0])
        return s
    finally:
        if own:
            con.close()


def export_messages(wait_seconds: int = 0) -> list[ExportJobMessage]:
    """Drain the exports queue (deleting what it read)."""
    queue = get_settings().exports_queue_name
    found = []
    for received in queues.drain(queue, wait_seconds=wait_seconds):
        message = parse_message(received.body)
        assert isinstance(message, ExportJobMessage)
        found.append(message)
        queues.delete(queue, received.receipt_handle)
    return found


def redis_keys(pattern: str = "*") -> list[str]:
    prefix = get_settings().redis_key_prefix
    return sorted(k[len(prefix):] for k in get_redis().scan_iter(match=prefix + pattern, count=1000))


PDF = {"report_type": "seasonal_activity", "start_date": "2024-09-01", "end_date": "2024-11-30"}
ZIP_FILTERS = {"filters": {"start_date": "2024-09-01", "end_date": "2024-11-30"}}
