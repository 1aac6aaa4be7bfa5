"""`deertrack seed --demo`: load the demo data set (cameras, deer, detections, pictures); safe to rerun."""

from __future__ import annotations

import argparse

from infra.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "seed", help="load the demo data set into PostgreSQL and the images bucket",
        description="Load the deterministic demo data set: 6 cameras, 53 deer, 4,546 detections from "
                    "2023-09-01 to 2024-01-31 with their true identities, and their synthetic camera "
                    "pictures. Running it again writes nothing new; missing pictures are uploaded.")
    parser.add_argument("--demo", action="store_true", help="the demo data set (the only one there is)")
    parser.add_argument("--no-images", action="store_true", help="database rows only, no pictures in S3")
    parser.add_argument("--image-limit", type=int, default=None, metavar="N",
                        help="upload only the first N pictures (quick tries)")
    parser.add_argument("--workers", type=int, default=8, help="threads rendering and uploading pictures (8)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from infra.demo.seed import SeedError, seed_demo

    if not args.demo:
        raise CommandError("say what to seed: `deertrack seed --demo`", code=2)
    if args.image_limit is not None and args.image_limit < 0:
        raise CommandError("--image-limit must be 0 or more", code=2)
    if not 1 <= args.workers <= 64:
        raise CommandError("--workers must be between 1 and 64", code=2)
    print("seeding the demo data set ...", flush=True)
    try:
        summary = seed_demo(images=not args.no_images, image_limit=args.image_limit, workers=args.workers)
    except SeedError as exc:
        raise CommandError(str(exc)) from exc
    for line in summary.lines():
        print(line)
    return 0
