"""`deertrack reid …`: re-identification tools.

* `deertrack reid analyze [--out DIR]`: threshold analysis of the score log (infra.cli.reid_analyze).
* `deertrack reid embed [--all]`: embed stored detections that have no embedding (all with --all)
  from their photos, then rebuild every deer's profile, counts and first/last seen.
* `deertrack reid evaluate [--synthetic SEED] [--threshold T] [--sweep]`: replay re-ID and the merge
  job in time order from an empty gallery, in memory, on detections whose true individual is known
  (the stored demo data, or a synthetic population generated in memory from SEED, never stored) and
  print top-1 accuracy, the open-set accuracies (known / new individuals, geometric mean), deer
  created, merges made and the model card's seeds.
* `deertrack reid train …`: metric learning of an embedder, calibration, card (infra.cli.reid_train).
* `deertrack reid enqueue [--wait]`: pending detections onto the re-ID queue, in time order.
* `deertrack reid merge [--dry-run] [--no-auto]`: the merge job, now (it also runs after the nightly backfill).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from infra.cli import CommandError, unit_interval

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], "int | None"]


def register(subparsers: argparse._SubParsersAction) -> None:
    from infra.cli import reid_analyze, reid_train

    commands: list[tuple[str, str, Run, Configure]] = [
        ("analyze", "threshold analysis of the score log (report.md + PNG plots)", reid_analyze.run,
         reid_analyze.configure),
        ("embed", "embed stored detections from their photos and rebuild the deer profiles",
         _run_embed, _configure_embed),
        ("evaluate", "top-1 and open-set accuracy of re-ID on detections with known identities",
         _run_evaluate, _configure_evaluate),
        ("train", "learn a re-ID embedder by metric learning, calibrate it, write it with its model card",
         reid_train.run, reid_train.configure),
        ("calibrate", "re-choose a trained model's thresholds on its calibration seeds and rewrite its card",
         reid_train.run_calibrate, reid_train.configure_calibrate),
        ("merge", "merge deer that are probably one animal, and store the merge suggestions",
         _run_merge, _configure_merge),
        ("enqueue", "put pending detections on the re-ID queue in time order (the worker assigns them)",
         _run_enqueue, _configure_enqueue),
    ]
    parser = subparsers.add_parser("reid", help="re-identification tools: embed, evaluate, …")
    group = parser.add_subparsers(dest="reid_command", required=True, metavar="COMMAND")
    for name, help_text, func, configure in commands:
        sub = group.add_parser(name, help=help_text, description=help_text)
        configure(sub)
        sub.set_defaults(func=func)


# ------------------------------------------------------------------------------------------ embed


def _configure_embed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", dest="everything",
                        help="re-embed every detection, not only those without an embedding of the current model")
    parser.add_argument("--chunk", type=int, default=256, help="detections per transaction (default 256)")


def _run_embed(args: argparse.Namespace) -> int:
    from deertrack import db
    from gpu_batch.reid.embedder import ModelLoadError, current_embedder
    from gpu_batch.reid.stored_embeddings import embed_stored

    try:
        embedder = current_embedder()
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from None
    print(f"model {embedder.name} on {embedder.device}", flush=True)

    from tqdm import tqdm

    bar = tqdm(unit=" detections", desc="embedding", dynamic_ncols=True)

    def progress(done: int, total: int, rate: float) -> None:
        bar.total = total
        bar.set_postfix_str(f"{rate:.0f} crops/s", refresh=False)
        bar.update(done - bar.n)

    try:
        with db.connection() as con, bar:
            report = embed_stored(con, embedder, everything=args.everything, chunk=max(1, args.chunk),
                                  progress=progress)
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    print(f"embedded {report.embedded} of {report.selected} detections in {report.seconds:.1f} s "
          f"({report.rate:.0f} crops/s); {report.deer_rebuilt} deer profiles rebuilt")
    for what, notes in (("too small, not embedded", report.too_small),
                        ("photo missing or unreadable", report.unreadable)):
        if notes:
            print(f"{len(notes)} {what}, e.g. detection {next(iter(notes))}: {next(iter(notes.values()))}",
                  file=sys.stderr)
    return 1 if report.unreadable else 0


# ------------------------------------------------------------------------------------------ evaluate


def _configure_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--synthetic", type=int, metavar="SEED",
                        help="a fresh synthetic population generated in memory from SEED (nothing is stored)")
    parser.add_argument("--threshold", type=unit_interval, help="REID threshold to evaluate (default: REID_THRESHOLD)")
    parser.add_argument("--merge-threshold", type=unit_interval,
                        help="auto-merge threshold replayed after re-ID (default REID_MERGE_AUTO_THRESHOLD)")
    parser.add_argument("--no-merges", action="store_true", help="replay re-ID only, without the merge job")
    parser.add_argument("--sweep", action="store_true",
                        help="also evaluate thresholds from 0.50 to 0.99 and name the best geometric mean")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def _line(e) -> str:  # noqa: ANN001 - an Evaluation
    return (f"{e.threshold:>9.4f} {e.top1:>7.3f} {e.known_accuracy:>7.3f} {e.new_accuracy:>7.3f} "
            f"{e.geometric_mean:>7.3f} {e.deer:>6d}")


def _synthetic_labelled(seed: int, embedder) -> list:  # noqa: ANN001 - an Embedder
    """A population generated in memory from `seed`, embedded as the worker would (never stored)."""
    from deertrack.reid import crops as cropping
    from deertrack.reid.bursts import Pending
    from deertrack.reid.classes import effective_class
    from gpu_batch.reid.evaluation import Labelled
    from infra.demo.crops import detection_geometries
    from infra.demo.dataset import generate_dataset
    from infra.demo.images import encode_jpeg, render_image

    data = generate_dataset(seed)
    geometry = detection_geometries(data)
    images, rows = [], []
    for image in data.images:
        picture = cropping.decode(encode_jpeg(render_image(data, image)))
        for det in data.detections_by_image[image.index]:
            cut = cropping.cut(picture, det.bbox)
            if cut.image is not None:
                images.append(cut.image)
                rows.append((det, image))
    vectors = embedder.embed(images)
    labelled = [
        Labelled(Pending(det.index + 1, image.index + 1, image.location + 1, image.captured_at,
                         effective_class(det.classification, det.confidence), vector, geometry[det.index]),
                 data.individuals[det.individual].key)
        for (det, image), vector in zip(rows, vectors, strict=True)
    ]
    return sorted(labelled, key=lambda item: (item.detection.captured_at, item.detection.detection_id))


def _card_seeds(card: dict | None) -> dict[str, list[int]]:
    if not card:
        return {}
    return {role: list(card["data"][role].get("seeds") or []) for role in ("training", "calibration", "holdout")
            if role in card.get("data", {})}


def _run_evaluate(args: argparse.Namespace) -> int:
    from deertrack import db
    from deertrack.reid.model_card import card_for
    from deertrack.settings import get_settings
    from gpu_batch.reid import evaluation
    from gpu_batch.reid.embedder import ModelLoadError, current_embedder

    settings = get_settings()
    threshold = settings.reid_threshold if args.threshold is None else args.threshold
    merge_threshold = None if args.no_merges else (
        args.merge_threshold if args.merge_threshold is not None else
        settings.reid_merge_auto_threshold if settings.reid_auto_merge else None)
    card = card_for(settings.reid_model_uri or None)
    seeds = _card_seeds(card)
    try:
        embedder = current_embedder()
        if args.synthetic is not None:
            from infra.demo.dataset import DEMO_SEED

            used = {role for role, values in seeds.items() if args.synthetic in values}
            if used:
                print(f"warning: seed {args.synthetic} was used for the model's {', '.join(sorted(used))}; "
                      "these figures are not an honest evaluation", file=sys.stderr)
            if args.synthetic == DEMO_SEED:
                print(f"note: seed {DEMO_SEED} is the demo's population", file=sys.stderr)
            labelled, computed, unusable = _synthetic_labelled(args.synthetic, embedder), None, 0
            computed = len(labelled)
            what = f"synthetic population of seed {args.synthetic} (generated in memory, not stored)"
        else:
            with db.connection() as con:
                labelled, computed, unusable = evaluation.load_labelled(con, embedder)
            what = "stored detections with a known individual"
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from None
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    if not labelled:
        raise CommandError("no detections with a known individual (detection_truth) to evaluate; "
                           "load the demo data first (`deertrack up --demo`)")
    gate = settings.crop_gate
    result = evaluation.evaluate(labelled, threshold, merge_threshold, gate)
    swept = evaluation.sweep(labelled, [round(0.30 + 0.02 * i, 2) for i in range(35)], merge_threshold, gate) \
        if args.sweep else []
    best = max(swept, key=lambda e: (e.geometric_mean, e.top1)) if swept else None
    if args.json:
        print(json.dumps({"model": embedder.name, "data": what, "merge_threshold": merge_threshold,
                          "crop_gate": {"max_overlap": gate.max_overlap, "edge_margin": gate.edge_margin},
                          "model_card_seeds": seeds, "evaluation": result.as_dict(),
                          "sweep": [e.as_dict() for e in swept], "best": best.as_dict() if best else None}, indent=2))
        return 0
    print(f"model {embedder.name}: {result.detections} detections of {result.individuals} individuals, "
          f"{what} ({computed} embedded now, in memory; {unusable} without a usable crop left out)")
    merges = "no merges" if merge_threshold is None else f"then auto-merges at {merge_threshold:.4f}"
    print(f"replayed in time order from an empty gallery at threshold {threshold:.4f}, {merges}; stored data untouched")
    print("crop gate: off" if gate.off else
          f"crop gate: a track matching no deer founds none when its crops are mostly covered over "
          f"{gate.max_overlap:.0%} by another box or within {gate.edge_margin:.0%} of the picture's edge")
    print(f"  top-1 accuracy            {result.top1:.3f}")
    print(f"  known individuals         {result.known_accuracy:.3f}  ({result.known} detections; "
          f"chance {result.chance_known:.3f})")
    print(f"    (to any deer mostly of that individual: {result.known_accuracy_dominated:.3f})")
    print(f"  new individuals           {result.new_accuracy:.3f}  ({result.new} first sightings)")
    print(f"  geometric mean            {result.geometric_mean:.3f}")
    print(f"  deer created              {result.deer_created}  (true individuals: {result.individuals})")
    print(f"  merges made               {result.merges}  (deer left: {result.deer})")
    print(f"  left for review           {result.left_for_review}  (matched no deer; crop too poor to found one)")
    if seeds:
        print("  model card seeds          " + "; ".join(f"{role} {', '.join(map(str, v)) or '-'}"
                                                        for role, v in seeds.items()))
    if swept:
        print(f"\n{'threshold':>9} {'top-1':>7} {'known':>7} {'new':>7} {'gmean':>7} {'deer':>6}")
        for e in swept:
            print(_line(e))
        assert best is not None
        print(f"best geometric mean {best.geometric_mean:.3f} at threshold {best.threshold:.2f}")
    return 0


# ------------------------------------------------------------------------------------------ merge


def _configure_merge(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="say what it would merge and suggest; change nothing")
    parser.add_argument("--no-auto", action="store_true", help="only suggest, never merge (REID_AUTO_MERGE=false)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _run_merge(args: argparse.Namespace) -> int:
    from deertrack import db
    from deertrack.reid.merges import run_merge_job

    try:
        with db.connection() as con:
            summary = run_merge_job(con, auto=False if args.no_auto else None, dry_run=args.dry_run,
                                    actor="cli:merge")
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
        return 0
    verb = "would merge" if args.dry_run else "merged"
    print(f"{summary.deer} deer; {verb} {len(summary.merges)} pair(s) at auto-merge threshold "
          f"{summary.auto_threshold:.4f} ({'on' if summary.auto else 'off'}); "
          f"{summary.candidates} suggestion(s) at {summary.suggest_threshold:.4f} or more")
    for m in summary.merges:
        print(f"  deer {m['merged_deer_id']} -> deer {m['kept_deer_id']}  score {m['score']:.4f}")
    return 0


# ------------------------------------------------------------------------------------------ enqueue


def _configure_enqueue(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch-size", type=int, default=256, help="detections per message (default 256)")
    parser.add_argument("--wait", action="store_true",
                        help="send the next batch only once the worker has done this one (time order, as the "
                             "evaluation replays it), and return when all are done")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for one batch with --wait (default 600)")


def _run_enqueue(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from deertrack import db
    from deertrack.jobs import new_job_id
    from deertrack.reid import requeue

    try:
        with db.connection() as con:
            batches = requeue.pending_batches(con, max(1, args.batch_size))
            total = sum(len(b) for b in batches)
            if not batches:
                print("no pending detections")
                return 0
            run = new_job_id()[:12]
            started = time.perf_counter()
            with tqdm(total=total, unit="det", desc="re-ID", disable=not args.wait, dynamic_ncols=True) as bar:
                for number, batch in enumerate(batches):
                    requeue.enqueue(batch, f"enqueue-{run}-{number:05d}")
                    if args.wait:
                        if not requeue.wait_for(con, batch, args.timeout):
                            raise CommandError(
                                f"batch {number + 1} of {len(batches)}: {requeue.still_pending(con, batch)} detections "
                                f"still pending after {args.timeout:.0f} s; is `deertrack worker reid` running?")
                        bar.update(len(batch))
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    seconds = time.perf_counter() - started
    done = "re-identified" if args.wait else "queued"
    print(f"{total} detections {done} in {len(batches)} batches ({seconds:.1f} s)")
    return 0
