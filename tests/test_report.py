"""Report outputs: quotes.xlsx (review columns, dropdowns, formula neutralisation), report.docx and a
self-contained report.html with every section, survey scores, and the not-de-identified warning."""

from __future__ import annotations

import logging
import re
import zipfile
from html.parser import HTMLParser

import pandas as pd
import pytest

from pipeline import charts, quotes, report
from pipeline.schema import CLASSIFY_COLUMNS, COMMENT_COLUMNS, SENTIMENT_COLUMNS
from pipeline.taxonomy import parse_taxonomy

TAXONOMY = parse_taxonomy({
    "name": "机关作风调研",
    "topics": [
        {"id": "policy_precision", "name": "政策制定精准性", "description": "政策是否贴合基层实际。"},
        {"id": "service_initiative", "name": "服务主动性", "description": "是否主动服务。"},
        {"id": "evaluation_orientation", "name": "考核评价导向", "description": "如何考核。"},
        {"id": "burden_reduction", "name": "基层减负", "description": "形式主义加重基层负担。"},
        {"id": "coordination", "name": "协同尽责", "description": "部门之间如何协同。"},
    ],
    "other": "other",
})

CFG = {
    "quotes": {"per_group": 3, "min_chars": 6, "max_chars": 80, "min_confidence": 0.5, "mmr_lambda": 0.7,
               "near_duplicate_jaccard": 0.5},
    "report": {"title": "机关作风调研报告（初稿）", "score_threshold": 8, "quotes_per_problem": 3,
               "quotes_per_section": 2},
    "sentiment": {"pos_threshold": 0.6, "neg_threshold": 0.4},
}

FORMULA_TEXT = "=HYPERLINK(\"http://evil.example\",\"点这里\")，这是一条测试意见。"

TEXTS = {
    ("policy_precision", "problem"): ["文件照搬上级的，跟基层实际对不上。", "方案阶段卡得太死，没有调整余地。"],
    ("policy_precision", "achievement"): ["今年出台政策前先做了试点，效果不错。"],
    ("policy_precision", "suggestion"): ["建议出台政策前多听听基层的意见。"],
    ("service_initiative", "problem"): ["企业诉求回应慢，三个月还没答复。", "有的干部怕担责，能不办就不办。"],
    ("service_initiative", "achievement"): ["税务局的退税一个礼拜就到账了，很满意。"],
    ("service_initiative", "suggestion"): ["建议建立企业诉求限时办结制度。"],
    ("evaluation_orientation", "problem"): ["考核指标年中又加了两项，计划全打乱了。"],
    ("evaluation_orientation", "suggestion"): ["考核要分类，不要一把尺子量到底。"],
    ("burden_reduction", "problem"): ["一个数据要报三次，表格大量重复。", "工作群晚上十点还在要材料。",
                                      "督查检查一个月来了五六拨人。", FORMULA_TEXT],
    ("burden_reduction", "achievement"): ["今年会议明显少了，检查也合并了。"],
    ("burden_reduction", "suggestion"): ["建议统一报表口径，一次采集多方共享。"],
    ("coordination", "problem"): ["部门之间推诿扯皮，工单转了四个单位。", "-牵头部门不牵头，各干各的。"],
    ("coordination", "suggestion"): ["明确牵头部门，牵头部门要真正牵起来。"],
    ("other", "other"): ["就这些吧，我说得差不多了。"],
}
PLACES = [("临川区", "乡镇（街道）", "座谈"), ("江北县", "民营企业", "座谈"), ("市直", "党政机关", "访谈"),
          ("东湖区", "事业单位", "问卷")]


def fixture_comments() -> pd.DataFrame:
    rows, pos, turn = [], 0, 0
    rows.append({"comment_id": "D01-0000-00", "doc_id": "D01", "speaker": "主持人", "role": "interviewer",
                 "text": "请大家谈谈机关作风方面的情况。", "topic": "", "kind": "", "classified": False,
                 "region": "临川区", "org_type": "乡镇（街道）", "form": "座谈"})
    n = 0
    for (topic, kind), texts in TEXTS.items():
        for text in texts:
            region, org, form = PLACES[n % len(PLACES)]
            n += 1
            turn += 1
            rows.append({"comment_id": f"D01-{turn:04d}-00", "doc_id": "D01", "speaker": f"发言人{n}",
                         "role": "respondent", "text": text, "topic": topic, "kind": kind,
                         "classified": True, "region": region, "org_type": org, "form": form,
                         "respondent_id": str(n) if form == "问卷" else "",
                         "sentiment": 0.8 if kind == "achievement" else (0.5 if kind == "suggestion" else 0.2)})
    frame = pd.DataFrame(rows)
    for col in COMMENT_COLUMNS + CLASSIFY_COLUMNS + SENTIMENT_COLUMNS:
        if col not in frame:
            frame[col] = ""
    frame["source"] = "2026-09-12_座谈会_临川区乡镇街道.txt"
    frame["turn"] = range(len(frame))
    frame["sentence_index"] = 0
    frame["start"] = [sum(len(t) + 1 for t in frame["text"][:i]) for i in range(len(frame))]
    frame["end"] = frame["start"] + frame["text"].str.len()
    frame["tokens"] = [" ".join(t) for t in frame["text"]]
    frame["topic_confidence"] = 0.9
    frame["kind_confidence"] = 0.9
    frame["sentiment"] = pd.to_numeric(frame["sentiment"].replace("", 0.5))
    frame["sentiment_label"] = ["pos" if s >= 0.6 else ("neg" if s < 0.4 else "neu") for s in frame["sentiment"]]
    frame["evidence"] = "议题特征: 表格"
    return frame


def fixture_respondents() -> pd.DataFrame:
    return pd.DataFrame({
        "respondent_id": [str(i) for i in range(1, 11)],
        "序号": [str(i) for i in range(1, 11)],
        "您对本地区机关作风建设的总体评价（1-10分）": ["8", "9", "7", "6", "10", "8", "5", "7", "9", "8"],
        "您对基层减负工作成效的评价（1-10分）": ["4", "6", "8", "5", "7", "6", "3", "9", "6", "5"],
    })


def fixture_record(deidentified: bool) -> dict:
    return {
        "diaoyan_version": "0.1.0", "deidentified": deidentified, "config_checksum": "c" * 64,
        "sentiment_backend": "domain",
        "redactions": {"name": 3, "mobile": 1, "people": 2} if deidentified else {},
        "files": [{"file": "2026-09-12_座谈会_临川区乡镇街道.txt", "doc_id": "D01", "status": "processed",
                   "checksum": "a" * 64},
                  {"file": "broken.docx", "doc_id": "D02", "status": "skipped", "reason": "not a zip file",
                   "checksum": "b" * 64}],
        "model": {"dir": "current", "version": "current@2026-11-29", "taxonomy": "机关作风调研",
                  "taxonomy_checksum": "d" * 64, "training_data_checksum": "e" * 64,
                  "holdout": {"topic": {"macro_f1": 0.8123, "accuracy": 0.8345},
                              "kind": {"macro_f1": 0.7654, "accuracy": 0.8},
                              "sentiment": {"auc": 0.949, "balanced_accuracy": 0.885}}},
    }


def write(out_dir, deidentified: bool):
    comments = fixture_comments()
    comments, quote_rows = quotes.run(comments, TAXONOMY, CFG)
    return report.write_all(out_dir, comments, quote_rows, fixture_respondents(), TAXONOMY, CFG,
                            fixture_record(deidentified)), comments, quote_rows


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    paths, comments, quote_rows = write(tmp_path_factory.mktemp("report"), True)
    return paths, comments, quote_rows


@pytest.fixture(scope="module")
def internal_outputs(tmp_path_factory):
    return write(tmp_path_factory.mktemp("internal"), False)[0]


class Headings(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings, self.urls, self.tags, self._open = [], [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in ("h1", "h2", "h3"):
            self._open = [tag, ""]
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data") and value:
                self.urls.append(value)

    def handle_data(self, data):
        if self._open:
            self._open[1] += data

    def handle_endtag(self, tag):
        if self._open and tag == self._open[0]:
            self.headings.append(tuple(self._open))
            self._open = None


def docx_text(path) -> tuple[list[tuple[str, str]], str]:
    import docx

    document = docx.Document(str(path))
    paragraphs = [(p.style.name, p.text) for p in document.paragraphs]
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    header = " ".join(p.text for s in document.sections for p in s.header.paragraphs)
    return paragraphs, "\n".join([t for _, t in paragraphs] + cells + [header])


# ---------------------------------------------------------------- files

def test_write_all_returns_the_three_files(outputs):
    paths, _, _ = outputs
    assert set(paths) == {"quotes", "docx", "html"}
    assert [p.name for p in paths.values()] == ["quotes.xlsx", "report.docx", "report.html"]
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    assert not list(paths["html"].parent.glob(".*.tmp"))          # atomic writes leave no temp files


# ---------------------------------------------------------------- docx

def test_docx_has_every_section_in_order(outputs):
    paragraphs, full = docx_text(outputs[0]["docx"])
    headings = [t for style, t in paragraphs if style.startswith(("Heading", "Title"))]
    assert headings[0] == "机关作风调研报告（初稿）"
    main = [h for h in headings if h in ("调研基本情况", "一、主要成效", "二、存在的问题", "三、意见建议",
                                         "四、问卷评分情况", "附录")]
    assert main == ["调研基本情况", "一、主要成效", "二、存在的问题", "三、意见建议", "四、问卷评分情况", "附录"]
    problems = headings[headings.index("二、存在的问题") + 1:headings.index("三、意见建议")]
    assert problems == [f"（{n}）{t.name}" for n, t in zip("一二三四五", TAXONOMY.topics)]
    assert re.search(r"反映基层减负问题的意见4条，占问题意见的\d+\.\d%", full)
    assert "平均情感得分" in full and "分地区看" in full
    assert "本次调研共整理" in full and "受访者意见" in full


def test_docx_quotes_with_attribution_and_no_names(outputs):
    paragraphs, full = docx_text(outputs[0]["docx"])
    quoted = [t for _, t in paragraphs if t.startswith("“") and "——" in t]
    assert len(quoted) >= 8
    assert any(t.endswith("——临川区乡镇（街道）干部（座谈）") for t in quoted)
    assert any("问卷受访者（事业单位，东湖区）" in t for t in quoted)
    assert "发言人" not in "".join(quoted)


def test_docx_scores_and_appendix(outputs):
    _, full = docx_text(outputs[0]["docx"])
    assert "评价8分及以上的占60.0%" in full            # 8,9,10,8,9,8: 6 of 10
    assert "评价8分及以上的占20.0%" in full            # 8,9: 2 of 10
    assert "平均7.7分" in full
    assert "政策制定精准性" in full and "政策是否贴合基层实际。" in full     # codebook
    assert "0.812" in full and "0.949" in full                               # holdout metrics
    assert "aaaaaaaaaaaaaaaa" in full and "跳过：not a zip file" in full       # files, checksums, status
    assert "未脱敏" not in full


def test_docx_charts_embedded(outputs):
    with zipfile.ZipFile(outputs[0]["docx"]) as z:
        images = [n for n in z.namelist() if n.startswith("word/media/")]
    assert len(images) == 3


# ---------------------------------------------------------------- html

def test_html_sections_and_self_contained(outputs):
    text = outputs[0]["html"].read_text(encoding="utf-8")
    parser = Headings()
    parser.feed(text)
    h2 = [t for tag, t in parser.headings if tag == "h2"]
    assert h2 == ["调研基本情况", "一、主要成效", "二、存在的问题", "三、意见建议", "四、问卷评分情况", "附录"]
    h3 = [t for tag, t in parser.headings if tag == "h3"]
    assert "（四）基层减负" in h3
    assert ("h1", "机关作风调研报告（初稿）") in parser.headings
    assert all(u.startswith("#") for u in parser.urls), parser.urls
    assert "http" not in text.replace("http://evil.example", "")   # only the (escaped) fixture text
    assert "<script" not in text and "@import" not in text
    assert not re.search(r"url\((?!#)", text)                   # only in-document references
    assert "<link" not in text
    assert text.count("<svg") == 3
    assert "反映基层减负问题的意见4条" in text


def test_html_escapes_text(outputs):
    text = outputs[0]["html"].read_text(encoding="utf-8")
    assert "<blockquote>“=HYPERLINK" not in text or "&quot;" in text


# ---------------------------------------------------------------- xlsx

def test_xlsx_detail_sheet_layout(outputs):
    from openpyxl import load_workbook

    wb = load_workbook(outputs[0]["quotes"])
    assert wb.sheetnames[0] == "意见明细"
    assert "汇总" in wb.sheetnames and "基层减负" in wb.sheetnames
    ws = wb["意见明细"]
    header = [c.value for c in ws[1]]
    for col in ("comment_id", "text", "reviewed_topic", "reviewed_kind", "reviewed_sentiment", "reviewer", "note"):
        assert col in header
    assert header[-5:] == report.REVIEW_COLUMNS
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref.startswith("A1:")
    assert ws.max_row == 1 + 20                         # one row per respondent comment, no interviewer
    body = pd.read_excel(outputs[0]["quotes"], sheet_name=0, dtype=str).fillna("")
    assert set(body["kind"]) <= {"问题", "成效", "建议", "其他"}
    assert "基层减负" in set(body["topic"])
    assert (body[report.REVIEW_COLUMNS] == "").all().all()
    assert set(body.loc[body["representative"] == "是", "comment_id"]) <= set(body["comment_id"])
    validations = {str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    letters = {col: ws.cell(row=1, column=header.index(col) + 1).column_letter for col in report.REVIEW_COLUMNS[:3]}
    for col, letter in letters.items():
        assert f"{letter}2" in validations
    lists = wb["选项"]
    topics = [c.value for c in lists["A"][1:] if c.value]
    assert topics == [t.name for t in TAXONOMY.topics] + ["其他"]
    assert [c.value for c in lists["C"][1:] if c.value] == ["pos", "neu", "neg"]


def test_xlsx_cells_never_run_as_formulas(outputs):
    from openpyxl import load_workbook

    wb = load_workbook(outputs[0]["quotes"])
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), cell.value
    body = pd.read_excel(outputs[0]["quotes"], sheet_name=0, dtype=str)
    assert "'" + FORMULA_TEXT in set(body["text"])
    assert "'-牵头部门不牵头，各干各的。" in set(body["text"])


def test_xlsx_summary_and_topic_sheets(outputs):
    from openpyxl import load_workbook

    wb = load_workbook(outputs[0]["quotes"])
    values = [[c for c in row] for row in wb["汇总"].iter_rows(values_only=True)]
    flat = [v for row in values for v in row if v is not None]
    assert "按议题 × 类型（条）" in flat and "按地区 × 议题（条）" in flat and "按单位类型 × 议题（条）" in flat
    burden = next(row for row in values if row[0] == "基层减负")
    assert list(burden[1:6]) == [4, 1, 1, 0, 6]
    sheet = wb["基层减负"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:4] == ("类型", "序号", "引语", "来源类别")
    assert any(r[0] == "问题" and r[3] for r in rows[2:])


# ---------------------------------------------------------------- keep_names

def test_not_deidentified_warning_everywhere(internal_outputs):
    from openpyxl import load_workbook

    warning = report.NOT_DEIDENTIFIED
    _, full = docx_text(internal_outputs["docx"])
    assert warning in full
    assert warning in internal_outputs["html"].read_text(encoding="utf-8")
    wb = load_workbook(internal_outputs["quotes"])
    for ws in wb.worksheets:
        if ws.sheet_state == "hidden":
            continue
        first_rows = " ".join(str(c.value) for row in ws.iter_rows(max_row=1) for c in row if c.value)
        assert warning in first_rows, ws.title
    header = [c.value for c in wb["意见明细"][1]]
    assert header[:1] == ["comment_id"]                # the id header row is unchanged


# ---------------------------------------------------------------- fonts

def test_png_charts_fall_back_to_ascii_without_cjk_font(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(charts, "find_cjk_font", lambda preferred="": None)
    comments, quote_rows = quotes.run(fixture_comments(), TAXONOMY, CFG)
    summary = report.summarise(comments, fixture_respondents(), TAXONOMY, CFG)
    with caplog.at_level(logging.WARNING):
        figures, png, svg, notes, font = report.render_figures(summary, TAXONOMY, CFG)
    assert font is None and len(png) == 3
    assert "fonts-noto-cjk" in caplog.text
    assert "burden_reduction=基层减负" in notes["topic_kind"]
    assert "R1=" in notes["region_topic"]
    assert all("基层减负" in s for s in svg.values())     # the HTML keeps Chinese labels


def test_empty_run_still_writes_a_report(tmp_path):
    frame = fixture_comments().iloc[:1]
    comments, quote_rows = quotes.run(frame, TAXONOMY, CFG)
    paths = report.write_all(tmp_path, comments, quote_rows, pd.DataFrame(), TAXONOMY, CFG,
                             fixture_record(True))
    _, full = docx_text(paths["docx"])
    assert "未收集到反映基层减负方面问题的意见" in full
    assert "四、问卷评分情况" not in full
