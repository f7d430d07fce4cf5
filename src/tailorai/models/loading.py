"""Resolving and loading base models, and registered versions as base + adapter.

`base_model` is a shipped model's short name (``smollm2``, the default, or ``stories260k``; see
`tailorai.models.shipped`), a Hugging Face hub id, a model folder or a ``.gguf`` file. A GGUF file
is converted once into a plain transformers folder under ``TAILOR_HOME/models/`` (named by the
file's content hash; see `tailorai.models.convert`) and loaded from there in seconds after.

Every stage loads models through here: `load_base_model` for a base, `load_version` for a
registry version (a full fine-tune's own folder, or its adapter on its base), and `SharedBase`
where one process scores or writes with several versions of one base in turn.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from tailorai.errors import ModelError, RegistryError
from tailorai.models.convert import convert_gguf, converted_folder
from tailorai.models.precision import use_bf16
from tailorai.models.shipped import shipped_file
from tailorai.settings import get_settings

__all__ = [
    "SharedBase",
    "VersionFiles",
    "config_context_length",
    "context_length",
    "load_base_model",
    "load_tokenizer",
    "load_version",
    "needs_conversion",
    "resolve_model_path",
    "same_base",
    "version_model_dir",
    "version_retrieval_k",
]


class VersionFiles(Protocol):
    """What loading needs of a model version (the registry's `ModelVersion` has it all)."""

    @property
    def ref(self) -> str: ...
    @property
    def base_model(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def adapter_path(self) -> Path | None: ...


def _gguf_folder(name_or_path: str | os.PathLike[str] | None) -> tuple[Path, Path] | None:
    """`(gguf file, its converted folder)` when the model is a GGUF file; None otherwise."""
    name = str(name_or_path or get_settings().base_model)
    gguf = shipped_file(name)
    path = gguf if gguf is not None else Path(name).expanduser()
    if path.suffix != ".gguf":
        return None
    if not path.is_file():
        raise ModelError(f"GGUF file {path} does not exist. Pass an existing .gguf file.")
    settings = get_settings()
    return path, converted_folder(path, settings.models_dir or settings.home / "models")


def needs_conversion(name_or_path: str | os.PathLike[str] | None = None) -> bool:
    """Whether loading the model would first convert its GGUF file (a first run)."""
    found = _gguf_folder(name_or_path)
    return found is not None and not (found[1] / "config.json").is_file()


def resolve_model_path(name_or_path: str | os.PathLike[str] | None = None) -> str:
    """The folder or hub id transformers should load; GGUF files are converted once first.

    >>> resolve_model_path("smollm2")  # doctest: +SKIP
    '.tailor/models/SmolLM2-135M-Instruct.Q4_1-b179c9523d0e6a0f'
    """
    name = str(name_or_path or get_settings().base_model)
    found = _gguf_folder(name)
    if found is not None:
        path, out = found
        if not (out / "config.json").is_file():
            try:
                convert_gguf(path, out)
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"Could not read GGUF file {path}: {exc}") from exc
        return str(out)
    path = Path(name).expanduser()
    if path.exists() and not (path / "config.json").is_file():
        raise ModelError(
            f"{path} is not a model folder (no config.json). Pass a folder written by "
            "save_pretrained, a .gguf file, a shipped model (smollm2, stories260k) or a hub id."
        )
    return name


def same_base(a: str | None, b: str | None) -> bool:
    """Whether two `base_model` values name the same model (``smollm2`` and its folder do)."""
    return resolve_model_path(a) == resolve_model_path(b)


def _from_pretrained(loader: Any, target: str, shown: object, **kwargs: Any) -> Any:
    try:
        return loader.from_pretrained(target, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"Could not load model {shown or target!r}: {str(exc).splitlines()[0]} "
            "A hub id needs the model in the local Hugging Face cache or network access; "
            "a shipped model (smollm2, stories260k), a local folder or a .gguf file works "
            "offline."
        ) from exc


def load_tokenizer(name_or_path: str | os.PathLike[str] | None = None) -> Any:
    """The tokenizer of a base model (default: the settings' `base_model`)."""
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, resolve_model_path(name_or_path), name_or_path)


def config_context_length(config: Any) -> int | None:
    """The context length a model config states, under whichever name its family uses."""
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def context_length(name_or_path: str | os.PathLike[str] | None = None) -> int | None:
    """The longest sequence the model was trained on (8,192 for SmolLM2, 512 for stories260k);
    None if unknown."""
    from transformers import AutoConfig

    target = resolve_model_path(name_or_path)
    return config_context_length(_from_pretrained(AutoConfig, target, name_or_path))


def _to_inference_precision(model: Any, precision: str | None) -> Any:
    import torch

    if use_bf16(model, precision):
        model = model.to(torch.bfloat16)
    return model


def load_base_model(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    inference: bool = False,
    precision: str | None = None,
) -> tuple[Any, Any]:
    """Load `(model, tokenizer)` from a shipped name, hub id, local folder or GGUF file.

    The weights are float32 (trainable). `inference=True` gives the model in eval mode, in
    bfloat16 where `tailorai.models.precision` says that pays (`precision` overrides the
    settings' ``auto|bf16|fp32``).

    >>> model, tokenizer = load_base_model("stories260k")
    """
    from transformers import AutoModelForCausalLM

    target = resolve_model_path(name_or_path)
    model = _from_pretrained(AutoModelForCausalLM, target, name_or_path)
    if inference:
        model = _to_inference_precision(model.eval(), precision)
    return model, load_tokenizer(name_or_path)


def version_model_dir(version: VersionFiles) -> Path:
    """The folder holding a full fine-tune's weights (``model/`` inside the version)."""
    for candidate in (version.path / "model", version.path):
        if (candidate / "config.json").is_file():
            return Path(candidate)
    raise RegistryError(
        f"{version.ref} is a full fine-tune but {version.path} holds no model/config.json. "
        "Register it again from the folder its trainer wrote."
    )


def version_retrieval_k(version: Any) -> int:
    """How many of the user's own examples a version reads before each request: the
    `retrieval_k` it was trained with (0 for the base model and for plain versions). A version
    trained on retrieval-augmented prompts must be served and scored the same way."""
    config = getattr(version, "config", None) or {}
    value = config.get("retrieval_k") if isinstance(config, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _peft_model(base: Any, version: VersionFiles) -> Any:
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(base, str(version.adapter_path))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(
            f"Could not load {version.ref}'s adapter from {version.adapter_path} onto "
            f"{version.base_model}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
        ) from exc


def load_version(
    version: VersionFiles | None = None,
    *,
    base_model: str | None = None,
    inference: bool = True,
    precision: str | None = None,
) -> tuple[Any, Any]:
    """`(model, tokenizer)` of a registered version: a full fine-tune's own weights, or its
    adapter on its base. `version=None` is the base model `base_model`. In eval mode and the
    inference precision unless `inference=False`.

    >>> model, tokenizer = load_version(Registry().get("global@2"))  # doctest: +SKIP
    """
    from transformers import AutoModelForCausalLM

    if version is None:
        return load_base_model(base_model, inference=inference, precision=precision)
    tokenizer = load_tokenizer(version.base_model)
    if version.adapter_path is None:
        model = _from_pretrained(AutoModelForCausalLM, str(version_model_dir(version)), None)
    else:
        base, _ = load_base_model(version.base_model)
        model = _peft_model(base, version)
    if inference:
        model = _to_inference_precision(model.eval(), precision)
    return model, tokenizer


class SharedBase:
    """One base model, loaded once, with registered versions' adapters put on it one at a time.

    >>> shared = SharedBase("smollm2")  # doctest: +SKIP
    >>> with shared.use(registry.get("global@2")) as model:  # doctest: +SKIP
    ...     model(input_ids)

    A version of another base, or a full fine-tune, loads on its own for the `with` block.
    """

    def __init__(self, base_model: str | None = None, *, precision: str | None = None) -> None:
        self.path = resolve_model_path(base_model)
        self.precision = precision
        self.base, self.tokenizer = load_base_model(base_model, inference=True, precision=precision)

    @contextmanager
    def use(self, version: VersionFiles | None = None) -> Iterator[Any]:
        """The base model (`version=None`) or a registered version, in eval mode."""
        if version is None:
            yield self.base
            return
        if version.adapter_path is None or resolve_model_path(version.base_model) != self.path:
            model, _ = load_version(version, precision=self.precision)
            yield model
            return
        peft = _peft_model(self.base, version).eval()
        try:
            yield peft
        finally:
            # Removes the adapter layers (without merging): the base is itself again.
            self.base = peft.unload().eval()
