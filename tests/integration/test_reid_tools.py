"""`deertrack reid embed`, `deertrack reid evaluate`, `deertrack worker reid`, a model from s3:// and
malformed reid messages, over the real services."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from deertrack import db
from deertrack.aws import client
from deertrack.queues import queue_url, send
from deertrack.reid.vectors import from_bytes, normalize
from deertrack.settings import get_settings
from deertrack.storage import put_bytes
from gpu_batch.reid.embedder import builtin_embedder, torchscript_embedder
from infra.cli import main
from tests.conftest import reset_caches
from tests.reid_helpers import STEADY_THRESHOLD, add_location, at, deer_photo, http, put_image, record

pytestmark = pytest.mark.integration


def _labelled_data() -> list[int]:
    """Like the demo data: 3 individuals x 4 sightings, deer and truth known, no embeddings."""
    add_location("C1")
    ids = []
    with db.connection() as con:
        for individual in range(3):
            con.run("INSERT INTO deer (name, sex, sighting_count) VALUES (:n, 'unknown', 4)", n=f"Demo-{individual}")
        for k in range(12):
            individual = k % 3
            data, box = deer_photo(individual, seed=k)
            key = f"demo/{k}.jpg"
            put_image(key, data)
            image_id = con.run("INSERT INTO images (s3_key, location_id, captured_at, width, height) VALUES"
                               " (:k, 1, :t, 480, 360) RETURNING id", k=key, t=at(600 * k))[0][0]
            x, y, w, h = box
            detection_id = con.run(
                "INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, classification,"
                " deer_id, reid_status) VALUES (:i, :x, :y, :w, :h, 0.9, 'unknown', :d, 'assigned') RETURNING id",
                i=image_id, x=x, y=y, w=w, h=h, d=individual + 1)[0][0]
            con.run("INSERT INTO detection_truth (detection_id, individual_key, source) VALUES (:d, :k, 'demo')",
                    d=detection_id, k=f"individual-{individual}")
            ids.append(detection_id)
    return ids


def test_embed_then_evaluate_leave_assignments_alone(stack, capsys, monkeypatch) -> None:
    monkeypatch.setenv("REID_MODEL_URI", "builtin")  # steady scores on deer_photo (reid_helpers)
    monkeypatch.setenv("REID_THRESHOLD", str(STEADY_THRESHOLD))
    reset_caches()
    _labelled_data()
    with db.connection() as con:
        before = con.run("SELECT id, deer_id, reid_status FROM detections ORDER BY id")
    assert main(["reid", "embed"]) == 0
    out = capsys.readouterr().out
    assert "embedded 12 of 12 detections" in out and "3 deer profiles rebuilt" in out
    with db.connection() as con:
        deer = db.rows_as_dicts(con, "SELECT * FROM deer ORDER BY id")
        assert all(d["profile_embedding_count"] == 4 and d["sighting_count"] == 4 for d in deer)
        assert deer[0]["first_seen"] == at(0) and deer[0]["last_seen"] == at(600 * 9)
        blobs = [r[0] for r in con.run("SELECT embedding FROM detections WHERE deer_id = 1")]
        assert np.allclose(from_bytes(deer[0]["profile_embedding"]),
                           normalize(np.mean([from_bytes(b) for b in blobs], axis=0)), atol=1e-6)
        assert con.run("SELECT id, deer_id, reid_status FROM detections ORDER BY id") == before
    assert main(["reid", "embed"]) == 0  # nothing left to do
    assert "embedded 0 of 0 detections" in capsys.readouterr().out

    assert main(["reid", "evaluate", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    result = figures["evaluation"]
    assert (result["detections"], result["individuals"], result["known_detections"], result["new_detections"]) == (
        12, 3, 9, 3)
    assert result["top1_accuracy"] == result["known_accuracy"] == result["new_accuracy"] == 1.0
    assert result["chance_known_accuracy"] < 0.5
    assert main(["reid", "evaluate", "--threshold", "0.2", "--sweep"]) == 0
    out = capsys.readouterr().out
    assert "new individuals" in out and "best geometric mean 1.000" in out
    with db.connection() as con:  # the replay never touched the stored data
        assert con.run("SELECT id, deer_id, reid_status FROM detections ORDER BY id") == before
        assert con.run("SELECT count(*) FROM deer")[0][0] == 3
        assert con.run("SELECT count(*) FROM reid_similarity_scores")[0][0] == 0


def test_worker_command_drains_the_queue_and_dead_letters_malformed_messages(api, capsys) -> None:
    add_location("C1")
    data, box = deer_photo(0, seed=0)
    put_image("wk/a.jpg", data)
    status, _ = http("POST", f"{api}/api/detections", {"images": [record("wk/a.jpg", at(0), "C1", box)]})
    assert status == 202
    settings = get_settings()
    sqs = client("sqs")
    sqs.send_message(QueueUrl=queue_url(settings.reid_queue_name), MessageBody='{"type": "reid.batch"}')
    assert main(["worker", "reid", "--once", "--wait-seconds", "0"]) == 0
    with db.connection() as con:
        assert con.run("SELECT reid_status FROM detections")[0][0] == "new_deer"
    dlq = sqs.get_queue_url(QueueName=f"deertrack-{settings.stage}-reid-dlq")["QueueUrl"]
    dead = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert dead[0]["Body"] == '{"type": "reid.batch"}'
    assert "not a valid reid.batch message" in dead[0]["MessageAttributes"]["error"]["StringValue"]
    remaining = sqs.get_queue_attributes(QueueUrl=queue_url(settings.reid_queue_name),
                                         AttributeNames=["ApproximateNumberOfMessages",
                                                         "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert remaining == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_message_naming_unknown_detections_is_consumed(stack) -> None:
    from deertrack.messages import ReidBatchMessage
    from deertrack.queues import receive
    from gpu_batch.reid.worker import process_one_message

    send(get_settings().reid_queue_name, ReidBatchMessage(batch_id="gone", detection_ids=[12345]))
    message = receive(get_settings().reid_queue_name, wait_seconds=0)[0]
    outcome = process_one_message(message, embedder=builtin_embedder())
    assert outcome.status == "done" and outcome.summary.unknown_ids == [12345]


class _Tiny(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch 2.13 deprecates torch.jit.script
def test_torchscript_model_from_s3(stack) -> None:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(_Tiny()), buffer)
    bucket = get_settings().images_bucket
    put_bytes(bucket, "models/tiny.pt", buffer.getvalue())
    embedder = torchscript_embedder(f"s3://{bucket}/models/tiny.pt")
    vectors = embedder.embed([Image.new("RGB", (30, 30), (200, 0, 0))])
    assert vectors.shape == (1, 3) and abs(float(np.linalg.norm(vectors[0])) - 1) < 1e-5
    from gpu_batch.reid.embedder import ModelLoadError

    with pytest.raises(ModelLoadError, match="no such object"):
        torchscript_embedder(f"s3://{bucket}/models/none.pt")
