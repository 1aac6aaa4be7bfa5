"""PNG plots of a threshold analysis (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402

from deertrack.analysis.threshold import ThresholdAnalysis  # noqa: E402

MATCHED = "#1b7837"
UNMATCHED = "#762a83"


def _span(analysis: ThresholdAnalysis) -> tuple[float, float]:
    """The score range that holds pairs, padded, and always showing the thresholds."""
    edges = np.asarray(analysis.histogram.bin_edges)
    counts = np.asarray(analysis.histogram.matched) + np.asarray(analysis.histogram.unmatched)
    used = np.flatnonzero(counts)
    marks = [analysis.current_threshold] + ([analysis.recommendation.threshold]
                                            if analysis.recommendation.threshold is not None else [])
    low = min([edges[used[0]]] + marks) if used.size else min(marks)
    high = max([edges[used[-1] + 1]] + marks) if used.size else max(marks)
    return max(-1.0, low - 0.05), min(1.0, high + 0.05)


def _marks(ax: plt.Axes, analysis: ThresholdAnalysis) -> None:
    ax.axvline(analysis.current_threshold, color="#555555", linestyle="--", linewidth=1,
               label=f"current {analysis.current_threshold:.2f}")
    if analysis.recommendation.threshold is not None:
        ax.axvline(analysis.recommendation.threshold, color="#d6604d", linewidth=1.5,
                   label=f"recommended {analysis.recommendation.threshold:.2f}")


def histogram(analysis: ThresholdAnalysis, path: Path) -> Path:
    edges = np.asarray(analysis.histogram.bin_edges)
    centres = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    matched = np.asarray(analysis.histogram.matched, dtype=float)
    unmatched = np.asarray(analysis.histogram.unmatched, dtype=float)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for counts, colour, label in ((unmatched, UNMATCHED, "unmatched pairs"), (matched, MATCHED, "matched pairs")):
        total = counts.sum()
        if total:
            ax.bar(centres, counts / total / width, width=width, color=colour, alpha=0.55,
                   label=f"{label} ({int(total):,})")
    _marks(ax, analysis)
    ax.set_xlim(*_span(analysis))
    ax.set_xlabel("similarity score")
    ax.set_ylabel("density (each group sums to 1)")
    ax.set_title("Score distribution of matched and unmatched pairs")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def cdf(analysis: ThresholdAnalysis, path: Path) -> Path:
    edges = np.asarray(analysis.histogram.bin_edges)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for counts, colour, label in ((analysis.histogram.unmatched, UNMATCHED, "unmatched pairs"),
                                  (analysis.histogram.matched, MATCHED, "matched pairs")):
        counts = np.asarray(counts, dtype=float)
        if counts.sum():
            ax.step(edges[1:], np.cumsum(counts) / counts.sum(), where="post", color=colour, label=label)
    rows = analysis.thresholds
    if rows:
        ax.plot([r.threshold for r in rows], [1 - r.assignment_rate for r in rows], color="#2166ac",
                label="detections whose best score is below (new deer)")
    _marks(ax, analysis)
    ax.set_xlim(*_span(analysis))
    ax.set_xlabel("similarity score")
    ax.set_ylabel("cumulative share")
    ax.set_ylim(0, 1.02)
    ax.set_title("Cumulative distribution of scores")
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


def metrics(analysis: ThresholdAnalysis, path: Path) -> Path:
    rows = analysis.thresholds
    t = [r.threshold for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.plot(t, [r.assignment_rate for r in rows], color="#2166ac", label="assignment rate")
    series = (("precision", "#b2182b"), ("recall", "#ef8a62"), ("new_accuracy", "#5aae61"),
              ("geometric_mean", "#000000"))
    for name, colour in series:
        values = [getattr(r, name) for r in rows]
        if any(v is not None for v in values):
            ax.plot(t, [np.nan if v is None else v for v in values], color=colour,
                    label=name.replace("_", " ").replace("recall", "recall (known-individual accuracy)"))
    _marks(ax, analysis)
    ax2 = ax.twinx()
    ax2.plot(t, [r.new_deer for r in rows], color="#999999", linestyle=":", label="new deer (right axis)")
    ax2.set_ylabel("new deer it would create")
    ax.set_xlabel("threshold")
    ax.set_ylabel("rate")
    ax.set_ylim(0, 1.02)
    ax.set_title("What each threshold would do")
    lines = ax.get_legend_handles_labels()
    extra = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + extra[0], lines[1] + extra[1], loc="lower left", fontsize=8)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def write_all(analysis: ThresholdAnalysis, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "histogram": histogram(analysis, folder / "histogram_by_matched.png"),
        "cdf": cdf(analysis, folder / "cdf.png"),
        "metrics": metrics(analysis, folder / "metrics_vs_threshold.png"),
    }
