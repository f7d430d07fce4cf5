"""A GGUF file, converted once into a plain transformers folder.

A model loaded with ``gguf_file=`` carries a quantizer flag even after its weights are
de-quantized to float32, which stops ``save_pretrained`` and fine-tuning. So the file is loaded
once, its weights put into a model built from the same config without the flag, and that model
saved (float32 safetensors, with the tokenizer and the chat template) into a folder named by the
file's content hash. The folder is built beside its place and renamed into it, so a crash never
leaves half a model, and a lock file lets one process convert while another waits for it.
transformers reads the file three times (tokenizer, config, weights) and rebuilds gguf's tensor
name map for every module; both are memoized for the conversion, which then takes about 15 s for
SmolLM2-135M-Instruct (loading the folder after that takes about 2 s).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["convert_gguf", "converted_folder", "file_hash"]


@functools.lru_cache(maxsize=16)
def _hash(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def file_hash(path: Path) -> str:
    """The first 16 hex digits of the file's sha256, computed once per process and file state."""
    stat = path.stat()
    return _hash(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def converted_folder(gguf: Path, models_dir: Path) -> Path:
    """Where the converted form of `gguf` lives (whether or not it exists yet)."""
    return models_dir / f"{gguf.stem}-{file_hash(gguf)}"


@contextmanager
def _read_once() -> Iterator[None]:
    """Within: one parse of each GGUF file and one tensor name map per architecture and depth."""
    import gguf

    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.lru_cache(maxsize=2)(reader)  # type: ignore[misc]
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map


def convert_gguf(gguf: Path, out: Path) -> None:
    """Write the GGUF model and tokenizer as a plain (unquantized, float32) transformers folder.

    One process converts at a time (a lock file beside `out`): another that asks meanwhile
    (the demo converts in a second process while data preparation wants the tokenizer) waits
    and finds the folder written, instead of converting it a second time on the same cores."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "config.json").is_file():
            _convert(gguf, out)


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(
        f"Converting {gguf.name} into a plain model folder, once (about 15 s): {out}",
        file=sys.stderr,
        flush=True,
    )
    kwargs: dict[str, Any] = {"gguf_file": gguf.name}
    with _read_once():
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE").write_text(f"converted from {gguf}\n", encoding="utf-8")
        os.replace(tmp, out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (out / "config.json").is_file():  # another process may have won the race
            raise
