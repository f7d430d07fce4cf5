"""A labelled PII test set that is not the shipped one: our own templates of support chats,
emails and form answers, filled by Faker in nine locales, many written forms per entity.

Each record is in the presidio-research JSON format `evaluate_pii` reads: `full_text` and its
`spans` (`entity_type`, `entity_value`, `start_position`, `end_position`). The forms vary what
recognizers stumble on: names in lower case, with middle initials or with titles; phones
international, national, spaced, dotted, with and without the country code; cards of every
network in one block, in groups of four or with dashes; IBANs grouped or not; IPv4 and IPv6;
US SSNs; emails; street addresses and cities. The same seed gives the same file.

    .venv/bin/python bench/pii_set.py --records 1200 --out /tmp/pii_set.json

`bench/data_prepare.py --pii-set` builds it on the fly and scores on it beside the shipped file.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

_GB: Any = None  # a British Faker, for valid IBANs where a locale's are not
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN", "en_AU")
CARD_BODIES = {  # network: (prefixes, length)
    "visa": (["4"], 16),
    "visa19": (["4"], 19),
    "mastercard": (["51", "53", "55"], 16),
    "mastercard2": (["2221", "2500", "2720"], 16),
    "amex": (["34", "37"], 15),
    "discover": (["6011", "65"], 16),
    "maestro": (["6759", "5018"], 16),
    "maestro19": (["6759", "5018"], 19),
    "unionpay": (["62"], 16),
}
# {slots} are filled; each template is a chat, an email or a form answer.
TEMPLATES = (
    "Hi, this is {PERSON}. My card {CREDIT_CARD} was charged twice, please refund it.",
    "hello my name is {person_lower} and i can't log in, call me on {PHONE_NUMBER}",
    "Dear support,\n\nplease update my address to {ADDRESS}, {LOCATION}.\n\nRegards,\n{PERSON}",
    "Name: {PERSON}\nEmail: {EMAIL_ADDRESS}\nPhone: {PHONE_NUMBER}\nCity: {LOCATION}",
    "I paid from my account {IBAN_CODE} but the order still says unpaid.",
    "Can you send the invoice to {EMAIL_ADDRESS}? Thanks, {PERSON}",
    "My SSN is {US_SSN}, do you need anything else for the verification?",
    "The login came from {IP_ADDRESS}, that wasn't me!!",
    "{PERSON} here - reach me at {PHONE_NUMBER} or {EMAIL_ADDRESS} after 6pm.",
    "Ship it to {PERSON}, {ADDRESS}, {LOCATION} please",
    "card number: {CREDIT_CARD}\nexpiry 09/29\nname on card: {PERSON}",
    "Transfer refund to IBAN {IBAN_CODE} (account holder {PERSON}).",
    "Our router at {IP_ADDRESS} keeps dropping, ticket opened by {PERSON}.",
    "Hey, it's {person_lower}. Moved to {LOCATION} last month, new number {PHONE_NUMBER}.",
    "From: {PERSON} <{EMAIL_ADDRESS}>\nSubject: order\n\nPlease cancel it. Tel. {PHONE_NUMBER}",
    "pls charge {CREDIT_CARD} for the upgrade, ssn {US_SSN} if you need it",
)


# Written apart from TEMPLATES and never looked at while changing a recognizer: a change made
# from the misses on TEMPLATES must also raise recall here (`--templates held_out`).
HELD_OUT_TEMPLATES = (
    "good morning, {person_lower} speaking. my phone {PHONE_NUMBER} is on the account",
    "Account holder: {PERSON}\nIBAN: {IBAN_CODE}\nPlease confirm the direct debit.",
    "I'm writing on behalf of {PERSON}; she lives at {ADDRESS} in {LOCATION}.",
    "refund to the card ending... actually full number {CREDIT_CARD}, sorry",
    "Please contact {PERSON} ({EMAIL_ADDRESS}) about the delivery to {LOCATION}.",
    "ssn: {US_SSN} / dob 01.02.1980 / name {person_lower}",
    "We saw logins from {IP_ADDRESS} and {IP_ADDRESS} for user {PERSON}.",
    "Thanks! — {PERSON}\nSent from my phone\n{PHONE_NUMBER}",
    "Customer {PERSON} called from {PHONE_NUMBER} about card {CREDIT_CARD}.",
    "Hi team, forward this to {EMAIL_ADDRESS} and cc {PERSON} please.",
)


def _luhn_complete(body: str) -> str:
    from tailorai.data.pii.cards import luhn_valid

    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def _card(rng: random.Random) -> str:
    prefixes, length = CARD_BODIES[rng.choice(sorted(CARD_BODIES))]
    prefix = rng.choice(prefixes)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    number = _luhn_complete(body)
    form = rng.choice(("block", "spaces", "dashes"))
    if form == "block":
        return number
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    return (" " if form == "spaces" else "-").join(groups)


def _phone(fake: Any, rng: random.Random) -> str:
    """As the locale writes it, or a national number re-spaced, dotted or run together."""
    raw = fake.phone_number().split("x")[0].strip()  # no extensions
    digits = "".join(ch for ch in raw if ch.isdigit())
    form = rng.choice(("as_faker", "as_faker", "dotted", "spaced", "plain"))
    if form in ("dotted", "spaced") and len(digits) == 10:
        return ("." if form == "dotted" else " ").join((digits[:3], digits[3:6], digits[6:]))
    if form == "plain" and 9 <= len(digits) <= 13:
        return ("+" if raw.startswith("+") else "") + digits
    return raw


def _person(fake: Any, rng: random.Random) -> str:
    form = rng.choice(("plain", "plain", "initial", "title", "first"))
    if form == "initial":
        return f"{fake.first_name()} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {fake.last_name()}"
    if form == "title":
        return f"{rng.choice(('Mr', 'Mrs', 'Ms', 'Dr'))} {fake.last_name()}"
    if form == "first":
        return fake.first_name()
    return fake.name()


def _ssn(rng: random.Random) -> str:
    area, group, serial = rng.randint(1, 665), rng.randint(1, 99), rng.randint(1, 9999)
    return f"{area:03d}-{group:02d}-{serial:04d}"


def _valid_iban(iban: str) -> bool:
    """The ISO 13616 check (mod 97) and the country's length, for the ones Faker makes."""
    lengths = {"GB": 22, "DE": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18}
    if lengths.get(iban[:2]) != len(iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _iban(fake: Any, rng: random.Random) -> str:
    iban = fake.iban()
    while not _valid_iban(iban):  # Faker's en_IN and en_AU make 21-character "GB" ones
        iban = _GB.iban()
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def _values(fake: Any, rng: random.Random) -> dict[str, tuple[str, str]]:
    """slot -> (entity type, value)."""
    person = _person(fake, rng)
    return {
        "PERSON": ("PERSON", person),
        "person_lower": ("PERSON", fake.name().lower()),
        "EMAIL_ADDRESS": ("EMAIL_ADDRESS", fake.email()),
        "PHONE_NUMBER": ("PHONE_NUMBER", _phone(fake, rng)),
        "CREDIT_CARD": ("CREDIT_CARD", _card(rng)),
        "IBAN_CODE": ("IBAN_CODE", _iban(fake, rng)),
        "US_SSN": ("US_SSN", _ssn(rng)),
        "IP_ADDRESS": ("IP_ADDRESS", fake.ipv4() if rng.random() < 0.7 else fake.ipv6()),
        "ADDRESS": ("ADDRESS", fake.street_address().replace("\n", ", ")),
        "LOCATION": ("LOCATION", fake.city()),
    }


def _fill(template: str, values: dict[str, tuple[str, str]]) -> dict[str, Any]:
    text, spans, at = "", [], 0
    while True:
        opened = template.find("{", at)
        if opened < 0:
            text += template[at:]
            break
        closed = template.index("}", opened)
        text += template[at:opened]
        entity, value = values[template[opened + 1 : closed]]
        spans.append(
            {
                "entity_type": entity,
                "entity_value": value,
                "start_position": len(text),
                "end_position": len(text) + len(value),
            }
        )
        text += value
        at = closed + 1
    return {"full_text": text, "spans": spans}


def build(records: int = 1200, seed: int = 0, *, templates: str = "own") -> list[dict[str, Any]]:
    """`records` labelled texts, spread evenly over the locales and the templates: `own`
    (TEMPLATES), `held_out` (HELD_OUT_TEMPLATES), `blind` (`pii_blind_templates.py`, written
    by someone who never saw the recognizers), `blind2` and `blind3` (written the same way later,
    each to check the changes made from the misses on the set before it)."""
    if templates == "blind":
        from pii_blind_templates import BLIND_TEMPLATES as chosen
    elif templates == "blind2":
        from pii_blind2_templates import BLIND2_TEMPLATES as chosen
    elif templates == "blind3":
        from pii_blind3_templates import BLIND3_TEMPLATES as chosen
    else:
        chosen = HELD_OUT_TEMPLATES if templates == "held_out" else TEMPLATES
    from faker import Faker

    global _GB
    _GB = Faker("en_GB")
    _GB.seed_instance(seed)
    rng = random.Random(seed)
    fakers = {}
    for i, locale in enumerate(LOCALES):
        fakers[locale] = Faker(locale)
        fakers[locale].seed_instance(seed * 100 + i)
    out = []
    for i in range(records):
        fake = fakers[LOCALES[i % len(LOCALES)]]
        out.append(_fill(chosen[i % len(chosen)], _values(fake, rng)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--templates", choices=("own", "held_out", "blind", "blind2", "blind3"), default="own"
    )
    args = parser.parse_args()
    data = build(args.records, args.seed, templates=args.templates)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(data)} records, {sum(len(r['spans']) for r in data)} spans: {args.out}",
          file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
