"""A CSV with a `text` column (and optionally `question`) → the same rows, in order, with topic, kind,
sentiment and evidence columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import classify, sentiment
from pipeline.io import read_text_csv, write_text
from pipeline.schema import PREDICTION_COLUMNS


def read_input(path: Path) -> pd.DataFrame:
    return read_text_csv(path, hint="name the comment column 'text'")


def questions_of(frame: pd.DataFrame) -> pd.DataFrame | None:
    """A `question` column (the questionnaire item each row answers, as in a survey export) → the
    questions classify.predict reads; None without one."""
    if "question" not in frame.columns:
        return None
    asked = frame["question"].fillna("").astype(str).str.strip().to_numpy()
    return pd.DataFrame({"question_text": asked, "question_from": np.where(asked != "", "survey", "")})


def run(frame: pd.DataFrame, model: classify.Model, cfg: dict) -> tuple[pd.DataFrame, list[str]]:
    """Rows with `text` → rows with prediction columns (input columns first, untouched)."""
    texts = frame["text"].fillna("").astype(str).tolist()
    tokens = [" ".join(t) for t in model.features.tokenize(texts)]
    X = model.matrix(texts, tokens)
    pred = classify.predict(model, texts, tokens, cfg["classifier"], X, questions=questions_of(frame))
    notices = [f"the model has no {h} head (no {h} labels in its training data): {h} columns are empty"
               for h in ("topic", "kind", "sentiment") if not model.has(h)]
    backend = cfg["sentiment"]["backend"]
    if backend == "snownlp" or model.has("sentiment"):
        scores = np.clip(sentiment.score(texts, tokens, model, backend, cfg["sentiment"]["contrast_weight"],
                                         X), 0, 1)
        pred["sentiment"] = np.round(scores, 4)
        pred["sentiment_label"] = sentiment.label(scores, cfg["sentiment"])
    else:
        pred["sentiment"], pred["sentiment_label"] = np.nan, ""
    out = frame.copy()
    for col in PREDICTION_COLUMNS:
        # An input column with a prediction's name is kept as input_<name>.
        if col in out.columns:
            out = out.rename(columns={col: f"input_{col}"})
        out[col] = pred[col].to_numpy()
    return out, notices


def run_file(src: Path, dst: Path, model: classify.Model, cfg: dict) -> tuple[int, list[str]]:
    frame = read_input(src)
    out, notices = run(frame, model, cfg)
    # Plain UTF-8 and values untouched: this output feeds other tools, not Excel.
    write_text(dst, out.to_csv(index=False, lineterminator="\n"))
    return len(out), notices
