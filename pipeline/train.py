"""Labelled corpus + taxonomy + config → a model folder with topic, kind and sentiment heads."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import models
from pipeline.classify import feature_builder, head_labels
from pipeline.config import checksum_file, resolve
from pipeline.corpus import data_checksum, load_corpus, relabel_file, test_rows, training_rows
from pipeline.metrics import binary_sentiment_report, classification_report, interval_text, macro_f1_interval
from pipeline.sentiment import domain_scores, general_examples, training_targets
from pipeline.taxonomy import Taxonomy

log = logging.getLogger(__name__)


def head_config(ccfg: dict, head: str) -> dict:
    """The classifier config one head sees: its own column_min_df, term weighting strength(s), view
    block and cross partner (classifier.head_min_df, head_term_weighting, head_view, head_cross)."""
    return {**ccfg, "column_min_df": (ccfg.get("head_min_df") or {}).get(head, 1),
            "term_weighting": (ccfg.get("head_term_weighting") or {}).get(head, 0.0),
            "view_block": (ccfg.get("head_view") or {}).get(head),
            "cross_with": (ccfg.get("head_cross") or {}).get(head)}


def partner_labels(frame: pd.DataFrame, rows: np.ndarray, hcfg: dict) -> np.ndarray | None:
    """The labels of the head named by classifier.head_cross on a head's rows ("" where missing)."""
    column = hcfg.get("cross_with")
    return frame.loc[rows, column].to_numpy() if column and column in frame else None


def fit_heads(train: pd.DataFrame, taxonomy: Taxonomy, cfg: dict, progress=None) -> tuple[dict, dict, "object"]:
    """Training rows → ({head: fitted Head}, {head: selection record}, feature builder).

    Each head's model family is chosen in cross-validation; then one shared vectoriser is fitted
    on every head's texts and each head's classifier on its own rows and feature blocks.
    """
    ccfg, scfg, seed = cfg["classifier"], cfg["sentiment"], cfg["seed"]
    say = progress or (lambda msg: None)
    builder = feature_builder(cfg, taxonomy)
    tokens = [" ".join(t) for t in builder.tokenize(train["text"].tolist())]
    feats = builder.frame(train["text"].tolist(), tokens)
    plans, records = {}, {}
    for head in ("topic", "kind"):
        rows = (train[head] != "").to_numpy()
        if rows.sum() == 0 or len(set(train.loc[rows, head])) < 2:
            log.warning("no %s labels in the training data: the %s head is left out", head, head)
            continue
        say(f"choosing a model family for {head} on {int(rows.sum())} comments")
        blocks, hcfg = ccfg["feature_blocks"][head], head_config(ccfg, head)
        head_feats, y = feats[rows].reset_index(drop=True), train.loc[rows, head].to_numpy()
        partner = partner_labels(train, rows, hcfg)
        choice = models.select_family(head_feats, y, hcfg, seed, blocks, folds=ccfg["selection_folds"],
                                      max_rows=ccfg["selection_max_rows"], partner=partner)
        temperature = 1.0
        if ccfg.get("calibrate_temperature", True) and choice.oof_proba is not None:
            temperature = models.fit_temperature(choice.oof_proba, choice.y, choice.labels)
        hcfg = {**hcfg, "term_weighting": choice.term_weighting}
        plans[head] = {"features": head_feats, "y": y, "family": choice.family, "blocks": blocks, "ccfg": hcfg,
                       "temperature": temperature, "partner": partner}
        records[head] = {"family": choice.family, "labels": sorted(set(y)), "blocks": blocks,
                         "cv_macro_f1_by_family": choice.comparison, "n_train": int(rows.sum()),
                         "term_weighting": choice.term_weighting,
                         "cv_macro_f1_by_term_weighting": {str(k): v for k, v in choice.by_term_weighting.items()},
                         "temperature": temperature}
    if "sentiment" in train and (train["sentiment"] != "").any():
        rows = train[train["sentiment"] != ""]
        general = general_examples(scfg["general_samples"], seed) if scfg["general_weight"] > 0 else \
            pd.DataFrame(columns=["text", "sentiment"])
        texts, y, w, _mask = training_targets(rows, general, scfg["general_weight"])
        # Our own rows were tokenised above (neutral ones enter twice): only the reviews are new.
        known = dict(zip(train["text"], tokens))
        unseen = list(dict.fromkeys(t for t in texts if t not in known))
        known.update(zip(unseen, (" ".join(t) for t in builder.tokenize(unseen))))
        s_tokens = [known[t] for t in texts]
        s_feats = builder.frame(texts, s_tokens)
        s_cfg = {**head_config(ccfg, "sentiment"), "C": scfg["C"]}
        plans["sentiment"] = {"features": s_feats, "y": y, "family": scfg["families"][0],
                              "blocks": scfg["feature_blocks"], "ccfg": s_cfg, "weights": w}
        records["sentiment"] = {"family": scfg["families"][0], "labels": sorted(set(y)),
                                "blocks": scfg["feature_blocks"], "n_train": int(len(rows)),
                                "n_general": int(len(general))}
    if not plans:
        return {}, records, builder
    say("fitting the shared vectoriser and every head")
    # The vocabulary and IDF come from our own comments only: fitted on the general-domain reviews
    # too, they shift the topic and kind features (measured: kind macro-F1 −0.015 held-out).
    shared = models.fit_shared_features([feats], ccfg)
    heads = {head: models.fit_head(shared, seed=seed, **plan) for head, plan in plans.items()}
    return heads, records, builder


def bootstrap_interval(y_true, y_pred, labels: list[str], cfg: dict) -> list[float] | None:
    """metrics.macro_f1_interval with the config's resamples (evaluate.bootstrap_rounds) and seed."""
    return macro_f1_interval(y_true, y_pred, labels, int(cfg["evaluate"].get("bootstrap_rounds", 0)), cfg["seed"])


def holdout_metrics(heads: dict, builder, test: pd.DataFrame, taxonomy: Taxonomy, cfg: dict) -> dict:
    """Quick held-out figures stored in meta.json (make evaluate gives the full report)."""
    if test.empty:
        return {}
    tokens = [" ".join(t) for t in builder.tokenize(test["text"].tolist())]
    feats = builder.frame(test["text"].tolist(), tokens)
    out = {}
    X = models.transform(next(iter(heads.values())).features, feats)
    for head, labels in (("topic", taxonomy.labels), ("kind", list(taxonomy.kinds))):
        if head in heads:
            pred, conf = head_labels(head, heads[head], X, taxonomy, cfg["classifier"])
            rows = (test[head] != "").to_numpy()
            out[head] = classification_report(test.loc[rows, head], pred[rows], labels, conf[rows])
            out[head]["macro_f1_interval"] = bootstrap_interval(test.loc[rows, head], pred[rows], labels, cfg)
    if "sentiment" in heads:
        s = cfg["sentiment"]
        scores = domain_scores(heads["sentiment"], builder, test["text"].tolist(), tokens, s["contrast_weight"], X)
        rows = (test["sentiment"] != "").to_numpy()
        out["sentiment"] = binary_sentiment_report(test.loc[rows, "sentiment"].tolist(), scores[rows],
                                                   s["pos_threshold"], s["neg_threshold"])
    return out


def summary_line(metrics: dict) -> str:
    parts = []
    for head in ("topic", "kind"):
        if head in metrics:
            parts.append(f"{head} macro-F1 {metrics[head]['macro_f1']:.3f}{interval_text(metrics[head])}")
    if "sentiment" in metrics and "auc" in metrics["sentiment"]:
        parts.append(f"sentiment AUC {metrics['sentiment']['auc']:.3f} "
                     f"bal-acc {metrics['sentiment']['balanced_accuracy']:.3f}")
    return ", ".join(parts) or "no held-out rows"


def run(taxonomy: Taxonomy, taxonomy_path: Path, labelled: Path, model_dir: Path, cfg: dict,
        progress=None) -> dict:
    """Train every head that has labels and write the model folder; returns meta (with before/after)."""
    started = time.perf_counter()
    relabel = relabel_file(cfg)
    corpus = load_corpus(labelled, taxonomy, relabel)
    train, test = training_rows(corpus), test_rows(corpus)
    previous = None
    meta_path = Path(model_dir) / models.META_FILE
    if meta_path.exists():
        previous = json.loads(meta_path.read_text(encoding="utf-8")).get("holdout")
    heads, records, builder = fit_heads(train, taxonomy, cfg, progress)
    if not heads:
        from pipeline.errors import DiaoyanError
        raise DiaoyanError("nothing to train: no head has at least two labels", path=str(labelled))
    holdout = holdout_metrics(heads, builder, test, taxonomy, cfg)
    userdict = resolve(cfg["paths"]["userdict"])
    meta = {
        "taxonomy_name": taxonomy.name, "taxonomy_checksum": taxonomy.checksum,
        "taxonomy_file": str(taxonomy_path.name),
        "labels": {h: r["labels"] for h, r in records.items()},
        "heads": records,
        "training_data": {"source": Path(labelled).name, "rows": int(len(train)), "test_rows": int(len(test)),
                          "checksum": data_checksum(train),
                          "files": sorted(set(corpus["file"])),
                          "relabel": {"file": relabel.name, "checksum": checksum_file(relabel)} if relabel else None},
        "userdict_checksum": checksum_file(userdict) if userdict.exists() else None,
        "holdout": holdout,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    models.save_model(model_dir, heads, meta, cfg, taxonomy.raw)
    meta["previous_holdout"] = previous
    return meta
