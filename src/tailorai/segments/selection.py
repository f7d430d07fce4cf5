"""Choosing how many segments (or DBSCAN's `eps`) from the data, and a picture of the choice.

Every candidate is fitted and scored twice: the silhouette (higher is better; on a random
sample when the data is large, because it costs O(n²)) and the Davies-Bouldin index (lower is
better; O(n·k), so always on every row). The best silhouette wins; candidates within
`TIE_TOLERANCE` of it count as tied and the lowest Davies-Bouldin among them wins, because a
silhouette difference that small is sampling noise, not structure. For DBSCAN only the users it
placed in a segment are scored, and a candidate that leaves more than `MAX_NOISE_SHARE` of users
unassigned is only chosen when nothing else scored, or tiny dense cores would always win.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sklearn.metrics import davies_bouldin_score, silhouette_score
from sklearn.neighbors import NearestNeighbors

__all__ = [
    "EPS_QUANTILES",
    "MAX_NOISE_SHARE",
    "TIE_TOLERANCE",
    "best_index",
    "cluster_scores",
    "eps_candidates",
    "plot_selection",
    "search",
]

TIE_TOLERANCE = 0.01
MAX_NOISE_SHARE = 0.5
EPS_QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.98)

Fitted = TypeVar("Fitted")


def cluster_scores(
    X: np.ndarray, labels: np.ndarray, *, sample_size: int, random_state: int | None
) -> tuple[float, float]:
    """(silhouette, Davies-Bouldin) of the assigned rows; NaN where a score is undefined."""
    keep = labels >= 0
    X, labels = X[keep], labels[keep]
    n_labels = np.unique(labels).size
    if n_labels < 2 or n_labels >= len(labels):
        return math.nan, math.nan
    sample = sample_size if len(labels) > sample_size else None
    try:
        silhouette = silhouette_score(X, labels, sample_size=sample, random_state=random_state)
    except ValueError:  # the sample drew a single segment
        silhouette = math.nan
    return float(silhouette), float(davies_bouldin_score(X, labels))


def search(
    X: np.ndarray,
    param: str,
    values: Sequence[Any],
    fit: Callable[[Any], tuple[np.ndarray, Fitted]],
    *,
    sample_size: int,
    random_state: int | None,
) -> tuple[list[dict[str, Any]], tuple[np.ndarray, Fitted]]:
    """Fit every candidate, score it, and return the table and the chosen (labels, fitted).

    `fit(value)` returns the labels of every row (-1: unassigned) and whatever the caller needs
    to keep from the winning fit (centroids, core points).
    """
    rows: list[dict[str, Any]] = []
    fits: list[tuple[np.ndarray, Fitted]] = []
    for value in values:
        labels, fitted = fit(value)
        silhouette, davies_bouldin = cluster_scores(
            X, labels, sample_size=sample_size, random_state=random_state
        )
        row: dict[str, Any] = {
            param: value,
            "n_clusters": int(np.unique(labels[labels >= 0]).size),
            "silhouette": silhouette,
            "davies_bouldin": davies_bouldin,
        }
        if param == "eps":
            row["noise_share"] = float(np.mean(labels < 0))
        rows.append(row)
        fits.append((labels, fitted))
    best = best_index(rows)
    for i, row in enumerate(rows):
        row["chosen"] = i == best
    return rows, fits[best]


def best_index(rows: Sequence[dict[str, Any]]) -> int:
    """The winning row: best silhouette, near-ties broken by the lower Davies-Bouldin."""
    scored = [i for i, row in enumerate(rows) if math.isfinite(row["silhouette"])]
    eligible = [i for i in scored if rows[i].get("noise_share", 0.0) <= MAX_NOISE_SHARE]
    candidates = eligible or scored
    if not candidates:
        return 0
    top = max(rows[i]["silhouette"] for i in candidates)
    tied = [i for i in candidates if rows[i]["silhouette"] >= top - TIE_TOLERANCE]
    return min(tied, key=lambda i: (rows[i]["davies_bouldin"], i))


def eps_candidates(
    X: np.ndarray,
    min_samples: int,
    *,
    sample_size: int,
    random_state: int | None,
    quantiles: Sequence[float] = EPS_QUANTILES,
) -> list[float]:
    """DBSCAN radii to try: quantiles of each point's distance to its `min_samples`-th neighbour.

    That distance is the smallest `eps` that makes the point a core point, so a quantile q makes
    about a share q of users core. Distances are measured against all rows (only the query
    points are sampled), so they do not grow with sampling.
    """
    n_neighbors = min(min_samples, len(X))
    rng = np.random.default_rng(random_state)
    query = X if len(X) <= sample_size else X[rng.choice(len(X), sample_size, replace=False)]
    distances, _ = NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors(query)
    radii = np.quantile(distances[:, -1], quantiles)
    return sorted({float(r) for r in radii if r > 0})


def plot_selection(selection: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write a PNG of silhouette and Davies-Bouldin per candidate, the chosen one marked.

    Uses matplotlib's object API (no pyplot), so it is safe in servers and threads.
    """
    from matplotlib.figure import Figure

    if not selection:
        raise ValueError("The selection table is empty; fit a Segmenter first.")
    param = "k" if "k" in selection[0] else "eps"
    xs = [row[param] for row in selection]
    figure = Figure(figsize=(8, 3.2), layout="constrained")
    panels = (("silhouette", "higher is better"), ("davies_bouldin", "lower is better"))
    for axes, (key, hint) in zip(figure.subplots(1, 2), panels, strict=True):
        axes.plot(xs, [row[key] for row in selection], marker="o")
        for x, row in zip(xs, selection, strict=True):
            if row.get("chosen"):
                axes.axvline(x, color="grey", linestyle="--", linewidth=1)
        axes.set_xlabel(param)
        axes.set_title(f"{key.replace('_', '-')} ({hint})")
    path = Path(path)
    figure.savefig(path, format="png", dpi=100)
    return path
