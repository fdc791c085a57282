"""Shared fixtures: the default config, one jieba-backed segmenter per test session, the bundled
sample transcripts ingested and segmented once, and one model trained on the labelled corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import ingest, segment
from pipeline.config import PROJ_ROOT, apply_overrides, load_config, resolve

# Training settings that keep the suite fast: one model family (no selection CV) and a small
# general-domain sample for sentiment. The real `make train` compares families.
FAST_TRAINING = ["classifier.families=[logreg]", "sentiment.general_samples=600"]


@pytest.fixture(scope="session")
def cfg() -> dict:
    """The resolved default config (configs/default.yaml, no overrides)."""
    return load_config()


@pytest.fixture(scope="session")
def segmenter(cfg):
    """The project's own jieba.Tokenizer instance; loading the dictionary takes about a second."""
    return segment.segmenter_from_config(cfg)


@pytest.fixture(scope="session")
def transcripts_dir(cfg):
    return PROJ_ROOT / cfg["paths"]["transcripts"]


@pytest.fixture(scope="session")
def bundled(cfg, transcripts_dir):
    """ingest.run on corpus/transcripts (read-only; the folder is never written)."""
    return ingest.run(transcripts_dir, cfg)


@pytest.fixture(scope="session")
def bundled_comments(cfg, bundled, segmenter):
    """The bundled transcripts segmented into comments."""
    documents = {doc.doc_id: doc.text for doc in bundled.documents}
    return segment.run(bundled.turns, documents, cfg, segmenter)


@pytest.fixture(scope="session")
def fast_cfg(cfg) -> dict:
    return apply_overrides(cfg, FAST_TRAINING)


@pytest.fixture(scope="session")
def taxonomy(cfg):
    from pipeline.taxonomy import load_taxonomy
    return load_taxonomy(resolve(cfg["paths"]["taxonomy"]))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, fast_cfg, taxonomy) -> Path:
    """A model trained once per session on the labelled corpus's train split."""
    from pipeline import train
    folder = tmp_path_factory.mktemp("models") / "current"
    train.run(taxonomy, resolve(fast_cfg["paths"]["taxonomy"]), resolve(fast_cfg["paths"]["labelled"]),
              folder, fast_cfg)
    return folder


@pytest.fixture(scope="session")
def model(model_dir, taxonomy, fast_cfg):
    from pipeline.classify import load_model
    return load_model(model_dir, taxonomy, fast_cfg)
