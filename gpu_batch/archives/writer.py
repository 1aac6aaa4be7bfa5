"""A ZIP written entry by entry to a stream, recording the size and sha256 of every file it holds.

JPEGs (and other already-compressed files) are STORED; text is DEFLATED. Large text is copied in
from a spooled temporary file in chunks, so nothing is ever held whole in memory.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileRecord:
    path: str
    bytes: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.bytes, "sha256": self.sha256}


def _zip_time(when: datetime) -> tuple[int, int, int, int, int, int]:
    if when.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (when.year, when.month, when.day, when.hour, when.minute, when.second)


class ArchiveWriter:
    def __init__(self, out: IO[bytes]) -> None:
        self.zip = zipfile.ZipFile(out, "w", allowZip64=True)
        self.files: list[FileRecord] = []

    def add_stored(self, path: str, data: bytes, when: datetime) -> FileRecord:
        """An already-compressed file (JPEG): stored as is."""
        info = zipfile.ZipInfo(path, _zip_time(when))
        info.compress_type = zipfile.ZIP_STORED
        self.zip.writestr(info, data)
        record = FileRecord(path, len(data), hashlib.sha256(data).hexdigest())
        self.files.append(record)
        return record

    def add_stream(self, path: str, source: IO[bytes], when: datetime, compress: bool = True) -> FileRecord:
        """Copy `source` (read from its current position) into the archive in chunks."""
        info = zipfile.ZipInfo(path, _zip_time(when))
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        digest, size = hashlib.sha256(), 0
        with self.zip.open(info, "w", force_zip64=True) as target:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
        record = FileRecord(path, size, digest.hexdigest())
        self.files.append(record)
        return record

    def add_json(self, path: str, payload: Any, when: datetime, record: bool = True) -> FileRecord:
        # No indent: the C encoder, ~10x faster on a 10,000-file manifest; `jq .` pretty-prints it.
        data = (json.dumps(payload, default=str, separators=(",", ":")) + "\n").encode()
        info = zipfile.ZipInfo(path, _zip_time(when))
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        entry = FileRecord(path, len(data), hashlib.sha256(data).hexdigest())
        if record:
            self.files.append(entry)
        return entry

    def close(self) -> None:
        self.zip.close()
