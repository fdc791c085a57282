"""Input folder → out/ (comments.csv, quotes.xlsx, report.docx, report.html, run.json): the staged pipeline end to end."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from pipeline import __version__, classify, deidentify, ingest, quotes, report, segment, sentiment
from pipeline.config import checksum_obj
from pipeline.errors import DiaoyanError
from pipeline.io import write_csv, write_json
from pipeline.schema import CLASSIFY_COLUMNS, COMMENT_COLUMNS, SENTIMENT_COLUMNS
from pipeline.taxonomy import Taxonomy

log = logging.getLogger(__name__)


class Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)


def comment_frame(comments: pd.DataFrame) -> pd.DataFrame:
    """Columns in schema order, then any extra metadata (survey columns) after."""
    first = COMMENT_COLUMNS + CLASSIFY_COLUMNS + SENTIMENT_COLUMNS + ["representative"]
    cols = [c for c in first if c in comments.columns]
    return comments[cols + [c for c in comments.columns if c not in cols]]


def process(folder: Path, taxonomy: Taxonomy, model, cfg: dict, *, encoding: str | None = None,
            strict: bool = False, keep_names: bool = False, progress=None) -> dict:
    """Run every stage in memory; returns the frames and the run record (no files written)."""
    timer = Timer()
    say = progress or (lambda msg: None)
    with timer.stage("ingest"):
        say("ingest")
        ingested = ingest.run(folder, cfg["ingest"], encoding=encoding, strict=strict)
    if not ingested.documents:
        raise DiaoyanError("no readable input files", path=str(folder),
                           hint="supported: .txt .md .docx .csv .xlsx — see run.json for reasons")
    with timer.stage("segment"):
        say("segment")
        documents = {d.doc_id: d.text for d in ingested.documents}
        comments = segment.run(ingested.turns, documents, cfg, model.features.segmenter)
    with timer.stage("classify"):
        say("classify")
        comments = classify.run(comments, model, cfg)
    with timer.stage("sentiment"):
        say("sentiment")
        comments = sentiment.run(comments, model, cfg)
    with timer.stage("quotes"):
        say("quotes")
        comments, quote_rows = quotes.run(comments, taxonomy, cfg, documents=documents)
    redactions: dict = {}
    redactor = None
    files = ingested.files
    with timer.stage("deidentify"):
        if cfg["deidentify"]["enabled"] and not keep_names:
            say("deidentify")
            redactor = deidentify.build_redactor(comments, cfg, model.features.segmenter)
            comments, quote_rows, redactions = deidentify.run(comments, quote_rows, cfg,
                                                              model.features.segmenter, redactor=redactor)
            # Skip reasons can quote file content; file names stay (they link back to the inputs).
            files = [{**f, "reason": redactor.redact(f["reason"], count=False)} if f.get("reason") else f
                     for f in files]
    record = {
        "diaoyan_version": __version__,
        "input": folder.name,
        "files": files,
        "counts": {
            "files": len(files),
            "processed": sum(f["status"] == "processed" for f in files),
            "skipped": sum(f["status"] == "skipped" for f in files),
            "turns": int(len(ingested.turns)),
            "comments": int(len(comments)),
            "respondent_comments": int((comments["role"] == "respondent").sum()),
            "interviewer_comments": int((comments["role"] == "interviewer").sum()),
            "header_comments": int((comments["role"] == "header").sum()),
            "classified": int(comments["classified"].sum()),
            "quotes": int(len(quote_rows)),
            "by_topic": comments.loc[comments["classified"], "topic"].value_counts().to_dict(),
            "by_kind": comments.loc[comments["classified"], "kind"].value_counts().to_dict(),
        },
        "model": {"dir": model.model_dir.name, "version": model.version,
                  "taxonomy": taxonomy.name, "taxonomy_checksum": taxonomy.checksum,
                  "training_data_checksum": model.meta.get("training_data", {}).get("checksum"),
                  "holdout": {h: {k: v for k, v in m.items() if k in ("macro_f1", "accuracy", "auc",
                                                                       "balanced_accuracy")}
                              for h, m in model.meta.get("holdout", {}).items()}},
        "config_checksum": checksum_obj(cfg),
        "deidentified": not keep_names and bool(cfg["deidentify"]["enabled"]),
        "redactions": redactions,
        "sentiment_backend": cfg["sentiment"]["backend"],
        "timings_seconds": timer.seconds,
    }
    return {"comments": comment_frame(comments), "quotes": quote_rows,
            "respondents": ingested.respondents, "documents": ingested.documents, "record": record}


def run(folder: Path, out: Path, taxonomy: Taxonomy, model, cfg: dict, **options) -> dict:
    """Process the folder and write the five outputs into out/ atomically; returns the run record."""
    started = time.perf_counter()
    result = process(Path(folder), taxonomy, model, cfg, **options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    record = result["record"]
    write_csv(out / "comments.csv", result["comments"])
    written = report.write_all(out, result["comments"], result["quotes"], result["respondents"],
                               taxonomy, cfg, record)
    record["outputs"] = sorted(["comments.csv", "run.json"] + [Path(p).name for p in written.values()])
    record["timings_seconds"]["total"] = round(time.perf_counter() - started, 3)
    write_json(out / "run.json", record)
    return record
