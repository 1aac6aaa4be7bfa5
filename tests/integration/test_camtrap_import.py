"""`deertrack import camtrap-dp`: the official example and a deertrack export load into PostgreSQL
(and S3 for the files a package holds), and loading again adds nothing."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from deertrack import db
from deertrack.aws import client
from deertrack.jobs import JobStore
from deertrack.settings import get_settings
from deertrack.storage import get_bytes
from gpu_batch.export_worker import ExportWorker
from infra.cli import main
from tests.camtrap_validation import camtrap_dir
from tests.export_data import build, enqueue, receive_one

pytestmark = pytest.mark.integration


def table_counts() -> dict[str, int]:
    with db.connection() as con:
        return {t: con.run(f"SELECT count(*) FROM {t}")[0][0]
                for t in ("locations", "images", "detections", "detection_truth")}


def test_official_example_loads_once(stack, capsys) -> None:
    example = camtrap_dir() / "example"
    with (example / "observations.csv").open() as handle:
        observations = list(csv.DictReader(handle))
    animals = [o for o in observations if o["observationLevel"] == "media" and o["observationType"] == "animal"]
    with (example / "media.csv").open() as handle:
        media = list(csv.DictReader(handle))

    assert main(["import", "camtrap-dp", str(example)]) == 0
    out = capsys.readouterr().out
    assert f"detections: {len(animals)} created" in out
    counts = table_counts()
    assert counts == {"locations": 4, "images": len(media), "detections": len(animals), "detection_truth": 0}

    with db.connection() as con:
        sexes = dict(con.run("SELECT classification, count(*) FROM detections GROUP BY 1"))
        boxed = con.run("SELECT d.bbox_x, d.bbox_width, i.width FROM detections d JOIN images i ON i.id = d.image_id "
                        "WHERE i.s3_key LIKE '%/0e98b93e/%'")
        local = con.run("SELECT s3_key, width, height FROM images WHERE s3_key LIKE '%/20210531082538-RCNX0031.JPG'")
    assert sexes["buck"] == sum(1 for o in animals if o["sex"] == "male")
    assert sexes["doe"] == sum(1 for o in animals if o["sex"] == "female")
    assert boxed and boxed[0][0] == int(0.32325 * boxed[0][2])  # bbox fractions → pixels
    # The ten images the package holds are uploaded, with their real size.
    [(key, width, height)] = local
    assert (width, height) == (2048, 1440)
    assert get_bytes(get_settings().images_bucket, key)[:2] == b"\xff\xd8"

    assert main(["import", "camtrap-dp", str(example)]) == 0
    assert table_counts() == counts
    assert "images: 0 created" in capsys.readouterr().out


def test_a_deertrack_export_round_trips(stack, tmp_path) -> None:
    with db.connection() as con:
        build(con, detections=40, days=30)
    job_id = enqueue("camtrap-dp", {"filters": {"start_date": "2023-09-01", "end_date": "2023-09-30"}})
    assert ExportWorker().process_message(receive_one()).status == "completed"
    package = tmp_path / "export.zip"
    package.write_bytes(get_bytes(get_settings().exports_bucket, JobStore().get(job_id).s3_key))
    with zipfile.ZipFile(package) as archive:
        exported = list(csv.DictReader(io.StringIO(archive.read("observations.csv").decode())))
    before = table_counts()

    assert main(["import", "camtrap-dp", str(package), "--no-upload"]) == 0
    after = table_counts()
    assert after["locations"] == before["locations"]  # the same cameras (codes)
    assert after["detections"] - before["detections"] == len(exported)
    assert after["detection_truth"] - before["detection_truth"] == sum(1 for o in exported if o["individualID"])
    assert client("s3").list_objects_v2(Bucket=get_settings().images_bucket, Prefix="imports/")["KeyCount"] == 0


def test_a_broken_package_is_refused_with_a_reason(stack, tmp_path, capsys) -> None:
    (tmp_path / "datapackage.json").write_text('{"profile": "https://example.org/other-profile.json"}')
    assert main(["import", "camtrap-dp", str(tmp_path)]) == 1
    assert "is not a Camtrap DP profile" in capsys.readouterr().err
    assert table_counts()["images"] == 0
