"""End to end on the bundled sample corpus: ingest → report, every comment accounted for, provenance, determinism."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import ingest, runner, sentiment
from pipeline.config import apply_overrides
from pipeline.segment import normalise_text

OUTPUTS = {"comments.csv", "quotes.xlsx", "report.docx", "report.html", "run.json"}


@pytest.fixture(scope="module")
def run_out(tmp_path_factory, transcripts_dir, taxonomy, model, fast_cfg):
    out = tmp_path_factory.mktemp("out")
    record = runner.run(transcripts_dir, out, taxonomy, model, fast_cfg)
    return out, record


def test_all_five_outputs_are_written(run_out):
    out, record = run_out
    assert OUTPUTS <= {p.name for p in out.iterdir()}
    assert set(record["outputs"]) == OUTPUTS
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_every_ingested_comment_is_in_comments_csv(run_out, bundled_comments):
    out, record = run_out
    comments = pd.read_csv(out / "comments.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert (out / "comments.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(comments) == len(bundled_comments) == record["counts"]["comments"]
    assert comments["comment_id"].tolist() == bundled_comments["comment_id"].tolist()
    respondents = comments[comments["role"] == "respondent"]
    assert (respondents["topic"] != "").all() and (respondents["kind"] != "").all()
    others = comments[comments["role"] != "respondent"]
    assert (others["topic"] == "").all(), "interviewer and header turns are never classified"


def test_run_json_accounts_for_every_file(run_out, transcripts_dir):
    out, record = run_out
    saved = json.loads((out / "run.json").read_text(encoding="utf-8"))
    inputs = {p.name for p in transcripts_dir.iterdir() if p.name != "manifest.csv"}
    assert {f["file"] for f in saved["files"]} == inputs
    assert all(f["status"] == "processed" and len(f["checksum"]) == 64 for f in saved["files"])
    counts = saved["counts"]
    assert counts["respondent_comments"] + counts["interviewer_comments"] + counts["header_comments"] == counts["comments"]
    assert saved["model"]["taxonomy_checksum"] and saved["config_checksum"]
    assert {"ingest", "segment", "classify", "sentiment", "quotes", "total"} <= set(saved["timings_seconds"])


def test_quotes_are_substrings_of_their_source_before_deidentification(taxonomy, model, fast_cfg, transcripts_dir, bundled):
    result = runner.process(transcripts_dir, taxonomy, model, fast_cfg, keep_names=True)
    texts = {d.doc_id: d.text for d in bundled.documents}
    quotes = result["quotes"]
    assert len(quotes) > 0
    for q in quotes.itertuples():
        assert normalise_text(texts[q.doc_id][q.start:q.end]) == q.text
    assert (result["comments"].loc[result["comments"]["representative"].astype(bool), "role"] == "respondent").all()


def test_same_inputs_give_byte_identical_comments_and_same_quotes(run_out, tmp_path, transcripts_dir, taxonomy, model, fast_cfg):
    out, _ = run_out
    runner.run(transcripts_dir, tmp_path, taxonomy, model, fast_cfg)
    assert (tmp_path / "comments.csv").read_bytes() == (out / "comments.csv").read_bytes()
    q1 = pd.read_excel(out / "quotes.xlsx", sheet_name=None)
    q2 = pd.read_excel(tmp_path / "quotes.xlsx", sheet_name=None)
    assert q1.keys() == q2.keys()
    for name in q1:
        pd.testing.assert_frame_equal(q1[name], q2[name])


def test_unreadable_file_is_skipped_and_reported(tmp_path, transcripts_dir, taxonomy, model, fast_cfg):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("张三：我们这边会太多了，一个礼拜开了五个会。\n", encoding="utf-8")
    (folder / "broken.docx").write_bytes(b"not a zip")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    record = runner.run(folder, tmp_path / "out", taxonomy, model, fast_cfg)
    skipped = {f["file"]: f["reason"] for f in record["files"] if f["status"] == "skipped"}
    assert set(skipped) == {"broken.docx", "image.png"}
    assert all(skipped.values())
    assert record["counts"]["respondent_comments"] >= 1
    with pytest.raises(Exception, match="broken.docx"):
        runner.run(folder, tmp_path / "out2", taxonomy, model, fast_cfg, strict=True)


def test_outputs_are_deidentified_by_default(run_out):
    out, record = run_out
    assert record["deidentified"] and sum(record["redactions"].values()) > 0
    comments = (out / "comments.csv").read_text(encoding="utf-8-sig")
    html = (out / "report.html").read_text(encoding="utf-8")
    for secret in ("13907915268", "360102198703154214", "zhangyh_jzcj@163.com", "周建华"):
        assert secret not in comments and secret not in html


@given(text=st.text(alphabet="政策文件会议考核检查基层部门企业服务很好不够有待提高但是虽然满意。，！？ ", min_size=1, max_size=60))
@settings(max_examples=40, deadline=None)
def test_sentiment_stays_in_range(text, model, fast_cfg):
    score = sentiment.score([text], None, model, "domain")[0]
    assert 0.0 <= score <= 1.0


@pytest.mark.parametrize("positive, negative", [
    ("虽然还有一些不足，但是总体上服务明显改善了，企业都很满意。", "虽然总体有所改善，但是部门推诿扯皮的问题仍然突出。"),
    ("对这项工作我们基本满意。", "这项工作离群众期待还有差距，有待进一步提高。"),
    ("不是不重视，而是确实解决了问题，大家都说好。", "不是不想办，而是几个部门之间推诿扯皮，谁都不管。"),
])
def test_contrast_and_hedges_carry_the_judgement(positive, negative, model):
    pos, neg = sentiment.score([positive, negative], None, model, "domain")
    assert pos > 0.5 > neg


def test_snownlp_backend_is_selectable(taxonomy, model, fast_cfg):
    cfg = apply_overrides(fast_cfg, ["sentiment.backend=snownlp"])
    frame = pd.DataFrame({"role": ["respondent", "interviewer"], "text": ["服务很好，很满意。", "请谈谈？"],
                          "tokens": ["服务 很 好 ， 很 满意 。", "请 谈谈 ？"]})
    out = sentiment.run(frame, model, cfg)
    assert 0 <= out.loc[0, "sentiment"] <= 1 and pd.isna(out.loc[1, "sentiment"])


def test_manifest_interviewer_override(tmp_path, cfg):
    (tmp_path / "a.txt").write_text("甲：您怎么看？\n乙：会太多。\n甲：还有呢？\n乙：表也多。\n", encoding="utf-8")
    (tmp_path / "manifest.csv").write_text("file,region,org_type,form,date,interviewer\na.txt,东区,党政机关,访谈,2026-10-01,乙\n",
                                           encoding="utf-8")
    turns = ingest.run(tmp_path, cfg).turns
    assert set(turns.loc[turns["speaker"] == "乙", "role"]) == {"interviewer"}
    assert set(turns["region"]) == {"东区"}


def test_bench_trains_on_a_sample_with_every_class_whatever_the_corpus_size():
    from pipeline.bench import training_sample
    corpus = pd.DataFrame({"text": [f"意见{i}" for i in range(60)], "topic": ["a"] * 30 + ["b"] * 20 + ["c"] * 10})
    for want in (12, 60, 150):
        sample = training_sample(corpus, want, seed=1)
        assert len(sample) == want and sample["text"].is_unique
        shares = sample["topic"].value_counts(normalize=True)
        assert abs(shares["c"] - 1 / 6) < 0.05                # the files' order never cuts a class off
