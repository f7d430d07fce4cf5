"""Loading a base model by hub id, local folder or GGUF file.

A model loaded from GGUF carries a quantizer flag even when its weights are float32, which stops
`save_pretrained` and fine-tuning. So a GGUF file is converted once into a plain transformers
folder under `TAILOR_HOME/models/` (named by the file's content hash) and loaded from there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tailorai.errors import ModelError
from tailorai.settings import get_settings

__all__ = ["context_length", "load_base_model", "load_tokenizer", "resolve_model_path"]


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _convert_gguf(gguf: Path, out: Path) -> None:
    """Write the GGUF model and tokenizer as a plain (unquantized) transformers folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": gguf.name}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, **kwargs)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    # Build beside the target and rename, so a crash never leaves a half-written model folder.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE").write_text(f"converted from {gguf}\n", encoding="utf-8")
        os.replace(tmp, out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not out.is_dir():  # another process may have won the race; that is fine
            raise


def resolve_model_path(name_or_path: str | os.PathLike[str] | None = None) -> str:
    """The folder or hub id transformers should load: GGUF files are converted once first."""
    name = str(name_or_path or get_settings().base_model)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"GGUF file {path} does not exist. Pass an existing .gguf file.")
        out = get_settings().home / "models" / f"{path.stem}-{_file_hash(path)}"
        if not (out / "config.json").is_file():
            try:
                _convert_gguf(path, out)
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"Could not read GGUF file {path}: {exc}") from exc
        return str(out)
    if path.exists() and not (path / "config.json").is_file():
        raise ModelError(
            f"{path} is not a model folder (no config.json). Pass a folder written by "
            "save_pretrained, a .gguf file, or a hub id."
        )
    return name


def _from_pretrained(loader: Any, name_or_path: str | os.PathLike[str] | None) -> Any:
    target = resolve_model_path(name_or_path)
    try:
        return loader.from_pretrained(target)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"Could not load model {name_or_path or target!r}: {str(exc).splitlines()[0]} "
            "A hub id needs the model in the local Hugging Face cache or network access; "
            "a local folder or .gguf file works offline."
        ) from exc


def load_tokenizer(name_or_path: str | os.PathLike[str] | None = None) -> Any:
    """The tokenizer of a base model (default: the shipped stories260k)."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, name_or_path)


def context_length(name_or_path: str | os.PathLike[str] | None = None) -> int | None:
    """The longest sequence the model was trained on (512 for stories260k); None if unknown."""
    from transformers import AutoConfig

    return config_context_length(_from_pretrained(AutoConfig, name_or_path))


def config_context_length(config: Any) -> int | None:
    """The context length a model config states, under whichever name its family uses."""
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def load_base_model(name_or_path: str | os.PathLike[str] | None = None) -> tuple[Any, Any]:
    """Load `(model, tokenizer)` from a hub id, a local folder or a GGUF file.

    >>> model, tokenizer = load_base_model()  # the shipped stories260k.gguf
    """
    from transformers import AutoModelForCausalLM

    return _from_pretrained(AutoModelForCausalLM, name_or_path), load_tokenizer(name_or_path)
