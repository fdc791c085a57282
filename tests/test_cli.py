"""The CLI: help texts with examples, one-line errors, and the analyst loop (import-reviews, suggest)."""

from __future__ import annotations

import re
import subprocess

import pandas as pd
import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import PROJ_ROOT
from pipeline.reviews import REVIEW_COLUMNS, import_reviews, suggest, write_review_workbook

COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_ends_with_an_example(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert re.search(r"Example:\s*\n\s+diaoyan " + command, result.output), result.output


def test_bad_input_is_one_line_and_nonzero(tmp_path):
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "missing.csv"), "--output", str(tmp_path / "o.csv")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "Error:" in result.output


def test_unknown_config_key_is_reported():
    result = CliRunner().invoke(main, ["--set", "classifier.nonsense=1", "train", "--help"])
    assert result.exit_code != 0 and "unknown config key" in result.output


def test_missing_model_tells_how_to_train(tmp_path):
    csv = tmp_path / "in.csv"
    csv.write_text("text\n会太多\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["predict", str(csv), "-o", str(tmp_path / "o.csv"),
                                       "--model-dir", str(tmp_path / "nomodel")])
    assert result.exit_code != 0 and "make train" in result.output


def test_classify_and_predict_through_the_cli(tmp_path, model_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "t.txt").write_text("主持人：请谈谈。\n王强（某局科员）：我们这边检查太多了，一个月来了六拨。\n",
                                  encoding="utf-8")
    result = CliRunner().invoke(main, ["classify", str(folder), "--out", str(tmp_path / "out"),
                                              "--model-dir", str(model_dir)])
    assert result.exit_code == 0, result.output
    comments = pd.read_csv(tmp_path / "out" / "comments.csv", encoding="utf-8-sig")
    assert set(comments["role"]) == {"interviewer", "respondent"}
    assert "王强" not in (tmp_path / "out" / "comments.csv").read_text(encoding="utf-8-sig")

    result = CliRunner().invoke(main, ["predict", str(tmp_path / "out" / "comments.csv"), "-o",
                                       str(tmp_path / "p.csv"), "--model-dir", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(comments)


def test_make_help_lists_every_cli_command():
    out = subprocess.run(["make", "-s", "help"], cwd=PROJ_ROOT, capture_output=True, text=True, check=True).stdout
    targets = set(re.findall(r"^\s*(?:\x1b\[\d+m)?([a-z-]+)", out, re.M))
    assert set(COMMANDS) <= targets


def test_readme_documents_every_command_and_target():
    readme = (PROJ_ROOT / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"diaoyan {command}" in readme, command
    makefile = (PROJ_ROOT / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"^([a-z-]+):.*## ", makefile, re.M):
        assert f"make {target}" in readme, target


# ---------------------------------------------------------------- analyst loop

def _review_sheet(path, taxonomy, rows):
    frame = pd.DataFrame(rows)
    for col in REVIEW_COLUMNS:
        if col not in frame:
            frame[col] = ""
    write_review_workbook(path, frame, taxonomy, "意见明细")


def test_import_reviews_merges_with_provenance_and_skips_duplicates(tmp_path, taxonomy):
    sheet = tmp_path / "quotes.xlsx"
    _review_sheet(sheet, taxonomy, [
        {"comment_id": "D01-0001-00", "source": "a.txt", "text": "会议太多了", "topic": "基层减负", "kind": "问题",
         "sentiment_label": "neg", "reviewed_topic": "基层减负", "reviewed_kind": "问题", "reviewed_sentiment": "neg",
         "reviewer": "李分析师"},
        {"comment_id": "D01-0002-00", "source": "a.txt", "text": "部门之间互相踢皮球", "topic": "基层减负", "kind": "问题",
         "sentiment_label": "neg", "reviewed_topic": "协同尽责", "reviewed_kind": "", "reviewed_sentiment": ""},
        {"comment_id": "D01-0003-00", "source": "a.txt", "text": "没人改的行", "topic": "其他", "kind": "其他"},
    ])
    summary = import_reviews(sheet, tmp_path, taxonomy, default_reviewer="王审")
    assert summary["added"] == 2
    saved = pd.read_csv(tmp_path / "reviewed.csv", dtype=str, keep_default_na=False)
    assert saved["topic"].tolist() == ["burden_reduction", "coordination"]
    assert saved["reviewer"].tolist() == ["李分析师", "王审"]
    assert (saved["source_file"] == "quotes.xlsx").all() and saved["comment_id"].tolist()[0] == "D01-0001-00"
    assert summary["agreement"]["topic"]["n"] == 2 and summary["agreement"]["topic"]["accuracy"] == 0.5
    again = import_reviews(sheet, tmp_path, taxonomy)
    assert again["added"] == 0 and again["duplicates"] == 2
    assert len(pd.read_csv(tmp_path / "reviewed.csv")) == 2


def test_import_reviews_rejects_labels_outside_the_taxonomy_with_row(tmp_path, taxonomy):
    from pipeline.errors import DiaoyanError
    sheet = tmp_path / "quotes.xlsx"
    _review_sheet(sheet, taxonomy, [
        {"comment_id": "x", "text": "好", "reviewed_topic": "基层减负"},
        {"comment_id": "y", "text": "坏", "reviewed_topic": "不存在的议题"},
    ])
    with pytest.raises(DiaoyanError, match="row 3.*不存在的议题"):
        import_reviews(sheet, tmp_path, taxonomy)
    assert not (tmp_path / "reviewed.csv").exists()


def test_reviewed_rows_are_used_by_training(tmp_path, taxonomy):
    from pipeline.corpus import load_corpus, training_rows
    pd.DataFrame({"text": ["甲", "乙"], "topic": ["burden_reduction", "other"], "kind": ["problem", ""],
                  "sentiment": ["", ""]}).to_csv(tmp_path / "reviewed.csv", index=False)
    pd.DataFrame({"text": ["丙"], "topic": ["other"], "split": ["test"]}).to_csv(tmp_path / "base.csv", index=False)
    train = training_rows(load_corpus(tmp_path, taxonomy))
    assert set(train["text"]) == {"甲", "乙"}


def test_suggest_picks_uncertain_diverse_unlabelled_comments(tmp_path, model, taxonomy, fast_cfg):
    texts = ["会太多了", "会太多了。", "部门之间推来推去", "这个事情嘛，说不好，看情况吧", "考核指标一年改三次",
             "企业的事没人管", "感谢大家参加今天的座谈", "文山会海还是有的，但是比以前少一点了"]
    src = tmp_path / "comments.csv"
    pd.DataFrame({"comment_id": [f"c{i}" for i in range(len(texts))], "text": texts,
                  "role": ["respondent"] * len(texts)}).to_csv(src, index=False)
    n = suggest(src, tmp_path / "to_label.xlsx", model, taxonomy, fast_cfg, 4)
    out = pd.read_excel(tmp_path / "to_label.xlsx", dtype=str).fillna("")
    assert n == len(out) == 4
    assert not {"会太多了", "会太多了。"} <= set(out["text"]), "near-duplicates are not both suggested"
    assert set(REVIEW_COLUMNS) <= set(out.columns) and (out["reviewed_topic"] == "").all()
    uncertainty = out["uncertainty"].astype(float)
    assert uncertainty.iloc[0] == uncertainty.max(), "the first pick is the most uncertain comment"
    assert ((uncertainty >= 0) & (uncertainty <= 1)).all()
