"""`deertrack reid train`: learn a re-ID embedder by metric learning, calibrate it, write it with its card.

Data: synthetic populations from the demo generator (`--seeds`, the default), or detections with
known identities in the database (`--from-database`: detection_truth rows from reviews or imports,
their crops cut from the images bucket). Individuals are split into training, calibration and
held-out sets: for synthetic data by population (`--calibration-seeds`, `--holdout-seeds`), for the
database by a stable hash of each individual (70 / 15 / 15 %). The demo's own seed is refused: the
demo is evaluated on, never trained or calibrated on.

`make demo-model` rebuilds the shipped model with the defaults below.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from infra.cli import CommandError


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("expected at least one seed")
    return seeds


def configure(parser: argparse.ArgumentParser) -> None:
    from infra.demo.dataset import CALIBRATION_SEEDS, HOLDOUT_SEEDS, TRAINING_SEEDS

    def joined(seeds: tuple[int, ...]) -> str:
        return ",".join(str(s) for s in seeds)

    parser.add_argument("--seeds", type=_seeds, default=list(TRAINING_SEEDS), metavar="S,S,…",
                        help=f"synthetic training populations (default {joined(TRAINING_SEEDS)})")
    parser.add_argument("--calibration-seeds", type=_seeds, default=list(CALIBRATION_SEEDS), metavar="S,…",
                        help=f"synthetic calibration populations (default {joined(CALIBRATION_SEEDS)})")
    parser.add_argument("--holdout-seeds", type=_seeds, default=list(HOLDOUT_SEEDS), metavar="S,…",
                        help=f"synthetic held-out populations for the card's figures (default {joined(HOLDOUT_SEEDS)})")
    parser.add_argument("--from-database", action="store_true",
                        help="train on detection_truth (sources review and import) instead of synthetic data")
    parser.add_argument("--epochs", type=int, default=16, help="epochs (default 16)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--out", type=Path, default=Path(".local/models/deer-reid.pt"),
                        help="TorchScript file to write; its card goes beside it as .json "
                             "(default .local/models/deer-reid.pt)")
    parser.add_argument("--name", default=None, help="model name in the card (default: the file's stem)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _check_seeds(args: argparse.Namespace) -> None:
    from infra.demo.dataset import DEMO_SEED

    roles = {"--seeds": set(args.seeds), "--calibration-seeds": set(args.calibration_seeds),
             "--holdout-seeds": set(args.holdout_seeds)}
    for flag, seeds in roles.items():
        if DEMO_SEED in seeds:
            raise CommandError(f"{flag}: {DEMO_SEED} is the demo's seed; the demo is for evaluation only", code=2)
    names = list(roles)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if roles[a] & roles[b]:
                raise CommandError(f"{a} and {b} share seeds {sorted(roles[a] & roles[b])}; they must be disjoint",
                                   code=2)


def calibrate_and_hold_out(model, calibration_set, holdout_set, config, say):  # noqa: ANN001, ANN201
    """Thresholds from the calibration individuals; figures of the trained and an untrained net on the
    held-out ones, at those thresholds."""
    import torch

    from gpu_batch.reid import evaluation
    from gpu_batch.reid_training import calibrate
    from gpu_batch.reid_training.loop import embed_crops
    from gpu_batch.reid_training.network import DeerReidNet

    cpu = torch.device("cpu")
    calibration = calibrate(calibration_set, embed_crops(model, calibration_set.pixels, device=cpu), progress=say)
    merge = calibration.merge_auto_threshold if calibration.auto_merge else None

    def figures(net: torch.nn.Module) -> dict[str, dict]:
        embeddings = embed_crops(net, holdout_set.pixels, device=cpu)
        out = {}
        for name, crops in holdout_set.by_population().items():
            rows = [i for i, p in enumerate(holdout_set.populations) if p == name]
            e = evaluation.evaluate(crops.labelled(embeddings[rows]), calibration.reid_threshold, merge,
                                    calibration.gate)
            out[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in e.as_dict().items()}
        return out

    torch.manual_seed(config.seed)
    untrained = DeerReidNet(config.dim, config.widths, holdout_set.input_size).eval()
    return calibration, {"trained": figures(model), "untrained_same_architecture": figures(untrained)}


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from gpu_batch.reid_training import TrainConfig, train_model, write_model
    from gpu_batch.reid_training.card import build_card, describe
    from gpu_batch.reid_training.crops import from_database, split_individuals
    from gpu_batch.reid_training.network import DEFAULT_INPUT_SIZE

    if args.epochs < 1 or args.batch_size < 2:
        raise CommandError("--epochs must be at least 1 and --batch-size at least 2", code=2)
    say = (lambda text: None) if args.no_progress else (lambda text: print(text, file=sys.stderr, flush=True))
    size = DEFAULT_INPUT_SIZE
    if args.from_database:
        from deertrack import db

        try:
            with db.connection() as con:
                everything = from_database(con, size)
        except db.DatabaseUnavailable as exc:
            raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
        if len(everything.individual_keys) < 10:
            raise CommandError(f"only {len(everything.individual_keys)} individuals with reviewed or imported "
                               "truth; at least 10 are needed to train, calibrate and hold out")
        train_keys, calibration_keys, holdout_keys = split_individuals(everything.individual_keys, (0.7, 0.15, 0.15))
        training, calibration_set, holdout_set = (everything.of_individuals(k) for k in
                                                  (train_keys, calibration_keys, holdout_keys))
        seeds: dict[str, list[int] | None] = {"training": None, "calibration": None, "holdout": None}
        sources = ["detection_truth (review, import)"]
    else:
        from infra.demo.crops import populations

        _check_seeds(args)
        say(f"rendering {len(args.seeds) + len(args.calibration_seeds) + len(args.holdout_seeds)} synthetic "
            "populations …")
        training = populations(args.seeds, size)
        calibration_set = populations(args.calibration_seeds, size)
        holdout_set = populations(args.holdout_seeds, size)
        seeds = {"training": args.seeds, "calibration": args.calibration_seeds, "holdout": args.holdout_seeds}
        sources = ["synthetic generator (infra/demo)"]
    say(f"training on {len(training.individual_keys)} individuals, {len(training):,} crops; calibration "
        f"{len(calibration_set.individual_keys)} individuals; held out {len(holdout_set.individual_keys)}")
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device=args.device)
    result = train_model(training, config, progress=not args.no_progress)
    checkpoint = Path(".local/models") / f"{args.out.stem}.state.pt"  # kept should anything below fail
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    torch.save(result.model.state_dict(), checkpoint)
    say("calibrating …")
    calibration, holdout = calibrate_and_hold_out(result.model, calibration_set, holdout_set, config, say)
    command = "deertrack reid train " + " ".join(shlex.quote(a) for a in sys.argv[3:]) if sys.argv[1:3] == [
        "reid", "train"] else "deertrack reid train"
    card = build_card(
        name=args.name or args.out.stem, config=config, result=result, model=result.model,
        training=describe(training, seeds["training"], sources),
        calibration_data=describe(calibration_set, seeds["calibration"], sources), calibration=calibration,
        holdout_data=describe(holdout_set, seeds["holdout"], sources), holdout=holdout, command=command,
    )
    model_file, card_file = write_model(result.model, card, args.out)
    trained = np.mean([f["geometric_mean"] for f in holdout["trained"].values()])
    baseline = np.mean([f["geometric_mean"] for f in holdout["untrained_same_architecture"].values()])
    print(f"trained in {result.seconds:.0f} s on {result.device}; held-out geometric mean {trained:.3f} "
          f"(untrained net: {baseline:.3f})")
    print(calibration.summary())
    print(f"wrote {model_file} ({model_file.stat().st_size / 1e6:.1f} MB) and {card_file}")
    print(f"use it: REID_MODEL_URI={model_file}")
    return 0



# ------------------------------------------------------------------------------------------ calibrate


def configure_calibrate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="a model written by `deertrack reid train` (its card beside it)")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines")


def run_calibrate(args: argparse.Namespace) -> int:
    """Re-choose a trained model's thresholds on its card's calibration seeds (after a rule change)."""
    import json
    import warnings

    import torch

    from deertrack.reid.model_card import card_path, load_card
    from gpu_batch.reid_training.card import CALIBRATION_METHOD, describe
    from gpu_batch.reid_training.loop import TrainConfig
    from infra.demo.crops import populations

    card_file = card_path(args.model)
    if not args.model.is_file() or not card_file.is_file():
        raise CommandError(f"{args.model}: expected the model and its card {card_file.name} beside it", code=2)
    card = load_card(card_file)
    seeds = card["data"]["calibration"].get("seeds") or []
    holdout_seeds = card["data"]["holdout"].get("seeds") or []
    if not seeds or not holdout_seeds:
        raise CommandError("the card names no synthetic calibration / holdout seeds; retrain with `reid train`")
    say = (lambda text: None) if args.no_progress else (lambda text: print(text, file=sys.stderr, flush=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = torch.jit.load(str(args.model), map_location="cpu")
    size = tuple(int(v) for v in model.input_size)
    calibration_set, holdout_set = populations(seeds, size), populations(holdout_seeds, size)
    training = card["training"]
    config = TrainConfig(dim=card["architecture"]["embedding_dim"], widths=tuple(card["architecture"]["widths"]),
                         seed=training.get("seed", 0))
    calibration, holdout = calibrate_and_hold_out(model, calibration_set, holdout_set, config, say)
    sources = card["data"]["calibration"].get("sources", [])
    card["data"]["calibration"] = describe(calibration_set, seeds, sources)
    card["data"]["holdout"] = describe(holdout_set, holdout_seeds, sources)
    card["thresholds"] = calibration.thresholds()
    card["calibration"].update({"method": CALIBRATION_METHOD, "figures": calibration.figures,
                                "score_to_probability": calibration.probability,
                                "sweep": calibration.sweep})
    card["holdout"] = holdout
    card.setdefault("recalibrated", []).append(f"deertrack reid calibrate {args.model}")
    card_file.write_text(json.dumps(card, indent=2) + "\n")
    gm = sum(f["geometric_mean"] for f in holdout["trained"].values()) / len(holdout["trained"])
    print(f"{calibration.summary()}; held-out geometric mean {gm:.3f}")
    print(f"rewrote {card_file}")
    return 0
