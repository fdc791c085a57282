"""Ingest: encodings, speaker labels and roles, docx paragraphs and tables, survey exports, the
manifest, and files that cannot be read. Every fixture is written into tmp_path by the test."""

from __future__ import annotations

import io
import logging
import random
import zipfile

import docx
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import ingest
from pipeline.config import apply_overrides
from pipeline.errors import DiaoyanError


def ingest_folder(folder, cfg, **kwargs) -> ingest.IngestResult:
    return ingest.run(folder, cfg, **kwargs)


def only_file(tmp_path, name: str, data: bytes, cfg, **kwargs):
    """Write one file into a fresh folder and ingest it: (result, turns of that file)."""
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    result = ingest_folder(folder, cfg, **kwargs)
    return result, result.turns[result.turns["source"] == name].reset_index(drop=True)


def assert_offsets(result: ingest.IngestResult) -> None:
    """Every turn's text is exactly its slice of the document text."""
    texts = {d.doc_id: d.text for d in result.documents}
    for row in result.turns.itertuples():
        assert texts[row.doc_id][row.start:row.end] == row.text


# ---------------------------------------------------------------- text transcripts and encodings

QA_HEADER = ["石桥镇干部访谈记录", "时间：2026年10月8日下午", "地点：镇政府三楼会议室"]
QA_TURNS = [
    ("问", "您好，先简单介绍一下您的工作吧？"),
    ("答", "我在乡村振兴办，同时挂着两个村。"),
    ("问", "一天的工作大概是怎么安排的？"),
    ("答", "上午看群里的通知，下午下村核数据，晚上整理台账。"),
]


def qa_text(newline: str = "\n") -> str:
    lines = QA_HEADER + [f"{label}：{said}" for label, said in QA_TURNS]
    return newline.join(lines) + newline


def test_gbk_interview_is_detected_and_split_into_question_and_answer(tmp_path, cfg):
    result, turns = only_file(tmp_path, "访谈.txt", qa_text().encode("gbk"), cfg)

    status = result.files[0]
    assert status["status"] == "processed"
    assert status["encoding"] in {"gb18030", "gbk", "gb2312"}
    spoken = turns[turns["role"] != "header"]
    assert list(zip(spoken["speaker"], spoken["text"])) == QA_TURNS
    roles = dict(zip(spoken["speaker"], spoken["role"]))
    assert roles == {"问": "interviewer", "答": "respondent"}
    assert_offsets(result)


def test_header_lines_before_the_first_speaker_are_not_speakers(tmp_path, cfg):
    _, turns = only_file(tmp_path, "访谈.txt", qa_text().encode("utf-8"), cfg)

    header = turns[turns["role"] == "header"]
    assert set(header["speaker"]) == {""}
    assert "\n".join(header["text"]) == "\n".join(QA_HEADER)
    assert not {"时间", "地点"} & set(turns["speaker"])
    # Header turns come before every spoken turn.
    assert header["turn"].max() < turns.loc[turns["role"] != "header", "turn"].min()


def test_wrong_explicit_encoding_names_file_line_and_fix(tmp_path, cfg):
    data = ("2026-10-08\n" + qa_text()).encode("gbk")
    with pytest.raises(DiaoyanError) as err:
        only_file(tmp_path, "访谈.txt", data, cfg, encoding="utf-8", strict=True)
    message = str(err.value)
    assert "访谈.txt:2" in message          # the first line that does not decode
    assert "--encoding gbk" in message

    result, _ = only_file(tmp_path, "访谈.txt", data, cfg, encoding="utf-8")
    assert [f["file"] for f in result.skipped] == ["访谈.txt"]
    assert "--encoding gbk" in result.skipped[0]["reason"]


def test_explicit_encoding_overrides_detection(tmp_path, cfg):
    result, turns = only_file(tmp_path, "访谈.txt", qa_text().encode("gb18030"), cfg, encoding="gb18030")
    assert result.files[0]["encoding"] == "gb18030"
    assert "乡村振兴办" in "".join(turns["text"])


STT_TURNS = [
    ("发言人1", "00:00:05", "好那我们开始吧，今天主要想听听大家对热线工作的看法"),
    ("发言人2", "00:00:21", "我先说吧我是派单组的，在中心干了四年了"),
    ("发言人1", "00:00:43", "那派单的时候最难的是什么"),
    ("发言人2", "00:00:49", "最难的就是派不出去，部门不认，来回退单"),
    ("发言人3", "00:01:20", "我补充一点，退单率下来了但是办理质量不高"),
    ("发言人1", "00:01:48", "退单以后有没有什么机制"),
    ("发言人3", "00:01:55", "退两次以后由中心提级协调，今年三月开始的"),
    ("发言人1", "00:02:20", "你们跟部门之间沟通顺不顺畅"),
    ("发言人2", "00:02:24", "城管那边现在每周来一次，好多了"),
]


def stt_text(turns=STT_TURNS) -> str:
    return "\n\n".join(f"{who} {ts}\n{said}" for who, ts, said in turns) + "\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_speech_to_text_export_finds_the_questioner(tmp_path, cfg, encoding):
    result, turns = only_file(tmp_path, "转写.txt", stt_text().encode(encoding), cfg)

    assert result.files[0]["status"] == "processed"
    assert list(zip(turns["speaker"], turns["text"])) == [(who, said) for who, _, said in STT_TURNS]
    roles = turns.groupby("speaker")["role"].agg(set).to_dict()
    assert roles == {"发言人1": {"interviewer"}, "发言人2": {"respondent"}, "发言人3": {"respondent"}}
    assert not turns["text"].str.contains(r"\d\d:\d\d").any()    # time stamps are not speech
    assert_offsets(result)


def test_speech_to_text_short_stamps_and_text_on_the_stamp_line(cfg):
    text = "说话人1 01:02 你觉得考核合理吗\n说话人2 01:09\n不太合理，指标年中还在改。\n"
    turns = ingest.parse_transcript(text, set(cfg["ingest"]["interviewer_labels"]))
    assert [(t["speaker"], text[t["start"]:t["end"]]) for t in turns] == [
        ("说话人1", "你觉得考核合理吗"), ("说话人2", "不太合理，指标年中还在改。")]


def test_utf8_bom_crlf_bracket_labels(tmp_path, cfg):
    lines = ["【主持人】各位好，今天是市直部门这一场。",
             "【市发改委干部】基层说我们要表多，这个我们认。",
             "很多表也是上面要的，我们就是个二传手。",
             "【主持人】那能不能自己先消化一部分？",
             "【市场监管局干部】牵头这个事，说起来容易做起来难。"]
    data = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
    result, turns = only_file(tmp_path, "座谈.txt", data, cfg)

    doc = result.documents[0]
    assert result.files[0]["encoding"] == "utf-8-sig"
    assert "\r" not in doc.text and "\ufeff" not in doc.text
    assert list(turns["speaker"]) == ["主持人", "市发改委干部", "主持人", "市场监管局干部"]
    assert list(turns["role"]) == ["interviewer", "respondent", "interviewer", "respondent"]
    # An unlabelled line continues the current speaker's turn.
    assert turns.loc[1, "text"] == lines[1][len("【市发改委干部】"):] + "\n" + lines[2]
    assert_offsets(result)


def test_colon_labels_full_and_half_width_with_titles(tmp_path, cfg):
    text = ("主持人：请大家谈谈。\n"
            "张三（某局科长）：我们局里的表太多。\n"
            "李四:会也多，一周四五个。\n"
            "王五(石桥镇镇长):检查少了一些。\n"
            "比如：上个月只来了一次。\n"
            "上午9:30开会，十点又开会。\n"
            "详见http://example.org/notice 通知。\n")
    _, turns = only_file(tmp_path, "座谈.txt", text.encode("utf-8"), cfg)

    assert list(turns["speaker"]) == ["主持人", "张三", "李四", "王五"]
    assert list(turns["speaker_title"]) == ["", "某局科长", "", "石桥镇镇长"]
    assert list(turns["role"]) == ["interviewer", "respondent", "respondent", "respondent"]
    # "比如：", a time of day and a URL are not speaker labels: they continue 王五's turn.
    assert turns.loc[3, "text"].splitlines()[1:] == text.splitlines()[4:]


def test_plain_paragraphs_without_labels_are_respondent_turns(tmp_path, cfg):
    paragraphs = ["我们镇这两年会议确实少了，但是表格还是多。",
                  "同一个数据，民政要一遍，农业农村又要一遍。",
                  "建议建一个共享的数据平台，一次采集，多方使用。"]
    _, turns = only_file(tmp_path, "书面意见.md", "\n\n".join(paragraphs).encode("utf-8"), cfg)

    assert list(turns["text"]) == paragraphs
    assert set(turns["role"]) == {"respondent"}
    assert set(turns["speaker"]) == {""}


def test_unlabelled_lines_are_paragraphs_unless_cut_mid_sentence(tmp_path, cfg):
    """A report or minutes file puts a paragraph on each line: each is a turn of its own (a heading
    too), so reading context stays within a paragraph; a line cut mid-sentence continues its paragraph."""
    lines = ["三、存在的问题",
             "（一）督查检查仍然偏多。",
             "有乡镇反映，仅3月份就先后迎接县直部门各类检查、督导、调研11批次，其中环保、",
             "安全生产两个领域的检查内容大量重复。一些检查组查完就走！",
             "四、对策建议"]
    _, turns = only_file(tmp_path, "调研报告.txt", "\n".join(lines).encode("utf-8"), cfg)

    assert list(turns["text"]) == [lines[0], lines[1], lines[2] + "\n" + lines[3], lines[4]]
    assert set(turns["role"]) == {"respondent"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="我们基层文件会议太多了考核一二三、（）。！？，\n ", min_size=1, max_size=50), min_size=1,
                max_size=8))
def test_unlabelled_text_splits_into_paragraph_turns_without_losing_a_character(lines):
    """Property: however an unlabelled document breaks its lines, its turns are disjoint, in order,
    and together hold every non-space character of it."""
    text = "\n".join(lines)
    turns = ingest.parse_transcript(text, {"主持人"})
    spans = [(t["start"], t["end"]) for t in turns]
    assert all(a < b <= c for (a, b), (c, _) in zip(spans, spans[1:]))
    assert "".join(text[a:b] for a, b in spans).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    # A line wholly in brackets is an editorial note (role header); everything else is the respondent's.
    assert all(t["speaker"] == "" and t["role"] == ("header" if ingest.NOTE_LINE.match(text[t["start"]:t["end"]])
                                                   else "respondent") for t in turns)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["主持人", "问", "答", "张三", "李四（某局科长）", "【某区干部】"]),
                          st.text(alphabet="我们基层文件会议太多了考核检查表格服务企业，。？！、“”\n ",
                                  min_size=1, max_size=40).filter(lambda s: s.strip())),
                min_size=1, max_size=8))
def test_labelled_transcripts_parse_back_to_their_turns(cfg, spoken):
    """Property: whatever the speakers say (no colons or parentheses), parsing the transcript
    gives back each speaker and exactly what they said, as offsets into the text."""
    lines = [(label if label.startswith("【") else label + "：") + said for label, said in spoken]
    text = "\n".join(lines)
    interviewers = set(cfg["ingest"]["interviewer_labels"])
    turns = ingest.parse_transcript(text, interviewers)
    ingest.assign_roles(turns, text, interviewers, "", 0.5)

    expected = [(label.strip("【】").split("（")[0], said.strip()) for label, said in spoken]
    assert [(t["speaker"], text[t["start"]:t["end"]]) for t in turns] == expected
    for t, (label, _) in zip(turns, expected):
        assert t["role"] == ("interviewer" if label in interviewers else "respondent")


# ---------------------------------------------------------------- docx

def make_docx(path) -> dict:
    """A meeting record: title, date line, speakers (one turn over two paragraphs), a captioned
    table with a serial-number column, a two-paragraph cell and a merged cell, and a closing note."""
    document = docx.Document()
    document.add_paragraph("企业代表座谈会记录")
    document.add_paragraph("时间：2026年9月18日下午")
    document.add_paragraph("主持人：请各位老总谈谈部门服务企业的情况。")
    document.add_paragraph("孙立新（某机械公司董事长）：技改补贴申报半年才有回音。")
    document.add_paragraph("举个例子，材料格式不对，半年后才告诉我们。")
    document.add_paragraph("企业反映问题清单")
    table = document.add_table(rows=4, cols=3)
    rows = [["序号", "反映问题", "意见建议"],
            ["1", "入企检查频次偏高，内容重复。", "统筹年度入企检查计划。"],
            ["2", "用地进度不透明。", "建立用地进度查询机制。"],
            ["3", "各部门各自为政，职责交叉。", ""]]
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    table.cell(2, 2).add_paragraph("对重点项目实行专人跟踪。")
    merged = table.cell(3, 1).merge(table.cell(3, 2))
    merged.text = "各部门各自为政，职责交叉。"
    document.add_paragraph("（记录整理：县营商环境办公室）")
    document.save(path)
    return {"cells": [("反映问题", "入企检查频次偏高，内容重复。"),
                      ("意见建议", "统筹年度入企检查计划。"),
                      ("反映问题", "用地进度不透明。"),
                      ("意见建议", "建立用地进度查询机制。\n对重点项目实行专人跟踪。"),
                      ("反映问题", "各部门各自为政，职责交叉。")]}


def test_docx_paragraphs_and_table(tmp_path, cfg):
    folder = tmp_path / "in"
    folder.mkdir()
    expected = make_docx(folder / "座谈.docx")
    result = ingest_folder(folder, cfg)
    turns = result.turns

    assert result.files[0]["status"] == "processed"
    speakers = turns[turns["speaker"] != ""]
    assert list(zip(speakers["speaker"], speakers["role"])) == [("主持人", "interviewer"),
                                                                ("孙立新", "respondent")]
    assert speakers.iloc[1]["speaker_title"] == "某机械公司董事长"
    assert speakers.iloc[1]["text"].endswith("半年后才告诉我们。")     # second paragraph, same turn

    cells = turns[turns["question"] != ""]
    assert list(zip(cells["question"], cells["text"])) == expected["cells"]
    assert set(cells["role"]) == {"respondent"}
    assert not turns["text"].isin(["1", "2", "3", "序号"]).any()

    header = turns[turns["role"] == "header"]
    assert list(header["text"]) == ["企业代表座谈会记录\n时间：2026年9月18日下午", "企业反映问题清单",
                                    "（记录整理：县营商环境办公室）"]
    assert_offsets(result)


def test_docx_vertically_merged_cell_is_one_turn(tmp_path):
    document = docx.Document()
    table = document.add_table(rows=3, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "单位", "意见建议"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "县营商办"
    table.cell(1, 1).text, table.cell(2, 1).text = "建议一次性告知。", "建议限时办结。"
    buffer = io.BytesIO()
    document.save(buffer)
    blocks = ingest.docx_blocks(buffer.getvalue(), "t.docx")
    assert [(b.question, b.text) for b in blocks] == [("单位", "县营商办"), ("意见建议", "建议一次性告知。"),
                                                      ("意见建议", "建议限时办结。")]


# ---------------------------------------------------------------- surveys

PROBLEM_Q = "5、您认为当前机关作风方面还存在哪些突出问题？"
SUGGEST_Q = "6、您对改进机关作风有何意见建议？"
NON_ANSWERS = ["无", "没有", "暂无", "空", "", "无。", " "]


def survey_frame(seed: int = 7) -> pd.DataFrame:
    """24 respondents: categories, 1–10 scores, a submit time, and two free-text questions whose
    answers are mostly distinct sentences, with non-answers (无/没有/暂无/空/blank) mixed in."""
    rng = random.Random(seed)
    who = ["区里", "县直部门", "有的乡镇", "个别单位", "市直部门", "街道"]
    problems = ["填表报数太多，同一个数据要报好几遍", "考核排名只看报上去的数字", "文件太长太空，能操作的没几条",
                "对企业诉求回复很慢，一个多月没消息", "检查只看台账不看现场", "遇到交叉事项推来推去"]
    suggestions = ["建立统一的数据共享平台，一次采集多方使用", "考核数据要核实，不能只看报表",
                   "文件写短一点，讲清楚怎么干", "建立企业诉求限时办结制度", "一是精简考核项目；二是提高村干部待遇"]

    def answer(parts):
        return rng.choice(NON_ANSWERS) if rng.random() < 0.35 else f"{rng.choice(who)}{rng.choice(parts)}"

    rows = []
    for i in range(1, 25):
        rows.append({
            "序号": str(i),
            "提交答卷时间": f"2026/10/{10 + i % 9:02d} {8 + i % 10:02d}:{i * 7 % 60:02d}:{i * 13 % 60:02d}",
            "1、您所在的单位类型：": rng.choice(["乡镇（街道）", "党政机关", "民营企业", "事业单位"]),
            "2、您所在的区域：": rng.choice(["临川区", "青山县", "江北县", "市直"]),
            "3、您对本地区机关作风建设的总体评价（1-10分）": str(rng.randint(1, 10)),
            "4、您对基层减负工作成效的评价（1-10分）": str(rng.randint(1, 10)),
            PROBLEM_Q: answer(problems),
            SUGGEST_Q: answer(suggestions),
        })
    return pd.DataFrame(rows)


def write_survey(frame: pd.DataFrame, path) -> None:
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False, engine="openpyxl")
    else:   # the usual export: GB18030 with CRLF line ends
        path.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode("gb18030"))


@pytest.mark.parametrize("name", ["问卷导出.xlsx", "问卷导出.csv"])
def test_survey_export_answers_become_comments_with_their_question(tmp_path, cfg, name):
    frame = survey_frame()
    folder = tmp_path / "in"
    folder.mkdir()
    write_survey(frame, folder / name)
    result = ingest_folder(folder, cfg)
    turns = result.turns

    assert result.files[0]["status"] == "processed"
    expected = [(row["序号"], q, row[q].strip()) for _, row in frame.iterrows()
                for q in (PROBLEM_Q, SUGGEST_Q) if row[q].strip() not in {a.strip() for a in NON_ANSWERS}]
    assert list(zip(turns["respondent_id"], turns["question"], turns["text"])) == expected
    assert not turns["text"].str.strip().isin(NON_ANSWERS).any()
    assert set(turns["role"]) == {"respondent"}
    assert set(turns["speaker"]) == {f"答卷{rid}" for rid, _, _ in expected}

    # Respondent details travel as metadata: standard columns on each comment, all in `respondents`.
    by_id = frame.set_index("序号")
    for row in turns.itertuples():
        assert row.region == by_id.loc[row.respondent_id, "2、您所在的区域："]
        assert row.org_type == by_id.loc[row.respondent_id, "1、您所在的单位类型："]
        assert row.date == by_id.loc[row.respondent_id, "提交答卷时间"]
    respondents = result.respondents.set_index("respondent_id")
    assert len(respondents) == len(frame)
    score = "您对本地区机关作风建设的总体评价（1-10分）"
    assert respondents[score].to_dict() == frame.set_index("序号")["3、您对本地区机关作风建设的总体评价（1-10分）"].to_dict()
    assert PROBLEM_Q not in respondents.columns and "您认为当前机关作风方面还存在哪些突出问题？" not in respondents.columns
    assert_offsets(result)


def test_survey_free_text_detection_skips_scores_categories_and_details(cfg):
    frame = survey_frame()
    frame["来自IP"] = [f"117.44.{i}.{i * 3}(江西-南昌)" for i in range(len(frame))]
    frame["单位名称"] = [f"江州市第{i}机械制造有限公司" for i in range(len(frame))]
    icfg = cfg["ingest"]
    found = ingest.detect_free_text(frame.fillna(""), icfg, {str(x).lower() for x in icfg["non_answers"]})
    assert found == [PROBLEM_Q, SUGGEST_Q]


def test_survey_free_text_columns_named_in_config(tmp_path, cfg):
    named = apply_overrides(cfg, ["ingest.free_text_columns=[您对改进机关作风有何意见建议？]"])
    frame = survey_frame()
    folder = tmp_path / "in"
    folder.mkdir()
    write_survey(frame, folder / "问卷.xlsx")
    result = ingest_folder(folder, named)
    assert set(result.turns["question"]) == {SUGGEST_Q}

    wrong = apply_overrides(cfg, ["ingest.free_text_columns=[不存在的列]"])
    with pytest.raises(DiaoyanError, match="不存在的列"):
        ingest_folder(folder, wrong, strict=True)


# ---------------------------------------------------------------- manifest

MANIFEST_ROWS = [
    {"file": "座谈.txt", "region": "临川区", "org_type": "乡镇（街道）", "form": "座谈", "date": "2026-09-12",
     "interviewer": "张三"},
    {"file": "已删除.txt", "region": "青山县", "org_type": "", "form": "访谈", "date": "", "interviewer": ""},
]


@pytest.mark.parametrize("manifest_name", ["manifest.csv", "manifest.yaml"])
def test_manifest_metadata_interviewer_override_and_missing_file(tmp_path, cfg, caplog, manifest_name):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "座谈.txt").write_text("张三：大家说说吧，表多不多？\n李四：表很多。\n问：会呢？\n", encoding="utf-8")
    (folder / "访谈.txt").write_text("问：考核怎么样？\n答：年中改指标。\n", encoding="utf-8")
    if manifest_name.endswith(".csv"):
        pd.DataFrame(MANIFEST_ROWS).to_csv(folder / manifest_name, index=False)
    else:
        (folder / manifest_name).write_text(yaml.safe_dump({"files": MANIFEST_ROWS}, allow_unicode=True),
                                            encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="pipeline.ingest"):
        result = ingest_folder(folder, cfg)

    assert any("已删除.txt" in r.getMessage() and manifest_name in r.getMessage() for r in caplog.records)
    assert sorted(f["file"] for f in result.files) == ["座谈.txt", "访谈.txt"]
    turns = result.turns
    listed = turns[turns["source"] == "座谈.txt"]
    for key in ("region", "org_type", "form", "date"):
        assert set(listed[key]) == {MANIFEST_ROWS[0][key]}
    # The manifest names the interviewer: 张三 asks, and 问 is not an interviewer here.
    assert dict(zip(listed["speaker"], listed["role"])) == {"张三": "interviewer", "李四": "respondent",
                                                            "问": "respondent"}
    unlisted = turns[turns["source"] == "访谈.txt"]
    for key, value in cfg["ingest"]["default_metadata"].items():
        assert set(unlisted[key]) == {value}
    assert dict(zip(unlisted["speaker"], unlisted["role"])) == {"问": "interviewer", "答": "respondent"}


def test_manifest_row_without_file_names_the_line(tmp_path, cfg):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "manifest.csv").write_text("file,region\n座谈.txt,临川区\n,青山县\n", encoding="utf-8")
    with pytest.raises(DiaoyanError) as err:
        ingest_folder(folder, cfg)
    assert "manifest.csv:3" in str(err.value) and "file" in str(err.value)


# ---------------------------------------------------------------- unreadable files

def corrupt_docx() -> bytes:
    """A zip that claims to be a Word file but has no document part."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
    return buffer.getvalue()


def random_bytes(n: int, seed: int, values=range(256)) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.choice(values) for _ in range(n))


BAD_FILES = {
    "扫描件.pdf": (b"%PDF-1.4 binary", "unsupported file type .pdf"),
    "录音.txt": (random_bytes(3000, seed=3) + b"\x00" * 50, "binary"),
    "乱码.txt": (random_bytes(2000, seed=5, values=range(1, 32)), "binary"),
    "声音.txt": (b"\xff\xfe" + random_bytes(4000, seed=8), "binary"),
    "损坏.docx": (corrupt_docx(), ".docx"),
    "截断.docx": (b"PK\x03\x04 truncated", ".docx"),
    "损坏.xlsx": (b"not a spreadsheet", ".xlsx"),
    "空白.txt": (b"\n  \n", "no text"),
}


def test_unreadable_files_are_skipped_with_name_and_reason(tmp_path, cfg, caplog):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "好的.txt").write_text("问：怎么样？\n答：还行。\n", encoding="utf-8")
    for name, (data, _) in BAD_FILES.items():
        (folder / name).write_bytes(data)
    with caplog.at_level(logging.WARNING, logger="pipeline.ingest"):
        result = ingest_folder(folder, cfg)

    assert [f["file"] for f in result.files if f["status"] == "processed"] == ["好的.txt"]
    reasons = {f["file"]: f["reason"] for f in result.skipped}
    assert set(reasons) == set(BAD_FILES)
    for name, (_, why) in BAD_FILES.items():
        assert why in reasons[name], (name, reasons[name])
        assert any(name in r.getMessage() for r in caplog.records)
    assert set(result.turns["source"]) == {"好的.txt"}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_strict_mode_makes_an_unreadable_file_fatal(tmp_path, cfg, name):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(BAD_FILES[name][0])
    with pytest.raises(DiaoyanError) as err:
        ingest_folder(folder, cfg, strict=True)
    assert name in str(err.value)


def test_missing_input_folder_is_an_error(tmp_path, cfg):
    with pytest.raises(DiaoyanError, match="not found"):
        ingest_folder(tmp_path / "nope", cfg)


# ---------------------------------------------------------------- the bundled sample corpus

def test_bundled_transcripts_all_processed(bundled, transcripts_dir):
    on_disk = sorted(p.name for p in transcripts_dir.iterdir() if p.is_file() and p.name != "manifest.csv")
    assert sorted(f["file"] for f in bundled.files) == on_disk
    assert bundled.skipped == []
    assert all(f["respondent_turns"] > 0 for f in bundled.files)
    assert_offsets(bundled)


def test_bundled_transcripts_find_the_manifest_interviewer(bundled, transcripts_dir):
    manifest = pd.read_csv(transcripts_dir / "manifest.csv", dtype=str, keep_default_na=False)
    with_interviewer = manifest[manifest["interviewer"] != ""]
    assert len(with_interviewer)
    for row in with_interviewer.itertuples():
        turns = bundled.turns[bundled.turns["source"] == row.file]
        asking = turns[turns["role"] == "interviewer"]
        assert len(asking) >= 3, row.file
        assert set(asking["speaker"]) == {row.interviewer}, row.file
        assert (turns["role"] == "respondent").sum() >= 3, row.file


def test_bundled_speech_to_text_questioner_found_without_the_manifest(cfg, transcripts_dir):
    path = next(transcripts_dir.glob("*语音转写*"))
    _, records, _ = ingest.ingest_file(path, path.name, "D1", {"interviewer": ""}, cfg)
    roles = pd.DataFrame(records).groupby("speaker")["role"].agg(set)
    assert roles.get("发言人1") == {"interviewer"}
    assert all(r == {"respondent"} for s, r in roles.items() if s != "发言人1")


def test_bundled_survey_yields_questions_and_no_non_answers(cfg, bundled_comments):
    survey = bundled_comments[bundled_comments["source"].str.endswith(".xlsx")]
    assert len(survey) > 100
    assert (survey["question"] != "").all()
    assert survey["question"].str.match(r"^\d+、").all()          # the whole header, number included
    non_answers = {str(x).lower() for x in cfg["ingest"]["non_answers"]}
    assert not any(ingest.is_non_answer(t, non_answers) for t in survey["text"])
    assert (survey["respondent_id"] != "").all()
