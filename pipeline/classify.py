"""Comments → topic, topics, kind with calibrated confidences and evidence, from a saved model folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import models
from pipeline.errors import DiaoyanError
from pipeline.features import FeatureBuilder
from pipeline.segment import segmenter_from_config
from pipeline.taxonomy import Taxonomy

HEADS = ("topic", "kind", "sentiment")


@dataclass
class Model:
    """A loaded model folder: fitted heads, their metadata and the feature builder they expect."""
    heads: dict
    meta: dict
    taxonomy: Taxonomy
    features: FeatureBuilder
    model_dir: Path

    @property
    def version(self) -> str:
        return f"{self.model_dir.name}@{self.meta.get('created', '?')}"

    def has(self, head: str) -> bool:
        return head in self.heads

    @property
    def shared(self):
        return next(iter(self.heads.values())).features

    def matrix(self, texts: list[str], tokens: list[str]):
        """The shared feature matrix every head reads: comments are vectorised once."""
        return models.transform(self.shared, self.features.frame(texts, tokens))


def feature_builder(cfg: dict, taxonomy: Taxonomy) -> FeatureBuilder:
    """The segmenter (user dictionary + seed terms as words) and feature builder for a taxonomy."""
    seeds = tuple(term for t in taxonomy.topics for term in t.seed_terms)
    return FeatureBuilder(segmenter_from_config(cfg, seeds), taxonomy)


def load_model(model_dir: Path, taxonomy: Taxonomy, cfg: dict) -> Model:
    """Load a model folder; refuse one trained on a different taxonomy."""
    heads, meta = models.load_heads(model_dir)
    if meta.get("taxonomy_checksum") != taxonomy.checksum:
        raise DiaoyanError(
            f"the model in {model_dir} was trained on taxonomy {meta.get('taxonomy_name')!r} "
            f"with labels {meta.get('labels', {}).get('topic')}, which differs from the taxonomy in use "
            f"({taxonomy.name!r}: {taxonomy.labels})",
            hint="retrain with `make train` (or pass the matching --taxonomy / --model-dir)")
    return Model(heads, meta, taxonomy, feature_builder(cfg, taxonomy), Path(model_dir))


def decide_topics(proba: np.ndarray, labels: list[str], taxonomy: Taxonomy, ccfg: dict) -> tuple[list, list, list]:
    """Probabilities → (primary topic, its probability, all topics above the secondary threshold).

    The best topic must clear its threshold, else the comment is `other` (when the taxonomy has one).
    """
    other = taxonomy.other
    thresholds = {t: ccfg.get("topic_thresholds", {}).get(t, ccfg["topic_threshold"]) for t in labels}
    primary, conf, multi = [], [], []
    order = np.argsort(-proba, axis=1)
    for i in range(proba.shape[0]):
        best = labels[order[i, 0]]
        p = float(proba[i, order[i, 0]])
        if other and best != other and p < thresholds[best]:
            best, p = other, float(proba[i, labels.index(other)]) if other in labels else 1 - p
        above = [labels[j] for j in order[i] if labels[j] != other
                 and proba[i, j] >= ccfg["secondary_threshold"]]
        if best != other and best not in above:
            above.insert(0, best)
        primary.append(best)
        conf.append(round(p, 4))
        multi.append(";".join(above))
    return primary, conf, multi


def context_blend(proba: np.ndarray, groups: np.ndarray, weight: float | np.ndarray, window: int) -> np.ndarray:
    """Rows in reading order and a group key per row (one speaker's turn) → probabilities where each
    row keeps 1 − weight of its own and takes weight from the mean of its neighbours: up to `window`
    rows on each side with the same key. `weight` is one number or one per row. A row with no such
    neighbour is unchanged; with nothing to blend (weight or window 0) the input itself comes back.

    A segmenter cuts an answer into sentences, and a short piece ("这事拖了快一年了。") is about what
    the sentences around it are about.
    """
    proba = np.asarray(proba, dtype=float)
    weight = np.broadcast_to(np.asarray(weight, dtype=float), (len(proba),))
    if not (weight > 0).any() or window <= 0 or len(proba) < 2:
        return proba
    groups = np.asarray(groups)
    total, count = np.zeros_like(proba), np.zeros(len(proba))
    for offset in range(1, window + 1):
        same = groups[offset:] == groups[:-offset]        # row i and row i + offset share a turn
        total[:-offset][same] += proba[offset:][same]
        count[:-offset][same] += 1
        total[offset:][same] += proba[:-offset][same]
        count[offset:][same] += 1
    has = count > 0
    out = proba.copy()
    w = weight[has, None]
    out[has] = (1 - w) * proba[has] + w * total[has] / count[has, None]
    return out


# A numbered heading of a report or minutes: 三、存在的问题 (level 1), （一）督查检查偏多 (level 2).
HEADING = re.compile(r"^\s*(?:[一二三四五六七八九十]+、|第[一二三四五六七八九十]+部分|[（(][一二三四五六七八九十]+[）)])")
HEADING_MAX_CHARS = 40


def heading_level(text: str) -> int | None:
    """1 for a section heading, 2 for a sub-heading, None for a comment that is not a heading."""
    m = HEADING.match(text)
    if not m or len(text.strip()) > HEADING_MAX_CHARS:
        return None
    return 2 if m.group(0).strip()[0] in "（(" else 1


def answered_questions(comments: pd.DataFrame) -> pd.DataFrame:
    """Comment records in reading order → per comment the question it answers and where that came from:
    its questionnaire or table column header (`question`; from "survey"), else the numbered headings it
    sits under in a report or minutes ("四、对策建议"; from "heading"), else the last interviewer turn
    before it in the same document (from "interviewer"), whichever came last, else nothing ("", "").
    A heading itself answers the headings above it (（一）… under 三、存在的问题)."""
    header = comments["question"].fillna("").astype(str) if "question" in comments else pd.Series("", index=comments.index)
    turn_text = comments.groupby(["doc_id", "turn"], sort=False)["text"].transform("".join)
    last_asked: dict = {}
    headings: dict[str, list[tuple[int, str]]] = {}
    texts, sources = [], []
    for doc, role, own_header, whole_turn, text in zip(comments["doc_id"], comments["role"], header, turn_text,
                                                       comments["text"]):
        above = headings.setdefault(doc, [])
        if role == "interviewer":
            last_asked[doc] = whole_turn
            above.clear()
        level = heading_level(text) if role == "respondent" else None
        if level is not None:
            above[:] = [h for h in above if h[0] < level]
        if own_header:
            texts.append(own_header)
            sources.append("survey")
        elif above:
            texts.append(" ".join(h[1] for h in above))
            sources.append("heading")
        elif last_asked.get(doc):
            texts.append(last_asked[doc])
            sources.append("interviewer")
        else:
            texts.append("")
            sources.append("")
        if level is not None:
            above.append((level, text.strip()))
    return pd.DataFrame({"question_text": texts, "question_from": sources}, index=comments.index)


def asked_kind(question: str, cues: dict[str, list[str]]) -> str:
    """The kind a question asks for: the kind whose cue word ends last in it, so "针对这些问题，您有
    什么建议？" asks for suggestions; at the same end the longer cue wins (不满意 over 满意). "" if none."""
    best, best_at = "", (-1, 0)
    for kind, words in cues.items():
        for word in words:
            at = question.rfind(word)
            if at >= 0 and (at + len(word), len(word)) > best_at:
                best, best_at = kind, (at + len(word), len(word))
    return best


def topic_question_prior(question_proba: np.ndarray, labels: list[str], other: str | None,
                         weight: float) -> tuple[np.ndarray, np.ndarray]:
    """The topic head's probabilities for each comment's question → (prior, weight per row as a
    column, for models.with_voter). The prior
    is the question's topics without `other`, renormalised; its weight is `weight` × their mass, so a
    question about one area ("考核这块呢？") pulls its answers towards it and a generic one ("大家谈谈？")
    does not pull."""
    prior = np.array(question_proba, dtype=float)
    if other in labels:
        prior[:, labels.index(other)] = 0.0
    mass = prior.sum(1)
    return prior / np.maximum(mass, 1e-12)[:, None], np.clip(weight * mass, 0.0, 1.0)[:, None]


def kind_question_prior(questions: pd.DataFrame, labels: list[str], ccfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Each comment's question → (prior, weight per row as a column): the kind it asks for (asked_kind with
    classifier.question_kind_cues), at classifier.kind_question_weight for where the question came from."""
    cues = {kind: words for kind, words in (ccfg.get("question_kind_cues") or {}).items() if kind in labels}
    weight_of = ccfg.get("kind_question_weight") or {}
    prior, weights = np.zeros((len(questions), len(labels))), np.zeros(len(questions))
    for i, (text, source) in enumerate(zip(questions["question_text"], questions["question_from"])):
        kind = asked_kind(text, cues) if text else ""
        if kind:
            prior[i, labels.index(kind)] = 1.0
            weights[i] = float(weight_of.get(source, 0.0))
    return prior, np.clip(weights, 0.0, 1.0)[:, None]


def context_weights(alone: np.ndarray, labels: list[str], taxonomy: Taxonomy, ccfg: dict) -> np.ndarray:
    """How much each comment takes from its turn: classifier.topic_context_weight, rising towards
    topic_context_weight_other as the comment's own P(other) rises. A piece that by itself names no
    area ("对，一个人一千多。", "那段时间真是……") leans on its answer; one with a clear topic keeps it."""
    base = float(ccfg.get("topic_context_weight", 0.0))
    weights = np.full(len(alone), base)
    top = ccfg.get("topic_context_weight_other")
    if top is not None and taxonomy.other in labels:
        weights += (float(top) - base) * alone[:, labels.index(taxonomy.other)]
    return np.clip(weights, 0.0, 1.0)


def head_labels(name: str, head, X, taxonomy: Taxonomy, ccfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """One head's labels and confidences for rows of the shared matrix X, decided as `predict`
    decides them: topic through decide_topics (thresholds, `other`), other heads by their best class."""
    proba = head.proba(X)
    labels = [str(c) for c in head.classes_]
    if name == "topic":
        primary, conf, _ = decide_topics(proba, labels, taxonomy, ccfg)
        return np.asarray(primary), np.asarray(conf)
    return np.array(labels)[proba.argmax(1)], proba.max(1)


def question_proba(model: Model, head, questions: pd.DataFrame) -> np.ndarray:
    """A head's probabilities for each row's question text (zeros where it has none); each distinct
    question is read once."""
    texts = questions["question_text"].tolist()
    distinct = sorted({t for t in texts if t})
    out = np.zeros((len(texts), len(head.classes_)))
    if distinct:
        tokens = [" ".join(t) for t in model.features.tokenize(distinct)]
        read = head.proba(model.matrix(distinct, tokens))
        row_of = {text: i for i, text in enumerate(distinct)}
        for i, text in enumerate(texts):
            if text:
                out[i] = read[row_of[text]]
    return out


def shortened(text: str, limit: int = 30) -> str:
    """A question as evidence shows it: at most `limit` characters, its end kept (what it asks)."""
    return text if len(text) <= limit else "…" + text[-limit:]


def changed_rows(before: np.ndarray, after: np.ndarray, decide) -> np.ndarray:
    """Rows whose decision (decide: probabilities → labels) differs between two sets of probabilities."""
    moved = np.flatnonzero((before != after).any(axis=1))
    if not len(moved):
        return moved
    return moved[np.asarray(decide(before[moved])) != np.asarray(decide(after[moved]))]


def predict(model: Model, texts: list[str], tokens: list[str] | None, ccfg: dict,
            X=None, groups: np.ndarray | None = None, questions: pd.DataFrame | None = None) -> pd.DataFrame:
    """Texts (and their space-joined tokens, when segment already made them) → prediction columns.
    X is the shared feature matrix when the caller already has it (see Model.matrix). With groups
    (one key per text, in reading order: the speaker's turn), topic and kind also read the
    neighbouring comments of the same turn (see context_weights and context_blend). With questions
    (answered_questions, one row per text), they also read the question each comment answers (see
    topic_question_prior and kind_question_prior)."""
    if tokens is None:
        tokens = [" ".join(t) for t in model.features.tokenize(texts)]
    if X is None:
        X = model.matrix(texts, tokens)
    out = pd.DataFrame(index=range(len(texts)))
    evidence = [[] for _ in texts]
    seed_names = {t.id: t.name for t in model.taxonomy.topics}
    for i, toks in enumerate(tokens):
        hits = model.features.seed_hits(toks.split())
        if hits:
            evidence[i].append("种子词: " + "、".join(dict.fromkeys(f"{term}({seed_names[tid]})" for tid, term in hits)))
    for head in ("topic", "kind"):
        if not model.has(head):
            out[head], out[f"{head}_confidence"] = "", np.nan
            if head == "topic":
                out["topics"] = ""
            continue
        clf = model.heads[head]
        labels = [str(c) for c in clf.classes_]
        Xh = clf.matrix(X)
        alone = clf.proba_of_matrix(Xh)
        if head == "topic":
            def decide(p):
                return decide_topics(p, labels, model.taxonomy, ccfg)[0]
            in_turn = alone
            if groups is not None:
                in_turn = context_blend(alone, groups, context_weights(alone, labels, model.taxonomy, ccfg),
                                        ccfg.get("topic_context_window", 0))
            proba = in_turn
            if questions is not None and float(ccfg.get("topic_question_weight", 0.0)) > 0:
                proba = models.with_voter(in_turn, *topic_question_prior(question_proba(model, clf, questions), labels,
                                                                  model.taxonomy.other,
                                                                  float(ccfg["topic_question_weight"])))
            primary, conf, multi = decide_topics(proba, labels, model.taxonomy, ccfg)
            out["topic"], out["topic_confidence"], out["topics"] = primary, conf, multi
            context_note, question_prefix = "上下文: 同一段发言的前后句", "上下文: "
        else:
            def decide(p):
                return p.argmax(1)
            in_turn = alone
            if groups is not None:
                in_turn = context_blend(alone, groups, float(ccfg.get("kind_context_weight", 0.0)),
                                        ccfg.get("kind_context_window", 0))
            proba = in_turn
            if questions is not None:
                proba = models.with_voter(in_turn, *kind_question_prior(questions, labels, ccfg))
            out["kind"] = [labels[j] for j in proba.argmax(1)]
            out["kind_confidence"] = np.round(proba.max(1), 4)
            context_note, question_prefix = "类型上下文: 同一段发言的前后句", "类型上下文: "
        for i in changed_rows(alone, in_turn, decide):
            evidence[i].append(context_note)
        for i in changed_rows(in_turn, proba, decide):
            asked = "所在的标题" if questions["question_from"].iloc[i] == "heading" else "所答的问题"
            evidence[i].append(f"{question_prefix}{asked}（{shortened(questions['question_text'].iloc[i])}）")
        chosen = np.array([labels.index(v) if v in labels else 0 for v in out[head]])
        tops = models.top_features(Xh, chosen, clf.weights, clf.names, clf.shown, ccfg["evidence_features"])
        name = "议题" if head == "topic" else "类型"
        for i, feats_i in enumerate(tops):
            if feats_i:
                evidence[i].append(f"{name}特征: " + "、".join(feats_i))
    out["evidence"] = ["；".join(e) for e in evidence]
    return out


def run(comments: pd.DataFrame, model: Model, cfg: dict) -> pd.DataFrame:
    """Comment records → the same records with classify columns; only respondent comments are classified."""
    comments = comments.copy()
    mask = (comments["role"] == "respondent").to_numpy()
    for col in ("topic", "topics", "kind", "evidence"):
        comments[col] = ""
    comments["topic_confidence"] = np.nan
    comments["kind_confidence"] = np.nan
    comments["classified"] = mask
    if mask.any():
        sub = comments.loc[mask]
        turns = (sub["doc_id"].astype(str) + "/" + sub["turn"].astype(str)).to_numpy()
        questions = answered_questions(comments).loc[mask].reset_index(drop=True)
        pred = predict(model, sub["text"].tolist(), sub["tokens"].tolist(), cfg["classifier"], groups=turns,
                       questions=questions)
        for col in ("topic", "topic_confidence", "topics", "kind", "kind_confidence", "evidence"):
            comments.loc[mask, col] = pred[col].to_numpy()
    return comments
