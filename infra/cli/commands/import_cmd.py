"""`deertrack import camtrap-dp DIR`: load a Camtrap DP package into locations, images, detections."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from infra.cli import CommandError


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,5})x(\d{1,5})", text)
    if not match or 0 in (int(match[1]), int(match[2])):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels, e.g. 1920x1080 (got {text!r})")
    return int(match[1]), int(match[2])


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import", help="load data from other tools")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    camtrap = kinds.add_parser(
        "camtrap-dp", help="a Camtrap DP 1.0 package (directory or .zip) into locations, images and detections",
        description="Load a Camtrap DP package. Idempotent: images already imported are left as they are. "
        "Files the package holds are uploaded to the images bucket.",
    )
    camtrap.add_argument("source", type=Path, metavar="DIR", help="package directory (or .zip) with datapackage.json")
    camtrap.add_argument("--no-upload", action="store_true", help="do not upload the package's media files to S3")
    camtrap.add_argument("--species", action="append", metavar="NAME",
                         help="import only observations of this scientificName (repeatable; default: all)")
    camtrap.add_argument("--image-size", type=_size, metavar="WxH",
                         help="size of media the package only links to (default: the most common size of the "
                         "package's own files, else 1920x1080)")
    camtrap.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deertrack.db import DatabaseUnavailable
    from infra.camtrap_import import PackageInvalid, import_package

    if not args.source.exists():
        raise CommandError(f"{args.source} does not exist", code=2)
    try:
        report = import_package(args.source, upload_media=not args.no_upload,
                                species=set(args.species) if args.species else None, image_size=args.image_size)
    except PackageInvalid as exc:
        raise CommandError(f"cannot import {args.source}: {exc}") from exc
    except DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from exc
    for line in report.lines():
        print(line)
    return 0
