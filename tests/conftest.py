"""Shared fixtures: real shipped samples, an isolated TAILOR_HOME and database per session, and
a store URL on SQLite and on PostgreSQL (when TAILOR_TEST_POSTGRES_URL names one, as in CI)."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "src" / "tailorai" / "assets" / "samples"
SHARED_DATA = ROOT.parent / "shared" / "data"

# Set before tailorai reads settings, so no test touches ./tailor.db or ./.tailor.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="tailor-test-home-"))
os.environ["TAILOR_HOME"] = str(_SESSION_HOME)
os.environ["TAILOR_DATABASE_URL"] = f"sqlite:///{_SESSION_HOME / 'tailor.db'}"
# Unit tests run on the 260K-parameter story model, where a generation takes milliseconds; the
# tests of the real default (SmolLM2-135M-Instruct) ask for it by name (the `smollm2` fixture).
os.environ["TAILOR_BASE_MODEL"] = "stories260k"
# Converted models are a pure function of their GGUF file (named by its hash), so every test
# session of a checkout shares them, as `make demo` does: SmolLM2 converts once, not per run.
os.environ.setdefault("TAILOR_MODELS_DIR", str(ROOT / ".tailor" / "models"))
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
    """The story model's tokenizer, converted from GGUF once per session."""
    from tailorai.models import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="session")
def smollm2_backend():
    """A LocalBackend on the real default model, SmolLM2-135M-Instruct, loaded once."""
    from tailorai.generation import LocalBackend

    backend = LocalBackend("smollm2", max_batch=8)
    yield backend
    backend.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """A fresh database URL for a `Store`: a SQLite file, then a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tailor.db'}"
        return
    base = os.environ.get("TAILOR_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TAILOR_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL for this)")
    # A schema of its own per test keeps tests independent on one database.
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{base}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()
