"""PromptBuilder with the shipped tokenizer, real retrievers and small example lists."""

from __future__ import annotations

import pytest

from tailorai.errors import ConfigError
from tailorai.prompting import (
    BM25Retriever,
    EmbeddingRetriever,
    PromptBuilder,
    PromptTooLong,
    TemplateSet,
    load_sentence_model,
)
from tailorai.training import render_chat
from tests.prompting.conftest import example

TEMPLATES = TemplateSet.from_dict(
    {
        "version": 2,
        "tasks": {
            "chat_reply": {
                "request": "{message}",
                "segments": {
                    "default": {"system": "You answer customers of {brand}."},
                    "buyers": {"system": "You answer loyal customers of {brand}. Be brief."},
                },
            }
        },
    }
)
INPUTS = {"brand": "Acme", "message": "My parcel has not arrived, where is it?"}


TRAIN = [
    example("a1", "alice", "Where is my parcel? It has not arrived.", "It is on its way, Alice."),
    example("a2", "alice", "Can I get a refund for the parcel?", "Yes, within 30 days."),
    example("a3", "alice", "How do I change my password?", "Use the account page."),
    example("b1", "bob", "My parcel has not arrived, where is it?", "Bob, it was lost. Sorry!"),
]


@pytest.fixture(scope="module")
def bm25() -> BM25Retriever:
    return BM25Retriever().fit(TRAIN)


def test_messages_are_system_and_cues_then_examples_then_the_request(bm25):
    prompt = PromptBuilder(TEMPLATES, bm25).build(
        user_id="alice",
        task="chat_reply",
        inputs=INPUTS,
        segment="buyers",
        features={"device": "mobile", "engagement": "high"},
        k=2,
    )
    assert prompt.messages == [
        {
            "role": "system",
            "content": "You answer loyal customers of Acme. Be brief.\n\n"
            "About this customer:\n- Engagement: high.\n- Device: mobile.",
        },
        {"role": "user", "content": "Where is my parcel? It has not arrived."},
        {"role": "assistant", "content": "It is on its way, Alice."},
        {"role": "user", "content": "Can I get a refund for the parcel?"},
        {"role": "assistant", "content": "Yes, within 30 days."},
        {"role": "user", "content": "My parcel has not arrived, where is it?"},
    ]
    assert prompt.example_ids == ["a1", "a2"]
    assert prompt.template_version == TEMPLATES.get("chat_reply", "buyers").version
    assert prompt.segment == "buyers" and prompt.tokens is None  # no tokenizer: not counted
    assert prompt.as_dict()["example_ids"] == ["a1", "a2"]


def test_zero_shot_has_no_examples_and_falls_back_to_the_default_segment(bm25):
    for builder, k in ((PromptBuilder(TEMPLATES, bm25), 0), (PromptBuilder(TEMPLATES), 3)):
        prompt = builder.build(user_id="alice", task="chat_reply", inputs=INPUTS, segment="x", k=k)
        assert [m["role"] for m in prompt.messages] == ["system", "user"]
        assert prompt.messages[0]["content"] == "You answer customers of Acme."
        assert prompt.example_ids == [] and prompt.segment == "default"
        assert prompt.template_version == TEMPLATES.get("chat_reply").version


def test_another_users_examples_never_reach_the_prompt(bm25):
    # Bob's example is word for word the request, yet Alice and unknown users never see it.
    for user in ("alice", "carol", None):
        prompt = PromptBuilder(TEMPLATES, bm25).build(
            user_id=user, task="chat_reply", inputs=INPUTS, k=10
        )
        text = " ".join(m["content"] for m in prompt.messages)
        assert "Bob" not in text and "b1" not in prompt.example_ids
    # Bob's own earlier answer to the very same request is his history: shown, unless the
    # request is that example itself.
    builder = PromptBuilder(TEMPLATES, bm25)
    assert builder.build(user_id="bob", task="chat_reply", inputs=INPUTS, k=10).example_ids == [
        "b1"
    ]
    itself = builder.build(
        user_id="bob", task="chat_reply", inputs=INPUTS, k=10, exclude_ids=["b1"]
    )
    assert itself.example_ids == []


class LeakyRetriever:
    def fit(self, examples):
        return self

    def search(self, user_id, query, k=3, *, exclude_ids=()):
        return TRAIN[3:]


def test_a_retriever_that_leaks_another_users_example_fails_loudly():
    with pytest.raises(ConfigError, match="returned example 'b1' of another user"):
        PromptBuilder(TEMPLATES, LeakyRetriever()).build(
            user_id="alice", task="chat_reply", inputs=INPUTS
        )


def test_embedding_retrieval_picks_the_paraphrase():
    retriever = EmbeddingRetriever(model=load_sentence_model()).fit(TRAIN)
    prompt = PromptBuilder(TEMPLATES, retriever).build(
        user_id="alice",
        task="chat_reply",
        inputs={"brand": "Acme", "message": "My package never came"},
        k=1,
        exclude_ids={"a2"},
    )
    assert prompt.example_ids == ["a1"]


def _count(tokenizer, messages) -> int:
    text = render_chat(tokenizer, messages, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_tokens_are_counted_as_rendered_and_the_budget_defaults_to_the_context(tokenizer, bm25):
    builder = PromptBuilder(TEMPLATES, bm25, tokenizer)
    assert builder.max_tokens == 512 - 128  # stories260k's context minus the answer reserve
    assert PromptBuilder(TEMPLATES, tokenizer=tokenizer, answer_tokens=12).max_tokens == 500
    prompt = builder.build(user_id="alice", task="chat_reply", inputs=INPUTS, k=3)
    assert prompt.example_ids == ["a1", "a2", "a3"]
    assert prompt.tokens == _count(tokenizer, prompt.messages)


def test_examples_are_dropped_least_similar_first_until_the_prompt_fits(tokenizer, bm25):
    unlimited = PromptBuilder(TEMPLATES, bm25, tokenizer, max_tokens=100_000)
    sizes = [
        unlimited.build(user_id="alice", task="chat_reply", inputs=INPUTS, k=k).tokens
        for k in range(4)
    ]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    for budget, kept in ((sizes[3], 3), (sizes[3] - 1, 2), (sizes[2], 2), (sizes[1], 1)):
        prompt = PromptBuilder(TEMPLATES, bm25, tokenizer, max_tokens=budget).build(
            user_id="alice", task="chat_reply", inputs=INPUTS, k=3
        )
        assert prompt.example_ids == ["a1", "a2", "a3"][:kept]
        assert prompt.dropped_example_ids == ["a1", "a2", "a3"][kept:]
        assert prompt.tokens == sizes[kept] <= budget
    fits_alone = PromptBuilder(TEMPLATES, bm25, tokenizer, max_tokens=sizes[0])
    assert fits_alone.build(user_id="alice", task="chat_reply", inputs=INPUTS).example_ids == []


def test_a_prompt_that_cannot_fit_even_without_examples_is_an_error(tokenizer, bm25):
    unlimited = PromptBuilder(TEMPLATES, bm25, tokenizer, max_tokens=100_000)
    bare = unlimited.build(user_id="alice", task="chat_reply", inputs=INPUTS, k=0).tokens
    builder = PromptBuilder(TEMPLATES, bm25, tokenizer, max_tokens=bare - 1)
    with pytest.raises(
        PromptTooLong, match=rf"needs {bare} tokens even without examples.*{bare - 1}"
    ):
        builder.build(user_id="alice", task="chat_reply", inputs=INPUTS, k=3)
    assert issubclass(PromptTooLong, ConfigError)


def test_bad_arguments_say_what_was_wrong(tokenizer):
    with pytest.raises(ConfigError, match="max_tokens but no tokenizer"):
        PromptBuilder(TEMPLATES, max_tokens=100)
    with pytest.raises(ConfigError, match=r"'max_tokens' parameter of PromptBuilder .* Got 0"):
        PromptBuilder(TEMPLATES, tokenizer=tokenizer, max_tokens=0)
    with pytest.raises(ConfigError, match="leaves no room for a prompt"):
        PromptBuilder(TEMPLATES, tokenizer=tokenizer, answer_tokens=512)
    builder = PromptBuilder(TEMPLATES)
    with pytest.raises(ConfigError, match=r"'k' parameter of PromptBuilder\.build .* Got -1"):
        builder.build(user_id="alice", task="chat_reply", inputs=INPUTS, k=-1)
    with pytest.raises(ConfigError, match="needs input 'message'"):
        builder.build(user_id="alice", task="chat_reply", inputs={"brand": "Acme"})
    with pytest.raises(ConfigError, match="Unknown task 'sms'"):
        builder.build(user_id="alice", task="sms", inputs=INPUTS)


def test_the_shipped_templates_are_the_default():
    prompt = PromptBuilder().build(
        user_id=None, task="email", inputs={"goal": "announce the summer sale"}
    )
    assert prompt.template_version == TemplateSet.load().get("email").version
    assert prompt.messages[-1]["content"].endswith("announce the summer sale")


CONTENT = TemplateSet.from_dict(
    {
        "version": 1,
        "tasks": {
            "email": {
                "request": "Write an email. Purpose: {goal}",
                "cues": "request",
                "segments": {
                    "default": {"system": "You write emails for {brand}."},
                    "buyers": {"system": "You write emails for {brand} to loyal buyers."},
                    "lapsed": {"system": "You write welcome-back emails for {brand}."},
                },
            }
        },
    }
)


def test_content_tasks_put_the_cues_after_the_request_as_sentences():
    builder = PromptBuilder(CONTENT)
    features = {"top_categories": ["Sci-Fi", "Action"], "recency_days": 2, "device": "mobile"}
    prompt = builder.build(
        user_id="u1", task="email", inputs={"goal": "new films", "brand": "Cinema Club"},
        segment="buyers", features=features,
    )  # fmt: skip
    system, request = prompt.messages[0]["content"], prompt.messages[-1]["content"]
    assert system == "You write emails for Cinema Club to loyal buyers."
    assert request == (
        "Write an email. Purpose: new films. The customer's favourite categories are Sci-Fi "
        "and Action. Make the content about what fits Sci-Fi and Action."
    )
    assert prompt.segment == "buyers"


def test_a_lapsed_user_gets_the_lapsed_template_whatever_their_segment():
    builder = PromptBuilder(CONTENT)
    features = {"top_categories": ["Drama"], "recency_days": 400}
    prompt = builder.build(
        user_id="u1", task="email", inputs={"goal": "new films", "brand": "Cinema Club"},
        segment="buyers", features=features,
    )  # fmt: skip
    assert prompt.segment == "lapsed"
    assert prompt.messages[0]["content"] == "You write welcome-back emails for Cinema Club."
    assert prompt.messages[-1]["content"].endswith(
        "The customer's favourite category is Drama. Make the content about what fits Drama. It "
        "has been over a year since their last visit."
    )
    # Without a `lapsed` template the segment's own stays.
    plain = PromptBuilder(TEMPLATES).build(
        user_id="u1", task="chat_reply", inputs=INPUTS, segment="buyers", features=features
    )
    assert plain.segment == "buyers" and "welcome them back" in plain.messages[0]["content"]


def test_the_shipped_content_templates_take_the_cues_in_the_request():
    shipped = TemplateSet.load()
    for task in ("email", "product_description", "recommendation", "email_block"):
        assert shipped.get(task).cues == "request", task
    assert shipped.get("chat_reply").cues == "system"
    assert shipped.has("email", "lapsed") and shipped.has("email_block", "lapsed")
