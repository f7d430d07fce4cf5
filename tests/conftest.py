"""Shared fixtures: real shipped samples, an isolated TAILOR_HOME and database per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "tailorai" / "assets" / "samples"
SHARED_DATA = ROOT.parent / "shared" / "data"

# Set before tailorai reads settings, so no test touches ./tailor.db or ./.tailor.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tailor-test-home-"))
os.environ["TAILOR_HOME"] = str(_SESSION_HOME)
os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{_SESSION_HOME / 'tailor.db'}"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tokenizer():
    """The shipped model's tokenizer, converted from GGUF once per session."""
    from tailorai.training import load_tokenizer

    return load_tokenizer()
