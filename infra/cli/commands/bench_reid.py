"""`deertrack bench reid`: embedding throughput, and scoring + score logging beside a raw COPY.

1. Embedding: crops of synthetic demo-style pictures (640x480 JPEGs, an evaluation seed) through the
   configured embedder (the shipped model unless REID_MODEL_URI), batched, on CUDA when there is one
   (bf16 autocast) else this CPU: the worker's path (JPEG bytes → decode → crop → embed) next to
   its parts measured bare in the same run (a Pillow decode of the same JPEGs, the model's forward
   pass on the same batches), and their ratio.
2. Scoring + logging: N detections x M deer (demo size by default: 4,546 x 53 ≈ 241,000 pairs)
   through the worker's code path — one matrix product, sex eligibility, per-detection decision,
   ScoreBlock, score_log.replace_scores (DELETE + COPY) in one transaction — beside a raw COPY of
   the very same rows (COPY text prepared beforehand, in the same chunks) into an identical table
   (LIKE reid_similarity_scores INCLUDING ALL, same foreign keys). Both start from an empty table
   each round; the order alternates by round and the median of each is printed with the ratio.

Everything database-side happens in a throwaway schema (bench_reid_<pid>) of DATABASE_URL's
database, created from migration 001 and dropped at the end. Bounded: a couple of minutes at most.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import numpy as np

from infra.cli import CommandError
from infra.cli.commands.bench import add_benchmark


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--crops", type=int, default=256, help="crops per embedding round (default 256)")
    parser.add_argument("--batch-size", type=int, default=64, help="embedder batch size (default 64)")
    parser.add_argument("--detections", type=int, default=4546, help="detections scored (default 4546)")
    parser.add_argument("--deer", type=int, default=53, help="deer in the gallery (default 53)")
    parser.add_argument("--dim", type=int, default=0, help="embedding size for scoring (default: the embedder's)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of each measurement (default 4)")
    parser.add_argument("--skip-embedding", action="store_true", help="only the scoring + logging part")


def demo_photos(count: int, seed: int = 31) -> list[tuple[bytes, tuple[int, int, int, int]]]:
    """JPEG pictures of a synthetic population (as stored in the images bucket) with one box each."""
    from infra.demo.dataset import generate_dataset
    from infra.demo.images import image_jpeg

    data = generate_dataset(seed)
    out = []
    for image in data.images:
        for det in data.detections_by_image[image.index]:
            if len(out) < count:
                out.append((image_jpeg(data, image), det.bbox))
        if len(out) >= count:
            break
    return out


def bench_embedding(args: argparse.Namespace) -> int:
    """The worker's path (JPEG bytes -> decode -> crop -> embed) next to its parts measured bare:
    a Pillow decode of the same JPEGs, and the model's forward pass on the same batch."""
    import torch
    from PIL import Image

    from deertrack.reid import crops
    from gpu_batch.reid.embedder import current_embedder
    from gpu_batch.reid.pipeline import MAX_CROP_SIDE

    embedder = current_embedder()
    embedder.batch_size = max(1, args.batch_size)
    photos = demo_photos(max(8, args.crops))

    def worker_path() -> np.ndarray:
        images = []
        for data, box in photos:
            crop = crops.cut(crops.decode(data), box).image
            crop.thumbnail((MAX_CROP_SIDE, MAX_CROP_SIDE), Image.Resampling.BILINEAR)
            images.append(crop)
        return embedder.embed(images)

    def bare_decode() -> int:
        for data, _ in photos:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
        return len(photos)

    prepared = [crops.cut(crops.decode(d), b).image for d, b in photos]
    batches = [embedder._tensor(prepared[i:i + embedder.batch_size])  # noqa: SLF001 - the very same input
               for i in range(0, len(prepared), embedder.batch_size)]

    def bare_forward() -> int:
        with torch.inference_mode():
            for batch in batches:
                if embedder.device.type == "cuda":
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        embedder.module(batch)
                    torch.cuda.synchronize()
                else:
                    embedder.module(batch)
        return len(prepared)

    worker_path(), bare_forward()  # warm-up
    timings: dict[str, list[float]] = {"worker": [], "decode": [], "forward": []}
    for _ in range(max(1, args.rounds)):
        for name, func in (("worker", worker_path), ("decode", bare_decode), ("forward", bare_forward)):
            started = time.perf_counter()
            func()
            timings[name].append(time.perf_counter() - started)
    n = len(photos)
    worker, decode, forward = (statistics.median(timings[k]) for k in ("worker", "decode", "forward"))
    threads = f", {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads" if embedder.device.type == "cpu" \
        else ""
    autocast = " with bf16 autocast" if embedder.device.type == "cuda" else ""
    print(f"embedding ({embedder.name}, dim {embedder.dim}, input {embedder.input_size[0]}x{embedder.input_size[1]},"
          f" on {embedder.device}{autocast}{threads}, batch {embedder.batch_size}, {n} crops from 640x480 JPEGs,"
          f" median of {len(timings['worker'])} rounds):")
    print(f"  bare forward pass (same batches)      {n / forward:9.0f} crops/s")
    print(f"  bare Pillow decode (same JPEGs)       {n / decode:9.0f} images/s")
    print(f"  worker path: decode + crop + embed    {n / worker:9.0f} crops/s")
    print(f"  ratio worker path / (decode + forward) {worker / (decode + forward):8.2f}")
    return embedder.dim


@contextmanager
def scratch_schema() -> Iterator:
    from deertrack import db, migrations

    name = f"bench_reid_{os.getpid()}"
    con = db.connect()
    try:
        con.run(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        con.run(f"CREATE SCHEMA {name}")
        con.run(f"SET search_path TO {name}")
        first = migrations.discover()[0]
        con.run("BEGIN")
        con.execute_simple(first.sql)
        con.run("COMMIT")
        yield con
    finally:
        with suppress(Exception):  # nothing open
            con.run("ROLLBACK")
        con.run(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        con.close()


def bench_scoring(args: argparse.Namespace, dim: int) -> None:
    from deertrack.classifications import CLASSIFICATIONS
    from deertrack.db import transaction
    from deertrack.reid import scoring
    from deertrack.reid.score_log import ScoreBlock, block_chunks, copy_chunks, replace_scores
    from deertrack.reid.vectors import normalize
    from infra.bench.backfill import create_identical_empty

    n, m = max(1, args.detections), max(1, args.deer)
    rng = np.random.default_rng(11)
    embeddings = normalize(rng.normal(size=(n, dim)).astype(np.float32))
    profiles = normalize(rng.normal(size=(m, dim)).astype(np.float32))
    sexes_pool = np.array(CLASSIFICATIONS)
    det_classes = list(sexes_pool[rng.integers(0, 4, n)])
    deer_sexes = list(sexes_pool[rng.integers(0, 3, m)])
    threshold = 0.8
    with scratch_schema() as con:
        con.run("INSERT INTO locations (code, name, latitude, longitude) VALUES ('B', 'bench', 0, 0)")
        con.run("INSERT INTO images (s3_key, location_id, captured_at) SELECT 'b/' || g, 1, now()"
                " FROM generate_series(1, :n) g", n=n)
        con.run("INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence,"
                " classification) SELECT g, 0, 0, 10, 10, 0.9, 'unknown' FROM generate_series(1, :n) g", n=n)
        con.run("INSERT INTO deer (name) SELECT 'D' || g FROM generate_series(1, :m) g", m=m)
        detection_ids = [r[0] for r in con.run("SELECT id FROM detections ORDER BY id")]
        deer_ids = [r[0] for r in con.run("SELECT id FROM deer ORDER BY id")]
        create_identical_empty(con, "reid_similarity_scores", "reid_scores_baseline")

        def pipeline() -> int:
            scores = scoring.similarity(embeddings, profiles)
            eligible = scoring.sex_match_matrix(det_classes, deer_sexes)
            assigned, _ = scoring.decide_each(scores, eligible, threshold)
            matched = scoring.matched_mask(n, m, assigned)
            block = ScoreBlock.from_matrix(detection_ids, deer_ids, scores, matched, eligible, det_classes,
                                           deer_sexes, scoring.round_threshold(threshold))
            with transaction(con):
                return replace_scores(con, detection_ids, block)

        # the raw COPY gets the very same rows, formatted before the clock starts, in the same chunks
        scores = scoring.similarity(embeddings, profiles)
        eligible = scoring.sex_match_matrix(det_classes, deer_sexes)
        assigned, _ = scoring.decide_each(scores, eligible, threshold)
        chunks = list(block_chunks(ScoreBlock.from_matrix(
            detection_ids, deer_ids, scores, scoring.matched_mask(n, m, assigned), eligible, det_classes, deer_sexes,
            scoring.round_threshold(threshold),
        )))

        def raw_copy() -> int:
            with transaction(con):
                copy_chunks(con, chunks, table="reid_scores_baseline")
            return n * m

        ours, baseline = [], []
        runs = [("reid_similarity_scores", pipeline, ours), ("reid_scores_baseline", raw_copy, baseline)]
        for round_number in range(max(1, args.rounds)):
            # alternate which goes first, so WAL flushes and checkpoints hit both alike
            for table, func, times in (runs if round_number % 2 == 0 else runs[::-1]):
                con.run(f"TRUNCATE {table}")
                started = time.perf_counter()
                rows = func()
                times.append(time.perf_counter() - started)
                assert rows == n * m
        logged = con.run("SELECT count(*) FROM reid_similarity_scores")[0][0]
        copied = con.run("SELECT count(*) FROM reid_scores_baseline")[0][0]
    if logged != n * m or copied != n * m:
        raise CommandError(f"row counts differ: logged {logged}, copied {copied}, expected {n * m}")
    ours_s, base_s = statistics.median(ours), statistics.median(baseline)
    rows = n * m
    print(f"scoring + score logging ({n} detections x {m} deer = {rows} rows, dim {dim}, all 7 indexes, "
          f"median of {len(ours)} rounds, empty table each round):")
    print(f"  re-ID path (matmul + decide + COPY) {ours_s:7.2f} s  {rows / ours_s:10.0f} rows/s")
    print(f"  raw COPY of the same rows           {base_s:7.2f} s  {rows / base_s:10.0f} rows/s")
    print(f"  ratio re-ID path / raw COPY         {ours_s / base_s:7.2f}")


def run(args: argparse.Namespace) -> int:
    from deertrack.db import DatabaseUnavailable
    from gpu_batch.reid.embedder import ModelLoadError, current_embedder

    try:
        dim = args.dim or (current_embedder().dim if args.skip_embedding else bench_embedding(args))
        if args.dim and not args.skip_embedding:
            bench_embedding(args)
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from None
    try:
        bench_scoring(args, dim)
    except DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    return 0


add_benchmark("reid", "re-ID embedding crops/s; scoring + score logging rows/s beside a raw COPY", run, _configure)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing at the top level: `deertrack bench reid` is added through add_benchmark."""
