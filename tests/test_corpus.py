"""The hand-written labelled corpus (corpus/labelled/*.csv): columns, labels valid against the
taxonomy, size and balance, lengths, the fixed test split, no near-duplicates, and no sentence
copied from the sample transcripts; and the data card (README.md), whose topic × kind table must
match the files. reviewed.csv (analyst corrections with provenance columns) is not part of the
hand-written corpus and is skipped here."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from pipeline.config import resolve
from pipeline.corpus import REVIEWED_FILE, SENTIMENT_LABELS
from pipeline.segment import normalise_text
from pipeline.taxonomy import load_taxonomy

COLUMNS = ["id", "text", "topic", "topic2", "kind", "sentiment", "register", "voice", "split"]
REGISTERS = ("spoken", "written")
SPLITS = ("train", "test")
MIN_ROWS = 2000
MIN_PER_TOPIC = 250
MIN_OTHER = 500
MIN_PER_KIND = 40            # achievements, and suggestions, within each of the five topics
MIN_REGISTER_SHARE = 0.30
LENGTH_RANGE = (8, 200)
MIN_SHARE_IN_LENGTH_RANGE = 0.95
# The held-out comments are fixed: from the fifteenth batch on, new batches go to train only, so
# the test share falls as the corpus grows. It must stay a large sample.
MIN_TEST_ROWS = 2000
MIN_TEST_SHARE = 0.10
MAX_TEST_SHARE_GAP = 0.05    # each topic's test share within ±5 points of the overall share
NEAR_DUPLICATE_JACCARD = 0.7
MIN_LEAK_CHARS = 12
DATA_CARD = "README.md"
TOPIC_KIND_CAPTION = "Topic × kind:"


@pytest.fixture(scope="module")
def files(cfg) -> list:
    paths = sorted(p for p in resolve(cfg["paths"]["labelled"]).glob("*.csv") if p.name != REVIEWED_FILE)
    assert paths, "no labelled CSV files"
    return paths


@pytest.fixture(scope="module")
def corpus(files) -> pd.DataFrame:
    frames = []
    for path in files:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        frame["file"] = path.name
        frame["line"] = range(2, len(frame) + 2)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def taxonomy(cfg):
    return load_taxonomy(resolve(cfg["paths"]["taxonomy"]))


def where(rows: pd.DataFrame, limit: int = 10) -> str:
    """'file:line id' for the first offending rows, for assertion messages."""
    return "; ".join(f"{r.file}:{r.line} {r.id}" for r in rows.head(limit).itertuples())


# ---------------------------------------------------------------- shape and labels

def test_columns(files):
    for path in files:
        header = pd.read_csv(path, dtype=str, nrows=0).columns.tolist()
        assert header == COLUMNS, path.name


def test_labels_are_valid_against_the_taxonomy(corpus, taxonomy):
    allowed = {
        "topic": set(taxonomy.labels),
        "topic2": set(taxonomy.topic_ids) | {""},
        "kind": set(taxonomy.kinds),
        "sentiment": set(SENTIMENT_LABELS),
        "register": set(REGISTERS),
        "split": set(SPLITS),
    }
    for column, values in allowed.items():
        bad = corpus[~corpus[column].isin(values)]
        assert bad.empty, f"{column} not in {sorted(values)}: {where(bad)}"
    same = corpus[(corpus["topic2"] != "") & (corpus["topic2"] == corpus["topic"])]
    assert same.empty, f"topic2 repeats topic: {where(same)}"
    for column in ("id", "text", "voice"):
        blank = corpus[corpus[column].str.strip() == ""]
        assert blank.empty, f"empty {column}: {where(blank)}"
    untrimmed = corpus[corpus["text"] != corpus["text"].str.strip()]
    assert untrimmed.empty, f"text with leading/trailing space: {where(untrimmed)}"


def test_ids_are_unique(corpus):
    dupes = corpus[corpus["id"].duplicated(keep=False)]
    assert dupes.empty, f"duplicate ids: {where(dupes)}"


# ---------------------------------------------------------------- size and balance

def test_size_and_topic_counts(corpus, taxonomy):
    assert len(corpus) >= MIN_ROWS
    counts = corpus["topic"].value_counts()
    for label in taxonomy.labels:
        assert counts.get(label, 0) >= MIN_PER_TOPIC, (label, counts.get(label, 0))
    assert counts.get(taxonomy.other, 0) >= MIN_OTHER


def test_every_topic_has_achievements_and_suggestions(corpus, taxonomy):
    table = pd.crosstab(corpus["topic"], corpus["kind"])
    for topic in taxonomy.topic_ids:
        for kind in ("achievement", "suggestion"):
            assert table.loc[topic].get(kind, 0) >= MIN_PER_KIND, (topic, kind, table.loc[topic].to_dict())


def test_both_registers_are_well_represented(corpus):
    shares = corpus["register"].value_counts(normalize=True)
    for register in REGISTERS:
        assert shares.get(register, 0) >= MIN_REGISTER_SHARE, shares.to_dict()


def test_lengths_are_mostly_in_range(corpus):
    lengths = corpus["text"].str.len()
    low, high = LENGTH_RANGE
    inside = lengths.between(low, high)
    assert inside.mean() >= MIN_SHARE_IN_LENGTH_RANGE, where(corpus[~inside])


# ---------------------------------------------------------------- the fixed test split

def test_test_split_is_large_enough_and_stratified_by_topic(corpus):
    is_test = corpus["split"] == "test"
    overall = is_test.mean()
    assert is_test.sum() >= MIN_TEST_ROWS and overall >= MIN_TEST_SHARE, (int(is_test.sum()), overall)
    by_topic = is_test.groupby(corpus["topic"]).mean()
    off = by_topic[(by_topic - overall).abs() > MAX_TEST_SHARE_GAP]
    assert off.empty, f"overall test share {overall:.3f}; topics off by more than 5 points: {off.to_dict()}"


# ---------------------------------------------------------------- near-duplicates

def near_duplicates(texts: list[str], threshold: float) -> list[tuple[int, int, float]]:
    """Pairs (i, j, jaccard) whose character-3-gram sets overlap with Jaccard ≥ threshold.

    Exact, not sampled: a binary text × 3-gram matrix times its transpose gives every pair's
    intersection size; only pairs that share a 3-gram are ever materialised.
    """
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(3, 3), binary=True, lowercase=False)
    matrix = vectorizer.fit_transform(texts).astype(np.int32)
    sizes = np.asarray(matrix.sum(axis=1)).ravel()
    shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    jaccard = shared.data / (sizes[shared.row] + sizes[shared.col] - shared.data)
    keep = jaccard >= threshold
    return sorted(zip(shared.row[keep].tolist(), shared.col[keep].tolist(), jaccard[keep].tolist()))


def test_near_duplicate_finder_finds_a_planted_pair():
    texts = ["乡镇干部反映每个月要填十几张表格，很多数据都是重复的。",
             "企业反映诉求回复慢，一个多月都没有消息。",
             "乡镇干部反映每个月要填十几张表格，好多数据都是重复的。"]
    pairs = near_duplicates(texts, NEAR_DUPLICATE_JACCARD)
    assert [(i, j) for i, j, _ in pairs] == [(0, 2)]
    assert near_duplicates(texts[:2], NEAR_DUPLICATE_JACCARD) == []


def test_no_near_duplicate_texts(corpus):
    pairs = near_duplicates(corpus["text"].tolist(), NEAR_DUPLICATE_JACCARD)
    shown = [f"{corpus.at[i, 'id']}~{corpus.at[j, 'id']} ({score:.2f})" for i, j, score in pairs[:10]]
    assert not pairs, f"{len(pairs)} near-duplicate pairs: {shown}"


# ---------------------------------------------------------------- no text copied from the transcripts

SENTENCE_END = re.compile(r"(?<=[。！？；!?;…])")
EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


def transcript_sentences(comment_texts, min_chars: int = MIN_LEAK_CHARS) -> set[str]:
    """Sentences of the segmented transcripts, without edge punctuation, at least min_chars long."""
    out = set()
    for text in comment_texts:
        for piece in SENTENCE_END.split(text):
            core = EDGE_PUNCTUATION.sub("", piece)
            if len(core) >= min_chars:
                out.add(core)
    return out


def copied_sentences(sentences: set[str], labelled_texts) -> list[str]:
    haystack = "\n".join(normalise_text(t) for t in labelled_texts)
    return sorted(s for s in sentences if s in haystack)


def test_copy_finder_finds_a_planted_sentence():
    sentences = transcript_sentences(["嗯。三张表里头有一半栏目是重复的。好的。"])
    assert sentences == {"三张表里头有一半栏目是重复的"}
    assert copied_sentences(sentences, ["他说三张表里头有一半栏目是重复的，很烦。"]) == ["三张表里头有一半栏目是重复的"]
    assert copied_sentences(sentences, ["三张表里有一半栏目重复。"]) == []


def test_no_transcript_sentence_appears_in_the_labelled_texts(corpus, bundled_comments):
    sentences = transcript_sentences(bundled_comments["text"])
    assert len(sentences) > 500             # the transcripts were really read and segmented
    copied = copied_sentences(sentences, corpus["text"])
    assert not copied, f"{len(copied)} transcript sentences copied into the labelled corpus: {copied[:5]}"


# ---------------------------------------------------------------- the data card stays in step with the files

def markdown_table_after(text: str, caption: str) -> pd.DataFrame:
    """The first markdown table after the line that reads exactly `caption`, as strings, indexed by
    its first column. Raises if the caption or the table is missing."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == caption]
    assert len(starts) == 1, f"expected one line {caption!r}, found {len(starts)}"
    rows = []
    for line in lines[starts[0] + 1:]:
        line = line.strip()
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows or line:
            break                   # the table ended, or something other than a table came first
    assert len(rows) >= 3 and set("".join(rows[1])) <= set("-: "), f"no markdown table after {caption!r}"
    header, body = rows[0], rows[2:]
    assert all(len(row) == len(header) for row in body), f"ragged table after {caption!r}"
    return pd.DataFrame([row[1:] for row in body], index=[row[0] for row in body], columns=header[1:])


def test_table_parser_reads_a_planted_table():
    text = "intro\n\nTopic × kind:\n\n| topic \\ kind | a | b |\n|---|---|---|\n| x | 1 | 2 |\n| y | 3 | 4 |\n\nafter\n"
    table = markdown_table_after(text, TOPIC_KIND_CAPTION)
    assert table.index.tolist() == ["x", "y"] and table.columns.tolist() == ["a", "b"]
    assert table.loc["y", "b"] == "4"
    with pytest.raises(AssertionError):
        markdown_table_after("Topic × kind × register:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", TOPIC_KIND_CAPTION)


def test_data_card_topic_kind_table_matches_the_files(cfg, corpus, taxonomy):
    card = (resolve(cfg["paths"]["labelled"]) / DATA_CARD).read_text(encoding="utf-8")
    documented = markdown_table_after(card, TOPIC_KIND_CAPTION)
    rows, columns = list(taxonomy.labels) + ["total"], list(taxonomy.kinds) + ["total"]
    actual = (pd.crosstab(corpus["topic"], corpus["kind"], margins=True, margins_name="total")
              .reindex(index=rows, columns=columns, fill_value=0))
    assert sorted(documented.index) == sorted(rows), f"card rows {documented.index.tolist()}, expected {rows}"
    assert sorted(documented.columns) == sorted(columns), f"card columns {documented.columns.tolist()}, expected {columns}"
    stale = [f"{topic} × {kind}: card {documented.at[topic, kind]}, files {actual.at[topic, kind]}"
             for topic in rows for kind in columns
             if documented.at[topic, kind].replace(",", "") != str(actual.at[topic, kind])]
    assert not stale, f"{DATA_CARD} topic × kind table is stale: {stale}"


# ---------------------------------------------------------------- double coding (corpus/audit)

def test_double_coding_refers_to_the_labels_in_the_files(cfg, corpus, taxonomy):
    """The reliability study's first-coder columns are the corpus labels as they stand, and every
    code is in the taxonomy: a relabelled row must be re-coded, not silently left behind."""
    path = resolve(cfg["paths"]["double_coding"])
    if not path.exists():
        pytest.skip("no double coding")
    coding = pd.read_csv(path, dtype=str, keep_default_na=False)
    labels = corpus.set_index("id")
    assert coding["id"].is_unique and coding["id"].isin(labels.index).all()
    for head in ("topic", "topic2", "kind"):
        drifted = coding[coding[f"first_{head}"].to_numpy() != labels.loc[coding["id"], head].to_numpy()]
        assert drifted.empty, f"{path.name}: first_{head} differs from the corpus for {drifted['id'].head().tolist()}"
    allowed = {"topic": set(taxonomy.labels), "kind": set(taxonomy.kinds)}
    for head, values in allowed.items():
        for column in (f"second_{head}", f"adjudicated_{head}"):
            bad = coding[~coding[column].isin(values | ({""} if column.startswith("adjudicated") else set()))]
            assert bad.empty, f"{path.name}: {column} not in the taxonomy for {bad['id'].head().tolist()}"
    assert set(coding["adjudicated"]) <= {"yes", "no", "not_done"}
    disagree = (coding["first_topic"] != coding["second_topic"]) | (coding["first_kind"] != coding["second_kind"])
    assert (coding.loc[~disagree, "adjudicated"] == "no").all()
    assert (coding.loc[coding["adjudicated"] == "yes", "adjudicated_topic"] != "").all()


# ---------------------------------------------------------------- evaluation sets (corpus/eval)

def test_transcript_check_sets_use_the_taxonomy_and_the_segmenters_comments(cfg, taxonomy, bundled_comments,
                                                                              segmenter):
    """Every hand-labelled transcript comment is a respondent comment the segmenter gives today, with
    the same text as `classify` writes it (de-identified), and its labels are in the taxonomy; the
    full set has every respondent comment once. If segmentation changes, this says which rows drifted."""
    from pipeline import deidentify

    redactor = deidentify.build_redactor(bundled_comments, cfg, segmenter)
    respondent = bundled_comments[bundled_comments["role"] == "respondent"].set_index("comment_id")["text"]
    respondent = respondent.map(lambda text: redactor.redact(text, count=False))
    allowed = {"topic": set(taxonomy.labels), "kind": set(taxonomy.kinds), "sentiment": set(SENTIMENT_LABELS)}
    for path in (resolve(p) for p in cfg["paths"]["check_sets"]):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "comment_id" not in frame:
            continue  # not from the transcripts: see the report-sentence test below
        assert frame["comment_id"].is_unique, path.name
        unknown = frame.loc[~frame["comment_id"].isin(respondent.index), "comment_id"].tolist()
        assert not unknown, f"{path.name}: not respondent comments of the bundled transcripts: {unknown[:5]}"
        drifted = frame.loc[frame["text"].to_numpy() != respondent.loc[frame["comment_id"]].to_numpy(), "comment_id"]
        assert drifted.empty, f"{path.name}: text differs from the segmenter's for {drifted.tolist()[:5]}"
        for column, values in allowed.items():
            bad = frame.loc[~frame[column].isin(values), "comment_id"].tolist()
            assert not bad, f"{path.name}: {column} outside the taxonomy for {bad[:5]}"
    full = pd.read_csv(resolve("corpus/eval/transcripts_all.csv"), dtype=str, keep_default_na=False)
    assert sorted(full["comment_id"]) == sorted(respondent.index)


def assert_both_codings_fit(frame: pd.DataFrame, taxonomy) -> None:
    """A check set's blind coder's labels and its writer's (writer_*) are all in the taxonomy."""
    for who in ("", "writer_"):
        assert frame[f"{who}topic"].isin(taxonomy.labels).all()
        assert frame[f"{who}topic2"].isin(set(taxonomy.topic_ids) | {""}).all()
        assert (frame[f"{who}topic2"] != frame[f"{who}topic"]).all()
        assert frame[f"{who}kind"].isin(taxonomy.kinds).all()
        assert frame[f"{who}sentiment"].isin(SENTIMENT_LABELS).all()


def test_report_sentences_are_new_text_with_two_codings_in_the_taxonomy(taxonomy, corpus):
    """The written-report check set: unique ids and texts, none in the labelled corpus (it is never
    trained on), and both the blind coder's labels and the writer's intended ones in the taxonomy."""
    frame = pd.read_csv(resolve("corpus/eval/report_sentences.csv"), dtype=str, keep_default_na=False)
    assert frame["id"].is_unique and frame["text"].is_unique and len(frame) >= 300
    assert not frame["text"].isin(set(corpus["text"])).any()
    assert_both_codings_fit(frame, taxonomy)


def test_report_passages_are_whole_excerpts_of_new_text_with_two_codings(taxonomy, corpus):
    """The report-passage check set: documents in sentence order, each sentence once per document
    (headings such as 一、基本情况 recur across documents), none in the labelled corpus, and both
    codings in the taxonomy."""
    frame = pd.read_csv(resolve("corpus/eval/report_passages.csv"), dtype=str, keep_default_na=False)
    assert frame["id"].is_unique and len(frame) >= 240 and frame["doc"].nunique() >= 12
    assert not frame.duplicated(["doc", "text"]).any()
    assert frame["doc"].astype(int).is_monotonic_increasing
    assert not frame["text"].isin(set(corpus["text"])).any()
    assert_both_codings_fit(frame, taxonomy)


def test_fresh_pieces_are_whole_pieces_of_new_text_in_both_registers(taxonomy, corpus):
    """The confirmation set: written documents and spoken transcripts in order, no sentence of 12 or
    more characters in the corpus (a stock heading such as 二、存在的主要问题 may recur), both codings
    in the taxonomy."""
    frame = pd.read_csv(resolve("corpus/eval/fresh_pieces.csv"), dtype=str, keep_default_na=False)
    assert frame["id"].is_unique and len(frame) >= 200 and set(frame["register"]) == {"written", "spoken"}
    assert frame["doc"].astype(int).is_monotonic_increasing and not frame.duplicated(["doc", "text"]).any()
    long_texts = frame["text"][frame["text"].str.len() >= 12]
    assert not long_texts.isin(set(corpus["text"])).any()
    assert_both_codings_fit(frame, taxonomy)


def test_the_recoding_file_fits_the_corpus_it_was_decided_on(taxonomy, cfg):
    """corpus/audit/recoding.csv (paths.relabel) still applies: every id exists with its old topic,
    and each rule moves a comment where the data card says (R1* → coordination, R2 → service_initiative)."""
    from pipeline.corpus import load_corpus
    recoding = pd.read_csv(resolve("corpus/audit/recoding.csv"), dtype=str, keep_default_na=False)
    assert recoding["id"].is_unique
    moved_to = recoding["rule"].map(lambda rule: "service_initiative" if rule == "R2" else "coordination")
    assert (recoding["topic"] == moved_to).all()
    labelled = resolve(cfg["paths"]["labelled"])
    before = load_corpus(labelled, taxonomy).set_index("id")
    after = load_corpus(labelled, taxonomy, resolve("corpus/audit/recoding.csv")).set_index("id")
    changed = after.index[(after["topic"] != before["topic"]) | (after["topic2"] != before["topic2"])]
    assert sorted(changed) == sorted(recoding["id"])

