"""Prompting: templates per task and segment, context cues, and a user's own examples.

This is the first two rungs of the personalization ladder: zero-shot with the segment's prompt,
and few-shot with examples retrieved from the user's own history (never anyone else's).

Example::

    from tailorai.prompting import BM25Retriever, PromptBuilder, TemplateSet

    builder = PromptBuilder(TemplateSet.load(), BM25Retriever().fit(train), tokenizer)
    prompt = builder.build(
        user_id="u1",
        task="chat_reply",
        inputs={"message": "Where is my parcel?"},
        segment="buyers",
        features={"device": "mobile", "preferred_categories": ["shoes"]},
        k=3,
    )
    prompt.messages, prompt.template_version, prompt.example_ids, prompt.tokens
"""

from __future__ import annotations

from tailorai.prompting.bm25 import BM25Retriever
from tailorai.prompting.builder import ANSWER_TOKENS, Prompt, PromptBuilder, PromptTooLong
from tailorai.prompting.cues import CUE_LABELS, context_cues
from tailorai.prompting.embeddings import EmbeddingRetriever, load_sentence_model
from tailorai.prompting.retrieval import (
    HistoryRetriever,
    Retriever,
    example_turns,
    own_examples,
    row_example,
    with_examples,
)
from tailorai.prompting.templates import DEFAULT_SEGMENT, DEFAULT_TEMPLATES, Template, TemplateSet

__all__ = [
    "ANSWER_TOKENS",
    "CUE_LABELS",
    "DEFAULT_SEGMENT",
    "DEFAULT_TEMPLATES",
    "BM25Retriever",
    "EmbeddingRetriever",
    "HistoryRetriever",
    "Prompt",
    "PromptBuilder",
    "PromptTooLong",
    "Retriever",
    "Template",
    "TemplateSet",
    "context_cues",
    "example_turns",
    "load_sentence_model",
    "own_examples",
    "row_example",
    "with_examples",
]
