"""Shared fixtures: the default config, one jieba-backed segmenter per test session, and the bundled
sample transcripts ingested and segmented once (several test modules check them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The package is not installed in the test environment; make the repository root importable.
# (Drop this once pyproject's [tool.pytest.ini_options] sets pythonpath = ["."].)
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline import ingest, segment  # noqa: E402
from pipeline.config import PROJ_ROOT, load_config  # noqa: E402


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
