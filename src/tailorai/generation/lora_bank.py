"""A bank of LoRA adapters, stacked per layer, so a batch mixing adapters costs one batched matmul
per layer whatever the mix (the idea of Punica's and S-LoRA's batched kernels).

PEFT's `adapter_names` runs a mixed batch by looping over the batch's adapters in every LoRA
layer, in Python: with 8 users on 8 adapters that loop, not the model, is most of the step. Here
each target `nn.Linear` of the base keeps `A` (slots × r × in) and `B` (slots × out × r, the
LoRA scaling folded in) with slot 0 all zeros for the plain base, and a forward hook adds

    Δy[i] = (x[i] · A[slot[i]]ᵀ) · B[slot[i]]ᵀ        for every row i at once (two `bmm`s)

to the layer's output. The hook does nothing unless a batch is running through `use(...)`, so
the same modules still serve plain-base calls and PEFT (which wraps the same `nn.Linear`s for
adapters the bank cannot hold: DoRA and other variants, see `supports`).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["LoraBank"]

# adapter_config.json options the bank does not implement: an adapter using any of them is
# served by PEFT instead.
_UNSUPPORTED = (
    "use_dora",
    "fan_in_fan_out",
    "lora_bias",
    "modules_to_save",
    "rank_pattern",
    "alpha_pattern",
    "layer_replication",
    "trainable_token_indices",
    "target_parameters",
    "use_qalora",
    "alora_invocation_tokens",
    "arrow_config",
    "use_bdlora",
    "megatron_config",
)
_PREFIX = "base_model.model."


def _weights_file(folder: Path) -> Path | None:
    for name in ("adapter_model.safetensors", "adapter_model.bin"):
        if (folder / name).is_file():
            return folder / name
    return None


class _Layer:
    """One target linear layer's stacked adapters."""

    def __init__(self, module: Any, slots: int) -> None:
        import torch

        self.module = module
        weight = module.weight
        self.in_features, self.out_features = module.in_features, module.out_features
        self.rank = 1
        self.batch: tuple[Any, Any] | None = None  # (A, B) gathered for the running batch
        self.A = torch.zeros(slots, 1, self.in_features, dtype=weight.dtype, device=weight.device)
        self.B = torch.zeros(slots, self.out_features, 1, dtype=weight.dtype, device=weight.device)

    def grow_rank(self, rank: int) -> None:
        import torch

        if rank <= self.rank:
            return
        extra = rank - self.rank
        self.A = torch.cat([self.A, self.A.new_zeros(self.A.shape[0], extra, self.in_features)], 1)
        self.B = torch.cat([self.B, self.B.new_zeros(self.B.shape[0], self.out_features, extra)], 2)
        self.rank = rank


class LoraBank:
    def __init__(self, model: Any, slots: int = 17) -> None:
        """`slots` adapters fit before the stacks grow (slot 0 is the plain base)."""
        self.model = model
        self.capacity = max(2, slots)
        self.layers: dict[str, _Layer] = {}
        self.slots: dict[str, int] = {}  # adapter name: slot
        self._free = list(range(self.capacity - 1, 0, -1))
        self._rows: Any = None  # the running batch's slot per row
        self._single: int | None = None  # the slot, when every row uses the same one
        self._modules = dict(model.named_modules())
        self._hooks: list[Any] = []

    @staticmethod
    def supports(folder: Path, config: dict[str, Any]) -> bool:
        """Whether the adapter at `folder` is a plain LoRA on linear layers, all the bank does."""
        if config.get("peft_type") != "LORA" or config.get("bias", "none") != "none":
            return False
        if any(config.get(option) for option in _UNSUPPORTED):
            return False
        weights = _weights_file(folder)
        if weights is None:
            return False
        if weights.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(weights), framework="pt") as f:
                keys = list(f.keys())
        else:
            return False  # a pickle: leave it to PEFT's own loader
        return bool(keys) and all(k.endswith((".lora_A.weight", ".lora_B.weight")) for k in keys)

    def load(self, name: str, folder: Path) -> None:
        """Put the adapter at `folder` in a free slot, under `name`."""
        import torch
        from safetensors.torch import load_file

        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
        weights = _weights_file(folder)
        if weights is None:
            raise FileNotFoundError(f"no adapter_model.safetensors in {folder}")
        tensors = load_file(str(weights))
        pairs: dict[str, dict[str, Any]] = {}
        for key, tensor in tensors.items():
            stem, _, part = key.rpartition(".lora_")
            module = stem.removeprefix(_PREFIX)
            if module not in self._modules or not isinstance(
                self._modules[module], torch.nn.Linear
            ):
                raise KeyError(f"{key}: the base model has no linear layer {module!r}")
            pairs.setdefault(module, {})[part.split(".")[0]] = tensor
        if not self._free:
            self._grow(self.capacity * 2)
        slot = self._free.pop()
        try:
            for module, pair in pairs.items():
                a, b = pair["A"], pair["B"]
                rank = a.shape[0]
                alpha = float(config.get("lora_alpha", rank))
                scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
                layer = self._layer(module)
                layer.grow_rank(rank)
                layer.A[slot].zero_()
                layer.B[slot].zero_()
                layer.A[slot, :rank] = a.to(layer.A.dtype)
                layer.B[slot, :, :rank] = (b * scale).to(layer.B.dtype)
        except Exception:
            self._clear(slot)
            self._free.append(slot)
            raise
        self.slots[name] = slot

    def unload(self, name: str) -> None:
        slot = self.slots.pop(name)
        self._clear(slot)
        self._free.append(slot)

    @contextlib.contextmanager
    def use(self, names: Sequence[str | None]) -> Iterator[None]:
        """Run the model with row i on adapter `names[i]` (None: the plain base)."""
        import torch

        slots = [self.slots[n] if n is not None else 0 for n in names]
        device = next(iter(self.layers.values())).A.device if self.layers else "cpu"
        self._single = slots[0] if len(set(slots)) == 1 else None
        self._rows = torch.tensor(slots, dtype=torch.long, device=device)
        if self._single is None:  # gathered once per batch, not once per layer call
            for layer in self.layers.values():
                a = layer.A.index_select(0, self._rows).transpose(1, 2)  # (batch, in, r)
                b = layer.B.index_select(0, self._rows).transpose(1, 2)  # (batch, r, out)
                layer.batch = (a, b)
        try:
            yield
        finally:
            self._rows, self._single = None, None
            for layer in self.layers.values():
                layer.batch = None

    # -- internals -----------------------------------------------------------------------------

    def _layer(self, module: str) -> _Layer:
        layer = self.layers.get(module)
        if layer is None:
            layer = self.layers[module] = _Layer(self._modules[module], self.capacity)
            self._hooks.append(self._modules[module].register_forward_hook(self._hook(layer)))
        return layer

    def _hook(self, layer: _Layer) -> Any:
        import torch

        def add_adapters(module: Any, inputs: tuple[Any, ...], output: Any) -> Any:
            rows = self._rows
            if rows is None:
                return None
            x = inputs[0]
            if self._single is not None:  # one adapter for all rows: plain matmuls
                if self._single == 0:
                    return None
                a, b = layer.A[self._single], layer.B[self._single]
                return output + (x @ a.T) @ b.T
            a, b = layer.batch  # type: ignore[misc]
            x3 = x.reshape(x.shape[0], -1, x.shape[-1])  # (batch, tokens, in)
            return output + torch.bmm(torch.bmm(x3, a), b).reshape(output.shape)

        return add_adapters

    def _clear(self, slot: int) -> None:
        for layer in self.layers.values():
            layer.A[slot].zero_()
            layer.B[slot].zero_()

    def _grow(self, capacity: int) -> None:
        import torch

        for layer in self.layers.values():
            more = capacity - layer.A.shape[0]
            layer.A = torch.cat([layer.A, layer.A.new_zeros(more, *layer.A.shape[1:])])
            layer.B = torch.cat([layer.B, layer.B.new_zeros(more, *layer.B.shape[1:])])
        self._free = list(range(capacity - 1, self.capacity - 1, -1)) + self._free
        self.capacity = capacity
