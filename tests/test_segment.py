"""Segment: sentence and enumeration splits, short-fragment merging, width normalisation with offsets
kept, tokens from the project's own jieba.Tokenizer, and a golden file for a small transcript."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import jieba
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import ingest, segment
from pipeline.config import apply_overrides
from pipeline.segment import SEPARATORS, normalise_text, normalise_width

GOLDEN = Path(__file__).parent / "golden" / "segment_sample.txt"
PROPERTY_SETTINGS = settings(max_examples=80, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])


def turns_frame(turn_texts: list[str], respondent_id: str = "") -> tuple[pd.DataFrame, str]:
    """A one-document turns table (as ingest makes it) for the given turn texts, joined by newlines."""
    rows, pos = [], 0
    for i, said in enumerate(turn_texts):
        rows.append({"doc_id": "D01", "source": "t.txt", "speaker": "", "speaker_title": "",
                     "role": "respondent", "respondent_id": respondent_id, "region": "", "org_type": "",
                     "form": "", "date": "", "question": "", "turn": i, "start": pos,
                     "end": pos + len(said), "text": said})
        pos += len(said) + 1
    return pd.DataFrame(rows), "\n".join(turn_texts)


def comments_of(text: str, cfg, segmenter, overrides=(), respondent_id: str = "") -> list[str]:
    frame, doc = turns_frame([text], respondent_id)
    out = segment.run(frame, {"D01": doc}, apply_overrides(cfg, list(overrides)), segmenter)
    return list(out["text"])


# ---------------------------------------------------------------- sentences

def test_splits_at_chinese_sentence_ends(cfg, segmenter):
    text = "今年会议少了很多。表格还是多！为什么要重复报？数据平台建了；各局还是不认……只能再报一遍。"
    assert comments_of(text, cfg, segmenter) == [
        "今年会议少了很多。", "表格还是多！", "为什么要重复报？", "数据平台建了；", "各局还是不认……", "只能再报一遍。"]


def test_half_width_sentence_ends_but_not_numbers_or_addresses(cfg, segmenter):
    text = "会议太多了!检查也很多;表格更多更杂?去年产值1.2亿元.邮箱是ab@163.com,请查收."
    assert comments_of(text, cfg, segmenter) == [
        "会议太多了!", "检查也很多;", "表格更多更杂?", "去年产值1.2亿元.", "邮箱是ab@163.com,请查收."]


@pytest.mark.parametrize("quoted", ["“这个不行。”", "「这个不行！」", "“真的吗？”"])
def test_closing_quotes_stay_with_their_sentence(cfg, segmenter, quoted):
    text = f"窗口的同志跟我说{quoted}然后就让我回去等通知了。"
    first, second = comments_of(text, cfg, segmenter)
    assert first == f"窗口的同志跟我说{quoted}"
    assert second == "然后就让我回去等通知了。"


def test_enumerations_are_kept_apart(cfg, segmenter):
    text = "问题主要有三个，一是文件多而且长，二是会议多层层开，三是检查多只看台账。"
    assert comments_of(text, cfg, segmenter) == [
        "问题主要有三个", "一是文件多而且长", "二是会议多层层开", "三是检查多只看台账。"]
    text = "首先要把清单定下来，其次要明确牵头部门，最后要有人督办落实。"
    assert comments_of(text, cfg, segmenter) == ["首先要把清单定下来", "其次要明确牵头部门", "最后要有人督办落实。"]


@pytest.mark.parametrize("text", ["我们报上去以后，最后只解决了四个孩子的入学问题。",
                                  "第一次去窗口的时候，第二天又让我补了一份材料。",
                                  "村里的第一书记，第一年就把路修通了。"])
def test_single_markers_and_ordinals_do_not_split(cfg, segmenter, text):
    assert comments_of(text, cfg, segmenter) == [text]


def test_over_long_sentences_are_cut_at_commas(cfg, segmenter):
    clauses = [f"第{n}个部门要我们报一张表格" for n in "甲乙丙丁戊己庚辛"]
    text = "，".join(clauses) + "。"
    pieces = comments_of(text, cfg, segmenter, ["segment.max_chars=40"])
    assert len(pieces) > 1
    assert all(len(p) <= 40 for p in pieces)
    assert "".join(pieces).replace("，", "") == text.replace("，", "")   # only cut commas are dropped
    assert comments_of(text, cfg, segmenter) == [text]


# ---------------------------------------------------------------- merging short fragments

def test_short_fragments_merge_into_a_neighbour(cfg, segmenter):
    text = "好。我们镇今年的会议确实少了很多。对。"
    assert comments_of(text, cfg, segmenter) == [text]
    assert comments_of(text, cfg, segmenter, ["segment.min_chars=1"]) == ["好。", "我们镇今年的会议确实少了很多。", "对。"]
    text = "表多。会多。检查多。"
    assert comments_of(text, cfg, segmenter, ["segment.min_chars=3"]) == ["表多。会多。", "检查多。"]


def test_survey_answer_is_one_comment_unless_it_enumerates(cfg, segmenter):
    answer = "文件太长太空。能操作的没几条。"
    assert comments_of(answer, cfg, segmenter, respondent_id="7") == [answer]
    assert comments_of(answer, cfg, segmenter) == ["文件太长太空。", "能操作的没几条。"]
    listed = "一是精简考核项目；二是提高村干部待遇"
    assert comments_of(listed, cfg, segmenter, respondent_id="7") == ["一是精简考核项目；", "二是提高村干部待遇"]


# ---------------------------------------------------------------- width and whitespace

def test_width_and_whitespace_normalisation(cfg, segmenter):
    assert normalise_width("ＡＢＣ１２３　ｘ％＋") == "ABC123 x%+"
    assert normalise_width("，。！？：；（）“”") == "，。！？：；（）“”"        # Chinese punctuation kept
    assert normalise_text("  去年 产值 １２００万 ，\n\t增长　了　百分之十。 ") == "去年产值1200万，增长了百分之十。"
    assert normalise_text("用 OA 系统 审批，Speaker 3 说") == "用OA系统审批，Speaker 3说"
    text = "今年ＯＡ系统上线了，　审批快了很多。　"
    frame, doc = turns_frame([text])
    out = segment.run(frame, {"D01": doc}, cfg, segmenter)
    assert list(out["text"]) == ["今年OA系统上线了，审批快了很多。"]
    assert doc[out.loc[0, "start"]:out.loc[0, "end"]] == text.rstrip("　")


def test_comment_ids_and_indices(cfg, segmenter):
    frame, doc = turns_frame(["今年会议少了很多。表格还是多得很。", "检查只看台账不看现场。"])
    out = segment.run(frame, {"D01": doc}, cfg, segmenter)
    assert list(out["comment_id"]) == ["D01-0000-00", "D01-0000-01", "D01-0001-00"]
    assert list(out["sentence_index"]) == [0, 1, 0]
    assert list(out.columns[:len(segment.COMMENT_COLUMNS)]) == segment.COMMENT_COLUMNS


# ---------------------------------------------------------------- properties

CHINESE_ISH = ("我们基层文件会议太多了考核检查表格服务企业部门牵头推诿一是二是三是第一最后首先其次"
               "，。！？；…、“”「」（）!?;.,:：ＡＢ１２３ａ　 \t0123456789abcOA%％")
turn_text = st.text(alphabet=CHINESE_ISH, min_size=0, max_size=120)


def segment_turns(turn_texts, cfg, segmenter, overrides=()):
    frame, doc = turns_frame(turn_texts)
    out = segment.run(frame, {"D01": doc}, apply_overrides(cfg, list(overrides)), segmenter)
    return frame, doc, out


@PROPERTY_SETTINGS
@given(st.lists(turn_text, min_size=1, max_size=5), st.integers(min_value=1, max_value=12))
def test_property_offsets_map_back_to_the_text(cfg, segmenter, turn_texts, min_chars):
    """(a) normalise_text(doc[start:end]) == text, and the text is normalised."""
    _, doc, out = segment_turns(turn_texts, cfg, segmenter, [f"segment.min_chars={min_chars}"])
    for row in out.itertuples():
        assert normalise_text(doc[row.start:row.end]) == row.text
        assert row.text and row.text == row.text.strip() and "  " not in row.text
        assert not set(row.text) & set("\u3000\t\nＡＢ１２３ａ")


@PROPERTY_SETTINGS
@given(st.lists(turn_text, min_size=1, max_size=5), st.integers(min_value=1, max_value=12))
def test_property_comments_cover_their_turn(cfg, segmenter, turn_texts, min_chars):
    """No text is lost: within a turn, comment spans are ordered, do not overlap, and cover every
    character that is not a space or a separator."""
    frame, doc, out = segment_turns(turn_texts, cfg, segmenter, [f"segment.min_chars={min_chars}"])
    for turn in frame.itertuples():
        spans = [(r.start, r.end) for r in out[out["turn"] == turn.turn].itertuples()]
        assert all(turn.start <= s < e <= turn.end for s, e in spans)
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))
        covered = {i for s, e in spans for i in range(s, e)}
        needed = {i for i in range(turn.start, turn.end) if not doc[i].isspace() and doc[i] not in SEPARATORS}
        assert needed <= covered


@PROPERTY_SETTINGS
@given(st.lists(turn_text, min_size=1, max_size=3))
def test_property_tokens_join_back_to_the_text(cfg, segmenter, turn_texts):
    """(b) the space-joined tokens give back the comment text with its spaces removed."""
    _, _, out = segment_turns(turn_texts, cfg, segmenter)
    for row in out.itertuples():
        assert "".join(row.tokens.split()) == row.text.replace(" ", "")
        assert "  " not in row.tokens


def jieba_global_state() -> tuple:
    dt = jieba.dt
    return dt.initialized, len(dt.FREQ), dt.total, dict(dt.user_word_tag_tab), dt.dictionary


@PROPERTY_SETTINGS
@given(turn_text)
def test_property_global_jieba_is_never_touched(segmenter, text):
    """(c) tokenising uses the segmenter's own Tokenizer; jieba.dt stays as it was."""
    before = jieba_global_state()
    segmenter.tokens(normalise_text(text))
    assert jieba_global_state() == before
    assert segmenter.tokenizer is not jieba.dt


def test_segmenter_words_stay_in_its_own_tokenizer(cfg, tmp_path):
    before = jieba_global_state()
    userdict = tmp_path / "userdict.txt"
    userdict.write_text("清而不为 50 n\n", encoding="utf-8")
    own = segment.Segmenter(userdict, extra_words=("鞭打快牛式考核",))
    assert "清而不为" in own.tokens("有的干部清而不为")
    assert "鞭打快牛式考核" in own.tokens("这种鞭打快牛式考核要改")
    assert jieba_global_state() == before
    assert "鞭打快牛式考核" not in jieba.dt.FREQ


# ---------------------------------------------------------------- golden file

SAMPLE_TRANSCRIPT = """\
某镇干部座谈会记录
时间：２０２６年９月１２日上午

主持人：大家好。今天请各位谈谈机关作风，有什么说什么？
周建华（某镇党委副书记）：那我先说。嗯，这两年会议确实少了，这个要肯定。但是表还是多！问题主要有三个，一是表格重复，二是时限太紧，三是口径不一。
窗口的同志跟我说“这个不行。”然后就让我回去等通知了。
（笑）
邓丽:对。我补充一下，平台建了，各局还是不认，说格式不一样……等于白建。
主持人：好的。那有什么建议？
周建华（某镇党委副书记）：首先要把数据共享起来，其次考核要分类，最后是检查要合并。产值１.２亿的镇和３０００万的镇不能一个标准。
"""


def render(comments: pd.DataFrame) -> str:
    lines = []
    for row in comments.itertuples():
        who = row.speaker + (f"（{row.speaker_title}）" if row.speaker_title else "")
        lines.append(f"{row.comment_id}\t{row.role}\t{who or '-'}\t{row.start}-{row.end}\t{row.text}")
        lines.append(f"\t{row.tokens}")
    return "\n".join(lines) + "\n"


def test_golden_segmentation_of_a_small_transcript(tmp_path, cfg, segmenter):
    """Compare with tests/golden/segment_sample.txt; regenerate with UPDATE_GOLDEN=1 after checking
    the diff by eye."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "座谈.txt").write_text(SAMPLE_TRANSCRIPT, encoding="utf-8")
    result = ingest.run(folder, cfg)
    comments = segment.run(result.turns, {d.doc_id: d.text for d in result.documents}, cfg, segmenter)
    actual = render(comments)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                            fromfile=str(GOLDEN.name), tofile="actual"))
        pytest.fail(f"segmentation differs from the golden file (UPDATE_GOLDEN=1 to accept):\n{diff}")
