"""WordNet for NLTK, built from Debian's `wordnet-base` when NLTK has no copy of its own.

NLTK's downloader needs the network; Debian ships the same WordNet 3.0 database files. NLTK only
lacks `lexnames`, which is a fixed table, so it is written here rather than parsed from a man page.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tailorai.errors import MissingDependency

__all__ = ["DEBIAN_WORDNET", "INSTALL", "build_wordnet", "default_nltk_data", "load_wordnet"]

DEBIAN_WORDNET = Path("/usr/share/wordnet")
INSTALL = "apt-get install -y wordnet-base wordnet-sense-index"

# WordNet 3.0 lexicographer files, in number order (see lexnames(5WN)).
# fmt: off
_LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)
# fmt: on
_POS_NUMBER = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def default_nltk_data() -> Path:
    """`$XDG_CACHE_HOME/tailorai/nltk_data`, by default `~/.cache/tailorai/nltk_data`."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "tailorai" / "nltk_data"


def build_wordnet(nltk_data: Path, source: Path = DEBIAN_WORDNET) -> Path:
    """Lay out `source` as `nltk_data/corpora/wordnet`; returns that folder.

    Raises `MissingDependency` when `source` holds no WordNet database.
    """
    target = nltk_data / "corpora" / "wordnet"
    if (target / "lexnames").is_file():  # written last: its presence means a complete copy
        return target
    if not (source / "data.noun").is_file():
        raise MissingDependency(f"WordNet (no database in {source})", INSTALL)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename, so a concurrent process never sees half a copy.
    staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
    try:
        for item in source.iterdir():
            if item.is_file():
                # Real copies: NLTK's reader refuses symlinks and hard links.
                shutil.copyfile(item, staging / item.name)
        lines = [
            f"{i:02d}\t{name}\t{_POS_NUMBER[name.split('.')[0]]}"
            for i, name in enumerate(_LEXNAMES)
        ]
        (staging / "lexnames").write_text("\n".join(lines) + "\n", encoding="ascii")
        try:
            staging.rename(target)
        except OSError:  # another process finished first
            if not (target / "lexnames").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_wordnet(nltk_data: Path | None = None, source: Path = DEBIAN_WORDNET) -> Any:
    """NLTK's WordNet reader, building it from `source` into `nltk_data` first if needed."""
    import nltk
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
        return wordnet
    except LookupError:
        pass
    root = nltk_data if nltk_data is not None else default_nltk_data()
    build_wordnet(root, source)
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))
    try:
        wordnet.ensure_loaded()
    except (LookupError, OSError) as exc:
        raise MissingDependency(f"A readable WordNet in {root} ({exc})", INSTALL) from exc
    return wordnet
