"""Reading a prepared dataset for training, and choosing the examples of one scope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailorai.errors import DataError

__all__ = ["Dataset", "load_dataset"]


@dataclass
class Dataset:
    path: Path
    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    dataset_id: str

    def scoped(self, kind: str, value: str | None, group_by: str = "segment") -> Dataset:
        """The examples of one scope: all (global), one segment, or one user."""
        if kind == "global":
            return self

        def keep(example: dict[str, Any]) -> bool:
            if kind == "user":
                return str(example.get("user_id")) == value
            return str(example.get("meta", {}).get(group_by)) == value

        return Dataset(
            self.path,
            [e for e in self.train if keep(e)],
            [e for e in self.validation if keep(e)],
            self.dataset_id,
        )

    def groups(self, group_by: str = "segment") -> list[str]:
        """The segment names present in the training split, by `meta[group_by]`."""
        names = {e.get("meta", {}).get(group_by) for e in self.train}
        return sorted(str(n) for n in names if n is not None)


def _read(path: Path) -> list[dict[str, Any]]:
    examples = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                example = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path} line {number}: not valid JSON ({exc.msg}).") from exc
            messages = example.get("messages") if isinstance(example, dict) else None
            if (
                not isinstance(messages, list)
                or not messages
                or not all(
                    isinstance(m, dict)
                    and m.get("role") in ("system", "user", "assistant")
                    and isinstance(m.get("content"), str)
                    for m in messages
                )
            ):
                raise DataError(
                    f"{path} line {number}: an example needs 'messages', a list of "
                    "{role: system|user|assistant, content: text}. Prepare data with "
                    "`tailor data prepare`."
                )
            if messages[-1]["role"] != "assistant":
                raise DataError(f"{path} line {number}: the last message must be the assistant's.")
            examples.append(example)
    return examples


def load_dataset(folder: str | Path) -> Dataset:
    """Read `train.jsonl` and `validation.jsonl` from a folder `tailor data prepare` wrote."""
    path = Path(folder)
    train_file = path / "train.jsonl"
    if not train_file.is_file():
        raise DataError(
            f"No train.jsonl in {path}. Point --data at a folder written by `tailor data prepare`."
        )
    validation_file = path / "validation.jsonl"
    report_file = path / "report.json"
    dataset_id = ""
    if report_file.is_file():
        dataset_id = json.loads(report_file.read_text(encoding="utf-8")).get("dataset_id", "")
    return Dataset(
        path=path,
        train=_read(train_file),
        validation=_read(validation_file) if validation_file.is_file() else [],
        dataset_id=dataset_id,
    )
