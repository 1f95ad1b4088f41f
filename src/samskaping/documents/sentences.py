"""Norwegian sentence segmentation (bokmål and nynorsk).

spaCy's rule-based ``sentencizer`` proposes boundaries; the project's rules
repair them:

- abbreviations (seeded from spaCy's own Norwegian tokenizer exceptions, plus
  the legal and planning abbreviations of plan text that spaCy lacks, such as
  «pbl.») do not end a sentence before a capital or a number; those that often
  close a sentence («osv.», «mv.», «m.m.») do;
- ordinals and dates («1. januar», «17. mai») do not end a sentence, years do;
- an opening dash, quote or bracket after a full stop starts the next
  sentence instead of trailing the previous one («… sa han. – Vi kommer.»);
- nothing is dropped: a piece without letters («§ 11-1.», «17») is joined to
  the sentence before it (or after it, at the start), so every character of
  the input comes out in order.

A colon followed by a line break, and a blank line, are hard breaks.
Measured against peers in ``benchmarks/segmentation.py``.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from samskaping.documents.lines import SPACES, has_letters

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# Abbreviations of plan and legal text that spaCy's Norwegian exceptions lack.
_PLAN_ABBREVIATIONS = frozenset(
    {
        "adm.",
        "ang.",
        "avd.",
        "avs.",
        "avsn.",
        "d.v.s.",
        "fig.",
        "fnr.",
        "fylkeskomm.",
        "iflg.",
        "ift.",
        "ihht.",
        "jfr.",
        "joh.",
        "kommunepl.",
        "m.a.",
        "m.h.t.",
        "meld.",
        "mr.",
        "pbl.",
        "prof.",
        "prop.",
        "sk.",
        "sml.",
        "ss.",
        "t.d.",
        "tab.",
        "th.",
        "vs.",
        "ca.",
        "kap.",
        "pkt.",
        "nr.",
        "chr.",
        "kr.f.",
    }
)
# spaCy entries that are also ordinary Norwegian words (or months, weekdays and
# party names) and so can end a sentence: «Klassen har ti.», «Dette gjeld no.», «God jul.»
_WORDS_NOT_ABBREVIATIONS = frozenset(
    {
        "ad.",
        "des.",
        "eg.",
        "el.",
        "et.",
        "gt.",
        "i.",
        "jul.",
        "jun.",
        "lat.",
        "lø.",
        "ma.",
        "mar.",
        "md.",
        "min.",
        "no.",
        "off.",
        "on.",
        "op.",
        "org.",
        "sen.",
        "sms.",
        "sv.",
        "sø.",
        "temp.",
        "ti.",
        "to.",
        "vn.",
        "ap.",
        "sp.",
        "frp.",
        "fr.p.",
        "aq.",
    }
)
# Abbreviations that usually close what they end («… og tjenester mv. Kommunen …»).
_CLOSING_ABBREVIATIONS = frozenset(
    {
        "osv.",
        "mv.",
        "m.v.",
        "m.m.",
        "etc.",
        "mfl.",
        "m.fl.",
        "o.a.",
        "o.l.",
        "e.l.",
        "mill.",
        "mrd.",
        "kr.",
        "mva.",
        "stk.",
        "f.kr.",
        "e.kr.",
        "pst.",
        "mnd.",
        "moh.",
        "hoh.",
    }
)
# First names Norwegians shorten with a capital: «Per Kr. Nesheim», «Ole Th. Berg», «Chr. Michelsens gate».
# Capitalised, they do not close a sentence before a capital even where the
# lower-case form does («500 kr. Neste …» is kroner).
_NAME_ABBREVIATIONS = frozenset(
    {
        "chr.",
        "kr.",
        "th.",
        "joh.",
        "fr.",
        "edv.",
        "hj.",
        "jac.",
        "andr.",
        "fredr.",
        "kj.",
        "thv.",
        "wm.",
        "nic.",
        "gj.",
        "haak.",
        "mich.",
        "sev.",
        "tr.",
    }
)
_MONTHS = frozenset(
    {
        "januar",
        "februar",
        "mars",
        "april",
        "mai",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "desember",
    }
)
_OPENING = frozenset({"–", "-", "—", "«", "“", "„", '"', "(", "[", "‘", "'"})
_CLOSING = frozenset({")", "]", "}", "»", "”", "’"})
_TERMINAL = (".", "!", "?", "…", ":")
_NUMBER_WITH_DOT = re.compile(r"^\d[\d.,]*\.$")  # «2026.», «3.», «18.00.», «17.05.2024.», «5.2.1.»
_INITIAL = re.compile(r"^[A-ZÆØÅ]\.$")  # «Per S. Hansen»
_HARD_BREAK = re.compile(r"(?<=:)[ \t]*\n\s*|\n[ \t]*\n\s*")
_PIPE_BATCH_SIZE = 256


@functools.lru_cache(maxsize=1)
def abbreviations() -> frozenset[str]:
    """Lower-case abbreviations (with their dot) that do not end a sentence before a capital or number.

    Source: spaCy's Norwegian tokenizer exceptions (``spacy.lang.nb``), less
    the entries that are ordinary words or that usually close a sentence, plus
    :data:`_PLAN_ABBREVIATIONS`.
    """
    from spacy.lang.nb.tokenizer_exceptions import TOKENIZER_EXCEPTIONS

    seeded = {key.lower() for key in TOKENIZER_EXCEPTIONS if key.endswith(".") and len(key) > 2 and key[0].isalpha()}
    return frozenset((seeded | _PLAN_ABBREVIATIONS) - _WORDS_NOT_ABBREVIATIONS - _CLOSING_ABBREVIATIONS)


def split_sentences(text: str) -> list[str]:
    """Split a Norwegian (bokmål or nynorsk) text into sentences.

    A colon followed by a line break and a blank line also end a sentence;
    other line breaks are treated as spaces.

    Args:
        text: Any text; may span several lines.

    Returns:
        The sentences, stripped, in order. Every letter and digit of ``text``
        is in one of them; a text without letters gives no sentence.
    """
    return segment_many([text])[0]


@functools.lru_cache(maxsize=1)
def _sentence_pipeline() -> Language:
    """spaCy's blank Norwegian pipeline with the rule-based sentencizer (loaded once)."""
    import spacy

    nlp = spacy.blank("nb")
    nlp.add_pipe("sentencizer")
    return nlp


def segment_many(texts: Sequence[str]) -> list[list[str]]:
    """Split many texts at once (one spaCy ``pipe`` call); one sentence list per text."""
    owners: list[int] = []
    pieces: list[str] = []
    for owner, text in enumerate(texts):
        for piece in _HARD_BREAK.split(text):
            piece = SPACES.sub(" ", piece).strip()
            if piece:
                owners.append(owner)
                pieces.append(piece)
    result: list[list[str]] = [[] for _ in texts]
    docs = _sentence_pipeline().pipe(pieces, batch_size=_PIPE_BATCH_SIZE)
    for owner, doc in zip(owners, docs, strict=True):
        result[owner].extend(_doc_sentences(doc))
    return [_attach_letterless(sentences) for sentences in result]


def _doc_sentences(doc: Doc) -> list[str]:
    """The repaired sentences of one spaCy doc."""
    if len(doc) == 0:
        return []
    words = [token.text for token in doc]
    spaced = [bool(token.whitespace_) for token in doc]
    starts = _move_openers(words, spaced, _repair_boundaries(words, spaced, [bool(t.is_sent_start) for t in doc]))
    offsets = [token.idx for token, start in zip(doc, starts, strict=True) if start] + [len(doc.text)]
    sentences = (doc.text[begin:end].strip() for begin, end in itertools.pairwise(offsets))
    return [sentence for sentence in sentences if sentence]


def _attach_letterless(sentences: list[str]) -> list[str]:
    """Join pieces without letters («§ 11-1.», «17») to a neighbour instead of dropping them."""
    out: list[str] = []
    pending = ""  # letterless pieces before the first sentence with letters
    for sentence in sentences:
        if has_letters(sentence):
            out.append(f"{pending} {sentence}".strip() if pending else sentence)
            pending = ""
        elif out:
            out[-1] = f"{out[-1]} {sentence}"
        else:
            pending = f"{pending} {sentence}".strip()
    return out


def _repair_boundaries(words: Sequence[str], spaced: Sequence[bool], starts: Sequence[bool]) -> list[bool]:
    """Fix the sentencizer's sentence starts with the Norwegian rules; one flag per token."""
    fixed = [True] + [False] * (len(words) - 1)
    sentence_start = 0
    for i in range(1, len(words)):
        fixed[i] = _is_sentence_start(words, spaced, i, sentence_start, starts[i])
        if fixed[i]:
            sentence_start = i
    return fixed


def _dotted_word(words: Sequence[str], spaced: Sequence[bool], i: int) -> tuple[str, int]:
    """The word ending in a dot before token ``i``, rejoined when spaCy split «kap» + «.»."""
    prev = words[i - 1]
    if prev == "." and i >= 2 and not spaced[i - 2]:
        return words[i - 2] + ".", i - 2
    return prev, i - 1


def _is_abbreviation(dotted: str) -> bool:
    lower = dotted.lower()
    return (
        lower in abbreviations()
        or bool(_INITIAL.match(dotted))
        or (dotted[:1].isupper() and lower in _NAME_ABBREVIATIONS)
    )


def _is_sentence_start(
    words: Sequence[str], spaced: Sequence[bool], i: int, sentence_start: int, spacy_says: bool
) -> bool:
    """Decide whether token ``i`` starts a sentence, given spaCy's guess ``spacy_says``."""
    word = words[i]
    if word in _OPENING:
        return False  # decided with the word it opens (see _move_openers)
    if word[:1] in _CLOSING:
        return False  # «(Se figur 4.)»: a closing bracket or quote stays with what it closes
    k = i - 1
    while k > 0 and words[k] in _OPENING:
        k -= 1  # judge «… slutt. – Neste» by «slutt.» and «Neste»
    if not words[k].endswith("."):
        if word[:1].islower():
            return False  # «– Hvor lenge skal vi vente? spør Marit.»: the reporting clause goes on
        if word[:1].isupper() and words[k] in _CLOSING and k > 0 and words[k - 1].endswith((".", "!", "?")):
            return True  # «(Se figur 4.) Kommunen …», ««Det var fint.» Hun …»
        if words[k].endswith(("…", "...")) and word[:1].isupper():
            return True  # «… uten barnehage… Heldigvis»: an ellipsis before a capital ends the sentence
        # «?», «!», closing quotes and brackets: spaCy is right; but spaCy also
        # counts «§» as punctuation and starts a sentence after it («pbl. §§ | 11-9»)
        return spacy_says and _ends_sentence(words, k)
    dotted, dotted_at = _dotted_word(words, spaced, k + 1)
    first = word[:1]
    if first.islower():
        return False  # Norwegian sentences start with a capital: «bl.a. styrke»
    if _is_abbreviation(dotted):
        return False  # «jf. Plan- og bygningsloven», «pbl. § 11-1», «Chr. Michelsens gate», «ca. 200»
    if first.isdigit() and k != i - 1 and dotted.lower() in _CLOSING_ABBREVIATIONS:
        return False  # a citation: «Hansen mfl. (2019) definerer …»
    if _NUMBER_WITH_DOT.match(dotted):
        # «2026. Planen» ends a sentence, «1. januar» is a date, and a number
        # opening the sentence is a list number («1. Innledning»).
        return dotted_at != sentence_start and word.lower() not in _MONTHS
    if first.isupper() or first.isdigit():
        return True  # «… osv. Kommunen», «… skolen. Vi», «… i 2024. 17 elevar …»
    return spacy_says


def _move_openers(words: Sequence[str], spaced: Sequence[bool], starts: list[bool]) -> list[bool]:
    """Let opening dashes, quotes and brackets start the sentence they open.

    The sentencizer leaves «–», «« or «(» after a full stop at the end of the
    previous sentence. A run of such tokens, standing after whitespace that
    follows sentence-final punctuation, goes to the next sentence.
    """
    fixed = list(starts)
    for i in range(1, len(words)):
        if not fixed[i]:
            continue
        j = i
        while j > 1 and words[j - 1] in _OPENING and spaced[j - 2] and _ends_sentence(words, j - 2):
            if words[j - 1] in ('"', "'") and spaced[j - 1]:
                break  # a straight quote with a space after it closes, it does not open
            j -= 1
        if j != i:
            fixed[i], fixed[j] = False, True
    return fixed


def _ends_sentence(words: Sequence[str], k: int) -> bool:
    """Whether token ``k`` closes a sentence (terminal punctuation, possibly inside a closing quote)."""
    word = words[k]
    if word.endswith(_TERMINAL):
        return True
    return word in ("»", "”", '"', ")", "]") and k > 0 and words[k - 1].endswith(_TERMINAL)
