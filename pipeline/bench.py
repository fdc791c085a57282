"""Sample corpus → a large generated input (copies with unique suffixes) → comments/s per stage, training time, peak memory."""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from pipeline import classify, deidentify, ingest, predict, quotes, segment, sentiment
from pipeline.corpus import load_corpus, training_rows
from pipeline.config import resolve
from pipeline.ingest import TEXT_SUFFIXES, decode_bytes


def build_input(src: Path, dst: Path, copies: int) -> None:
    """Copy every input file `copies` times; text files get a unique suffix on every line."""
    files = [p for p in sorted(src.iterdir()) if p.is_file() and not p.name.startswith("manifest")]
    for k in range(copies):
        for p in files:
            target = dst / f"{p.stem}_copy{k:04d}{p.suffix}"
            if p.suffix.lower() in TEXT_SUFFIXES:
                text, _ = decode_bytes(p.read_bytes(), p.name)
                lines = [ln + f"（{k}）" if ln.strip() and not ingest.STT_HEADER.match(ln) else ln
                         for ln in ingest.normalise_newlines(text).split("\n")]
                target.write_text("\n".join(lines), encoding="utf-8")
            else:
                shutil.copyfile(p, target)


def _rate(n: int, seconds: float) -> float:
    return round(n / max(seconds, 1e-9), 1)


def training_sample(corpus: pd.DataFrame, want: int, seed: int) -> pd.DataFrame:
    """Labelled rows → exactly `want` rows to time training on: the corpus repeated with suffixed
    texts when it is smaller, cut by a sample stratified by topic (the files hold one topic each, so
    the first rows alone would miss whole classes)."""
    from sklearn.model_selection import train_test_split
    reps = -(-want // len(corpus))
    pool = pd.concat([corpus.assign(text=corpus["text"] + (f"（{k}）" if k else "")) for k in range(reps)],
                     ignore_index=True)
    if want >= len(pool):
        return pool.sample(frac=1.0, random_state=seed)
    keep, _ = train_test_split(pool.index, train_size=want, stratify=pool["topic"], random_state=seed)
    return pool.loc[keep]


def run(folder: Path, taxonomy, model, cfg: dict, target: int, progress=None) -> dict:
    say = progress or (lambda m: None)
    result: dict = {}
    probe = ingest.run(folder, cfg["ingest"])
    per_copy = len(segment.run(probe.turns, {d.doc_id: d.text for d in probe.documents}, cfg,
                               model.features.segmenter))
    copies = max(1, -(-target // per_copy))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        say(f"writing {copies} copies of the sample corpus")
        build_input(folder, tmp, copies)
        timings = {}
        t = time.perf_counter()
        ingested = ingest.run(tmp, cfg["ingest"])
        timings["ingest"] = time.perf_counter() - t
    say("segment")
    t = time.perf_counter()
    comments = segment.run(ingested.turns, {d.doc_id: d.text for d in ingested.documents}, cfg,
                           model.features.segmenter)
    timings["segment"] = time.perf_counter() - t
    n = len(comments)
    for name, fn in (("classify", lambda c: classify.run(c, model, cfg)),
                     ("sentiment", lambda c: sentiment.run(c, model, cfg))):
        say(name)
        t = time.perf_counter()
        comments = fn(comments)
        timings[name] = time.perf_counter() - t
    say("quotes")
    t = time.perf_counter()
    comments, quote_rows = quotes.run(comments, taxonomy, cfg)
    timings["quotes"] = time.perf_counter() - t
    say("deidentify")
    t = time.perf_counter()
    deidentify.run(comments, quote_rows, cfg, model.features.segmenter)
    timings["deidentify"] = time.perf_counter() - t
    result["comments"] = n
    result["stages"] = {k: {"seconds": round(v, 2), "comments_per_second": _rate(n, v)} for k, v in timings.items()}

    # predict (whole process from raw text) against plain jieba segmentation of the same texts.
    # On a shared machine one timing varies by ±30%, so both are timed `predict_repeats` times,
    # interleaved, and each side's best time counts (as timeit does).
    texts = comments.loc[comments["role"] == "respondent", "text"].tolist()[:cfg["bench"]["predict_texts"]]
    repeats = int(cfg["bench"]["predict_repeats"])
    say(f"predict vs plain jieba on {len(texts)} texts, best of {repeats}")
    import jieba
    plain = jieba.Tokenizer()
    plain.initialize()
    jieba_times, predict_times = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        for text in texts:
            plain.lcut(text)
        jieba_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        predict.run(pd.DataFrame({"text": texts}), model, cfg)
        predict_times.append(time.perf_counter() - t)
    jieba_s, predict_s = min(jieba_times), min(predict_times)
    result["predict"] = {"texts": len(texts), "repeats": repeats,
                         "predict_per_second": _rate(len(texts), predict_s),
                         "plain_jieba_per_second": _rate(len(texts), jieba_s),
                         "ratio": round(jieba_s / predict_s, 3),
                         "ratio_each_repeat": [round(j / p, 3) for j, p in zip(jieba_times, predict_times)]}

    # Training on bench.train_comments labelled comments (the corpus repeated with suffixes).
    from pipeline.train import fit_heads
    corpus = training_rows(load_corpus(resolve(cfg["paths"]["labelled"]), taxonomy))
    want = cfg["bench"]["train_comments"]
    big = training_sample(corpus, want, cfg["seed"])
    say(f"training on {len(big)} comments")
    t = time.perf_counter()
    fit_heads(big, taxonomy, cfg)
    result["train"] = {"comments": int(len(big)), "seconds": round(time.perf_counter() - t, 2)}
    result["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def render(result: dict) -> str:
    lines = [f"{result['comments']} comments"]
    for name, s in result["stages"].items():
        lines.append(f"  {name:<11} {s['comments_per_second']:>10.1f} comments/s  ({s['seconds']} s)")
    p = result["predict"]
    lines.append(f"  predict     {p['predict_per_second']:>10.1f} texts/s vs plain jieba {p['plain_jieba_per_second']:.1f}/s "
                 f"(ratio {p['ratio']}, target ≥ 0.333; best of {p['repeats']} on {p['texts']} texts, "
                 f"each repeat {p['ratio_each_repeat']})")
    lines.append(f"  train       {result['train']['comments']} comments in {result['train']['seconds']} s (target ≤ 60 s)")
    lines.append(f"  peak memory {result['peak_memory_mb']} MB")
    return "\n".join(lines)
