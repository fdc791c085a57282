"""Comment texts + jieba tokens → the plain-string feature columns every saved model reads.

Segmentation, seed-term matching (spaCy PhraseMatcher) and negation/contrast marking happen
here, outside scikit-learn, so a saved estimator holds only vectorisers and linear models and
loads with skops without trusting any custom code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from pipeline.config import PROJ_ROOT, load_yaml
from pipeline.segment import Segmenter
from pipeline.taxonomy import Taxonomy

FEATURE_COLUMNS = ["words", "chars", "seeds", "marks", "edges"]
PUNCT = re.compile(r"^[\W_]+$")
CLAUSE_END = set("，,。！？!?；;：:…、")
DEFAULT_LEXICON = PROJ_ROOT / "configs" / "sentiment.yaml"


@dataclass(frozen=True)
class Lexicon:
    negators: frozenset[str]
    negative_hedges: frozenset[str]
    positive_hedges: frozenset[str]
    turns: frozenset[str]

    @classmethod
    def load(cls, path: Path = DEFAULT_LEXICON) -> "Lexicon":
        data = load_yaml(path)
        return cls(frozenset(data["negators"]), frozenset(data["hedges"]["negative"]),
                   frozenset(data["hedges"]["positive"]), frozenset(data["contrast"]["turns"]))


class FeatureBuilder:
    """Builds the feature frame; owns the PhraseMatcher for the taxonomy's seed terms."""

    def __init__(self, segmenter: Segmenter, taxonomy: Taxonomy, lexicon: Lexicon | None = None):
        self.segmenter = segmenter
        self.lexicon = lexicon or Lexicon.load()
        # A blank Chinese pipeline: only its vocab is used, Docs are built from our jieba tokens.
        self.nlp = spacy.blank("zh")
        self.matcher = PhraseMatcher(self.nlp.vocab)
        # First tokens of every pattern: a comment without any of them cannot match, so no Doc is built.
        self.first_tokens: set[str] = set()
        for topic in taxonomy.topics:
            patterns = [Doc(self.nlp.vocab, words=segmenter.tokens(term)) for term in topic.seed_terms]
            patterns = [p for p in patterns if len(p)]
            if patterns:
                self.matcher.add(topic.id, patterns)
                self.first_tokens.update(p[0].text for p in patterns)

    def seed_hits(self, tokens: list[str]) -> list[tuple[str, str]]:
        """[(topic id, matched term)] in text order."""
        if not self.first_tokens.intersection(tokens):
            return []
        doc = Doc(self.nlp.vocab, words=tokens)
        return [(self.nlp.vocab.strings[mid], doc[s:e].text) for mid, s, e in self.matcher(doc)]

    def marks(self, tokens: list[str]) -> list[str]:
        """Negation scope (NEG_x), the clause after a contrast turn (TURN_x) and hedge markers."""
        lex, out = self.lexicon, []
        negated = False
        last_turn = max((i for i, t in enumerate(tokens) if t in lex.turns), default=-1)
        for i, tok in enumerate(tokens):
            if tok in CLAUSE_END or PUNCT.match(tok):
                negated = False
                continue
            if tok in lex.negators:
                out.append("NEGATOR")
                negated = True
                continue
            if negated:
                out.append("NEG_" + tok)
            if i > last_turn >= 0:
                out.append("TURN_" + tok)
            if tok in lex.negative_hedges:
                out.append("HEDGE_NEG")
            if tok in lex.positive_hedges:
                out.append("HEDGE_POS")
        if last_turn >= 0:
            out.append("HAS_TURN")
        return out

    def edges(self, tokens: list[str]) -> list[str]:
        """Where a comment starts and ends: its first word, its last two and its closing punctuation
        (START_x, END_x, ENDP_x). They carry its mood — a wish (…就好了), a question (…吗？), a
        report — and help the kind head (5-fold CV +0.006), whatever the words in between."""
        words = [t for t in tokens if t.strip() and not PUNCT.match(t)]
        last = next((t for t in reversed(tokens) if t.strip()), "")
        return ([f"START_{t}" for t in words[:1]] + [f"END_{t}" for t in words[-2:]]
                + ["ENDP_" + (last if PUNCT.match(last) else "NONE")])

    def after_turn(self, tokens: list[str]) -> list[str] | None:
        """Tokens after the last contrast turn (但是, 而是, 不过…) when a real clause follows it."""
        turns = [i for i, t in enumerate(tokens) if t in self.lexicon.turns and i > 0]
        if not turns:
            return None
        rest = tokens[turns[-1] + 1:]
        return rest if len(self.segmenter.content_tokens(rest)) >= 2 else None

    def frame(self, texts: list[str], tokens: list[str] | list[list[str]]) -> pd.DataFrame:
        """Texts and their tokens (lists or space-joined strings) → the feature frame."""
        rows = []
        for text, toks in zip(texts, tokens):
            toks = toks.split() if isinstance(toks, str) else list(toks)
            hits = self.seed_hits(toks)
            rows.append({
                "words": " ".join(self.segmenter.content_tokens(toks)),
                "chars": re.sub(r"\s+", "", str(text)).lower(),
                "seeds": " ".join(f"SEED_{tid}" for tid, _ in hits),
                "marks": " ".join(self.marks(toks)),
                "edges": " ".join(self.edges(toks)),
            })
        return pd.DataFrame(rows, columns=FEATURE_COLUMNS)

    def tokenize(self, texts: list[str]) -> list[list[str]]:
        return [self.segmenter.tokens(str(t)) for t in texts]
