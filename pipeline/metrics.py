"""Labels and probabilities → classification metrics (per class, macro-F1, confusion, calibration error)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score,
                             confusion_matrix, f1_score, precision_recall_fscore_support,
                             roc_auc_score)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy − confidence| over equal-width confidence bins, weighted by bin size."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    if not len(confidence):
        return float("nan")
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (confidence > lo) & (confidence <= hi) if lo > 0 else (confidence >= lo) & (confidence <= hi)
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - confidence[sel].mean())
    return float(ece)


def classification_report(y_true, y_pred, labels: list[str], confidence=None) -> dict:
    """Per-class P/R/F1, macro-F1, accuracy, confusion matrix (rows true, columns predicted), ECE."""
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {
        "n": int(len(y_true)),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4) if len(y_true) else None,
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)), 4),
        "per_class": {lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                            "f1": round(float(f[i]), 4), "support": int(s[i])}
                      for i, lab in enumerate(labels)},
        "confusion": {"labels": labels,
                      "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()},
    }
    if confidence is not None:
        out["calibration_error"] = round(expected_calibration_error(confidence, y_true == y_pred), 4)
    return out


def macro_f1_interval(y_true, y_pred, labels: list[str], rounds: int, seed: int,
                      level: float = 0.95) -> list[float] | None:
    """Labels and predictions → percentile bootstrap interval of macro-F1 (rows resampled with
    replacement), so a difference between two models can be read against the noise of the test set."""
    y_true, y_pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    if rounds <= 0 or not len(y_true):
        return None
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels) + 1  # one slot for values outside `labels`: counted in sizes, never a class
    truth = np.array([index.get(v, k - 1) for v in y_true])
    guess = np.array([index.get(v, k - 1) for v in y_pred])
    rng = np.random.default_rng(seed)
    scores = np.empty(rounds)
    for r in range(rounds):
        rows = rng.integers(0, len(truth), len(truth))
        hits = np.bincount(truth[rows][truth[rows] == guess[rows]], minlength=k)[:-1]
        size = np.bincount(truth[rows], minlength=k)[:-1] + np.bincount(guess[rows], minlength=k)[:-1]
        scores[r] = np.mean(np.divide(2 * hits, size, out=np.zeros(len(labels)), where=size > 0))
    tail = (1 - level) / 2 * 100
    return [round(float(np.percentile(scores, tail)), 4), round(float(np.percentile(scores, 100 - tail)), 4)]


def interval_text(report: dict) -> str:
    """A report's bootstrap interval as printed after its macro-F1: " [95% interval 0.881–0.905]", or ""."""
    interval = report.get("macro_f1_interval")
    return f" [95% interval {interval[0]:.3f}–{interval[1]:.3f}]" if interval else ""


def binary_sentiment_report(y_true: list[str], scores: np.ndarray, pos_thr: float, neg_thr: float) -> dict:
    """pos-vs-neg balanced accuracy and AUC, 3-class macro-F1, calibration error."""
    y_true = np.asarray(y_true, dtype=object)
    scores = np.asarray(scores, float)
    pn = np.isin(y_true, ["pos", "neg"])
    is_pos = (y_true[pn] == "pos").astype(int)
    out = {"n": int(len(y_true)), "n_pos_neg": int(pn.sum())}
    if pn.sum() and len(set(is_pos)) == 2:
        out["balanced_accuracy"] = round(float(balanced_accuracy_score(is_pos, scores[pn] >= 0.5)), 4)
        out["auc"] = round(float(roc_auc_score(is_pos, scores[pn])), 4)
        conf = np.where(scores[pn] >= 0.5, scores[pn], 1 - scores[pn])
        out["calibration_error"] = round(expected_calibration_error(conf, (scores[pn] >= 0.5) == is_pos), 4)
    if np.isin(y_true, ["neu"]).any():
        pred3 = np.where(scores >= pos_thr, "pos", np.where(scores <= neg_thr, "neg", "neu"))
        out["macro_f1_3class"] = round(float(f1_score(y_true, pred3, labels=["pos", "neu", "neg"],
                                                      average="macro", zero_division=0)), 4)
    return out


def agreement(y_model, y_analyst) -> dict:
    """Accuracy and Cohen's kappa between the model and an analyst."""
    y_model, y_analyst = list(map(str, y_model)), list(map(str, y_analyst))
    if not y_model:
        return {"n": 0}
    kappa = cohen_kappa_score(y_model, y_analyst) if len(set(y_model) | set(y_analyst)) > 1 else 1.0
    return {"n": len(y_model), "accuracy": round(float(accuracy_score(y_analyst, y_model)), 4),
            "kappa": round(float(kappa), 4)}
