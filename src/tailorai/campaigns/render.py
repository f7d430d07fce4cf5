"""Campaign emails, end to end: learn, decide, write each block's copy, record, render.

    emails = render_campaign(engine, personalizer, ["u1", "u2"], click_url="https://t.example")
    write_emails(emails, Path("out"))      # u1.html, u1.txt, ..., sends.jsonl

Each block's copy is a generation through the `Personalizer` (the user's rung, segment prompt
and adapter; the campaign's `task`), so it is a generation record feedback can reach. Links go
through the click redirect `{click_url}/v1/c/{send_id}/{block}`, which records the click as an
event the bandit learns from. Sends are stored only once every block's copy is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from tailorai.campaigns.engine import CampaignEngine, Placement, Send
from tailorai.campaigns.spec import Campaign

__all__ = ["Email", "click_link", "render_campaign", "render_email", "write_emails"]

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("tailorai.campaigns", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    keep_trailing_newline=True,
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


@dataclass(slots=True)
class Email:
    send_id: str
    user_id: str
    segment: str | None
    subject: str
    html: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def click_link(click_url: str | None, send_id: str, block: str, link: str) -> str:
    """The link a block's button carries: through the click redirect when there is one."""
    if not click_url:
        return link
    return f"{click_url.rstrip('/')}/v1/c/{send_id}/{block}"


def _fill(template: str, values: dict[str, Any]) -> str:
    shown = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in values.items()}
    return template.format_map(shown)


def _write_copy(campaign: Campaign, sends: Sequence[Send], personalizer: Any, workers: int) -> None:
    """Each placement's copy and generation id (concurrent calls share micro-batches)."""

    def write(item: tuple[Send, Placement]) -> None:
        send, place = item
        values = {**campaign.defaults, **send.values}
        title = _fill(place.block.title, values)
        inputs = {
            **campaign.defaults,
            "title": title,
            "prompt": _fill(place.block.prompt, {**values, "title": title}),
        }
        generation = personalizer.generate(
            send.user_id,
            campaign.task,
            inputs,
            max_new_tokens=campaign.max_tokens,
            part_of_send=True,  # the email is the send: its caps are checked once, above
        )
        place.copy, place.generation_id = generation.output, generation.id

    items = [(send, place) for send in sends for place in send.placements]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(write, items))  # the first failure is raised here


def render_email(campaign: Campaign, send: Send, click_url: str | None = None) -> Email:
    values = {**campaign.defaults, **send.values}
    blocks = [
        {
            "name": p.block.name,
            "position": p.position,
            "propensity": p.propensity,
            "title": _fill(p.block.title, values),
            "body": p.copy,
            "cta": "Take a look",
            "url": click_link(click_url, send.send_id, p.block.name, p.block.link),
            "link": p.block.link,
            "generation_id": p.generation_id,
        }
        for p in send.placements
    ]
    context = {
        "subject": _fill(campaign.subject, values),
        "blocks": blocks,
        "brand": values.get("brand", ""),
        "user_id": send.user_id,
    }
    return Email(
        send_id=send.send_id,
        user_id=send.user_id,
        segment=send.segment,
        subject=context["subject"],
        html=_TEMPLATES.get_template("email.html").render(context),
        text=_TEMPLATES.get_template("email.txt").render(context),
        blocks=blocks,
    )


def render_campaign(
    engine: CampaignEngine,
    personalizer: Any,
    users: Sequence[str],
    *,
    click_url: str | None = None,
    workers: int = 8,
) -> list[Email]:
    """Learn from the clicks so far, decide each user's blocks, write them, record the sends
    and render the emails. Users no block is eligible for get none; with the Personalizer's
    fatigue guard, users at their email frequency cap (or backed off) get none either, and
    that is logged with the reason."""
    guard = getattr(personalizer, "fatigue", None)
    if guard is not None:
        allowed = []
        for user in users:
            ok, why = guard.allow(user, "email")
            if ok:
                allowed.append(user)
            else:
                guard.log(user, "email", "capped", f"campaign {engine.name}: {why}")
        users = allowed
    engine.learn()
    sends = engine.decide(users)
    _write_copy(engine.campaign, sends, personalizer, workers)
    engine.record(sends)
    if guard is not None:
        for send in sends:
            guard.sent(send.user_id, "email")
    return [render_email(engine.campaign, send, click_url) for send in sends]


def write_emails(emails: Sequence[Email], out: Path) -> Path:
    """`<user>.html` and `<user>.txt` per email in `out`, and `sends.jsonl` listing them."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "sends.jsonl"
    used: set[str] = set()
    with manifest.open("w", encoding="utf-8") as f:
        for email in emails:
            stem = _UNSAFE.sub("_", email.user_id)[:100] or email.send_id
            if stem in used:  # two user ids that differ only in unsafe characters
                stem = f"{stem}-{email.send_id[:8]}"
            used.add(stem)
            (out / f"{stem}.html").write_text(email.html, encoding="utf-8")
            (out / f"{stem}.txt").write_text(email.text, encoding="utf-8")
            row = {k: v for k, v in email.as_dict().items() if k not in ("html", "text")}
            f.write(json.dumps({**row, "html": f"{stem}.html", "text": f"{stem}.txt"}) + "\n")
    return manifest
