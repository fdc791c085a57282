"""Labelled CSV files (corpus/labelled/*.csv, reviewed corrections) → one validated training frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.config import checksum_bytes
from pipeline.errors import DiaoyanError
from pipeline.io import read_text_csv
from pipeline.taxonomy import Taxonomy

SENTIMENT_LABELS = ("pos", "neu", "neg")
REVIEWED_FILE = "reviewed.csv"
LABEL_COLUMNS = ("topic", "kind", "sentiment")


def read_labelled(path: Path) -> pd.DataFrame:
    """One labelled CSV → frame with `text` and label columns, tagged with file and line."""
    frame = read_text_csv(path, hint="a labelled file needs at least text,topic")
    frame["file"] = path.name
    frame["line"] = range(2, len(frame) + 2)
    return frame


def labelled_files(source: Path) -> list[Path]:
    source = Path(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise DiaoyanError("labelled data not found", path=str(source))
    files = sorted(source.glob("*.csv"))
    if not files:
        raise DiaoyanError("no labelled CSV files", path=str(source))
    return files


def load_corpus(source: Path, taxonomy: Taxonomy) -> pd.DataFrame:
    """All labelled rows, validated against the taxonomy; bad labels name file and line."""
    frames = [read_labelled(p) for p in labelled_files(source)]
    corpus = pd.concat(frames, ignore_index=True)
    for col in ("topic", "topic2", "kind", "sentiment", "split"):
        if col not in corpus.columns:
            corpus[col] = ""
        corpus[col] = corpus[col].fillna("").astype(str).str.strip()
    corpus["text"] = corpus["text"].astype(str).str.strip()
    empty = corpus[corpus["text"] == ""]
    if len(empty):
        row = empty.iloc[0]
        raise DiaoyanError("empty text", path=row["file"], line=int(row["line"]),
                           hint="fill in or delete the row")
    valid = {"topic": set(taxonomy.labels), "topic2": set(taxonomy.topic_ids) | {""},
             "kind": set(taxonomy.kinds) | {""}, "sentiment": set(SENTIMENT_LABELS) | {""},
             "split": {"train", "test", ""}}
    for col, allowed in valid.items():
        if col == "topic":
            # Names shown in the quote table (政策制定精准性) are accepted for ids.
            corpus[col] = [taxonomy.id_of_name(v) or v for v in corpus[col]]
            allowed = allowed | {""}
        bad = corpus[~corpus[col].isin(allowed)]
        if len(bad):
            row = bad.iloc[0]
            raise DiaoyanError(f"{col} {row[col]!r} is not in the taxonomy ({sorted(allowed - {''})})",
                               path=row["file"], line=int(row["line"]),
                               hint=f"fix the label or add it to the taxonomy ({len(bad)} rows affected)")
    return corpus


def training_rows(corpus: pd.DataFrame) -> pd.DataFrame:
    """Everything but the fixed test split."""
    return corpus[corpus["split"] != "test"].reset_index(drop=True)


def test_rows(corpus: pd.DataFrame) -> pd.DataFrame:
    return corpus[corpus["split"] == "test"].reset_index(drop=True)


def data_checksum(frame: pd.DataFrame) -> str:
    """Checksum of exactly the rows and labels a model learned from."""
    cols = [c for c in ("text",) + LABEL_COLUMNS if c in frame.columns]
    return checksum_bytes(frame[cols].to_csv(index=False).encode("utf-8"))
