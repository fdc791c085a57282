"""Quote selection: confidence floor, respondents only, one quote per person per topic, coverage of
regions and organisation types, near-duplicates, length limits with provenance, determinism, and a
golden quote table (UPDATE_GOLDEN=1 rewrites it)."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pandas as pd
import pytest

from pipeline import quotes
from pipeline.schema import CLASSIFY_COLUMNS, COMMENT_COLUMNS, SENTIMENT_COLUMNS
from pipeline.segment import normalise_text
from pipeline.taxonomy import parse_taxonomy

GOLDEN = Path(__file__).parent / "golden" / "quotes_small.csv"

TAXONOMY = parse_taxonomy({
    "name": "测试",
    "topics": [{"id": "burden_reduction", "name": "基层减负", "description": "形式主义加重基层负担。"},
               {"id": "coordination", "name": "协同尽责", "description": "部门之间如何协同。"}],
    "other": "other",
    "kinds": ["problem", "achievement", "suggestion", "other"],
})


def make_cfg(**quotes_overrides) -> dict:
    q = {"per_group": 5, "min_chars": 8, "max_chars": 60, "min_confidence": 0.5, "mmr_lambda": 0.7,
         "near_duplicate_jaccard": 0.5}
    q.update(quotes_overrides)
    return {"quotes": q, "sentiment": {"pos_threshold": 0.6, "neg_threshold": 0.4}}


def build(rows: list[dict]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Classified comments from short specs; documents are the comments joined by newlines, so
    start/end offsets are real. Tokens are characters unless given."""
    docs: dict[str, list[str]] = {}
    records = []
    turns: dict[str, int] = {}
    for spec in rows:
        doc = spec.get("doc", "D01")
        raw = spec.get("raw", spec["text"])
        parts = docs.setdefault(doc, [])
        start = sum(len(p) + 1 for p in parts)
        parts.append(raw)
        turn = turns.get(doc, 0)
        turns[doc] = turn + 1
        records.append({
            "comment_id": f"{doc}-{turn:04d}-00", "doc_id": doc, "source": f"{doc}.txt",
            "speaker": spec.get("speaker", f"发言人{turn + 2}"), "speaker_title": spec.get("title", ""),
            "role": spec.get("role", "respondent"), "respondent_id": spec.get("rid", ""),
            "region": spec.get("region", "临川区"), "org_type": spec.get("org", "乡镇（街道）"),
            "form": spec.get("form", "座谈"), "date": "2026-09-12", "question": "",
            "turn": turn, "sentence_index": 0, "start": start, "end": start + len(raw),
            "text": normalise_text(raw), "tokens": spec.get("tokens", " ".join(normalise_text(raw))),
            "topic": spec.get("topic", "burden_reduction"), "topic_confidence": spec.get("conf", 0.9),
            "topics": spec.get("topic", "burden_reduction"), "kind": spec.get("kind", "problem"),
            "kind_confidence": spec.get("kind_conf", 0.9), "evidence": "",
            "classified": spec.get("role", "respondent") == "respondent",
            "sentiment": spec.get("sentiment", 0.2), "sentiment_label": "neg",
        })
    frame = pd.DataFrame(records, columns=COMMENT_COLUMNS + CLASSIFY_COLUMNS + SENTIMENT_COLUMNS)
    return frame, {d: "\n".join(p) for d, p in docs.items()}


def ids(q: pd.DataFrame) -> list[str]:
    return list(q["comment_id"])


def test_confidence_floor_excludes_unsure_comments():
    frame, docs = build([
        {"text": "每个月都要填十几张表格，很多内容是重复的。", "conf": 0.9},
        {"text": "检查组来了只看台账，不看实际效果怎么样。", "conf": 0.49},
    ])
    _, q = quotes.run(frame, TAXONOMY, make_cfg(), docs)
    assert ids(q) == ["D01-0000-00"]


def test_never_an_interviewer_or_header_turn():
    frame, docs = build([
        {"text": "基层的会议是不是太多了，大家怎么看这个事？", "role": "interviewer", "speaker": "主持人"},
        {"text": "基层减负专题座谈会记录第一次会议纪要整理", "role": "header", "speaker": ""},
        {"text": "会议确实多，一周要开三四个会，没时间干活。"},
    ])
    out, q = quotes.run(frame, TAXONOMY, make_cfg(), docs)
    assert ids(q) == ["D01-0002-00"]
    assert out["representative"].tolist() == [False, False, True]


def test_no_respondent_twice_in_one_topic():
    frame, docs = build([
        {"text": "表格太多了，同一个数据要报好几次，很浪费时间。", "speaker": "周建华", "kind": "problem"},
        {"text": "建议统一数据口径，一次采集、多方共享就好了。", "speaker": "周建华", "kind": "suggestion"},
        {"text": "建议把各部门的报表整合起来，减少重复填报。", "speaker": "林晓梅", "kind": "suggestion"},
        {"text": "部门之间推来推去，一个事情跑了三个地方。", "speaker": "周建华", "topic": "coordination"},
    ])
    _, q = quotes.run(frame, TAXONOMY, make_cfg(), docs)
    burden = q[q["topic"] == "burden_reduction"]
    assert burden["speaker"].tolist().count("周建华") == 1
    assert "林晓梅" in burden["speaker"].tolist()
    # another topic may quote the same person again
    assert q[q["topic"] == "coordination"]["speaker"].tolist() == ["周建华"]


def test_same_survey_respondent_counts_once():
    frame, docs = build([
        {"text": "填表报数太多了，每周都要报各种数据。", "doc": "D09", "speaker": "答卷7", "rid": "7", "form": "问卷"},
        {"text": "督查检查太频繁，一个月来了好几拨人。", "doc": "D09", "speaker": "答卷7", "rid": "7", "form": "问卷"},
        {"text": "工作群消息太多，晚上十点还在要材料。", "doc": "D09", "speaker": "答卷8", "rid": "8", "form": "问卷"},
    ])
    _, q = quotes.run(frame, TAXONOMY, make_cfg(), docs)
    assert len(q) == 2
    assert sorted(q["comment_id"]) == ["D09-0000-00", "D09-0002-00"]


def test_regions_and_org_types_covered_before_repeating():
    central = "会议 太多 材料 重复"
    frame, docs = build([
        {"text": "会议太多了，每周都要开好几个会。", "tokens": central, "speaker": "甲"},
        {"text": "材料要反复准备，开会也特别频繁。", "tokens": central + " 会议", "speaker": "乙"},
        {"text": "企业这边审批事项多，跑手续很费劲。", "tokens": "企业 审批 手续",
         "region": "江北县", "org": "民营企业", "speaker": "丙"},
    ])
    _, q = quotes.run(frame, TAXONOMY, make_cfg(per_group=2), docs)
    assert sorted(q["region"]) == ["临川区", "江北县"]
    assert sorted(q["org_type"]) == ["乡镇（街道）", "民营企业"]
    # with room for all three, the repeat comes last
    _, q3 = quotes.run(frame, TAXONOMY, make_cfg(per_group=3), docs)
    assert q3["region"].tolist()[:2] != ["临川区", "临川区"]
    assert len(q3) == 3


def test_near_duplicates_are_not_both_quoted():
    frame, docs = build([
        {"text": "一个数据要报三次，表格内容大量重复。", "speaker": "甲"},
        {"text": "一个数据要报三次，表格内容大量重复！", "speaker": "乙", "region": "江北县"},
        {"text": "督查检查太多，一个月来了五六拨人。", "speaker": "丙"},
    ])
    _, q = quotes.run(frame, TAXONOMY, make_cfg(), docs)
    texts = q["text"].tolist()
    assert len(texts) == 2
    assert sum(t.startswith("一个数据要报三次") for t in texts) == 1


def test_length_limits_and_sentence_boundary_cut_keeps_provenance():
    long_text = ("上面要求每个村都建台账，一本不够还要好几本。" "检查的时候只翻台账，不看村里实际干了什么。"
                 "我们村干部一半时间都花在整理材料上面了。")
    frame, docs = build([
        {"text": "太多了。", "speaker": "甲"},                                 # too short
        {"text": long_text, "speaker": "乙"},                                  # cut at 。
        {"text": "会" * 70, "speaker": "丙"},                                  # too long, no boundary
    ])
    _, q = quotes.run(frame, TAXONOMY, make_cfg(max_chars=45), docs)
    assert ids(q) == ["D01-0001-00"]
    row = q.iloc[0]
    assert row["text"] == "上面要求每个村都建台账，一本不够还要好几本。检查的时候只翻台账，不看村里实际干了什么。"
    assert len(row["text"]) <= 45
    assert docs["D01"][row["start"]:row["end"]] == row["text"]


def test_cut_maps_offsets_through_collapsed_whitespace():
    raw = "上面要求每个村都建台账，  一本不够还要好几本。\n检查的时候只翻台账。我们村干部一半时间都花在整理材料上面了。"
    frame, docs = build([{"raw": raw, "text": raw, "speaker": "乙"}])
    assert len(frame.at[0, "text"]) != frame.at[0, "end"] - frame.at[0, "start"]
    _, q = quotes.run(frame, TAXONOMY, make_cfg(max_chars=40), docs)
    row = q.iloc[0]
    assert row["text"] == "上面要求每个村都建台账，一本不够还要好几本。检查的时候只翻台账。"
    assert normalise_text(docs["D01"][row["start"]:row["end"]]) == row["text"]
    # without the documents the offsets cannot be mapped, so the comment is not cut (nor quoted)
    _, q2 = quotes.run(frame, TAXONOMY, make_cfg(max_chars=40))
    assert q2.empty


def test_trailing_comma_trimmed_with_offsets():
    frame, docs = build([{"text": "部门之间沟通协调不够，一件事几个部门都管，", "topic": "coordination"}])
    _, q = quotes.run(frame, TAXONOMY, make_cfg(), docs)
    row = q.iloc[0]
    assert row["text"] == "部门之间沟通协调不够，一件事几个部门都管"
    assert docs["D01"][row["start"]:row["end"]] == row["text"]


def test_kind_must_agree_with_sentiment():
    frame, docs = build([
        {"text": "检查今年少了很多，这个大家都能感觉得到。", "kind": "achievement", "sentiment": 0.85},
        {"text": "检查还是太多了，一个月要接待好几次。", "kind": "achievement", "sentiment": 0.2},
    ])
    _, q = quotes.run(frame, TAXONOMY, make_cfg(), docs)
    assert ids(q) == ["D01-0000-00"]
    _, q_all = quotes.run(frame, TAXONOMY, make_cfg(sentiment_agreement=False), docs)
    assert len(q_all) == 2


def test_attribution_by_role_never_by_name():
    town = {"region": "临川区", "org_type": "乡镇（街道）", "form": "座谈", "respondent_id": ""}
    assert quotes.attribution(town, "临川区石桥镇党委副书记 周建华") == "临川区乡镇（街道）干部（座谈）"
    firm = {"region": "未注明", "org_type": "民营企业", "form": "访谈", "respondent_id": ""}
    assert quotes.attribution(firm, " 刘总") == "民营企业负责人（访谈）"
    assert quotes.attribution({**firm, "region": "高新区"}, "公司董事长") == "高新区民营企业负责人（访谈）"
    assert quotes.attribution({**firm, "region": "江北县"}, "") == "江北县民营企业代表（访谈）"
    survey = {"region": "东湖区", "org_type": "党政机关", "form": "问卷", "respondent_id": "17"}
    assert quotes.attribution(survey, "答卷17") == "问卷受访者（党政机关，东湖区）"


def test_deterministic_under_row_order():
    frame, docs = build(_golden_rows())
    _, q1 = quotes.run(frame, TAXONOMY, make_cfg(per_group=2), docs)
    shuffled = frame.sample(frac=1.0, random_state=7)
    _, q2 = quotes.run(shuffled, TAXONOMY, make_cfg(per_group=2), docs)
    pd.testing.assert_frame_equal(q1, q2)
    assert len(q1) >= 6


def test_empty_input_gives_empty_quote_table():
    frame, docs = build([])
    out, q = quotes.run(frame, TAXONOMY, make_cfg(), docs)
    assert list(q.columns) == quotes.QUOTE_COLUMNS
    assert q.empty and "representative" in out


def _golden_rows() -> list[dict]:
    return [
        {"text": "每个月都要填十几张表，一半内容是重复的。", "speaker": "周建华", "title": "镇党委副书记"},
        {"text": "检查组来了只看台账，不看实际效果。", "speaker": "林晓梅"},
        {"text": "工作群里晚上十点还在要材料，基层疲于应付。", "doc": "D02", "speaker": "孙立新",
         "title": "公司董事长", "region": "江北县", "org": "民营企业"},
        {"text": "今年会议明显少了，督查检查也合并了。", "kind": "achievement", "sentiment": 0.85,
         "speaker": "黄德明"},
        {"text": "建议统一报表口径，一次采集、多方共享。", "kind": "suggestion", "sentiment": 0.55,
         "speaker": "邓丽"},
        {"text": "建议上级来调研前先说清楚要看什么，别让村里从头准备材料。", "kind": "suggestion",
         "sentiment": 0.5, "doc": "D03", "speaker": "答卷3", "rid": "3", "form": "问卷",
         "region": "东湖区", "org": "党政机关"},
        {"text": "部门之间推诿扯皮，一个工单转了四个单位。", "topic": "coordination", "speaker": "胡海涛"},
        {"text": "牵头部门不牵头，各干各的，企业来回跑。", "topic": "coordination", "doc": "D02",
         "speaker": "何静", "title": "总经理", "region": "江北县", "org": "民营企业"},
        {"text": "吹哨报到以后，部门四十八小时内到现场，这个好。", "topic": "coordination",
         "kind": "achievement", "sentiment": 0.8, "speaker": "吴国强"},
        {"text": "明确牵头部门，牵头部门要真正牵起来。", "topic": "coordination", "kind": "suggestion",
         "sentiment": 0.5, "doc": "D03", "speaker": "答卷5", "rid": "5", "form": "问卷",
         "region": "市直", "org": "党政机关"},
        {"text": "就这些吧，我说得差不多了。", "topic": "other", "kind": "other", "speaker": "邓丽"},
    ]


def test_golden_quote_table():
    frame, docs = build(_golden_rows())
    _, q = quotes.run(frame, TAXONOMY, make_cfg(per_group=2), docs)
    actual = q.to_csv(index=False, lineterminator="\n")
    if os.environ.get("UPDATE_GOLDEN") == "1" or not GOLDEN.exists():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
        if os.environ.get("UPDATE_GOLDEN") != "1":
            pytest.skip("golden file created; re-run to compare")
    expected = GOLDEN.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            "golden/quotes_small.csv", "actual"))
        pytest.fail("quote table differs from the golden file (UPDATE_GOLDEN=1 to accept):\n" + diff)


def test_quotes_are_substrings_of_ingested_documents(bundled, bundled_comments, cfg):
    """On the bundled transcripts: every quote is the normalised text of its document span."""
    frame = bundled_comments.copy()
    # Stand-in classification: every respondent comment is a confident problem on one topic.
    frame["topic"] = ["burden_reduction" if i % 2 else "coordination" for i in range(len(frame))]
    frame["topic_confidence"], frame["kind"], frame["kind_confidence"] = 0.9, "problem", 0.9
    frame["classified"] = frame["role"] == "respondent"
    frame["sentiment"] = 0.3
    documents = {d.doc_id: d.text for d in bundled.documents}
    _, q = quotes.run(frame, TAXONOMY, {**cfg, "quotes": {**cfg["quotes"], "max_chars": 40}}, documents)
    assert len(q) >= 5
    for row in q.itertuples():
        span = documents[row.doc_id][row.start:row.end]
        assert normalise_text(span) == row.text
        assert row.text in normalise_text(documents[row.doc_id]) or row.text == span


def test_enumeration_marker_and_trailing_semicolon_dropped():
    raw = "一是  建立企业服务直通车，企业有问题能直接找到人；"
    frame, docs = build([{"raw": raw, "text": raw, "kind": "suggestion", "sentiment": 0.5}])
    cfg = {**make_cfg(), "segment": {"enumeration_markers": ["一是", "第一"]}}
    _, q = quotes.run(frame, TAXONOMY, cfg, docs)
    row = q.iloc[0]
    assert row["text"] == "建立企业服务直通车，企业有问题能直接找到人"
    assert docs["D01"][row["start"]:row["end"]] == row["text"]


def test_enumeration_marker_kept_when_part_of_a_phrase():
    text = "第四个，上面来调研的，能不能提前说清楚要看什么。"
    frame, docs = build([{"text": text, "kind": "suggestion", "sentiment": 0.5}])
    cfg = {**make_cfg(), "segment": {"enumeration_markers": ["第四", "最后"]}}
    _, q = quotes.run(frame, TAXONOMY, cfg, docs)
    assert q.iloc[0]["text"] == text
