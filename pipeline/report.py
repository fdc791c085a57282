"""Comments, quotes, survey scores and the run record → quotes.xlsx (review sheet), report.docx and a self-contained report.html."""

from __future__ import annotations

import copy
import datetime as dt
import html
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import charts
from pipeline.io import atomic_write, neutralise, write_text
from pipeline.quotes import UNKNOWN_VALUES, respondent_key
from pipeline.taxonomy import KIND_NAMES

log = logging.getLogger(__name__)

NOT_DEIDENTIFIED = "未脱敏，仅供内部使用"
REVIEW_COLUMNS = ["reviewed_topic", "reviewed_kind", "reviewed_sentiment", "reviewer", "note"]
SENTIMENT_CHOICES = ["pos", "neu", "neg"]
SENTIMENT_NAMES = {"pos": "正面", "neu": "中性", "neg": "负面"}
CHINESE_ORDINALS = "一二三四五六七八九十"
SCORE_HEADER = re.compile(r"[（(]\s*(\d+)\s*[-－—~～至到]\s*(\d+)\s*分\s*[）)]")
NOT_SCORE_COLUMNS = ("序号", "编号", "id", "时间", "日期", "用时", "所用", "来源", "source")

# Sheet 意见明细: (column id, Chinese name, what it holds, width). The ids are what
# `import-reviews` reads back; Chinese names go into header comments and the 说明 sheet.
DETAIL_COLUMNS = [
    ("comment_id", "意见编号", "文档-发言轮次-句序，唯一", 15),
    ("source", "来源文件", "输入文件（相对路径）", 22),
    ("role", "角色", "respondent = 受访者", 10),
    ("region", "地区", "来自清单或问卷", 9),
    ("org_type", "单位类型", "来自清单或问卷", 11),
    ("form", "形式", "座谈 / 访谈 / 问卷", 7),
    ("date", "日期", "", 11),
    ("question", "问题", "问卷题目或表格列名", 18),
    ("text", "意见原文", "受访者原话（已按设置脱敏）", 60),
    ("topic", "议题", "模型判定的主议题", 13),
    ("topic_confidence", "议题置信度", "主议题的概率", 9),
    ("kind", "类型", "问题 / 成效 / 建议 / 其他", 7),
    ("sentiment", "情感得分", "0 最负面，1 最正面", 9),
    ("sentiment_label", "情感倾向", "正面 / 中性 / 负面", 8),
    ("evidence", "判定依据", "命中的种子词和主要特征", 30),
    ("representative", "代表性引语", "是 = 被选为报告引语", 9),
    ("reviewed_topic", "复核议题", "人工复核：从下拉选择议题", 14),
    ("reviewed_kind", "复核类型", "人工复核：问题 / 成效 / 建议 / 其他", 10),
    ("reviewed_sentiment", "复核情感", "人工复核：pos / neu / neg", 10),
    ("reviewer", "复核人", "", 9),
    ("note", "备注", "", 24),
]


# ---------------------------------------------------------------- numbers

def pct(part: float, whole: float) -> str:
    return f"{(100.0 * part / whole):.1f}%" if whole else "—"


def _known(value) -> str:
    value = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
    return "" if value in UNKNOWN_VALUES else value


def _order(counts: pd.Series) -> list[str]:
    """Group values by count (desc) then name; unknown values last."""
    items = sorted(counts.items(), key=lambda kv: (not _known(kv[0]), -kv[1], str(kv[0])))
    return [k for k, _ in items]


def respondent_comments(comments: pd.DataFrame) -> pd.DataFrame:
    if comments.empty:
        return comments
    mask = comments["role"] == "respondent"
    if "classified" in comments:
        mask &= comments["classified"].astype(bool)
    return comments[mask]


def score_columns(respondents: pd.DataFrame) -> list[str]:
    """Survey columns holding 1–10 scores: headers marked （1-10分）, else all-numeric 1–10 columns."""
    if respondents is None or respondents.empty:
        return []
    marked = [c for c in respondents.columns if SCORE_HEADER.search(str(c))]
    if marked:
        return marked
    found = []
    for col in respondents.columns:
        if any(k in str(col).lower() for k in NOT_SCORE_COLUMNS) or col == "respondent_id":
            continue
        raw = respondents[col].replace("", np.nan).dropna()
        values = pd.to_numeric(raw, errors="coerce").dropna()
        if len(raw) and len(values) >= 0.9 * len(raw) and values.between(1, 10).all() \
                and (values % 1 == 0).all() and values.nunique() > 1:
            found.append(col)
    return found


def score_label(column: str) -> str:
    label = SCORE_HEADER.sub("", str(column)).strip(" ：:")
    return label or str(column)


@dataclass
class Summary:
    """Every number the three outputs show, computed once."""
    n_comments: int
    n_docs: int
    n_people: int
    n_survey: int
    docs_by_form: dict
    by_form: dict
    by_region: dict
    by_org: dict
    topic_kind: pd.DataFrame                  # topic ids (labels order) × kinds, counts
    region_topic: pd.DataFrame                # regions × topic ids, counts
    org_topic: pd.DataFrame                   # org types × topic ids, counts
    problem_region: pd.DataFrame              # regions × topic ids, problem comments only
    problem_org: pd.DataFrame
    sentiment_by_topic: dict
    scores: list = field(default_factory=list)  # (label, n, mean, share ≥ threshold)


def summarise(comments: pd.DataFrame, respondents: pd.DataFrame, taxonomy, cfg: dict) -> Summary:
    resp = respondent_comments(comments)
    labels, kinds = taxonomy.labels, list(taxonomy.kinds)
    all_resp = comments[comments["role"] == "respondent"] if not comments.empty else comments
    survey_mask = all_resp["respondent_id"].fillna("").astype(str).str.strip().astype(bool) \
        if "respondent_id" in all_resp else pd.Series(False, index=all_resp.index)
    people = {respondent_key(r) for r in all_resp[~survey_mask].to_dict("records")}
    n_survey = len(respondents) if respondents is not None and not respondents.empty \
        else int(all_resp.loc[survey_mask, "respondent_id"].nunique())
    docs = comments.drop_duplicates("doc_id") if not comments.empty else comments

    def counts(col, frame=resp):
        if frame.empty:
            return {}
        c = frame[col].fillna("").astype(str).value_counts()
        return {k: int(c[k]) for k in _order(c)}

    def cross(rows: str, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return pd.DataFrame(0, index=[], columns=labels)
        t = pd.crosstab(frame[rows].fillna("").astype(str), frame["topic"]).reindex(columns=labels, fill_value=0)
        return t.loc[_order(t.sum(axis=1))]

    topic_kind = (pd.crosstab(resp["topic"], resp["kind"]) if not resp.empty else pd.DataFrame())
    topic_kind = topic_kind.reindex(index=labels, columns=kinds, fill_value=0).fillna(0).astype(int)
    problems = resp[resp["kind"] == "problem"] if not resp.empty else resp
    sentiment = {}
    for topic in labels:
        values = pd.to_numeric(resp.loc[resp["topic"] == topic, "sentiment"], errors="coerce").dropna() \
            if not resp.empty and "sentiment" in resp else pd.Series(dtype=float)
        sentiment[topic] = float(values.mean()) if len(values) else None
    scores = []
    threshold = float(cfg["report"]["score_threshold"])
    for col in score_columns(respondents):
        values = pd.to_numeric(respondents[col].replace("", np.nan), errors="coerce").dropna()
        if len(values):
            scores.append((score_label(col), int(len(values)), float(values.mean()),
                           float((values >= threshold).mean())))
    return Summary(
        n_comments=int(len(resp)), n_docs=int(comments["doc_id"].nunique()) if not comments.empty else 0,
        n_people=len(people), n_survey=n_survey,
        docs_by_form=counts("form", docs), by_form=counts("form"), by_region=counts("region"),
        by_org=counts("org_type"), topic_kind=topic_kind,
        region_topic=cross("region", resp), org_topic=cross("org_type", resp),
        problem_region=cross("region", problems), problem_org=cross("org_type", problems),
        sentiment_by_topic=sentiment, scores=scores)


# ---------------------------------------------------------------- report content (format-neutral)

@dataclass
class Block:
    kind: str                    # title | warning | meta | toc | h2 | h3 | p | item | quote | table | figure
    text: str = ""
    extra: object = None         # quote attribution, table (header, rows), figure name


def _series_text(counts: dict, unit: str = "条", limit: int = 8) -> str:
    items = [(k if _known(k) else "未注明", v) for k, v in counts.items()]
    shown = [f"{k}{v}{unit}" for k, v in items[:limit]]
    if len(items) > limit:
        shown.append(f"其他{sum(v for _, v in items[limit:])}{unit}")
    return "、".join(shown)


def _group_shares(table: pd.DataFrame, topic: str, limit: int = 4, min_base: int = 3) -> str:
    """"临川区25.0%、江北县20.0%": share of each group's problem comments on this topic."""
    if table.empty or topic not in table:
        return ""
    totals = table.sum(axis=1)
    rows = [(g, table.at[g, topic] / totals[g]) for g in table.index
            if _known(g) and totals[g] >= min_base and table.at[g, topic] > 0]
    rows.sort(key=lambda r: (-r[1], str(r[0])))
    return "、".join(f"{g}{100 * s:.1f}%" for g, s in rows[:limit])


def _kind_by_topic(tk, quotes, taxonomy, kind: str, per_section: int, heading, lead, empty: str) -> list:
    """One numbered sub-section per topic that has comments of this kind: heading, count, quotes."""
    out, number = [], 0
    for topic in taxonomy.topic_ids:
        n = int(tk.at[topic, kind]) if kind in tk else 0
        if not n:
            continue
        name = taxonomy.name_of(topic)
        out.append(Block("h3", f"（{CHINESE_ORDINALS[number]}）{heading(name)}"))
        number += 1
        out.append(Block("p", lead(name, n)))
        out += [Block("quote", text, who) for text, who in _quotes_for(quotes, topic, kind, per_section)]
    return out or [Block("p", empty)]


def _quotes_for(quotes: pd.DataFrame, topic: str, kind: str, n: int) -> list[tuple[str, str]]:
    if quotes.empty or n <= 0:
        return []
    q = quotes[(quotes["topic"] == topic) & (quotes["kind"] == kind)].sort_values(["rank", "comment_id"])
    return list(zip(q["text"].head(n), q["attribution"].head(n)))


def _inner_quotes(text: str) -> str:
    """Double quotes inside a quoted passage become single ones: “…‘一表通’…”."""
    return text.replace("“", "‘").replace("”", "’")


def _sentiment_phrase(value: float | None, cfg: dict) -> str:
    if value is None:
        return ""
    scfg = cfg.get("sentiment", {})
    pos, neg = float(scfg.get("pos_threshold", 0.6)), float(scfg.get("neg_threshold", 0.4))
    tone = "偏正面" if value >= pos else ("偏负面" if value < neg else "总体中性")
    return f"该议题全部意见的平均情感得分为{value:.2f}，{tone}。"


def build_blocks(comments: pd.DataFrame, quotes: pd.DataFrame, summary: Summary, taxonomy,
                 cfg: dict, record: dict, figures: list[tuple[str, str]]) -> list[Block]:
    rcfg = cfg["report"]
    per_problem = int(rcfg.get("quotes_per_problem", 3))
    per_section = int(rcfg.get("quotes_per_section", 2))
    s = summary
    tk = s.topic_kind
    blocks = [Block("title", rcfg["title"])]
    if not record.get("deidentified", True):
        blocks.append(Block("warning", f"【{NOT_DEIDENTIFIED}】本报告及引语未做脱敏处理，含受访者姓名等个人信息，"
                                       "不得对外提供。"))
    blocks.append(Block("meta", f"生成日期：{dt.date.today().isoformat()}　模型：{record.get('model', {}).get('version', '—')}"))
    blocks.append(Block("toc"))

    # ---- 调研基本情况
    blocks.append(Block("h2", "调研基本情况"))
    n_problem = int(tk["problem"].sum()) if "problem" in tk else 0
    n_achieve = int(tk["achievement"].sum()) if "achievement" in tk else 0
    n_suggest = int(tk["suggestion"].sum()) if "suggestion" in tk else 0
    people = f"访谈、座谈对象约{s.n_people}人" + (f"、问卷受访者{s.n_survey}人" if s.n_survey else "")
    method = (f"本次调研共整理座谈、访谈记录和问卷等材料{s.n_docs}份（{_series_text(s.docs_by_form, '份')}），"
              f"涉及{people}。经逐句整理，共得到受访者意见{s.n_comments}条，"
              f"其中反映问题的{n_problem}条（{pct(n_problem, s.n_comments)}）、肯定成效的{n_achieve}条"
              f"（{pct(n_achieve, s.n_comments)}）、提出建议的{n_suggest}条（{pct(n_suggest, s.n_comments)}）。")
    blocks.append(Block("p", method))
    blocks.append(Block("p", f"按形式分，{_series_text(s.by_form)}；按地区分，{_series_text(s.by_region)}；"
                             f"按单位类型分，{_series_text(s.by_org)}。"))
    blocks.append(Block("p", "每条意见按“议题×类型”编码（议题五类加“其他”，类型分问题、成效、建议、其他），"
                             "并给出情感得分。编码由模型自动完成，编码手册、模型版本及评估结果见附录；"
                             "引语均为受访者原话，注明来源类别，"
                             + ("姓名、电话等个人信息已作脱敏处理。" if record.get("deidentified", True)
                                else f"{NOT_DEIDENTIFIED}。")))
    for name, caption in figures:
        blocks.append(Block("figure", caption, name))

    # ---- 一、主要成效
    blocks.append(Block("h2", "一、主要成效"))
    blocks.append(Block("p", f"受访者肯定成效的意见共{n_achieve}条，占全部意见的{pct(n_achieve, s.n_comments)}。"))
    blocks += _kind_by_topic(
        tk, quotes, taxonomy, "achievement", per_section,
        heading=lambda name: name,
        lead=lambda name, n: f"肯定{name}方面成效的意见{n}条，占成效意见的{pct(n, n_achieve)}。",
        empty="本次材料中未发现集中反映成效的意见。")

    # ---- 二、存在的问题
    blocks.append(Block("h2", "二、存在的问题"))
    blocks.append(Block("p", f"受访者反映问题的意见共{n_problem}条，占全部意见的{pct(n_problem, s.n_comments)}。"
                             "以下按议题逐一说明：各议题占比以全部问题意见为基数，分组占比以该组的问题意见为基数；"
                             "情感得分介于0（最负面）和1（最正面）之间。"))
    for i, topic in enumerate(taxonomy.topic_ids):
        name = taxonomy.name_of(topic)
        n = int(tk.at[topic, "problem"]) if "problem" in tk else 0
        blocks.append(Block("h3", f"（{CHINESE_ORDINALS[i % 10]}）{name}"))
        if not n:
            blocks.append(Block("p", f"未收集到反映{name}方面问题的意见。"))
            continue
        parts = [f"反映{name}问题的意见{n}条，占问题意见的{pct(n, n_problem)}。"]
        by_region = _group_shares(s.problem_region, topic)
        by_org = _group_shares(s.problem_org, topic)
        if by_region:
            parts.append(f"分地区看，占比较高的是{by_region}。")
        if by_org:
            parts.append(f"分单位类型看，{by_org}。")
        parts.append(_sentiment_phrase(s.sentiment_by_topic.get(topic), cfg))
        blocks.append(Block("p", "".join(parts)))
        for text, who in _quotes_for(quotes, topic, "problem", per_problem):
            blocks.append(Block("quote", text, who))

    # ---- 三、意见建议
    blocks.append(Block("h2", "三、意见建议"))
    blocks.append(Block("p", f"受访者提出的建议共{n_suggest}条，占全部意见的{pct(n_suggest, s.n_comments)}。"))
    blocks += _kind_by_topic(
        tk, quotes, taxonomy, "suggestion", per_section,
        heading=lambda name: f"关于{name}",
        lead=lambda name, n: f"相关建议{n}条，占建议总数的{pct(n, n_suggest)}。",
        empty="本次材料中未发现集中的意见建议。")

    # ---- 四、问卷评分
    if s.scores:
        threshold = cfg["report"]["score_threshold"]
        blocks.append(Block("h2", "四、问卷评分情况"))
        blocks.append(Block("p", f"问卷共{s.n_survey}份，评分项为1—10分，各项平均分及高分比例如下。"))
        for label, n, mean, share in s.scores:
            blocks.append(Block("item", f"{label}：有效评分{n}份，平均{mean:.1f}分，"
                                        f"评价{threshold}分及以上的占{100 * share:.1f}%。"))

    # ---- 附录
    blocks.append(Block("h2", "附录"))
    blocks.append(Block("h3", "附录一　编码手册"))
    rows = [[t.id, t.name, t.description] for t in taxonomy.topics]
    if taxonomy.other:
        rows.append([taxonomy.other, "其他", "不属于以上五类：背景介绍、程序性发言、寒暄，以及不指向具体领域的泛泛评价。"])
    blocks.append(Block("table", "", (["议题编号", "议题", "说明"], rows)))
    blocks.append(Block("table", "", (["类型编号", "类型", "说明"], [
        ["problem", "问题", "不足、意见、困难（“还不够”“有待提高”亦属此类）"],
        ["achievement", "成效", "改进或做得好的方面"],
        ["suggestion", "建议", "应当怎么做（“建议”“希望”“应当”“要……”）"],
        ["other", "其他", "以上皆非"]])))
    blocks.append(Block("h3", "附录二　模型与评估"))
    model = record.get("model", {})
    blocks.append(Block("p", f"模型：{model.get('dir', '—')}（版本 {model.get('version', '—')}）；"
                             f"编码框架：{model.get('taxonomy', taxonomy.name)}（校验值 {str(model.get('taxonomy_checksum', '—'))[:12]}）；"
                             f"训练数据校验值：{str(model.get('training_data_checksum') or '—')[:12]}；"
                             f"情感模型：{record.get('sentiment_backend', '—')}；软件版本：{record.get('diaoyan_version', '—')}；"
                             f"配置校验值：{str(record.get('config_checksum', '—'))[:12]}。"))
    holdout = model.get("holdout") or {}
    metric_names = [("macro_f1", "宏平均F1"), ("accuracy", "准确率"), ("auc", "AUC"),
                    ("balanced_accuracy", "平衡准确率")]
    head_names = {"topic": "议题", "kind": "类型", "sentiment": "情感"}
    if holdout:
        rows = [[head_names.get(h, h)] + [f"{m[k]:.3f}" if isinstance(m.get(k), (int, float)) else "—"
                                           for k, _ in metric_names] for h, m in holdout.items()]
        blocks.append(Block("p", "留出集评估结果（模型未见过的标注样本）："))
        blocks.append(Block("table", "", (["任务"] + [n for _, n in metric_names], rows)))
    else:
        blocks.append(Block("p", "模型未记录留出集评估结果。"))
    redactions = record.get("redactions") or {}
    if record.get("deidentified", True):
        done = "、".join(f"{REDACTION_NAMES.get(k, k)}{v}处" for k, v in redactions.items()
                        if k in REDACTION_NAMES and v)
        blocks.append(Block("p", "脱敏处理：" + (done + "。" if done else "未发现需要替换的个人信息。")))
    else:
        blocks.append(Block("p", f"脱敏处理：本次运行未脱敏（{NOT_DEIDENTIFIED}）。"))
    blocks.append(Block("h3", "附录三　输入文件"))
    rows = []
    for f in record.get("files", []):
        status = "已处理" if f.get("status") == "processed" else f"跳过：{f.get('reason', '')}"
        checksum = str(f.get("checksum") or "")
        rows.append([f.get("doc_id", ""), f.get("file", ""), status,
                     checksum[:16] + ("…" if len(checksum) > 16 else "")])
    blocks.append(Block("table", "", (["编号", "文件", "状态", "校验值（前16位）"], rows)))
    blocks.append(Block("p", "完整校验值见运行记录 run.json。"))
    return blocks


REDACTION_NAMES = {"name": "人名", "title": "姓氏加职务称谓", "mobile": "手机号", "landline": "固定电话",
                   "id_number": "身份证号", "email": "邮箱", "plate": "车牌"}


# ---------------------------------------------------------------- charts

def figure_set(summary: Summary, taxonomy) -> tuple[list[tuple[str, str]], dict[str, pd.DataFrame], dict]:
    """(figure names with captions, their tables, colours) for what the data can show."""
    figures, tables, colours = [], {}, {}
    tk = summary.topic_kind.copy()
    if tk.values.sum():
        tk.index = [taxonomy.name_of(t) for t in tk.index]
        tk.columns = [KIND_NAMES.get(k, k) for k in tk.columns]
        tables["topic_kind"] = tk
        colours["topic_kind"] = [charts.KIND_COLOURS.get(k, "#999999") for k in summary.topic_kind.columns]
        figures.append(("topic_kind", "图1　各议题意见数量（按类型）"))
    topic_colours = [charts.TOPIC_COLOURS[i % len(charts.TOPIC_COLOURS)] for i in range(len(taxonomy.topic_ids))]
    if taxonomy.other:
        topic_colours.append(charts.OTHER_COLOUR)
    for key, table, caption in (("region_topic", summary.region_topic, "各地区意见的议题构成"),
                                ("org_topic", summary.org_topic, "各类单位意见的议题构成")):
        if len(table) >= 1 and table.values.sum():
            t = table.copy()
            t.columns = [taxonomy.name_of(c) for c in t.columns]
            t.index = [f"{i if _known(i) else '未注明'}（{int(n)}）" for i, n in zip(t.index, t.sum(axis=1))]
            tables[key] = t
            colours[key] = topic_colours
            figures.append((key, f"图{len(figures) + 1}　{caption}（占该组意见的百分比；括号内为意见条数）"))
    return figures, tables, colours


def _ascii_table(key: str, table: pd.DataFrame, summary: Summary, taxonomy) -> tuple[pd.DataFrame, str]:
    """The table with ASCII labels (for a PNG drawn without a CJK font) and the caption key."""
    t = table.copy()
    name_to_id = {taxonomy.name_of(i): i for i in taxonomy.labels}
    kind_ids = {KIND_NAMES.get(k, k): k for k in taxonomy.kinds}
    if key == "topic_kind":
        t.index = [name_to_id.get(i, i) for i in t.index]
        t.columns = [kind_ids.get(c, c) for c in t.columns]
        legend = "；".join(f"{i}={taxonomy.name_of(i)}" for i in taxonomy.labels)
        return t, "图中标签：" + legend + "；problem=问题、achievement=成效、suggestion=建议、other=其他。"
    prefix = "R" if key == "region_topic" else "G"
    codes = {g: f"{prefix}{n}" for n, g in enumerate(t.index, start=1)}
    t.index = [codes[g] for g in t.index]
    t.columns = [name_to_id.get(c, c) for c in t.columns]
    return t, "图中标签：" + "、".join(f"{c}={g}" for g, c in codes.items()) + "。"


def render_figures(summary: Summary, taxonomy, cfg: dict):
    """({name: png bytes}, {name: inline svg}, {name: extra caption}, font or None)."""
    figures, tables, colours = figure_set(summary, taxonomy)
    font = charts.find_cjk_font(str(cfg["report"].get("chart_font", "") or ""))
    if figures and font is None:
        charts.warn_missing_font()
    png, svg, notes = {}, {}, {}
    for name, _caption in figures:
        share = name != "topic_kind"
        xlabel = "意见数（条）" if not share else "占比（%）"
        svg[name] = charts.stacked_counts(tables[name], colours[name], "svg", None, name, xlabel, share)
        if font:
            png[name] = charts.stacked_counts(tables[name], colours[name], "png", font, name, xlabel, share)
        else:
            t, notes[name] = _ascii_table(name, tables[name], summary, taxonomy)
            png[name] = charts.stacked_counts(t, colours[name], "png", None, name,
                                              "comments" if not share else "share (%)", share)
    return figures, png, svg, notes, font


# ---------------------------------------------------------------- docx

def _docx_fonts(document) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    for style_name, east, size in (("Normal", "宋体", 11), ("Title", "黑体", 20), ("Heading 1", "黑体", 15),
                                   ("Heading 2", "楷体", 13), ("Heading 3", "楷体", 12)):
        try:
            style = document.styles[style_name]
        except KeyError:
            continue
        style.font.size = Pt(size)
        if style_name != "Normal":
            style.font.color.rgb = RGBColor(0x1F, 0x1F, 0x1F) if style_name != "Heading 1" \
                else RGBColor(0x1F, 0x4E, 0x79)
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        fonts.set(qn("w:eastAsia"), east)


def write_docx(path: Path, blocks: list[Block], png: dict, notes: dict, deidentified: bool) -> Path:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    document = Document()
    _docx_fonts(document)
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.6)
    if not deidentified:
        section.header.paragraphs[0].text = NOT_DEIDENTIFIED
        section.header.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    for block in blocks:
        if block.kind == "title":
            p = document.add_heading(block.text, level=0)
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif block.kind == "warning":
            p = document.add_paragraph()
            run = p.add_run(block.text)
            run.bold = True
            run.font.color.rgb = RGBColor(0xB0, 0x00, 0x00)
        elif block.kind == "meta":
            p = document.add_paragraph(block.text)
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            p.runs[0].font.size = Pt(9)
        elif block.kind == "toc":
            continue
        elif block.kind == "h2":
            document.add_heading(block.text, level=1)
        elif block.kind == "h3":
            document.add_heading(block.text, level=2)
        elif block.kind == "p":
            p = document.add_paragraph(block.text)
            p.paragraph_format.first_line_indent = Pt(22)
        elif block.kind == "item":
            document.add_paragraph(block.text, style="List Bullet")
        elif block.kind == "quote":
            p = document.add_paragraph()
            p.paragraph_format.left_indent = Cm(0.9)
            run = p.add_run(f"“{_inner_quotes(block.text)}”")
            run.italic = False
            who = p.add_run(f"——{block.extra}")
            who.font.size = Pt(9.5)
            who.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
        elif block.kind == "table":
            header, rows = block.extra
            table = document.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header):
                cell.text = text
                for r in cell.paragraphs[0].runs:
                    r.bold = True
            for row in rows:
                cells = table.add_row().cells
                for cell, text in zip(cells, row):
                    cell.text = str(text)
                    for r in cell.paragraphs[0].runs:
                        r.font.size = Pt(8 if len(str(text)) > 40 else 9.5)
            document.add_paragraph()
        elif block.kind == "figure":
            name = block.extra
            if name in png:
                document.add_picture(io.BytesIO(png[name]), width=Cm(15.5))
                document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            cap = document.add_paragraph(block.text + (f"　{notes[name]}" if name in notes else ""))
            cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
            cap.runs[0].font.size = Pt(9)
    buf = io.BytesIO()
    document.save(buf)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buf.getvalue()))


# ---------------------------------------------------------------- html

CSS = """
:root { --ink:#1f2328; --muted:#5b6169; --rule:#d8dde3; --accent:#1f4e79; --warn:#b00020; }
* { box-sizing: border-box; }
body { margin:0; background:#f4f5f7; color:var(--ink);
  font-family: "PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC",
  "WenQuanYi Micro Hei","Noto Sans SC",sans-serif; font-size:16px; line-height:1.85; }
main { max-width: 880px; margin: 24px auto; background:#fff; padding: 40px 56px 56px;
  box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h1 { text-align:center; font-size:26px; margin:8px 0 4px; letter-spacing:1px; }
h2 { font-size:20px; color:var(--accent); border-bottom:2px solid var(--accent); padding-bottom:4px;
  margin:40px 0 14px; }
h3 { font-size:17px; margin:26px 0 8px; }
p { margin: 8px 0; text-indent: 2em; }
p.item { text-indent:0; padding-left:2em; position:relative; }
p.item::before { content:"•"; position:absolute; left:0.9em; color:var(--accent); }
td:first-child { white-space:nowrap; }
p.meta { text-align:center; color:var(--muted); font-size:13px; text-indent:0; }
p.warning { text-indent:0; color:#fff; background:var(--warn); padding:8px 14px; font-weight:bold;
  border-radius:4px; }
blockquote { margin: 10px 0 10px 2em; padding: 6px 14px; border-left: 4px solid #c9d6e3;
  background:#f7f9fb; }
blockquote cite { display:block; text-align:right; font-style:normal; color:var(--muted); font-size:14px; }
figure { margin: 20px 0; text-align:center; }
figure svg { max-width:100%; height:auto; }
figcaption { color:var(--muted); font-size:14px; }
table { border-collapse: collapse; width:100%; margin: 10px 0 18px; font-size:14px; }
th, td { border:1px solid var(--rule); padding:5px 8px; text-align:left; vertical-align:top;
  word-break: break-all; }
th { background:#eef2f6; }
nav.toc { border:1px solid var(--rule); padding:8px 18px; margin:18px 0; font-size:15px; }
nav.toc ol { margin:4px 0; padding-left:1.2em; list-style:none; }
nav.toc a { color:var(--accent); text-decoration:none; }
.banner { position:sticky; top:0; background:var(--warn); color:#fff; text-align:center;
  font-weight:bold; padding:4px; z-index:2; }
@media print { body { background:#fff; } main { box-shadow:none; margin:0; padding:0; }
  .banner { position:static; } }
"""


def render_html(blocks: list[Block], svg: dict, deidentified: bool) -> str:
    esc = html.escape
    title = next((b.text for b in blocks if b.kind == "title"), "报告")
    anchors, n = {}, 0
    for b in blocks:
        if b.kind == "h2":
            n += 1
            anchors[id(b)] = f"s{n}"
    out = ['<!DOCTYPE html>', '<html lang="zh-CN">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{esc(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>"]
    if not deidentified:
        out.append(f'<div class="banner">{esc(NOT_DEIDENTIFIED)}</div>')
    out.append("<main>")
    # Blocks that are just escaped text inside one element.
    simple = {"title": ("<h1>", "</h1>"), "warning": ('<p class="warning">', "</p>"),
              "meta": ('<p class="meta">', "</p>"), "h3": ("<h3>", "</h3>"), "p": ("<p>", "</p>"),
              "item": ('<p class="item">', "</p>")}
    for b in blocks:
        if b.kind in simple:
            opening, closing = simple[b.kind]
            out.append(f"{opening}{esc(b.text)}{closing}")
        elif b.kind == "toc":
            items = "".join(f'<li><a href="#{anchors[id(h)]}">{esc(h.text)}</a></li>'
                            for h in blocks if h.kind == "h2")
            out.append(f'<nav class="toc"><strong>目录</strong><ol>{items}</ol></nav>')
        elif b.kind == "h2":
            out.append(f'<h2 id="{anchors[id(b)]}">{esc(b.text)}</h2>')
        elif b.kind == "quote":
            out.append(f"<blockquote>“{esc(_inner_quotes(b.text))}”<cite>——{esc(str(b.extra))}</cite></blockquote>")
        elif b.kind == "table":
            header, rows = b.extra
            head = "".join(f"<th>{esc(h)}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "figure":
            graphic = svg.get(b.extra, "")
            out.append(f"<figure>{graphic}<figcaption>{esc(b.text)}</figcaption></figure>")
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


# ---------------------------------------------------------------- xlsx

def _cell(value):
    """A value safe for a cell: formulas neutralised, control characters removed, NaN → empty."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, str):
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def detail_frame(comments: pd.DataFrame, taxonomy) -> pd.DataFrame:
    """One row per respondent comment in DETAIL_COLUMNS order, Chinese topic/kind names."""
    resp = comments[comments["role"] == "respondent"] if not comments.empty else comments
    rows = pd.DataFrame(index=resp.index)
    for col, *_ in DETAIL_COLUMNS:
        rows[col] = resp[col] if col in resp else ""
    classified = resp["classified"].astype(bool) if "classified" in resp else pd.Series(True, index=resp.index)
    rows["topic"] = [taxonomy.name_of(t) if c and isinstance(t, str) and t else ""
                     for t, c in zip(rows["topic"], classified)]
    rows["kind"] = [KIND_NAMES.get(k, k) if c and isinstance(k, str) else "" for k, c in zip(rows["kind"], classified)]
    if "sentiment_label" in resp:
        rows["sentiment_label"] = [SENTIMENT_NAMES.get(v, v) if isinstance(v, str) else "" for v in rows["sentiment_label"]]
    for col in ("topic_confidence", "sentiment"):
        rows[col] = pd.to_numeric(rows[col], errors="coerce").round(3)
    rows["representative"] = ["是" if bool(v) is True and v == v else "" for v in
                              (resp["representative"] if "representative" in resp else [False] * len(resp))]
    for col in REVIEW_COLUMNS:
        rows[col] = ""
    return rows.reset_index(drop=True)


def _sheet_title(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:28] or "sheet"
    title, n = base, 2
    while title in used:
        title, n = f"{base[:26]}_{n}", n + 1
    used.add(title)
    return title


def write_xlsx(path: Path, comments: pd.DataFrame, quotes: pd.DataFrame, summary: Summary, taxonomy,
               deidentified: bool) -> Path:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDE6F0")
    review_fill = PatternFill("solid", fgColor="FFF4CC")
    warn_font = Font(bold=True, color="FFFFFF")
    warn_fill = PatternFill("solid", fgColor="B00020")
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    warning = f"【{NOT_DEIDENTIFIED}】"
    wb = Workbook()
    used_titles = {"意见明细", "汇总", "说明", "选项"}

    # -- 意见明细: one header row of ids (import-reviews reads them), data below.
    ws = wb.active
    ws.title = "意见明细"
    detail = detail_frame(comments, taxonomy)
    ids = [c for c, *_ in DETAIL_COLUMNS]
    header = ids + ([warning] if not deidentified else [])
    ws.append(header)
    for col_idx, (col, cname, meaning, width) in enumerate(DETAIL_COLUMNS, start=1):
        cell = ws.cell(row=1, column=col_idx)
        cell.font, cell.fill = bold, (review_fill if col in REVIEW_COLUMNS else head_fill)
        cell.comment = Comment(f"{cname}" + (f"：{meaning}" if meaning else ""), "diaoyan")
        ws.column_dimensions[get_column_letter(col_idx)].width = width
    if not deidentified:
        cell = ws.cell(row=1, column=len(header))
        cell.font, cell.fill = warn_font, warn_fill
        ws.column_dimensions[get_column_letter(len(header))].width = 26
        ws.oddHeader.center.text = NOT_DEIDENTIFIED
    wrapped = {"text", "evidence", "question", "note"}
    # One styled prototype per alignment; copying its style array is far cheaper than setting
    # .alignment on each of 100 000 × 21 cells.
    protos = {}
    for name, align in (("wrap", wrap), ("top", top)):
        proto = ws.cell(row=2, column=1)
        proto.alignment = align
        protos[name] = copy.copy(proto._style)
    ws.delete_rows(2)
    styles = [protos["wrap" if col in wrapped else "top"] for col in ids]
    for r, record in enumerate(detail.itertuples(index=False), start=2):
        for c, (value, style) in enumerate(zip(record, styles), start=1):
            cell = ws.cell(row=r, column=c, value=_cell(value))
            cell._style = copy.copy(style)
    ws.freeze_panes = "B2"
    last_row = max(ws.max_row, 2)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(ids))}{last_row}"

    # -- 选项: dropdown lists (a sheet range has no 255-character limit)
    lists = wb.create_sheet("选项")
    choices = {
        "reviewed_topic": [t.name for t in taxonomy.topics] + ["其他"],
        "reviewed_kind": [KIND_NAMES.get(k, k) for k in taxonomy.kinds],
        "reviewed_sentiment": SENTIMENT_CHOICES,
    }
    for j, (col, values) in enumerate(choices.items(), start=1):
        lists.cell(row=1, column=j, value=col).font = bold
        for i, v in enumerate(values, start=2):
            lists.cell(row=i, column=j, value=_cell(v))
        letter = get_column_letter(j)
        dv = DataValidation(type="list", formula1=f"'选项'!${letter}$2:${letter}${len(values) + 1}",
                            allow_blank=True, showDropDown=False)
        dv.error, dv.errorTitle = "请从下拉列表中选择", "复核取值"
        ws.add_data_validation(dv)
        target = get_column_letter(ids.index(col) + 1)
        dv.add(f"{target}2:{target}{max(last_row, 1000)}")
        lists.column_dimensions[letter].width = 20
    lists.sheet_state = "hidden"

    # -- one sheet per topic with its representative quotes
    q_cols = [("kind", "类型", 7), ("rank", "序号", 6), ("text", "引语", 64), ("attribution", "来源类别", 26),
              ("source", "来源文件", 24), ("turn", "发言轮次", 9), ("start", "起始位置", 9), ("end", "结束位置", 9),
              ("comment_id", "意见编号", 15), ("topic_confidence", "议题置信度", 10), ("sentiment", "情感得分", 9)]
    for topic in taxonomy.labels:
        tq = quotes[quotes["topic"] == topic] if not quotes.empty else quotes
        if tq.empty and topic == taxonomy.other:
            continue
        sheet = wb.create_sheet(_sheet_title(taxonomy.name_of(topic), used_titles))
        sheet.append([_cell(f"{taxonomy.name_of(topic)}：代表性引语（{len(tq)}条）"
                            + (f"　{warning}" if not deidentified else ""))])
        sheet["A1"].font = warn_font if not deidentified else Font(bold=True, size=13)
        if not deidentified:
            sheet["A1"].fill = warn_fill
        sheet.append([name for _, name, _ in q_cols])
        for j, (_, _, width) in enumerate(q_cols, start=1):
            sheet.cell(row=2, column=j).font, sheet.cell(row=2, column=j).fill = bold, head_fill
            sheet.column_dimensions[get_column_letter(j)].width = width
        for r in tq.to_dict("records"):
            values = [KIND_NAMES.get(r["kind"], r["kind"]) if c == "kind" else r.get(c) for c, _, _ in q_cols]
            sheet.append([_cell(v) for v in values])
        for row in sheet.iter_rows(min_row=3):
            for cell in row:
                cell.alignment = wrap
        sheet.freeze_panes = "A3"

    # -- 汇总
    summ = wb.create_sheet("汇总", 1)
    summ.append([_cell("意见汇总" + (f"　{warning}" if not deidentified else ""))])
    summ["A1"].font = warn_font if not deidentified else Font(bold=True, size=13)
    if not deidentified:
        summ["A1"].fill = warn_fill
    total = max(summary.n_comments, 1)

    def table(title: str, frame: pd.DataFrame, row_name: str):
        summ.append([])
        summ.append([title])
        summ.cell(row=summ.max_row, column=1).font = bold
        cols = list(frame.columns)
        summ.append([row_name] + cols + ["合计", "占全部意见"])
        for cell in summ[summ.max_row]:
            cell.font, cell.fill = bold, head_fill
        for idx, row in frame.iterrows():
            n = int(row.sum())
            summ.append([_cell(str(idx))] + [int(v) for v in row] + [n, round(n / total, 4)])
            summ.cell(row=summ.max_row, column=len(cols) + 3).number_format = "0.0%"
        sums = frame.sum(axis=0)
        summ.append(["合计"] + [int(v) for v in sums] + [int(sums.sum()), round(sums.sum() / total, 4)])
        summ.cell(row=summ.max_row, column=len(cols) + 3).number_format = "0.0%"
        for cell in summ[summ.max_row]:
            cell.font = bold

    tk = summary.topic_kind.copy()
    tk.index = [taxonomy.name_of(t) for t in tk.index]
    tk.columns = [KIND_NAMES.get(k, k) for k in tk.columns]
    table("按议题 × 类型（条）", tk, "议题")
    for title, frame, label in (("按地区 × 议题（条）", summary.region_topic, "地区"),
                                ("按单位类型 × 议题（条）", summary.org_topic, "单位类型")):
        f = frame.copy()
        f.columns = [taxonomy.name_of(c) for c in f.columns]
        f.index = [i if _known(i) else "未注明" for i in f.index]
        table(title, f, label)
    summ.column_dimensions["A"].width = 18
    for j in range(2, 12):
        summ.column_dimensions[get_column_letter(j)].width = 13

    # -- 说明: what each column of 意见明细 means
    legend = wb.create_sheet("说明", 2)
    if not deidentified:
        legend.append([warning])
        legend["A1"].font, legend["A1"].fill = warn_font, warn_fill
    legend.append(["列名（勿改）", "中文名", "说明"])
    for cell in legend[legend.max_row]:
        cell.font, cell.fill = bold, head_fill
    for col, cname, meaning, _ in DETAIL_COLUMNS:
        legend.append([col, cname, meaning])
    legend.append([])
    legend.append(["", "复核方法", "在 reviewed_* 列从下拉中选择更正后的值（不改的留空），填写 reviewer 和 note；"
                               "其余列不要修改，表头第一行保持英文列名。"])
    for letter, width in (("A", 22), ("B", 14), ("C", 60)):
        legend.column_dimensions[letter].width = width

    buf = io.BytesIO()
    wb.save(buf)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buf.getvalue()))


# ---------------------------------------------------------------- entry point

def write_all(out_dir: Path, comments: pd.DataFrame, quotes: pd.DataFrame, respondents: pd.DataFrame,
              taxonomy, cfg: dict, record: dict) -> dict[str, Path]:
    """Write out_dir/quotes.xlsx, report.docx and report.html atomically; returns their paths."""
    out_dir = Path(out_dir)
    deidentified = bool(record.get("deidentified", True))
    summary = summarise(comments, respondents, taxonomy, cfg)
    figures, png, svg, notes, _font = render_figures(summary, taxonomy, cfg)
    blocks = build_blocks(comments, quotes, summary, taxonomy, cfg, record, figures)
    paths = {
        "quotes": write_xlsx(out_dir / "quotes.xlsx", comments, quotes, summary, taxonomy, deidentified),
        "docx": write_docx(out_dir / "report.docx", blocks, png, notes, deidentified),
        "html": write_text(out_dir / "report.html", render_html(blocks, svg, deidentified)),
    }
    return paths
