"""What a model's results look like beyond one number, as small JSON-able data: ROC and PR
curves, a confusion matrix and a calibration curve for a classifier; predicted against actual and
residuals for a regressor; the search's trials with a best-so-far line and a simple parameter
importance; the top features when the estimator exposes them.

Computed once, in the train step, from the test predictions it saved (no refit, no second
predict), and stored beside them as one artifact per diagnostic: the report, the app, MLflow and
the KFP UI then draw the same numbers. Every function here is pure; ``save`` and ``load`` are the
two thin adapters to the store.

Choices:
* Multiclass ROC and PR curves are one-vs-rest, one curve per class (the leaderboard's ROC AUC
  is their macro average); binary ones are the positive class's (the second of ``classes``).
* A model without probabilities (SVC) ranks rows by its ``decision_function`` margins: its ROC
  and PR curves come from those; it has no calibration curve.
* Multiclass calibration is of the top class: its predicted probability against how often it is
  right. Binary: the positive class's probability against the positive rate.
* Regression points are a random sample of at most ``MAX_POINTS`` test rows (the same for every
  model of a run, seeded); the residual histogram counts every row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from bakeoff.metrics import Outcome
    from bakeoff.records import Artifact, ModelResult
    from bakeoff.storage import ObjectStore

MAX_CURVE_POINTS = 2000  # a curve with more corners is thinned; its exact area is stored beside it
MAX_POINTS = 500  # regression scatter points
CALIBRATION_BINS = 10
RESIDUAL_BINS = 20
TOP_FEATURES = 15
TIE_TOLERANCE = 1e-12  # search trials this close to the best score are ties


def _floats(values: Any) -> list[float]:
    """Unrounded: an area recomputed from a stored curve must be the metric's to 1e-9."""
    return [float(v) for v in np.asarray(values, dtype=float)]


def thin(*columns: np.ndarray, most: int = MAX_CURVE_POINTS) -> tuple[list[np.ndarray], bool]:
    """At most ``most`` points, evenly spaced along the curve, ends kept (and whether any went)."""
    n = len(columns[0])
    if n <= most:
        return list(columns), False
    keep = np.unique(np.linspace(0, n - 1, most).round().astype(int))
    return [c[keep] for c in columns], True


def _one_vs_rest(o: Outcome, labels: Sequence[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, is that class, its score) of each curve: the positive class when binary."""
    scores = o.ranking
    assert scores is not None
    if scores.shape[1] == 2:
        return [(labels[1], o.y_true == 1, scores[:, 1])]
    return [(labels[c], o.y_true == c, scores[:, c]) for c in range(scores.shape[1])]


def roc(o: Outcome, labels: Sequence[str]) -> dict[str, Any] | None:
    """Each class's ROC curve (false positive rate, true positive rate, the score threshold of
    each point) and its area. sklearn's first threshold is +inf ("nothing is positive"); JSON has
    no inf, so the highest score stands in (1 for probabilities; the largest margin otherwise)."""
    from sklearn.metrics import auc, roc_curve

    if o.ranking is None:
        return None
    curves = []
    for label, positive, score in _one_vs_rest(o, labels):
        if positive.all() or not positive.any():
            continue
        fpr, tpr, thresholds = roc_curve(positive, score)
        area = float(auc(fpr, tpr))
        top = max(1.0, float(np.max(thresholds[np.isfinite(thresholds)], initial=1.0)))
        (fpr, tpr, thresholds), thinned = thin(fpr, tpr, np.where(np.isinf(thresholds), top, thresholds))
        curves.append({"label": str(label), "fpr": _floats(fpr), "tpr": _floats(tpr),
                       "thresholds": _floats(thresholds), "auc": area, "thinned": thinned})
    return {"scores": "proba" if o.proba is not None else "margins", "curves": curves}


def _along(x: np.ndarray, fpr: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` of a curve's points at each false positive rate of ``x``, reached from the left
    and from the right: where the curve steps straight up (its rate repeats) the two differ, and
    between its points the value is read off the straight line joining them."""
    between = np.interp(x, fpr, values)
    first = np.minimum(np.searchsorted(fpr, x, "left"), len(fpr) - 1)
    last = np.maximum(np.searchsorted(fpr, x, "right") - 1, 0)
    return (np.where(fpr[first] == x, values[first], between), np.where(fpr[last] == x, values[last], between))


def macro_roc(curves: list[dict[str, Any]]) -> dict[str, list[float]]:
    """One curve for every class: the classes' true positive rates (and thresholds) averaged at
    each false positive rate any of them has, both sides of each step kept. Each class's curve is
    a straight line between those rates, so the area under the average is the average of the
    areas: the leaderboard's one-vs-rest macro ROC AUC. One curve is what KFP's UI draws; a
    binary task's is its one curve."""
    if len(curves) == 1:
        return {k: curves[0][k] for k in ("fpr", "tpr", "thresholds")}
    grid = np.unique(np.concatenate([np.asarray(c["fpr"], dtype=float) for c in curves]))
    sides = {k: np.mean([_along(grid, np.asarray(c["fpr"], dtype=float), np.asarray(c[k], dtype=float))
                         for c in curves], axis=0) for k in ("tpr", "thresholds")}  # (2, len(grid)) each
    fpr, tpr, thresholds = np.repeat(grid, 2), sides["tpr"].T.ravel(), sides["thresholds"].T.ravel()
    step = np.r_[True, (np.diff(fpr) != 0) | (np.diff(tpr) != 0)]  # one point where nothing steps
    return {"fpr": _floats(fpr[step]), "tpr": _floats(tpr[step]), "thresholds": _floats(thresholds[step])}


def pr(o: Outcome, labels: Sequence[str]) -> dict[str, Any] | None:
    """Each class's precision-recall curve, its average precision, and the share of positives
    (the height a model that guesses would reach)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    if o.ranking is None:
        return None
    curves = []
    for label, positive, score in _one_vs_rest(o, labels):
        if not positive.any():
            continue
        precision, recall, _ = precision_recall_curve(positive, score)
        (recall, precision), thinned = thin(recall, precision)
        curves.append({"label": str(label), "recall": _floats(recall), "precision": _floats(precision),
                       "average_precision": float(average_precision_score(positive, score)),
                       "base_rate": float(positive.mean()), "thinned": thinned})
    return {"scores": "proba" if o.proba is not None else "margins", "curves": curves}


def confusion(o: Outcome, labels: Sequence[str]) -> dict[str, Any]:
    """Counts of (true class, predicted class), rows true, columns predicted."""
    k = len(labels)
    counts = np.bincount(o.y_true * k + o.y_pred, minlength=k * k).reshape(k, k)
    return {"labels": [str(label) for label in labels], "counts": counts.tolist()}


def calibration(o: Outcome, labels: Sequence[str]) -> dict[str, Any] | None:
    """Mean predicted probability against the observed rate in ``CALIBRATION_BINS`` equal-width
    bins (empty bins left out), with each bin's row count."""
    if o.proba is None:
        return None
    if o.proba.shape[1] == 2:
        predicted, observed, of = o.proba[:, 1], o.y_true == 1, f"P({labels[1]})"
    else:
        predicted, observed, of = o.proba.max(axis=1), o.proba.argmax(axis=1) == o.y_true, "top class"
    bins = np.minimum((predicted * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    count = np.bincount(bins, minlength=CALIBRATION_BINS)
    mean_predicted = np.bincount(bins, weights=predicted, minlength=CALIBRATION_BINS)
    rate = np.bincount(bins, weights=observed.astype(float), minlength=CALIBRATION_BINS)
    filled = count > 0
    return {"of": of, "predicted": _floats(mean_predicted[filled] / count[filled]),
            "observed": _floats(rate[filled] / count[filled]), "count": count[filled].tolist()}


def residuals(o: Outcome, seed: int = 0) -> dict[str, Any]:
    """Predicted against actual for at most ``MAX_POINTS`` rows, and a histogram of every row's
    residual (predicted − actual)."""
    n = len(o.y_true)
    rows = np.sort(np.random.default_rng(seed).choice(n, MAX_POINTS, replace=False)) if n > MAX_POINTS \
        else np.arange(n)
    residual = o.y_pred - o.y_true
    counts, edges = np.histogram(residual, bins=RESIDUAL_BINS)
    return {"actual": _floats(o.y_true[rows]), "predicted": _floats(o.y_pred[rows]), "rows": n,
            "histogram": {"edges": _floats(edges), "counts": counts.tolist()},
            "mean": float(residual.mean()), "std": float(residual.std())}


def search_history(search: dict[str, Any], direction: str) -> dict[str, Any]:
    """The trials in order with the best score so far (pruned and failed trials marked, and
    carrying the line on), how many tie with the best, and a simple importance per parameter."""
    better = max if direction == "max" else min
    trials, best, line = search.get("trials") or [], None, []
    for t in trials:
        if t["state"] == "complete" and t["score"] is not None:
            best = t["score"] if best is None else better(best, t["score"])
        line.append(best)
    scores = [t["score"] for t in trials if t["state"] == "complete" and t["score"] is not None]
    winner = (search.get("best") or {}).get("score")
    ties = sum(winner is not None and abs(s - winner) <= TIE_TOLERANCE for s in scores)
    return {"trials": [{"number": t["number"], "state": t["state"], "score": t["score"], "params": t["params"]}
                       for t in trials],
            "best_so_far": line, "best": search.get("best"), "complete": len(scores), "tied_with_best": ties,
            "nothing_to_choose": len(scores) >= 3 and ties > len(scores) / 2,
            "importance": importance(trials)}


def importance(trials: list[dict[str, Any]]) -> dict[str, float]:
    """How much of the spread of the completed trials' scores each parameter explains on its own:
    the between-group share of the variance (eta squared), the parameter's values grouped as they
    are (choices) or in quartiles (numbers). Simple and honest about it: one parameter at a time,
    no interactions. Sorted, largest first."""
    done = [t for t in trials if t["state"] == "complete" and t["score"] is not None]
    if len(done) < 3:
        return {}
    scores = np.array([t["score"] for t in done], dtype=float)
    total = float(((scores - scores.mean()) ** 2).sum())
    shares = {}
    for name in sorted({p for t in done for p in t["params"]}):
        values = [t["params"].get(name) for t in done]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            cuts = np.quantile(np.array(values, dtype=float), [0.25, 0.5, 0.75])
            groups = np.searchsorted(cuts, np.array(values, dtype=float))
        else:
            keys = sorted({json.dumps(v, sort_keys=True) for v in values})
            groups = np.array([keys.index(json.dumps(v, sort_keys=True)) for v in values])
        between = sum(len(s) * (s.mean() - scores.mean()) ** 2
                      for g in np.unique(groups) if len(s := scores[groups == g]))
        shares[name] = round(float(between / total), 6) if total > 0 else 0.0
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def top_features(pipeline: Pipeline) -> dict[str, Any] | None:
    """The largest ``feature_importances_`` (trees) or absolute ``coef_`` (linear models, averaged
    over classes) of the fitted estimator, named as the preprocessing names its outputs (zeros
    left out); None when
    the estimator exposes neither (an SVC with an RBF kernel, k-NN). Coefficients are comparable
    because the linear models' inputs are scaled (preprocess.py)."""
    est = pipeline[-1]
    if hasattr(est, "feature_importances_"):
        values, kind = np.asarray(est.feature_importances_, dtype=float), "importance"
    elif hasattr(est, "coef_") and np.ndim(est.coef_) in (1, 2):
        # a linear SVC fitted on sparse (one-hot) input keeps a sparse coef_
        coef = est.coef_.toarray() if hasattr(est.coef_, "toarray") else est.coef_
        values, kind = np.abs(np.atleast_2d(np.asarray(coef, dtype=float))).mean(axis=0), "|coefficient|"
    else:
        return None
    try:
        names = [str(n).split("__", 1)[-1] for n in pipeline[:-1].get_feature_names_out()]  # no "numeric-0__"
    except (AttributeError, ValueError):
        names = []
    if len(names) != len(values):
        names = [f"x{i}" for i in range(len(values))]
    order = [i for i in np.argsort(-values, kind="stable")[:TOP_FEATURES] if values[i] > 0]
    return {"kind": kind, "features": [names[i] for i in order], "values": _floats(values[order])}


def compute(o: Outcome, classes: Sequence[Any] | None, *, pipeline: Pipeline | None = None,
            search: dict[str, Any] | None = None, direction: str = "max", seed: int = 0) -> dict[str, Any]:
    """Every diagnostic the model has, by name (the artifacts' names); none is computed twice."""
    found: dict[str, Any] = {}
    if classes is not None:
        labels = [str(c) for c in classes]
        found |= {"roc": roc(o, labels), "pr": pr(o, labels), "confusion": confusion(o, labels),
                  "calibration": calibration(o, labels)}
    else:
        found["residuals"] = residuals(o, seed)
    if search:
        found["search"] = search_history(search, direction)
    if pipeline is not None:
        found["features"] = top_features(pipeline)
    return {name: data for name, data in found.items() if data is not None}


PREFIX = "diagnostics."  # of their names among a result's artifacts


def encode(data: Any) -> bytes:
    """A diagnostic's JSON exactly as the store holds it, numpy's scalars as JSON numbers
    (``scalars.plain``): MLflow logs these same bytes, so its copy cannot read differently."""
    from bakeoff.scalars import plain

    def default(value: Any) -> Any:  # anything else JSON cannot write: its text, not a failed model
        return str(value) if (number := plain(value)) is value else number

    return json.dumps(data, default=default).encode()


def save(store: ObjectStore, job: str, attempt: str, found: dict[str, Any]) -> dict[str, Artifact]:
    """Each diagnostic as ``<name>.json`` in the attempt's folder, as the result's artifacts."""
    from bakeoff.records import save_artifact

    return {PREFIX + name: save_artifact(store, job, attempt, f"{name}.json", encode(data))
            for name, data in found.items()}


def load(store: ObjectStore, result: ModelResult) -> dict[str, Any]:
    """The diagnostics a result names, checked against their sha256; one that is missing or
    damaged is left out (a chart goes missing rather than wrong)."""
    from bakeoff.errors import UserError
    from bakeoff.records import read_artifact
    from bakeoff.storage import MissingObject

    found = {}
    for key, artifact in result.artifacts.items():
        if key.startswith(PREFIX):
            try:
                found[key.removeprefix(PREFIX)] = json.loads(read_artifact(store, artifact))
            except (UserError, MissingObject, ValueError):
                continue
    return found
