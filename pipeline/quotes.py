"""Classified comments → representative quotes per topic × kind (central, diverse, spread out) and a `representative` flag."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.segment import SENTENCE_BOUNDARY, normalise_text

QUOTE_COLUMNS = [
    "topic", "topic_name", "kind", "rank", "comment_id", "doc_id", "source", "turn",
    "sentence_index", "start", "end", "text", "attribution", "region", "org_type", "form",
    "speaker", "topic_confidence", "sentiment",
]

# Metadata values that say nothing about the respondent: never shown, never "covered".
UNKNOWN_VALUES = {"", "未注明", "未知", "不详", "混合", "其他", "nan", "None"}
ENTERPRISE_ORGS = ("企业", "公司", "商户", "个体")
ENTERPRISE_TITLES = ("董事长", "总经理", "经理", "总裁", "总监", "厂长", "老板", "负责人", "总")
CADRE_TITLES = ("书记", "主任", "科长", "局长", "处长", "县长", "区长", "镇长", "乡长", "市长",
                "部长", "主席", "站长", "所长", "股长", "队长", "委员", "干部", "领导")
SURVEY_FORMS = ("问卷", "调查", "survey")
TOKEN_PATTERN = r"(?u)\S*\w\S*"        # space-joined tokens that contain a word character


# ---------------------------------------------------------------- attribution

def _known(value) -> str:
    value = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
    return "" if value in UNKNOWN_VALUES else value


def is_survey(row: dict) -> bool:
    form = _known(row.get("form"))
    return bool(_known(row.get("respondent_id"))) or any(f in form for f in SURVEY_FORMS)


def role_noun(org_type: str, title_text: str) -> str:
    """干部 / 企业负责人 / 代表 … from the organisation type and title keywords (never a name)."""
    enterprise = any(k in org_type for k in ENTERPRISE_ORGS)
    exec_title = any(k in title_text for k in ENTERPRISE_TITLES)
    cadre_title = any(k in title_text for k in CADRE_TITLES)
    if enterprise:
        return "负责人" if exec_title or cadre_title else "代表"
    if exec_title and not cadre_title:
        return "企业负责人"
    if org_type and "事业" in org_type and not cadre_title:
        return "工作人员"
    return "干部"


def attribution(row: dict, title_text: str = "") -> str:
    """A reader-facing source label by role: "临川区乡镇（街道）干部（座谈）", "问卷受访者（党政机关，东湖区）".

    `title_text` is the speaker's title (and label) used only for keywords; no name is ever copied.
    """
    region, org, form = _known(row.get("region")), _known(row.get("org_type")), _known(row.get("form"))
    if is_survey(row):
        details = "，".join(v for v in (org, region) if v)
        return f"问卷受访者（{details}）" if details else "问卷受访者"
    noun = role_noun(org, title_text)
    if noun == "企业负责人" and not org:
        label = f"{region}企业负责人"
    elif not org:
        label = f"{region}受访{noun}" if noun == "干部" else f"{region}{noun}"
        label = label if region or noun != "干部" else "受访干部"
    else:
        label = f"{region}{org}{noun}"
    return f"{label}（{form}）" if form else label


# ---------------------------------------------------------------- text helpers

def char_ngrams(text: str, n: int = 3) -> frozenset[str]:
    core = re.sub(r"[\W_]+", "", text)
    if len(core) < n:
        return frozenset([core]) if core else frozenset()
    return frozenset(core[i:i + n] for i in range(len(core) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _boundaries(text: str) -> list[int]:
    """Offsets just after each sentence end in text (the end of text excluded)."""
    return [m.end() for m in SENTENCE_BOUNDARY.finditer(text) if m.end() < len(text)]


TRAILING_SOFT = "，,、：:；;"
LEAD_PUNCT = "，,、：:．. "


def _raw_end(text: str, start: int, end: int, document: str | None, n_chars: int) -> int | None:
    """End offset whose normalised document span is text[:n_chars], or None when unknown."""
    target = text[:n_chars]
    if len(text) == end - start:       # no whitespace was collapsed: offsets map one to one
        return start + n_chars
    if document is None:
        return None
    raw = document[start:end]
    for b in range(len(raw), 0, -1):
        if normalise_text(raw[:b]) == target:
            return start + len(raw[:b].rstrip())
    return None


def _raw_start(text: str, start: int, end: int, document: str | None, n_chars: int) -> int | None:
    """Start offset whose normalised document span is text[n_chars:], or None when unknown."""
    if len(text) == end - start:
        return start + n_chars
    if document is None:
        return None
    raw = document[start:end]
    for b in range(len(raw)):
        if normalise_text(raw[b:]) == text[n_chars:]:
            return start + b + (len(raw[b:]) - len(raw[b:].lstrip()))
    return None


def _lead_length(text: str, markers: tuple[str, ...]) -> int:
    """Length of an enumeration marker opening the text plus its punctuation: "一是", "第二，",
    "首先，" — but not the 第四 of "第四个，…" nor the 最后 of "最后考核的时候…"."""
    for marker in markers:
        if marker and text.startswith(marker):
            n = len(marker)
            if not (marker.endswith("是") or (n < len(text) and text[n] in LEAD_PUNCT)):
                return 0
            while n < len(text) and text[n] in LEAD_PUNCT:
                n += 1
            return n
    return 0


def fit_span(row: dict, min_chars: int, max_chars: int, document: str | None = None,
             markers: tuple[str, ...] = ()):
    """(text, start, end) of the quotable part of a comment, or None.

    A comment within min..max chars is used whole. A longer one is cut after the last sentence end
    that keeps it within max_chars (never mid-sentence). A leading enumeration marker ("一是",
    "第二，") and trailing comma or semicolon are dropped. Offsets move with every cut so that the
    quote is still exactly the normalised text of document[start:end].
    """
    text, start, end = row["text"], int(row["start"]), int(row["end"])
    lead = _lead_length(text, markers)
    if lead:
        new_start = _raw_start(text, start, end, document, lead)
        if new_start is not None and lead < len(text):
            text, start = text[lead:], new_start
    keep = len(text)
    if keep > max_chars:
        cuts = [b for b in _boundaries(text) if min_chars <= len(text[:b].rstrip()) <= max_chars]
        if not cuts:
            return None
        keep = len(text[:cuts[-1]].rstrip())
    while keep and text[keep - 1] in TRAILING_SOFT:       # "…都管，" reads better as "…都管"
        keep = len(text[:keep - 1].rstrip())
    if keep < min_chars:
        return None
    if keep == len(text):
        return text, start, end
    new_end = _raw_end(text, start, end, document, keep)
    return (text[:keep], start, new_end) if new_end is not None else None


# ---------------------------------------------------------------- selection

def respondent_key(row: dict) -> str:
    """One person: the survey respondent id, else doc + speaker label (unlabelled turns of a
    document count as one person, which never over-counts diversity)."""
    rid = _known(row.get("respondent_id"))
    if rid:
        return f"{row['doc_id']}#{rid}"
    return f"{row['doc_id']}:{row.get('speaker') or ''}"


def _speaker_titles(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    """A speaker's title is written on their first turn only; carry it to every turn."""
    titles: dict[tuple[str, str], str] = {}
    for doc, speaker, title in zip(frame["doc_id"], frame["speaker"].fillna(""),
                                   frame["speaker_title"].fillna("")):
        if title and (doc, speaker) not in titles:
            titles[(doc, speaker)] = title
    return titles


def _select_group(cands: pd.DataFrame, sims_center: np.ndarray, C, n: int, lam: float,
                  dup_threshold: float, used_people: set, topic_grams: list) -> list[int]:
    """Greedy maximal marginal relevance with coverage tiers; returns positions into cands.

    Each pick is the available candidate with (1) the most not-yet-covered of {region, org type},
    then (2) the best λ·centrality − (1−λ)·max similarity to the picks so far (centrality is the
    cosine to the group centroid, damped for quotes shorter than twice min_chars), then (3) the
    smallest comment_id (cands is sorted by it). A candidate is unavailable when its respondent
    is already quoted in this topic or it is a near-duplicate of a quote of this topic.
    Similarities to picks are computed one pick at a time, so large groups stay cheap.
    """
    size = len(cands)
    grams = [char_ngrams(t) for t in cands["text"]]
    people = np.array([respondent_key(r) for r in cands.to_dict("records")], dtype=object)
    regions = np.array([_known(v) for v in cands["region"]], dtype=object)
    orgs = np.array([_known(v) for v in cands["org_type"]], dtype=object)
    available = np.array([p not in used_people for p in people], dtype=bool)
    for g in topic_grams:
        available &= np.array([jaccard(x, g) < dup_threshold for x in grams], dtype=bool)
    redundancy = np.zeros(size)
    covered_regions, covered_orgs = set(), set()
    chosen: list[int] = []
    while len(chosen) < n and available.any():
        novelty = (np.array([bool(r) and r not in covered_regions for r in regions], dtype=int)
                   + np.array([bool(o) and o not in covered_orgs for o in orgs], dtype=int))
        score = np.round(lam * sims_center - (1 - lam) * redundancy, 9)
        candidates = np.flatnonzero(available)
        top = candidates[novelty[candidates] == novelty[candidates].max()]
        top = top[score[top] == score[top].max()]
        best = int(top[0])
        chosen.append(best)
        used_people.add(people[best])
        topic_grams.append(grams[best])
        covered_regions.add(regions[best])
        covered_orgs.add(orgs[best])
        available &= people != people[best]
        available &= np.array([jaccard(x, grams[best]) < dup_threshold for x in grams], dtype=bool)
        available[best] = False
        if C is not None:
            sims = np.asarray((C @ C[best].T).todense()).ravel()
            redundancy = np.maximum(redundancy, sims)
    return chosen


def select(comments: pd.DataFrame, taxonomy, cfg: dict,
           documents: dict[str, str] | None = None) -> pd.DataFrame:
    """The quotes frame (QUOTE_COLUMNS), one row per selected quote, in taxonomy × kind × rank order."""
    qcfg = cfg["quotes"]
    per_group = int(qcfg["per_group"])
    min_chars, max_chars = int(qcfg["min_chars"]), int(qcfg["max_chars"])
    min_conf = float(qcfg["min_confidence"])
    min_kind_conf = float(qcfg.get("min_kind_confidence", 0.5))
    agree = bool(qcfg.get("sentiment_agreement", True))
    pos_threshold = float(cfg.get("sentiment", {}).get("pos_threshold", 0.6))
    lam = float(qcfg["mmr_lambda"])
    dup = float(qcfg["near_duplicate_jaccard"])
    markers = tuple(sorted(cfg.get("segment", {}).get("enumeration_markers", []), key=len, reverse=True))
    topics = list(taxonomy.topic_ids)
    if qcfg.get("include_other_topic", False) and taxonomy.other:
        topics.append(taxonomy.other)

    pool = comments[(comments["role"] == "respondent") & comments["classified"].astype(bool)
                    & comments["text"].fillna("").str.strip().astype(bool)]
    pool = pool.sort_values("comment_id", kind="stable").reset_index(drop=True)
    rows: list[dict] = []
    if pool.empty or per_group <= 0:
        return pd.DataFrame(rows, columns=QUOTE_COLUMNS)

    vectoriser = TfidfVectorizer(token_pattern=TOKEN_PATTERN, lowercase=False, sublinear_tf=True,
                                 norm="l2")
    try:
        X = vectoriser.fit_transform(pool["tokens"].fillna("").astype(str))
    except ValueError:                  # empty vocabulary: every comment is punctuation
        X = None
    titles = _speaker_titles(comments)
    kind_conf = (pool["kind_confidence"].astype(float) if "kind_confidence" in pool
                 else pd.Series(1.0, index=pool.index))
    # A quote shown as an achievement should sound positive and a problem should not.
    score = pd.to_numeric(pool["sentiment"], errors="coerce") if "sentiment" in pool \
        else pd.Series(np.nan, index=pool.index)
    agrees = pd.Series(True, index=pool.index)
    if agree:
        agrees = ~(((pool["kind"] == "achievement") & (score < pos_threshold))
                   | ((pool["kind"] == "problem") & (score >= pos_threshold)))

    for topic in topics:
        used_people: set[str] = set()
        topic_grams: list[frozenset] = []
        for kind in taxonomy.kinds:
            group = pool[(pool["topic"] == topic) & (pool["kind"] == kind)
                         & (pool["topic_confidence"].astype(float) >= min_conf)
                         & (kind_conf >= min_kind_conf) & agrees]
            if group.empty:
                continue
            fitted = []
            for idx, row in zip(group.index, group.to_dict("records")):
                doc = documents.get(row["doc_id"]) if documents else None
                span = fit_span(row, min_chars, max_chars, doc, markers)
                if span:
                    fitted.append((idx, span))
            if not fitted:
                continue
            if X is not None:
                G = X[list(group.index)]
                centroid = np.asarray(G.mean(axis=0)).ravel()
                norm = np.linalg.norm(centroid)
                centroid = centroid / norm if norm else centroid
                C = X[[i for i, _ in fitted]]
                sims_center = np.asarray(C @ centroid).ravel()
            else:
                C, sims_center = None, np.zeros(len(fitted))
            # Short generic remarks ("考核也有问题。") sit closest to any centroid; temper that so a
            # quote of at least twice the minimum length is not outranked by a fragment.
            lengths = np.array([len(span[0]) for _, span in fitted], dtype=float)
            sims_center = sims_center * np.sqrt(np.minimum(1.0, lengths / (2.0 * max(min_chars, 1))))
            cands = pool.loc[[i for i, _ in fitted]].copy()
            cands["text"] = [s[0] for _, s in fitted]
            cands["start"] = [s[1] for _, s in fitted]
            cands["end"] = [s[2] for _, s in fitted]
            cands = cands.reset_index(drop=True)
            picked = _select_group(cands, sims_center, C, per_group, lam, dup, used_people,
                                   topic_grams)
            for rank, i in enumerate(picked, start=1):
                r = cands.iloc[i].to_dict()
                title = titles.get((r["doc_id"], r.get("speaker") or ""), "")
                rows.append({
                    "topic": topic, "topic_name": taxonomy.name_of(topic), "kind": kind,
                    "rank": rank, "comment_id": r["comment_id"], "doc_id": r["doc_id"],
                    "source": r["source"], "turn": int(r["turn"]),
                    "sentence_index": int(r["sentence_index"]), "start": int(r["start"]),
                    "end": int(r["end"]), "text": r["text"],
                    "attribution": attribution(r, f"{title} {r.get('speaker') or ''}"),
                    "region": r.get("region", ""), "org_type": r.get("org_type", ""),
                    "form": r.get("form", ""), "speaker": r.get("speaker", ""),
                    "topic_confidence": round(float(r["topic_confidence"]), 4),
                    "sentiment": round(float(r["sentiment"]), 4) if pd.notna(r.get("sentiment"))
                    else np.nan,
                })
    return pd.DataFrame(rows, columns=QUOTE_COLUMNS)


def run(comments: pd.DataFrame, taxonomy, cfg: dict,
        documents: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(comments with a boolean `representative` column, quotes frame).

    Pass `documents` ({doc_id: normalised text}) to let long comments be cut at a sentence
    boundary even when their whitespace was collapsed; without it such comments are skipped.
    """
    quotes = select(comments, taxonomy, cfg, documents)
    out = comments.copy()
    out["representative"] = out["comment_id"].isin(set(quotes["comment_id"]))
    return out, quotes
