"""De-identification: each kind of personal data, consistent pseudonyms, what must stay untouched."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline import deidentify
from pipeline.deidentify import Redactor, build_redactor

TITLES = ["书记", "主任", "科长", "局长", "总", "董", "董事长", "经理", "区长", "镇长", "老师", "阿姨"]


@pytest.fixture(scope="module")
def dcfg(cfg) -> dict:
    return {"ingest": cfg["ingest"],
            "deidentify": {"enabled": True, "names": ["赵明远"], "titles": TITLES,
                           "allow": ["石桥镇", "高新区"]}}


def comments_frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(speaker, role, text) → a comment frame with the columns deidentify touches."""
    return pd.DataFrame([{
        "comment_id": f"D01-{i:04d}-00", "doc_id": "D01", "speaker": speaker, "speaker_title": "",
        "role": role, "text": text, "tokens": " ".join(text), "evidence": "",
    } for i, (speaker, role, text) in enumerate(rows)])


@pytest.mark.parametrize("text, expected, kind", [
    ("有事打我手机13907915268，白天都在。", "有事打我手机[电话]，白天都在。", "mobile"),
    ("手机号138-0791-2345也行", "手机号[电话]也行", "mobile"),
    ("科室电话0791-86235417，工作日有人。", "科室电话[电话]，工作日有人。", "landline"),
    ("身份证号36010219870315421X写进了工单", "身份证号[身份证号]写进了工单", "id_number"),
    ("他报了360102198703154214这个号", "他报了[身份证号]这个号", "id_number"),
    ("我的邮箱是zhangyh_jzcj@163.com，收到回复", "我的邮箱是[邮箱]，收到回复", "email"),
    ("发到li.ming@jx.gov.cn就行", "发到[邮箱]就行", "email"),
    ("车牌是赣A·5K2X7，停了两个月", "车牌是[车牌]，停了两个月", "plate"),
    ("那辆京B12345天天停这", "那辆[车牌]天天停这", "plate"),
])
def test_each_kind_of_number_is_replaced(dcfg, segmenter, text, expected, kind):
    red = Redactor(dcfg, segmenter)
    assert red.redact(text) == expected
    assert red.summary()[kind] == 1


def test_numbers_inside_longer_digit_runs_are_not_phones(dcfg, segmenter):
    red = Redactor(dcfg, segmenter)
    # 18 digits is an ID, not a phone plus digits; a date is not a landline
    assert red.redact("360102198703154214") == "[身份证号]"
    assert red.redact("2026-09-12上午开会") == "2026-09-12上午开会"


@pytest.mark.parametrize("text, expected", [
    ("像区农业农村局的张科长，来了两次。", "像区农业农村局的某科长，来了两次。"),
    ("我们镇的李书记也没办法。", "我们镇的某书记也没办法。"),
    ("园区的王主任人很好。", "园区的某主任人很好。"),
    ("刘总您好，感谢您抽时间。", "某总您好，感谢您抽时间。"),
    ("李董在会上说过一句话。", "某董在会上说过一句话。"),
    ("刘总能先介绍一下企业的情况吗？", "某总能先介绍一下企业的情况吗？"),
])
def test_surname_plus_title(dcfg, segmenter, text, expected):
    assert Redactor(dcfg, segmenter).redact(text) == expected


@pytest.mark.parametrize("text", [
    "提高总体水平，总结经验。",
    "学期总结、月总结、周总结都要交。",
    "我和书记说了这个情况。",
    "开发区长期以来都是这样。",
    "汇总一下各部门的数据。",
    "高新区有个代办中心，石桥镇也有。",
    "市场监管来查，卫健来查，安监也来查。",
    "主持人：大家好。",
])
def test_ordinary_words_places_and_departments_stay(dcfg, segmenter, text):
    red = build_redactor(comments_frame([("", "respondent", text)]), dcfg, segmenter)
    assert red.redact(text) == text


def test_speaker_names_get_consistent_pseudonyms(dcfg, segmenter):
    frame = comments_frame([
        ("主持人", "interviewer", "今天请大家谈谈。周建华先说？"),
        ("周建华", "respondent", "好，我先说。"),
        ("林晓梅", "respondent", "我补充一下周建华说的表格问题。"),
        ("发言人2", "respondent", "我同意。"),
        ("答卷17", "respondent", "会太多。"),
        ("问", "interviewer", "还有吗？"),
        ("周建华", "respondent", "老周我再说一句。"),
    ])
    out, _, counts = deidentify.run(frame, pd.DataFrame(columns=["text", "speaker", "attribution"]),
                                    dcfg, segmenter)
    assert out["speaker"].tolist() == ["主持人", "受访者A", "受访者B", "发言人2", "答卷17", "问", "受访者A"]
    assert out.at[0, "text"] == "今天请大家谈谈。受访者A先说？"
    assert out.at[2, "text"] == "我补充一下受访者A说的表格问题。"
    assert out.at[6, "text"] == "老某我再说一句。"
    assert counts["people"] == 3                       # 周建华, 林晓梅 and the configured 赵明远
    assert counts["name"] >= 4
    # tokens follow the redacted text
    assert "周建华" not in " ".join(out["tokens"])


def test_names_found_in_text_and_configured_names(dcfg, segmenter):
    frame = comments_frame([
        ("答卷3", "respondent", "我是东湖区某街道的陈立新，有些情况愿意当面汇报。"),
        ("答卷4", "respondent", "赵明远那件事后来解决了。"),
        ("答卷5", "respondent", "听说陈立新已经反映过了。"),
    ])
    out, _, _ = deidentify.run(frame, pd.DataFrame(columns=["text"]), dcfg, segmenter)
    assert "陈立新" not in "".join(out["text"])
    assert "赵明远" not in "".join(out["text"])
    first = out.at[0, "text"].split("的")[-1].split("，")[0]
    assert first.startswith("某人") and first in out.at[2, "text"]       # same person, same label


def test_quotes_and_comments_share_pseudonyms(dcfg, segmenter):
    frame = comments_frame([("周建华", "respondent", "周建华：表格太多了，打我电话13907915268。")])
    quotes = pd.DataFrame([{"text": "表格太多了，打我电话13907915268。", "speaker": "周建华",
                            "attribution": "临川区乡镇（街道）干部（座谈）"}])
    out, q, counts = deidentify.run(frame, quotes, dcfg, segmenter)
    assert q.at[0, "speaker"] == out.at[0, "speaker"] == "受访者A"
    assert q.at[0, "text"] == "表格太多了，打我电话[电话]。"
    assert q.at[0, "attribution"] == "临川区乡镇（街道）干部（座谈）"
    assert counts["mobile"] == 1                     # quotes are not counted twice


def test_name_inside_a_longer_word_is_not_replaced(dcfg, segmenter):
    red = Redactor(dcfg, segmenter)
    red.add_person("谢宇", "respondent")
    red.add_person("何静", "respondent")
    assert red.redact("感谢宇航物流的支持") == "感谢宇航物流的支持"
    assert red.redact("如何静下心来做事") == "如何静下心来做事"
    assert red.redact("何静说得对") == "受访者A说得对".replace("A", red.people["何静"][-1])


def test_redactor_cleans_other_strings_of_the_run(dcfg, segmenter):
    red = build_redactor(comments_frame([("周建华", "respondent", "好。")]), dcfg, segmenter)
    assert red.redact("skipped 周建华的补充材料.txt: 13907915268") == "skipped 受访者A的补充材料.txt: [电话]"
    assert red.redact(None) is None and red.redact(3) == 3


def test_pseudonyms_are_deterministic(dcfg, segmenter):
    frame = comments_frame([("林晓梅", "respondent", "我说两句。"), ("周建华", "respondent", "我也说。")])
    a = deidentify.run(frame, pd.DataFrame(columns=["text"]), dcfg, segmenter)[0]
    b = deidentify.run(frame, pd.DataFrame(columns=["text"]), dcfg, segmenter)[0]
    assert a.equals(b)
    assert a["speaker"].tolist() == ["受访者A", "受访者B"]
