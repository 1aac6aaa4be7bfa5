"""`deertrack reid …`: re-identification tools.

* `deertrack reid analyze [--out DIR]`: threshold analysis of the score log (deertrack.cli.reid_analyze).
* `deertrack reid embed [--all]`: embed stored detections that have no embedding (all with --all)
  from their photos, then rebuild every deer's profile, counts and first/last seen.
* `deertrack reid evaluate [--threshold T] [--sweep]`: replay re-ID in time order from an empty
  gallery, in memory, on detections whose true individual is known (the demo data) and print top-1
  accuracy and the open-set accuracies (known / new individuals, geometric mean).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from deertrack.cli import CommandError, unit_interval

Configure = Callable[[argparse.ArgumentParser], None]
Run = Callable[[argparse.Namespace], "int | None"]


def register(subparsers: argparse._SubParsersAction) -> None:
    from deertrack.cli import reid_analyze

    commands: list[tuple[str, str, Run, Configure]] = [
        ("analyze", "threshold analysis of the score log (report.md + PNG plots)", reid_analyze.run,
         reid_analyze.configure),
        ("embed", "embed stored detections from their photos and rebuild the deer profiles",
         _run_embed, _configure_embed),
        ("evaluate", "top-1 and open-set accuracy of re-ID on detections with known identities",
         _run_evaluate, _configure_evaluate),
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
    from deertrack.reid.embedder import ModelLoadError, current_embedder
    from deertrack.reid.stored_embeddings import embed_stored

    try:
        embedder = current_embedder()
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from None
    print(f"model {embedder.name} on {embedder.device}", flush=True)

    def progress(done: int, total: int, rate: float) -> None:
        print(f"\r  {done}/{total} detections, {rate:.0f} crops/s", end="", flush=True)

    try:
        with db.connection() as con:
            report = embed_stored(con, embedder, everything=args.everything, chunk=max(1, args.chunk),
                                  progress=progress)
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    print()
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
    parser.add_argument("--threshold", type=unit_interval, help="REID threshold to evaluate (default: REID_THRESHOLD)")
    parser.add_argument("--sweep", action="store_true",
                        help="also evaluate thresholds from 0.50 to 0.99 and name the best geometric mean")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def _line(e) -> str:  # noqa: ANN001 - an Evaluation
    return (f"{e.threshold:>9.4f} {e.top1:>7.3f} {e.known_accuracy:>7.3f} {e.new_accuracy:>7.3f} "
            f"{e.geometric_mean:>7.3f} {e.deer_created:>6d}")


def _run_evaluate(args: argparse.Namespace) -> int:
    from deertrack import db
    from deertrack.reid import evaluation
    from deertrack.reid.embedder import ModelLoadError, current_embedder
    from deertrack.settings import get_settings

    threshold = get_settings().reid_threshold if args.threshold is None else args.threshold
    try:
        embedder = current_embedder()
        with db.connection() as con:
            labelled, computed, unusable = evaluation.load_labelled(con, embedder)
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from None
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    if not labelled:
        raise CommandError("no detections with a known individual (detection_truth) to evaluate; "
                           "load the demo data first (`deertrack up --demo`)")
    result = evaluation.evaluate(labelled, threshold)
    swept = evaluation.sweep(labelled, [round(0.50 + 0.01 * i, 2) for i in range(50)]) if args.sweep else []
    best = max(swept, key=lambda e: (e.geometric_mean, e.top1)) if swept else None
    if args.json:
        print(json.dumps({"model": embedder.name, "evaluation": result.as_dict(),
                          "sweep": [e.as_dict() for e in swept],
                          "best": best.as_dict() if best else None}, indent=2))
        return 0
    print(f"model {embedder.name}: {result.detections} detections of {result.individuals} individuals "
          f"({computed} embedded now, in memory; {unusable} without a usable crop left out)")
    print(f"replayed in time order from an empty gallery at threshold {threshold:.4f}; stored data untouched")
    print(f"  top-1 accuracy            {result.top1:.3f}")
    print(f"  known individuals         {result.known_accuracy:.3f}  ({result.known} detections; "
          f"chance {result.chance_known:.3f})")
    print(f"    (to any deer mostly of that individual: {result.known_accuracy_dominated:.3f})")
    print(f"  new individuals           {result.new_accuracy:.3f}  ({result.new} first sightings)")
    print(f"  geometric mean            {result.geometric_mean:.3f}")
    print(f"  deer created              {result.deer_created}  (true individuals: {result.individuals})")
    if swept:
        print(f"\n{'threshold':>9} {'top-1':>7} {'known':>7} {'new':>7} {'gmean':>7} {'deer':>6}")
        for e in swept:
            print(_line(e))
        assert best is not None
        print(f"best geometric mean {best.geometric_mean:.3f} at threshold {best.threshold:.2f}")
    return 0
