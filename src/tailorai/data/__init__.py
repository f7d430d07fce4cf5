"""Data preparation: raw user data in, clean, anonymized training examples out.

`prepare()` runs the whole job; `Pipeline` runs any list of steps (each a small class with one
hook, see `step.py`) over records from `read_inputs()`.
"""

from __future__ import annotations

from tailorai.data.clean import Clean
from tailorai.data.config import PrepareConfig
from tailorai.data.exact_dedupe import ExactDedupe
from tailorai.data.format import Format
from tailorai.data.language import Language
from tailorai.data.near_duplicates import NearDedupe
from tailorai.data.pipeline import Pipeline, default_steps
from tailorai.data.prepare import prepare
from tailorai.data.quality_filter import QualityFilter
from tailorai.data.readers import read_inputs
from tailorai.data.sentences import Sentences
from tailorai.data.split import split_examples
from tailorai.data.step import Filter, Step, TextTransform

__all__ = [
    "Clean",
    "ExactDedupe",
    "Filter",
    "Format",
    "Language",
    "NearDedupe",
    "Pipeline",
    "PrepareConfig",
    "QualityFilter",
    "Sentences",
    "Step",
    "TextTransform",
    "default_steps",
    "prepare",
    "read_inputs",
    "split_examples",
]
