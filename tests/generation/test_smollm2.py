"""The real default model, SmolLM2-135M-Instruct, through the project's own generation paths:
it stops at the end of its turn, says why it stopped and how many tokens it made, and writes
emails that differ per user in ways that fit them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tailorai.events import SqlEventStream, parse_event
from tailorai.generation import CONTENT_DECODING, GenerationRequest, Personalizer
from tailorai.projects import ensure_project
from tailorai.segments import FeatureStore
from tailorai.store import Store

pytestmark = pytest.mark.slow

ASK = [{"role": "user", "content": "Write one friendly sentence about autumn."}]


def test_a_reply_ends_at_the_end_of_its_turn_with_its_tokens_counted(smollm2_backend):
    result = smollm2_backend.generate_one(
        GenerationRequest(messages=ASK, max_new_tokens=120, **CONTENT_DECODING)
    )
    assert result.finish_reason == "stop"
    assert "<|im_end|>" not in result.text and "<|im_start|>" not in result.text
    assert len(result.text.split()) >= 5
    # The count is what the model produced: the reply's tokens and the end-of-turn token.
    tokens = smollm2_backend.tokenizer(result.text, add_special_tokens=False)["input_ids"]
    assert result.completion_tokens in (len(tokens) + 1, len(tokens), len(tokens) + 2)


def test_at_the_limit_both_generate_and_stream_say_length_and_count_exactly(smollm2_backend):
    request = GenerationRequest(
        messages=[{"role": "user", "content": "Write a long story about a lighthouse."}],
        max_new_tokens=10,
        **CONTENT_DECODING,
    )
    whole = smollm2_backend.generate_one(request)
    assert (whole.finish_reason, whole.completion_tokens) == ("length", 10)
    stream = smollm2_backend.stream(request)
    assert "".join(stream) == whole.text
    assert (stream.finish_reason, stream.completion_tokens) == ("length", 10)


def _member(store: Store, user: str, genres: list[str], last_seen_days: float) -> None:
    now = datetime.now(UTC)
    last = now - timedelta(days=last_seen_days)
    events = [
        parse_event(
            {
                "type": "track",
                "event": "Film Viewed",
                "userId": user,
                "messageId": f"{user}-{i}",
                "timestamp": (last - timedelta(hours=6 * i)).isoformat(),
                "properties": {"categories": genres[: 1 + i % 2], "title": f"Film {i}"},
            },
            now,
            max_age=None,
        )
        for i in range(8)
    ]
    FeatureStore(store).update("club", SqlEventStream(store).append("club", events).new)


def test_the_same_request_gives_each_member_an_email_that_fits_them(tmp_path, smollm2_backend):
    store = Store(f"sqlite:///{tmp_path / 'club.db'}")
    ensure_project(store, "club")
    _member(store, "scifi-fan", ["Sci-Fi", "Action"], last_seen_days=1)
    _member(store, "romance-fan", ["Romance", "Comedy"], last_seen_days=2)
    personalizer = Personalizer(
        store=store, backend=smollm2_backend, project="club", max_new_tokens=90
    )
    inputs = {"goal": "tell them about this week's new films", "brand": "Cinema Club"}
    emails = {
        user: personalizer.generate(user, "email", inputs) for user in ("scifi-fan", "romance-fan")
    }
    scifi, romance = emails["scifi-fan"].output, emails["romance-fan"].output
    assert scifi != romance
    assert re.search(r"sci-?fi|science fiction", scifi, re.I), scifi
    assert re.search(r"romanc|romantic|love", romance, re.I), romance
    for email in (scifi, romance):
        words = email.split()
        assert len(words) >= 25, email
        # The repetition control holds: no 4-word run comes back.
        grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
        assert len(set(grams)) == len(grams), email
        # The customer and sender placeholders are filled; the brand is the request's.
        assert "[Customer Name]" not in email and "[Your Name]" not in email
    # What the model read: the members' own favourite genres, from their stored events.
    prompt = emails["scifi-fan"].prompt
    assert "Cinema Club" in prompt[0]["content"]
    assert prompt[-1]["content"].endswith(
        "The customer's favourite categories are Sci-Fi and Action. Make the content about what "
        "fits Sci-Fi and Action."
    )
    store.close()


def test_the_openai_client_gets_true_finish_reasons_and_usage(tmp_path, smollm2_backend):
    """Through the real server: at max_tokens the reply says "length", streamed or not, and
    never counts more tokens than it was allowed (it said 15 for max_tokens 10 before)."""
    import openai

    from tailorai.projects import create_key
    from tailorai.server import create_app
    from tests.server.conftest import serve

    store = Store(f"sqlite:///{tmp_path / 'server.db'}")
    key = create_key(store, "shop", "secret")
    app = create_app(store, rate_limit=0, home=tmp_path, backend=smollm2_backend)
    messages = [{"role": "user", "content": "Describe the sea in detail, at length."}]
    for url in serve(app):
        api = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        reply = api.chat.completions.create(model="tailor", messages=messages, max_tokens=10)
        assert reply.choices[0].finish_reason == "length"
        assert reply.usage.completion_tokens == 10
        chunks = list(
            api.chat.completions.create(
                model="tailor", messages=messages, max_tokens=10, stream=True
            )
        )
        assert chunks[-1].choices[0].finish_reason == "length"
        record = app.state.services.generations.get("shop", chunks[0].id.removeprefix("chatcmpl-"))
        assert record.completion_tokens == 10 and record.finish_reason == "length"
        short = api.chat.completions.create(
            model="tailor",
            messages=[{"role": "user", "content": "Say hello in one word."}],
            max_tokens=60,
        )
        assert short.choices[0].finish_reason == "stop"
        assert short.usage.completion_tokens < 60
    store.close()
