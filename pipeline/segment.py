"""Turns → comments: sentence split with offsets into the document, width/whitespace normalised, jieba tokens."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import jieba
import pandas as pd

from pipeline.config import resolve

# jieba's import sets its own logger to DEBUG; its start-up chatter is not ours to print.
logging.getLogger("jieba").setLevel(logging.WARNING)
from pipeline.schema import COMMENT_COLUMNS

SENTENCE_END = "。！？；!?;…"
CLOSERS = "”’」』）)】\"'"
# A half-width full stop ends a sentence unless it sits in a number, a URL or a Latin word (3.5, a.com).
ALNUM = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"     # ASCII and full-width
HALF_STOP = rf"(?<![{ALNUM}])\.(?![{ALNUM}])"
# A sentence ends after a run of terminators, plus any closing quotes/brackets right after it.
SENTENCE_BOUNDARY = re.compile(rf"(?:[{SENTENCE_END}]|{HALF_STOP})+[{re.escape(CLOSERS)}]*|\n+")
SOFT_BOUNDARY = re.compile(r"[，,、：:]")
# Separators that may open or close a sentence piece; they are not part of any comment.
SEPARATORS = "，,、"
# "第一" counts as an enumeration marker unless a measure word follows (第一次, 第二天, 第一书记).
ORDINAL_NOT_ENUM = "次个天年月日批名位届期轮种类件项家季周百千万十书把手线"
# Full-width symbols that are not Chinese punctuation; they become their ASCII forms.
FULLWIDTH_SYMBOLS = "＃＄％＆＊＋－／＜＝＞＠＼＾＿｀｜"
WHITESPACE = re.compile(r"\s+")
CJK = r"\u4e00-\u9fff\u3000-\u303f\uff00-\uffef\u2018-\u201d\u2026"
# A space next to a Chinese character or punctuation mark is layout, not content ("用 OA 系统" →
# "用OA系统"); spaces between Latin words or numbers stay ("Speaker 3").
SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{CJK}]) | (?=[{CJK}])")


def normalise_width(text: str) -> str:
    """Full-width letters, digits, symbols (％＋…) and space → ASCII; Chinese punctuation
    (，。！？：；（）“”) is kept as written. One character in, one character out."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\u3000":
            out.append(" ")
        elif (0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A
              or ch in FULLWIDTH_SYMBOLS):
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def normalise_text(span: str) -> str:
    """The comment text shown to users: width-normalised, whitespace collapsed and trimmed, and no
    space next to Chinese text."""
    text = WHITESPACE.sub(" ", normalise_width(span)).strip()
    return SPACE_NEXT_TO_CJK.sub("", text)


@lru_cache(maxsize=16)
def _enumeration_pattern(markers: tuple[str, ...]) -> re.Pattern:
    alternatives = [re.escape(m) + (f"(?![{ORDINAL_NOT_ENUM}])" if m.startswith("第") else "")
                    for m in sorted(markers, key=len, reverse=True)]
    return re.compile(r"(?:^|(?<=[，,；;：:。\s]))(?:" + "|".join(alternatives) + ")")


def sentence_spans(text: str, start: int, end: int, markers: list[str], max_chars: int,
                   split_sentences: bool = True) -> list[tuple[int, int]]:
    """Character spans of sentences within text[start:end].

    A sentence ends at 。！？；… (or their half-width forms) and keeps the closing quotes or brackets
    that follow (“不行。” stays whole). Within a sentence that enumerates — two or more markers such
    as 一是…二是…, 首先…其次… after a clause break — each item starts a new span. Spans longer than
    max_chars are cut at commas. Separators (，、) and spaces at either end are left out.
    With split_sentences=False only enumerations and over-long text are split.
    """
    spans, cursor = [], start
    chunk = text[start:end]
    for m in SENTENCE_BOUNDARY.finditer(chunk) if split_sentences else ():
        spans.append((cursor, start + m.end()))
        cursor = start + m.end()
    if cursor < end:
        spans.append((cursor, end))
    if markers:
        enum = _enumeration_pattern(tuple(markers))
        split = []
        for s, e in spans:
            hits = [m.start() for m in enum.finditer(text, s, e)]
            cuts = [s] + [h for h in hits if h > s] + [e] if len(hits) >= 2 else [s, e]
            split.extend(zip(cuts, cuts[1:]))
        spans = split
    out = []
    for s, e in spans:
        out.extend(_split_long(text, s, e, max_chars))
    return [(s, e) for s, e in (_trim(text, s, e) for s, e in out) if e > s]


def _split_long(text: str, s: int, e: int, max_chars: int) -> list[tuple[int, int]]:
    if e - s <= max_chars:
        return [(s, e)]
    cuts, last = [s], s
    for m in SOFT_BOUNDARY.finditer(text, s, e):
        if m.end() - last >= max_chars // 2 and e - m.end() >= 10:
            cuts.append(m.end())
            last = m.end()
    cuts.append(e)
    return list(zip(cuts, cuts[1:]))


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and (text[s].isspace() or text[s] in SEPARATORS):
        s += 1
    while e > s and (text[e - 1].isspace() or text[e - 1] in SEPARATORS):
        e -= 1
    return s, e


def merge_short(spans: list[tuple[int, int]], text: str, min_chars: int) -> list[tuple[int, int]]:
    """Fragments with fewer than min_chars meaningful characters join a neighbour (the previous one
    when there is one), so no piece of text is lost."""
    def size(s, e):
        return len(re.sub(r"[\W_]+", "", text[s:e]))

    merged: list[list[int]] = []
    for s, e in spans:
        if merged and size(s, e) < min_chars:
            merged[-1][1] = e
        elif merged and size(*merged[-1]) < min_chars:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


class Segmenter:
    """Owns a jieba.Tokenizer loaded with the user dictionary; never touches jieba's global state."""

    def __init__(self, userdict: Path | None = None, stopwords: Path | None = None,
                 extra_words: tuple[str, ...] = ()):
        self.tokenizer = jieba.Tokenizer()
        self.tokenizer.initialize()
        if userdict and Path(userdict).exists():
            self.tokenizer.load_userdict(str(userdict))
        for word in extra_words:
            self.tokenizer.add_word(word, freq=20)
        self.stopwords = set()
        if stopwords and Path(stopwords).exists():
            self.stopwords = {w.strip() for w in Path(stopwords).read_text(encoding="utf-8").splitlines()
                              if w.strip()}

    def tokens(self, text: str) -> list[str]:
        return [t for t in self.tokenizer.lcut(text) if t.strip()]

    def content_tokens(self, tokens: list[str]) -> list[str]:
        """Tokens without stopwords and punctuation: what the classifiers see as words."""
        return [t for t in tokens if t not in self.stopwords and re.search(r"\w", t)]


@lru_cache(maxsize=4)
def _cached_segmenter(userdict: str, stopwords: str, extra_words: tuple[str, ...]) -> Segmenter:
    return Segmenter(Path(userdict), Path(stopwords), extra_words)


def segmenter_from_config(cfg: dict, extra_words: tuple[str, ...] = ()) -> Segmenter:
    """The shared segmenter for a config (jieba's dictionary load takes about a second)."""
    return _cached_segmenter(str(resolve(cfg["paths"]["userdict"])),
                             str(resolve(cfg["paths"]["stopwords"])), tuple(extra_words))


def run(turns: pd.DataFrame, documents: dict[str, str], cfg: dict, segmenter: Segmenter) -> pd.DataFrame:
    """Turn records + {doc_id: normalised text} → comment records (schema in pipeline.schema).

    Transcript turns are split into sentences and enumeration items; a survey answer (a turn with
    a respondent_id) stays one comment unless it enumerates (一是…二是…) or is longer than
    segment.max_chars. Fragments shorter than segment.min_chars join a neighbour."""
    scfg = cfg["segment"]
    rows = []
    for turn in turns.to_dict("records"):
        text = documents[turn["doc_id"]]
        start, end = int(turn["start"]), int(turn["end"])
        spans = sentence_spans(text, start, end, scfg["enumeration_markers"], scfg["max_chars"],
                               split_sentences=not _is_survey_answer(turn))
        spans = merge_short(spans, text, scfg["min_chars"])
        for i, (s, e) in enumerate(spans):
            comment = normalise_text(text[s:e])
            rows.append({**turn, "comment_id": f"{turn['doc_id']}-{int(turn['turn']):04d}-{i:02d}",
                         "sentence_index": i, "start": s, "end": e, "text": comment,
                         "tokens": " ".join(segmenter.tokens(comment))})
    return pd.DataFrame(rows, columns=list(dict.fromkeys(COMMENT_COLUMNS + list(turns.columns))))


def _is_survey_answer(turn: dict) -> bool:
    rid = turn.get("respondent_id")
    return isinstance(rid, str) and rid.strip() != ""
