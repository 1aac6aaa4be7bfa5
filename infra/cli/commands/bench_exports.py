"""`deertrack bench exports`: PDF render time, POST→completed time and ZIP throughput.

Runs in its own throwaway stack (see bench_api.isolated_stack: embedded emulator, a database of its
own, a Redis key prefix of its own, the API over HTTP) and loads the demo season (infra.demo: 6
cameras, 53 deer, 4,546 detections from 2023-09-01 to 2024-01-31; with --synthetic, a synthetic
season of the same shape). The images the ZIP benchmark reads are stand-in JPEGs of the
demo's size at the demo's keys (drawing the demo's own pictures takes ~80 ms each). Then it
measures, in the same run:

- the seasonal_activity PDF for the whole season: data queries and rendering, beside a one-page
  reportlab PDF (the baseline);
- POST /api/exports/pdf → the export worker (in this process) → GET says `completed`;
- a ZIP of 2,000 crops: the archive writer on the crops' bytes beside a bare `zipfile` STORED
  archive of the same bytes (the ratio is the writer's overhead: sha256, metadata.csv, manifest),
  and the whole job (query, S3 reads, cropping, archive) for scale.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

from infra.cli import CommandError
from infra.cli.commands.bench import add_benchmark
from infra.cli.commands.bench_api import timed

SEASON = (date(2023, 9, 1), date(2024, 1, 31))
CAMERAS, DEER, DETECTIONS = 6, 53, 4546
IMAGE_SIZE = (960, 540)


def _median_seconds(rounds: int, action: Callable[[], object]) -> tuple[float, object]:
    """(median seconds of `rounds` calls, what the last call returned)."""
    result: object = None

    def call() -> None:
        nonlocal result
        result = action()

    return statistics.median(timed(call) for _ in range(rounds)) / 1000, result


#: Shape of a stand-in picture: ellipses, their (width, height) ranges in pixels, JPEG quality.
Ellipses = tuple[tuple[int, int], tuple[int, int]]


def stand_in_jpeg(seed: int, size: tuple[int, int] = IMAGE_SIZE, *, shapes: int = 20,
                  ellipses: Ellipses = ((30, 200), (30, 150)), quality: int = 85) -> bytes:
    """A deterministic picture (a green-brown ground with coloured ellipses) standing in for a camera image."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(40, 90), rng.randrange(60, 120), rng.randrange(30, 70)))
    draw = ImageDraw.Draw(image)
    (min_w, max_w), (min_h, max_h) = ellipses
    for _ in range(shapes):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.ellipse((x, y, x + rng.randrange(min_w, max_w), y + rng.randrange(min_h, max_h)),
                     fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def synthetic_season(con, detections: int = DETECTIONS, seed: int = 2023) -> list[tuple[int, str]]:
    """A season shaped like the demo's; returns (image id, key) of every image, in capture order."""
    rng = random.Random(seed)
    start = datetime.combine(SEASON[0], datetime.min.time(), tzinfo=UTC)
    days = (SEASON[1] - SEASON[0]).days + 1
    cameras = [con.run("INSERT INTO locations (code, name, latitude, longitude, deployment_start) VALUES "
                       "(:c, :n, :lat, :lon, :s) RETURNING id", c=f"CAM-{i + 1:02d}", n=f"Camera {i + 1}",
                       lat=44.0 + i / 100, lon=-73.2 + i / 100, s=start)[0][0] for i in range(CAMERAS)]
    herd = [(f"Deer {i + 1:02d}", "buck" if i % 3 == 0 else ("fawn" if i % 7 == 0 else "doe")) for i in range(DEER)]
    deer = [con.run("INSERT INTO deer (name, sex) VALUES (:n, :s) RETURNING id", n=n, s=s)[0][0] for n, s in herd]
    n_images = detections * 2 // 3
    when, where = [], []
    for _ in range(n_images):
        day = min(int(rng.triangular(0, days, days * 0.5)), days - 1)  # busier towards the rut
        when.append(start + timedelta(days=day, hours=rng.choice([5, 6, 7, 12, 17, 18, 19, 22]),
                                      minutes=rng.randrange(60)))
        where.append(rng.choice(cameras))
    order = sorted(range(n_images), key=lambda i: when[i])
    when, where = [when[i] for i in order], [where[i] for i in order]
    keys = [f"images/{where[i]}/{when[i]:%Y/%m/%d}/img_{i:05d}.jpg" for i in range(n_images)]
    image_ids = [r[0] for r in con.run(
        "INSERT INTO images (s3_key, location_id, captured_at, width, height) "
        "SELECT * FROM unnest(CAST(:k AS TEXT[]), CAST(:l AS INTEGER[]), CAST(:t AS TIMESTAMPTZ[]), "
        "CAST(:w AS INTEGER[]), CAST(:h AS INTEGER[])) RETURNING id",
        k=keys, l=where, t=when, w=[IMAGE_SIZE[0]] * n_images, h=[IMAGE_SIZE[1]] * n_images)]
    columns: dict[str, list] = {k: [] for k in ("i", "x", "y", "w", "h", "c", "cls", "d")}
    for n in range(detections):
        index = rng.randrange(DEER + 8)
        w, h = rng.randrange(80, 320), rng.randrange(60, 240)
        columns["i"].append(image_ids[n % n_images])
        columns["x"].append(rng.randrange(0, IMAGE_SIZE[0] - w))
        columns["y"].append(rng.randrange(0, IMAGE_SIZE[1] - h))
        columns["w"].append(w)
        columns["h"].append(h)
        columns["c"].append(round(rng.uniform(0.5, 0.99), 3))
        columns["cls"].append(herd[index][1] if index < DEER else "unknown")
        columns["d"].append(deer[index] if index < DEER else None)
    con.run("INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, classification, "
            "deer_id) SELECT * FROM unnest(CAST(:i AS BIGINT[]), CAST(:x AS INTEGER[]), CAST(:y AS INTEGER[]), "
            "CAST(:w AS INTEGER[]), CAST(:h AS INTEGER[]), CAST(:c AS REAL[]), CAST(:cls AS TEXT[]), "
            "CAST(:d AS INTEGER[]))", **columns)
    return list(zip(image_ids, keys, strict=True))


def demo_season(con) -> str:
    """Write the demo data set's rows; returns what was loaded, for the report."""
    from infra.demo.dataset import generate_dataset
    from infra.demo.seed import write_database

    write_database(con, generate_dataset())
    return "the demo data set"


def upload_images(images: Iterable[tuple[int, str, int | None, int | None]], bucket: str | None = None,
                  jpeg: Callable[[int, tuple[int, int]], bytes] = stand_in_jpeg, workers: int = 8) -> None:
    """Stand-in pictures (id, key, width, height; the id seeds the picture) in the images bucket
    (the configured one by default), a few at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from deertrack.settings import get_settings
    from deertrack.storage import put_bytes

    target = bucket or get_settings().images_bucket

    def one(image: tuple[int, str, int | None, int | None]) -> None:
        size = (image[2] or IMAGE_SIZE[0], image[3] or IMAGE_SIZE[1])
        put_bytes(target, image[1], jpeg(image[0], size), "image/jpeg")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, images))


# ------------------------------------------------------------------------------------------ figures


def bench_pdf(rounds: int) -> dict[str, float]:
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    from deertrack import db
    from deertrack.reports.scope import ReportScope
    from deertrack.reports.seasonal import seasonal_activity
    from gpu_batch.reports import seasonal_activity as seasonal_pdf
    from gpu_batch.reports.document import STYLES, ReportOptions

    scope = ReportScope(*SEASON)
    with db.connection() as con:
        query_s, data = _median_seconds(rounds, lambda: seasonal_activity(con, scope, "month"))
    options = ReportOptions("Seasonal activity report", group_by="month")

    def render() -> int:
        out = io.BytesIO()
        seasonal_pdf.render(data, options, out)  # type: ignore[arg-type]
        return out.tell()

    def bare() -> int:
        out = io.BytesIO()
        SimpleDocTemplate(out).build([Paragraph("Seasonal activity report", STYLES["body"])])
        return out.tell()

    render_s, size = _median_seconds(rounds, render)
    bare_s, _ = _median_seconds(rounds, bare)
    return {"detections": data.totals.total, "query_s": query_s, "render_s": render_s,  # type: ignore[union-attr]
            "bare_s": bare_s, "bytes": float(size)}  # type: ignore[arg-type]


def bench_end_to_end(api_url: str, token: str, rounds: int) -> float:
    from deertrack.queues import receive
    from deertrack.settings import get_settings
    from gpu_batch.export_worker import ExportWorker
    from infra.cli.commands.bench_api import Client

    client, worker, times = Client(api_url, token), ExportWorker(), []
    body = (f'{{"report_type": "seasonal_activity", "start_date": "{SEASON[0]}", "end_date": "{SEASON[1]}", '
            '"group_by": "month"}').encode()
    for _ in range(rounds):
        started = time.perf_counter()
        status, raw = client.request("POST", "/api/exports/pdf", body)
        if status != 202:
            raise CommandError(f"POST /api/exports/pdf answered {status}: {raw[:300]!r}")
        job_id = json.loads(raw)["job_id"]
        for message in receive(get_settings().exports_queue_name, max_messages=1, wait_seconds=5):
            worker.process_message(message)
        status, raw = client.request("GET", f"/api/exports/pdf/{job_id}")
        state = json.loads(raw).get("status")
        if state != "completed":
            raise CommandError(f"job {job_id} is {state} after the worker ran: {raw[:300]!r}")
        times.append(time.perf_counter() - started)
    client.close()
    return statistics.median(times)


def bench_zip(crops: int, rounds: int) -> dict[str, float]:
    from deertrack import db
    from deertrack.exports.selection import Selection
    from deertrack.jobs import JobStatus, JobStore
    from deertrack.settings import get_settings
    from gpu_batch.archives.detections_zip import write_detections_zip
    from gpu_batch.archives.images import fetch
    from gpu_batch.archives.render import render_zip
    from gpu_batch.archives.rows import selected_rows
    from gpu_batch.job_run import JobRun

    with db.connection() as con:
        ids = [r[0] for r in con.run("SELECT d.id FROM detections d JOIN images i ON i.id = d.image_id "
                                     "ORDER BY i.captured_at, d.id LIMIT :n", n=crops)]
        rows = selected_rows(con, Selection(detection_ids=tuple(ids)))
    fetched = list(fetch(get_settings().images_bucket, rows, 300))
    payload = [(row.crop_path, jpeg) for item in fetched for row, jpeg in zip(item.group.rows, item.crops,
                                                                               strict=True)]
    if any(jpeg is None for _, jpeg in payload):
        raise CommandError("some benchmark images are missing from the emulator")
    megabytes = sum(len(j) for _, j in payload) / 1e6  # type: ignore[arg-type]

    def ours() -> None:
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
            write_detections_zip(out, rows, iter(fetched), request={"detection_ids": ids}, job_id="bench",
                                 crop_size=300)

    def bare() -> None:
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out, \
                zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
            for path, jpeg in payload:
                archive.writestr(path, jpeg)  # type: ignore[arg-type]

    ours_ms, bare_ms = [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        ours_ms.append(timed(ours))
        bare_ms.append(timed(bare))
    ours_s, bare_s = statistics.median(ours_ms) / 1000, statistics.median(bare_ms) / 1000

    store = JobStore()
    request = {"detection_ids": ids, "crop_size": 300}
    job = store.create("zip", request, total=len(ids))
    store.transition(job.job_id, JobStatus.PROCESSING)  # as the worker would

    def whole_job() -> None:
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
            render_zip(request, job, JobRun(store, job.job_id), out)

    job_s, _ = _median_seconds(max(1, rounds // 2), whole_job)
    return {"crops": len(payload), "megabytes": megabytes, "ours_s": ours_s, "bare_s": bare_s, "job_s": job_s}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--synthetic", action="store_true", help="a synthetic season instead of the demo data set")
    parser.add_argument("--detections", type=int, default=DETECTIONS,
                        help=f"detections in the synthetic season (default {DETECTIONS}, as in the demo)")
    parser.add_argument("--crops", type=int, default=2000, help="crops in the ZIP benchmark (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="repetitions of each measurement (median; default 5)")


def run(args: argparse.Namespace) -> int:
    from deertrack import db
    from infra.cli.commands.bench_api import isolated_stack

    if not 1 <= args.rounds <= 100 or not 100 <= args.detections <= 100_000 or not 1 <= args.crops <= 10_000:
        raise CommandError("--rounds 1-100, --detections 100-100000, --crops 1-10000", code=2)
    with isolated_stack() as stack:
        with db.connection(stack.database_url) as con:
            con.run("DELETE FROM locations")  # the bench stack's own camera: the season brings its cameras
            if args.synthetic:
                synthetic_season(con, args.detections)
                source = "a synthetic season"
            else:
                source = demo_season(con)
            counts = con.run("SELECT (SELECT count(*) FROM locations), (SELECT count(*) FROM deer), "
                             "(SELECT count(*) FROM images), (SELECT count(*) FROM detections)")[0]
            with_crops = con.run(
                "SELECT DISTINCT i.id, i.s3_key, i.width, i.height, i.captured_at FROM images i WHERE i.id IN ("
                "SELECT d.image_id FROM detections d JOIN images i2 ON i2.id = d.image_id "
                "ORDER BY i2.captured_at, d.id LIMIT :n) ORDER BY i.captured_at, i.id", n=args.crops)
        upload_images([(r[0], r[1], r[2], r[3]) for r in with_crops])
        print(f"{source}: {counts[3]:,} detections on {counts[2]:,} images, {counts[0]} cameras, {counts[1]} deer; "
              f"{len(with_crops):,} stand-in pictures in the emulator\n", flush=True)

        pdf = bench_pdf(args.rounds)
        total_s = pdf["query_s"] + pdf["render_s"]
        print(f"PDF seasonal_activity, {SEASON[0]} to {SEASON[1]} by month ({int(pdf['detections']):,} detections, "
              f"{int(pdf['bytes']):,} bytes), median of {args.rounds}:")
        print(f"  data queries        {pdf['query_s'] * 1000:8.1f} ms")
        print(f"  render              {pdf['render_s'] * 1000:8.1f} ms")
        print(f"  total               {total_s * 1000:8.1f} ms")
        print(f"  baseline: one-page reportlab PDF {pdf['bare_s'] * 1000:.1f} ms; "
              f"report / baseline = {total_s / pdf['bare_s']:.1f}x")

        e2e = bench_end_to_end(stack.api_url, stack.token, max(1, args.rounds // 2 + 1))
        print(f"\nPOST /api/exports/pdf -> worker -> S3 -> GET completed: {e2e * 1000:.1f} ms "
              f"(median of {max(1, args.rounds // 2 + 1)}; render+query alone {total_s * 1000:.1f} ms)")

        z = bench_zip(args.crops, args.rounds)
        ours_rate, bare_rate = z["crops"] / z["ours_s"], z["crops"] / z["bare_s"]
        print(f"\nZIP of {int(z['crops']):,} crops ({z['megabytes']:.1f} MB of JPEG), median of {args.rounds}:")
        print(f"  archive writer (stored + sha256 + metadata.csv + manifest) {z['ours_s'] * 1000:8.1f} ms "
              f"{ours_rate:9,.0f} crops/s {z['megabytes'] / z['ours_s']:7.1f} MB/s")
        print(f"  bare zipfile STORED, same bytes                            {z['bare_s'] * 1000:8.1f} ms "
              f"{bare_rate:9,.0f} crops/s {z['megabytes'] / z['bare_s']:7.1f} MB/s")
        print(f"  ratio writer / bare = {z['ours_s'] / z['bare_s']:.2f}x")
        print(f"  whole job (query + S3 reads + crop + archive)              {z['job_s'] * 1000:8.1f} ms "
              f"{z['crops'] / z['job_s']:9,.0f} crops/s; {z['job_s'] / z['bare_s']:.0f}x the bare archive")
    return 0


add_benchmark("exports", "PDF render time, POST→completed time, ZIP throughput beside a bare zipfile", run,
              configure)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing at the top level: this module adds `deertrack bench exports` through add_benchmark."""
