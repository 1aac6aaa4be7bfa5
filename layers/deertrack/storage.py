"""S3 objects: put, stream, get, delete, presigned download URLs."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from botocore.exceptions import ClientError

from deertrack.aws import client
from deertrack.logs import logger
from deertrack.settings import get_settings


class ObjectMissing(LookupError):
    pass


def put_bytes(bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
    client("s3").put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    logger.debug("s3 put", extra={"bucket": bucket, "key": key, "bytes": len(data)})


def upload_stream(bucket: str, key: str, stream: IO[bytes], content_type: str) -> None:
    """Multipart upload from a file-like object, never holding the whole object in memory."""
    client("s3").upload_fileobj(stream, bucket, key, ExtraArgs={"ContentType": content_type})
    logger.info("s3 upload", extra={"bucket": bucket, "key": key})


def get_bytes(bucket: str, key: str, byte_range: str | None = None) -> bytes:
    """The object's bytes (only `byte_range`, an HTTP Range such as 'bytes=0-1023', when given)."""
    ranged = {"Range": byte_range} if byte_range else {}
    try:
        return client("s3").get_object(Bucket=bucket, Key=key, **ranged)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NoSuchBucket", "NotFound"):
            raise ObjectMissing(f"s3://{bucket}/{key}") from exc
        raise


def exists(bucket: str, key: str) -> bool:
    try:
        client("s3").head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def delete_prefix(bucket: str, prefix: str) -> int:
    s3 = client("s3")
    removed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            removed += len(keys)
    logger.info("s3 delete", extra={"bucket": bucket, "prefix": prefix, "removed": removed})
    return removed


@dataclass(frozen=True)
class PresignedUrl:
    url: str
    expires_at: datetime


#: A presigned URL is handed out again for this long (at most a tenth of its lifetime), so that polling a
#: completed job does not sign a new one each time (~1 ms of endpoint resolution and signing in botocore).
PRESIGNED_REUSE_SECONDS = 60.0
PRESIGNED_KEPT = 256
#: (bucket, key, filename, lifetime) -> (reuse until (monotonic), the client that signed it, the URL)
_presigned: OrderedDict[tuple[Any, ...], tuple[float, Any, PresignedUrl]] = OrderedDict()
_presigned_lock = threading.Lock()


def presigned_get(bucket: str, key: str, filename: str | None = None) -> PresignedUrl:
    """A presigned GET URL of the object (a download named `filename`) and when it expires."""
    s3 = client("s3")
    lifetime = get_settings().presigned_url_seconds
    cache_key = (bucket, key, filename, lifetime)
    now = time.monotonic()
    with _presigned_lock:
        kept = _presigned.get(cache_key)
        if kept is not None and now < kept[0] and kept[1] is s3:  # another client: another endpoint or keys
            return kept[2]
    params: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if filename:
        params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
    signed = PresignedUrl(s3.generate_presigned_url("get_object", Params=params, ExpiresIn=lifetime),
                          datetime.now(UTC) + timedelta(seconds=lifetime))
    with _presigned_lock:
        _presigned[cache_key] = (now + min(PRESIGNED_REUSE_SECONDS, lifetime / 10), s3, signed)
        _presigned.move_to_end(cache_key)
        while len(_presigned) > PRESIGNED_KEPT:
            _presigned.popitem(last=False)
    return signed
