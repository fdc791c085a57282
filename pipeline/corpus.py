"""Labelled CSV files (corpus/labelled/*.csv, reviewed corrections) → one validated training frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.config import checksum_bytes, resolve
from pipeline.errors import DiaoyanError
from pipeline.io import read_text_csv
from pipeline.taxonomy import Taxonomy

SENTIMENT_LABELS = ("pos", "neu", "neg")
REVIEWED_FILE = "reviewed.csv"
LABEL_COLUMNS = ("topic", "kind", "sentiment")
RELABEL_COLUMNS = ("id", "old_topic", "topic", "topic2")


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


def load_corpus(source: Path, taxonomy: Taxonomy, relabel: Path | None = None) -> pd.DataFrame:
    """All labelled rows, validated against the taxonomy; bad labels name file and line. With
    relabel (a re-coding file, see relabelled), its topic decisions replace the files' labels."""
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
    if relabel:
        if not Path(relabel).is_file():
            raise DiaoyanError("re-coding file not found", path=str(relabel),
                               hint="set paths.relabel to an existing CSV, or to empty for none")
        changes = read_text_csv(Path(relabel), hint="a re-coding file needs id,old_topic,topic,topic2",
                                required=RELABEL_COLUMNS)
        corpus = relabelled(corpus, changes, taxonomy, Path(relabel).name)
    return corpus


def relabelled(corpus: pd.DataFrame, changes: pd.DataFrame, taxonomy: Taxonomy, source: str) -> pd.DataFrame:
    """Corpus + topic re-coding decisions (columns id, old_topic, topic, topic2; e.g.
    corpus/audit/recoding.csv) → the corpus with those rows' topic and topic2 replaced. Each decision
    must name a corpus id whose topic is still its old_topic, so a decision made on other labels is
    refused rather than applied blindly."""
    out = corpus.copy()
    row_of = {rid: i for i, rid in zip(out.index, out.get("id", pd.Series(dtype=str)).astype(str)) if rid}
    for line, change in enumerate(changes.fillna("").astype(str).to_dict("records"), start=2):
        rid = change["id"].strip()
        if rid not in row_of:
            raise DiaoyanError(f"id {rid!r} is not in the labelled corpus", path=source, line=line,
                               hint="delete the row or restore the comment")
        current = out.at[row_of[rid], "topic"]
        if current != change["old_topic"].strip():
            raise DiaoyanError(f"{rid}: the re-coding expects topic {change['old_topic']!r} but the corpus has "
                               f"{current!r}", path=source, line=line,
                               hint="the label changed since the re-coding; decide the row again")
        topic, topic2 = change["topic"].strip(), change["topic2"].strip()
        if topic not in taxonomy.labels or topic2 not in set(taxonomy.topic_ids) | {""} or topic2 == topic:
            raise DiaoyanError(f"{rid}: topic {topic!r} / topic2 {topic2!r} do not fit the taxonomy", path=source,
                               line=line, hint=f"use {taxonomy.labels}; topic2 empty or another area")
        out.at[row_of[rid], "topic"], out.at[row_of[rid], "topic2"] = topic, topic2
    return out


def relabel_file(cfg: dict) -> Path | None:
    """The re-coding file the config names (paths.relabel), or None."""
    name = (cfg.get("paths") or {}).get("relabel")
    return resolve(name) if name else None


def training_rows(corpus: pd.DataFrame) -> pd.DataFrame:
    """Everything but the fixed test split."""
    return corpus[corpus["split"] != "test"].reset_index(drop=True)


def test_rows(corpus: pd.DataFrame) -> pd.DataFrame:
    return corpus[corpus["split"] == "test"].reset_index(drop=True)


def data_checksum(frame: pd.DataFrame) -> str:
    """Checksum of exactly the rows and labels a model learned from."""
    cols = [c for c in ("text",) + LABEL_COLUMNS if c in frame.columns]
    return checksum_bytes(frame[cols].to_csv(index=False).encode("utf-8"))
