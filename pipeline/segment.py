"""Turns → comments: sentence split with offsets into the document, width/whitespace normalised, jieba tokens."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jieba
import pandas as pd

from pipeline.config import resolve
from pipeline.schema import COMMENT_COLUMNS

SENTENCE_END = "。！？；!?;…"
CLOSERS = "”’」』）)】\"'"
# A sentence ends after a run of terminators, plus any closing quotes/brackets right after it.
SENTENCE_BOUNDARY = re.compile(rf"[{SENTENCE_END}]+[{re.escape(CLOSERS)}]*|\n+")
SOFT_BOUNDARY = re.compile(r"[，,、：:]")
WHITESPACE = re.compile(r"\s+")
CJK = r"\u4e00-\u9fff\u3000-\u303f\uff00-\uffef"
SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{CJK}]) (?=[{CJK}])")


def normalise_width(text: str) -> str:
    """Full-width letters, digits and space → ASCII; Chinese punctuation is kept as written."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\u3000":
            out.append(" ")
        elif 0xFF10 <= code <= 0xFF19 or 0xFF21 <= code <= 0xFF3A or 0xFF41 <= code <= 0xFF5A:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def normalise_text(span: str) -> str:
    """The comment text shown to users: width-normalised, whitespace collapsed and trimmed."""
    text = WHITESPACE.sub(" ", normalise_width(span)).strip()
    return SPACE_BETWEEN_CJK.sub("", text)


def sentence_spans(text: str, start: int, end: int, markers: list[str], max_chars: int) -> list[tuple[int, int]]:
    """Character spans of sentences within text[start:end]; enumerations start a new span."""
    spans, cursor = [], start
    chunk = text[start:end]
    for m in SENTENCE_BOUNDARY.finditer(chunk):
        spans.append((cursor, start + m.end()))
        cursor = start + m.end()
    if cursor < end:
        spans.append((cursor, end))
    if markers:
        enum = re.compile("(?<=[，,；;：:。\\s])(?=(?:" + "|".join(map(re.escape, markers)) + "))")
        split = []
        for s, e in spans:
            cuts = [s] + [s + m.start() for m in enum.finditer(text[s:e]) if m.start() > 0] + [e]
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
    while s < e and (text[s].isspace() or text[s] in "，,、"):
        s += 1
    while e > s and text[e - 1].isspace():
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
    """Turn records + {doc_id: normalised text} → comment records (schema in pipeline.schema)."""
    scfg = cfg["segment"]
    rows = []
    for turn in turns.to_dict("records"):
        text = documents[turn["doc_id"]]
        spans = sentence_spans(text, int(turn["start"]), int(turn["end"]),
                               scfg["enumeration_markers"], scfg["max_chars"])
        spans = merge_short(spans, text, scfg["min_chars"])
        for i, (s, e) in enumerate(spans):
            comment = normalise_text(text[s:e])
            rows.append({**turn, "comment_id": f"{turn['doc_id']}-{int(turn['turn']):04d}-{i:02d}",
                         "sentence_index": i, "start": s, "end": e, "text": comment,
                         "tokens": " ".join(segmenter.tokens(comment))})
    return pd.DataFrame(rows, columns=list(dict.fromkeys(COMMENT_COLUMNS + list(turns.columns))))
