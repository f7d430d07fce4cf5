"""Person names NER misses, found by regular expressions and word lists: after a title or a cue
("my name is"), in a vocative, or known given names."""

from __future__ import annotations

import re

from tailorai.data.pii.lexicon import Lexicon
from tailorai.data.pii.spans import Found
from tailorai.data.pii.words import WORD, base_word, sentence_initial, strip_possessive

__all__ = ["find_names"]

_TITLE = re.compile(
    r"\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|mme|mlle|herr|frau|señor|señora|sr|sra|sig|sig\.ra"
    r"|dott|dott\.ssa|avv|dhr|mevr)\.?[ \t]+"
    r"(?=[^\W\d_])",
    re.IGNORECASE,
)
_STRONG_CUE = re.compile(
    r"""\b(?: (?:my|his|her|their|your|first|last|full|maiden|middle|sur|nick) [\ \t]? name
               (?:[\ \t]+is|'s|[\ \t]*:)?
             | call(?:s|ed)?[\ \t]+me | named | signed
           )[\ \t]+(?=[^\W\d_])""",
    re.IGNORECASE | re.VERBOSE,
)
_WEAK_CUE = re.compile(
    r"""\b(?: this[\ \t]+is | i[\ \t]+am | i'm | it's | dear | hi | hello | hey | thanks
             | thank[\ \t]+you | regards | cheers | love | sincerely | best | warmly
             | yours[\ \t]+(?:faithfully|truly|respectfully)
             | on[\ \t]+behalf[\ \t]+of | attn\.? | attention | c/o | care[\ \t]+of
             | (?:account|card)[\ \t]?holder:? | recipient:? | cc
           ),?(?:[\ \t]+|[\ \t]*\n[\ \t]*(?=\S+(?:[\ \t]\S+){0,2}[\ \t]*(?:\n|$)))(?=[A-Z])""",
    re.IGNORECASE | re.VERBOSE,
)
# A name before its email address: "Ana Ruiz <ana@example.org>", "Ana Ruiz (ana@example.org)".
_BEFORE_EMAIL = re.compile(
    r"(?<![\w@])([A-Z][\w'’-]+(?:[ \t]+(?:[A-Z]\.|[A-Z][\w'’-]+)){1,3})[ \t]*[<(][\w.+-]+@"
)
# A form's name field: "Name: baccio", "Full name: Ana Ruiz", at the start of a line.
_FIELD_CUE = re.compile(
    r"(?im)^[ \t]*(?:full[ \t]|first[ \t]|last[ \t]|customer[ \t]|your[ \t])?name[ \t]*:[ \t]*"
    r"(?=[^\W\d_])"
)
_WEAK_LOWER_CUE = re.compile(
    r"\b(?:this[ \t]+is|i[ \t]+am|i'm|it's|it is|regards|cheers|thanks)[ \t,]+(?=[a-z])",
    re.IGNORECASE,
)
# Who a person is to the text: "user is", "spoke w/", "Applicant:", "remitter", "my sister".
# What follows is often typed in lower case, so `_role_name` decides whether it is a name.
_ROLE_CUE = re.compile(
    r"""\b(?: (?:user|customer|client|caller|tenant|applicant|patient|guest|member|employee
                |candidate|beneficiary|remitter|payee|payer|sender|requester|requestor|buyer
                |seller|owner|holder|contact|driver|passenger|student|subscriber|volunteer)
               (?:[\ \t]+(?:name[\ \t]+)?is|[\ \t]*:)
             | spoke[\ \t]+(?:w/|with|to) | talked[\ \t]+(?:to|with) | met[\ \t]+with
             | reference[\ \t]+for | referred[\ \t]+by | remitter | beneficiary | name
             | my[\ \t]+(?:son|daughter|husband|wife|partner|mother|mum|mom|father|dad|sister
                |brother|colleague|friend|boss|manager|landlord|tenant|assistant|grandmother
                |grandfather|grandma|grandpa|uncle|aunt|niece|nephew|cousin|fiancée?)
           )[\ \t]*,?[\ \t]+(?=[^\W\d_])""",
    re.IGNORECASE | re.VERBOSE,
)
# A signature: the name alone on the rest of its line ("-- ana ruiz", "Thanks, fedele satta").
_SIGNATURE = re.compile(
    r"""(?:(?:^|(?<=\s))--
         | \b(?:thanks|thank[\ \t]+you|regards|cheers|best|love|sincerely|faithfully),?
        )[\ \t]*\n?[\ \t]*(?=[^\W\d_])""",
    re.IGNORECASE | re.VERBOSE,
)
_LINE_END = re.compile(r"[ \t.!]*(?:\n|$)")
# "hey its jo miller here", "this is ana ruiz calling": whoever says who is on the line.
_HERE = re.compile(
    r"\b(?:it(?:'|’)?s|this[ \t]+is|i[ \t]+am|i'm)[ \t]+([^\W\d_]+(?:[ \t][^\W\d_]+){0,2})"
    r"[ \t]+(?:here|calling|speaking)\b",
    re.IGNORECASE,
)
# Every two neighbouring words (overlapping: "tell elijah luthra" holds "elijah luthra").
_WORD_PAIR = re.compile(
    r"(?<![\w'’-])(?=([^\W\d_]+(?:-[^\W\d_]+)?)[ \t]+([^\W\d_]+(?:['’-][^\W\d_]+)*))"
)
_VOCATIVE = re.compile(
    r"""^[\ \t]*([^\W\d_]+),[\ \t]+
        (?=(?:can|could|would|will|please|i|you|do|did|are|is|have|what|where|when|how|why)\b)""",
    re.IGNORECASE | re.VERBOSE,
)


def _name_after(
    text: str,
    pos: int,
    lexicon: Lexicon,
    *,
    lower_ok: bool,
    max_words: int = 2,
    surname_ok: bool = False,
) -> tuple[int, int] | None:
    """The name that starts at `pos`: one to `max_words` words, capitalized unless `lower_ok`;
    with `surname_ok` a word after the first may be an English word ("scott hardy")."""
    end = pos
    words = 0
    for m in WORD.finditer(text, pos):
        if m.start() != end and not (words and text[end : m.start()] in (" ", "\t")):
            break
        word = m.group()
        if base_word(word) in lexicon.stop or not (word[0].isupper() or lower_ok):
            break
        if (
            not word[0].isupper()
            and not (surname_ok and words)
            and (lexicon.is_english(word) and word.lower() not in lexicon.first_names)
        ):
            break
        end = m.end()
        words += 1
        if words == max_words:
            break
    return (pos, strip_possessive(text, pos, end)) if words else None


def find_names(text: str, lexicon: Lexicon) -> list[Found]:
    """Person names NER misses: after a title or a cue ("my name is"), in a vocative, or known
    given names (with the surname that follows)."""
    found: list[Found] = []
    for m in _TITLE.finditer(text):
        # "mr scott hardy", "herr hansjörg wilms": typed in lower case, still a name when its
        # first word is a given name or no English word.
        lower_ok = _plausible_name(_first_word(text, m.end()), lexicon)
        span = _name_after(text, m.end(), lexicon, lower_ok=lower_ok, surname_ok=lower_ok)
        if span:
            found.append(("PERSON", *span, 0.6))
    for cue in (_STRONG_CUE, _FIELD_CUE):
        for m in cue.finditer(text):
            span = _name_after(text, m.end(), lexicon, lower_ok=True)
            if span:
                found.append(("PERSON", *span, 0.6))
    for m in _ROLE_CUE.finditer(text):
        span = _role_name(text, m.end(), lexicon)
        if span:
            found.append(("PERSON", *span, 0.5))
    for m in _SIGNATURE.finditer(text):
        span = _role_name(text, m.end(), lexicon)
        if span and _LINE_END.match(text, span[1]):
            found.append(("PERSON", *span, 0.5))
    for m in _HERE.finditer(text):
        words = m.group(1).split()
        if not any(base_word(w) in lexicon.stop or lexicon.is_common(w) for w in words):
            found.append(("PERSON", *m.span(1), 0.5))
    for m in _WEAK_CUE.finditer(text):
        span = _name_after(text, m.end(), lexicon, lower_ok=False)
        if span and _plausible_name(text[span[0] : span[1]].split()[0], lexicon):
            found.append(("PERSON", *span, 0.5))
    for m in _BEFORE_EMAIL.finditer(text):
        if _plausible_name(m.group(1).split()[0], lexicon):
            found.append(("PERSON", *m.span(1), 0.6))
    for m in _WEAK_LOWER_CUE.finditer(text):
        # "it's peter thompson": in lower case only a known given name counts after a weak cue.
        first = _first_word(text, m.end()).lower()
        if first not in lexicon.first_names:
            continue
        span = _name_after(text, m.end(), lexicon, lower_ok=True)
        # A given name that is also a word ("peter", "mark") needs a surname that is not.
        if span and (" " in text[span[0] : span[1]] or not lexicon.is_common(first)):
            found.append(("PERSON", *span, 0.5))
    m = _VOCATIVE.match(text)
    if (
        m
        and m.group(1)[0].isupper()
        and not lexicon.is_common(m.group(1))
        and not lexicon.is_english(m.group(1))
    ):
        found.append(("PERSON", *m.span(1), 0.5))
    for m in WORD.finditer(text):
        word = m.group()
        low = word.lower()
        if low not in lexicon.first_names or low in lexicon.stop or word.isupper():
            continue
        if word[0].isupper():
            span = _name_after(text, m.start(), lexicon, lower_ok=False)
            surname = (
                span is not None
                and span[1] > m.end()
                and not lexicon.is_english(text[m.end() : span[1]].strip())
            )
            if not surname and (
                lexicon.is_common(word)
                or (sentence_initial(text, m.start()) and lexicon.is_english(word))
            ):
                continue
        elif low in lexicon.lower_first_names:  # "kristin", "lilly": common names, no English word
            span = _name_after(text, m.start(), lexicon, lower_ok=True)
        else:
            continue
        if span:
            found.append(("PERSON", *span, 0.5))
    for m in _WORD_PAIR.finditer(text):
        if _lower_full_name(m.group(1), m.group(2), lexicon):
            found.append(("PERSON", m.start(1), strip_possessive(text, m.start(1), m.end(2)), 0.4))
    return found


def _lower_full_name(first: str, last: str, lexicon: Lexicon) -> bool:
    """ "aarav nayak", "barry coles": a given name, then a surname or no English word, both typed
    in lower case. A given name that is also a common word ("grace", "hope") does not count."""
    if not (first.islower() and last.islower()):
        return False
    given = first.split("-")[0]
    if given in lexicon.stop or base_word(last) in lexicon.stop or lexicon.is_common(last):
        return False
    if given not in lexicon.any_given or (
        lexicon.is_common(given) and given not in lexicon.first_names
    ):
        return False
    return base_word(last) in lexicon.names_and_places or not lexicon.is_english(last)


def _role_name(text: str, pos: int, lexicon: Lexicon) -> tuple[int, int] | None:
    """The name after a role cue, in either case: a given name, or two or three words of which
    one is no English word (a surname: "marine joubert"), none of them a common word that is
    no given name."""
    words: list[re.Match[str]] = []
    end = pos
    for m in WORD.finditer(text, pos):
        if m.start() != end and not (words and text[end : m.start()] in (" ", "\t")):
            break
        word = m.group()
        low = base_word(word)
        if low in lexicon.stop or len(words) == 3:
            break
        if lexicon.is_common(word) and low not in lexicon.any_given:
            break
        if words and word[0].isupper() != words[0].group()[0].isupper():
            break  # "ana ruiz Subscription": a change of case ends the name
        words.append(m)
        end = m.end()
    if not words:
        return None
    first = words[0].group()
    if len(words) == 1 and not (
        _plausible_name(first, lexicon) or first.lower() in lexicon.any_given
    ):
        return None
    if len(words) > 1 and not (
        _plausible_name(first, lexicon)
        or any(not lexicon.is_english(w.group()) for w in words)
        or first[0].isupper()
    ):
        return None
    return pos, strip_possessive(text, pos, end)


def _first_word(text: str, pos: int) -> str:
    m = WORD.match(text, pos)
    return m.group() if m else ""


def _plausible_name(word: str, lexicon: Lexicon) -> bool:
    low = word.lower()
    return (low in lexicon.first_names and not lexicon.is_common(low)) or not lexicon.is_english(
        word
    )
