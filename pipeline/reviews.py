"""Analyst loop: reviewed quote table (.xlsx) → corpus/labelled/reviewed.csv with provenance; comments → what to label next (.xlsx)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.corpus import REVIEWED_FILE, SENTIMENT_LABELS
from pipeline.errors import DiaoyanError
from pipeline.io import atomic_write, neutralise, write_text
from pipeline.metrics import agreement
from pipeline.taxonomy import KIND_NAMES, Taxonomy

REVIEW_COLUMNS = ["reviewed_topic", "reviewed_kind", "reviewed_sentiment", "reviewer", "note"]
REVIEWED_CSV_COLUMNS = ["text", "topic", "kind", "sentiment", "split", "source_file", "comment_id",
                        "source", "reviewer", "reviewed_on", "note"]
SENTIMENT_NAMES = {"pos": "正面", "neu": "中性", "neg": "负面"}


def _kind_id(value: str, taxonomy: Taxonomy) -> str | None:
    names = {v: k for k, v in KIND_NAMES.items()}
    value = value.strip()
    return value if value in taxonomy.kinds else names.get(value) if names.get(value) in taxonomy.kinds else None


def _sentiment_id(value: str) -> str | None:
    value = value.strip().lower()
    names = {v: k for k, v in SENTIMENT_NAMES.items()}
    return value if value in SENTIMENT_LABELS else names.get(value)


def read_review_sheet(path: Path) -> pd.DataFrame:
    """First sheet of the quote table, all cells as text, with the Excel row number of each row."""
    if not path.exists():
        raise DiaoyanError("review file not found", path=str(path))
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl").fillna("")
    except Exception as err:  # openpyxl raises many types for a broken file
        raise DiaoyanError(f"cannot read the review workbook ({type(err).__name__}: {err})", path=str(path),
                           hint="save it from Excel/WPS as .xlsx") from None
    missing = [c for c in ["text"] + REVIEW_COLUMNS[:3] if c not in frame.columns]
    if missing:
        raise DiaoyanError(f"the first sheet lacks the columns {missing}", path=str(path),
                           hint="use the quotes.xlsx written by `make classify` or `diaoyan suggest`")
    frame["sheet_row"] = range(2, len(frame) + 2)
    return frame


def parse_reviews(frame: pd.DataFrame, taxonomy: Taxonomy, source_name: str,
                  default_reviewer: str = "") -> tuple[pd.DataFrame, list[str]]:
    """Rows with any reviewed_* filled → (labelled rows, errors naming the sheet row)."""
    rows, errors = [], []
    today = dt.date.today().isoformat()
    for rec in frame.to_dict("records"):
        filled = {c: str(rec.get(c, "")).strip() for c in REVIEW_COLUMNS[:3]}
        if not any(filled.values()):
            continue
        topic = taxonomy.id_of_name(filled["reviewed_topic"]) if filled["reviewed_topic"] else ""
        kind = _kind_id(filled["reviewed_kind"], taxonomy) if filled["reviewed_kind"] else ""
        senti = _sentiment_id(filled["reviewed_sentiment"]) if filled["reviewed_sentiment"] else ""
        row = rec["sheet_row"]
        if topic is None:
            errors.append(f"row {row}: reviewed_topic {filled['reviewed_topic']!r} is not in the taxonomy "
                          f"({', '.join(t.name for t in taxonomy.topics)}{', 其他' if taxonomy.other else ''})")
        if kind is None:
            errors.append(f"row {row}: reviewed_kind {filled['reviewed_kind']!r} is not one of "
                          f"{[KIND_NAMES.get(k, k) for k in taxonomy.kinds]}")
        if senti is None:
            errors.append(f"row {row}: reviewed_sentiment {filled['reviewed_sentiment']!r} is not pos/neu/neg")
        if not str(rec.get("text", "")).strip():
            errors.append(f"row {row}: the text cell is empty")
        if None in (topic, kind, senti):
            continue
        rows.append({"text": str(rec["text"]).strip().lstrip("'"), "topic": topic, "kind": kind, "sentiment": senti,
                     "split": "train", "source_file": source_name,
                     "comment_id": str(rec.get("comment_id", "")), "source": str(rec.get("source", "")),
                     "reviewer": str(rec.get("reviewer", "")).strip() or default_reviewer,
                     "reviewed_on": today, "note": str(rec.get("note", "")).strip(),
                     "_model_topic": str(rec.get("topic", "")), "_model_kind": str(rec.get("kind", "")),
                     "_model_sentiment": str(rec.get("sentiment_label", "")), "_row": row})
    return pd.DataFrame(rows), errors


def model_agreement(reviews: pd.DataFrame, taxonomy: Taxonomy) -> dict:
    """The model's labels in the sheet against the analyst's, per head (accuracy, Cohen's kappa)."""
    out = {}
    if reviews.empty:
        return out
    normalisers = {"topic": lambda v: taxonomy.id_of_name(v) or v, "kind": lambda v: _kind_id(v, taxonomy) or v,
                   "sentiment": lambda v: _sentiment_id(v) or v}
    for head, norm in normalisers.items():
        sel = (reviews[head] != "") & (reviews[f"_model_{head}"] != "")
        if sel.any():
            out[head] = agreement([norm(v) for v in reviews.loc[sel, f"_model_{head}"]],
                                  reviews.loc[sel, head].tolist())
    return out


def import_reviews(path: Path, folder: Path, taxonomy: Taxonomy, default_reviewer: str = "") -> dict:
    """Merge the filled review rows into folder/reviewed.csv; nothing is written if any row is invalid."""
    frame = read_review_sheet(Path(path))
    reviews, errors = parse_reviews(frame, taxonomy, Path(path).name, default_reviewer)
    if errors:
        shown = "; ".join(errors[:5]) + (f"; … {len(errors) - 5} more" if len(errors) > 5 else "")
        raise DiaoyanError(f"{len(errors)} invalid review rows, nothing imported: {shown}", path=str(path),
                           hint="fix these cells (the dropdowns list the valid labels) and import again")
    target = Path(folder) / REVIEWED_FILE
    existing = (pd.read_csv(target, dtype=str, keep_default_na=False) if target.exists()
                else pd.DataFrame(columns=REVIEWED_CSV_COLUMNS))
    summary = {"file": Path(path).name, "reviewed_rows": int(len(reviews)), "added": 0, "updated": 0,
               "duplicates": 0, "agreement": model_agreement(reviews, taxonomy), "target": str(target)}
    if reviews.empty:
        return summary
    # One row per text: a repeated review with the same labels is a duplicate; different labels
    # replace the earlier ones (the latest review wins).
    rows = {rec["text"]: rec for rec in existing.reindex(columns=REVIEWED_CSV_COLUMNS, fill_value="")
            .to_dict("records")}
    for rec in reviews[REVIEWED_CSV_COLUMNS].to_dict("records"):
        old = rows.get(rec["text"])
        if old is None:
            summary["added"] += 1
        elif all(old[c] == rec[c] for c in ("topic", "kind", "sentiment")):
            summary["duplicates"] += 1
            continue
        else:
            summary["updated"] += 1
        rows[rec["text"]] = rec
    write_text(target, pd.DataFrame(list(rows.values()), columns=REVIEWED_CSV_COLUMNS)
               .to_csv(index=False, lineterminator="\n"))
    return summary


def render_summary(summary: dict) -> str:
    lines = [f"{summary['reviewed_rows']} reviewed rows in {summary['file']}: {summary['added']} added, "
             f"{summary['updated']} updated, {summary['duplicates']} duplicates skipped → {summary['target']}"]
    for head, a in summary.get("agreement", {}).items():
        lines.append(f"  model vs analyst on {head}: accuracy {a['accuracy']:.3f}, Cohen's kappa {a['kappa']:.3f} (n={a['n']})")
    lines.append("run `make train` to learn from them (it prints held-out metrics before and after)")
    return "\n".join(lines)


# ---------------------------------------------------------------- suggest

def _char_grams(text: str) -> set[str]:
    return {text[i:i + 3] for i in range(max(len(text) - 2, 1))}


def select_informative(texts: list[str], uncertainty: np.ndarray, vectors, n: int,
                       diversity: float = 0.3, near_duplicate: float = 0.5) -> list[int]:
    """Greedy uncertainty-with-diversity: each pick maximises uncertainty − diversity·(max cosine to the
    picks so far); near-duplicates (char 3-gram Jaccard) of a pick are never picked."""
    from sklearn.preprocessing import normalize

    vectors = normalize(vectors)
    chosen: list[int] = []
    grams = [_char_grams(t) for t in texts]
    max_sim = np.zeros(len(texts))
    alive = np.ones(len(texts), dtype=bool)
    while len(chosen) < n and alive.any():
        score = np.where(alive, uncertainty - diversity * max_sim, -np.inf)
        best = int(np.argmax(score))
        chosen.append(best)
        alive[best] = False
        sims = (vectors @ vectors[best].T).toarray().ravel()
        max_sim = np.maximum(max_sim, sims)
        for j in np.flatnonzero(alive):
            union = len(grams[j] | grams[best])
            if union and len(grams[j] & grams[best]) / union >= near_duplicate:
                alive[j] = False
    return chosen


def suggest(src: Path, dst: Path, model, taxonomy: Taxonomy, cfg: dict, n: int) -> int:
    """Write the n most informative unlabelled comments to an .xlsx in the import-reviews format."""
    from pipeline.classify import predict
    from pipeline.config import resolve
    from pipeline.corpus import labelled_files, read_labelled
    from pipeline.predict import read_input

    frame = read_input(Path(src))
    if "role" in frame.columns:
        frame = frame[frame["role"] == "respondent"]
    known = set()
    for f in labelled_files(resolve(cfg["paths"]["labelled"])):
        known |= set(read_labelled(f)["text"].str.strip())
    frame = frame[~frame["text"].str.strip().isin(known) & (frame["text"].str.strip() != "")]
    frame = frame.drop_duplicates("text").reset_index(drop=True)
    if frame.empty:
        raise DiaoyanError("no unlabelled comments to suggest", path=str(src))
    texts = frame["text"].tolist()
    tokens = [" ".join(t) for t in model.features.tokenize(texts)]
    X = model.matrix(texts, tokens)
    uncertainty = np.zeros(len(texts))
    heads = [h for h in ("topic", "kind") if model.has(h)]
    for head in heads:
        proba = np.sort(model.heads[head].proba(X), axis=1)
        uncertainty += 1 - (proba[:, -1] - proba[:, -2])  # small margin → informative
    uncertainty /= max(len(heads), 1)
    vectors = model.heads[heads[0]].matrix(X) if heads else X
    picks = select_informative(texts, uncertainty, vectors, n)
    pred = predict(model, [texts[i] for i in picks], [tokens[i] for i in picks], cfg["classifier"], X[picks])
    out = pd.DataFrame({
        "comment_id": frame["comment_id"].iloc[picks].to_numpy() if "comment_id" in frame else "",
        "source": frame["source"].iloc[picks].to_numpy() if "source" in frame else Path(src).name,
        "text": [texts[i] for i in picks],
        "topic": [taxonomy.name_of(t) for t in pred["topic"]],
        "kind": [KIND_NAMES.get(k, k) for k in pred["kind"]],
        "uncertainty": np.round(uncertainty[picks], 3),
    })
    for col in REVIEW_COLUMNS:
        out[col] = ""
    write_review_workbook(dst, out, taxonomy, "待标注")
    return len(out)


def write_review_workbook(path: Path, frame: pd.DataFrame, taxonomy: Taxonomy, title: str) -> Path:
    """One sheet with dropdowns on the review columns, frozen header, filters, wrapped text."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append([neutralise(v) if isinstance(v, str) else v for v in row])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    choices = {"reviewed_topic": [t.name for t in taxonomy.topics] + (["其他"] if taxonomy.other else []),
               "reviewed_kind": [KIND_NAMES.get(k, k) for k in taxonomy.kinds],
               "reviewed_sentiment": list(SENTIMENT_LABELS)}
    last = max(ws.max_row, 2)
    for i, col in enumerate(frame.columns, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = 60 if col == "text" else 16
        if col in choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(choices[col]) + '"', allow_blank=True)
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{last}")
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    return atomic_write(Path(path), lambda tmp: wb.save(tmp))
