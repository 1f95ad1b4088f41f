"""No text lost, as a property: every letter and digit of a text unit comes out, in order, in its sentences."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samskaping.documents import split_sentences
from samskaping.documents.sentences import segment_many

WORDS = [
    "kommunen",
    "Kommunen",
    "samskaping",
    "innbyggerne",
    "skal",
    "vil",
    "planen",
    "frivilligheten",
    "og",
    "i",
    "på",
    "Vi",
    "Det",
    "næringslivet",
    "tiltak",
    "kapittel",
    "sak",
    "bydelen",
    "Tromsø",
    "Bodø",
    "Per",
    "Hansen",
    "eldrerådet",
    "helse-",
    "omsorg",
    "ungdom",
    "Nord-Norge",
    "både",
    "heller",
    "Ho",
    "seier",
    "ikkje",
    "òg",
]
ABBREVIATIONS = [
    "pbl.",
    "jf.",
    "kap.",
    "Chr.",
    "Kr.",
    "f.eks.",
    "t.d.",
    "m.a.",
    "bl.a.",
    "ca.",
    "nr.",
    "mv.",
    "osv.",
    "m.fl.",
    "mfl.",
    "kr.",
    "fvl.",
    "flg.",
    "dvs.",
    "o.l.",
    "S.",
    "p.t.",
    "etc.",
    "st.",
    "tlf.",
]
NUMBERS = [
    "2024.",
    "2024",
    "14.",
    "1.",
    "5.2.1.",
    "5.3",
    "11-1.",
    "11-1",
    "12 480",
    "8,5",
    "18.00",
    "23/24",
    "17.05.2024",
    "3",
    "0301",
]
MARKS = [
    "§",
    "§§",
    "–",
    "-",
    "—",
    "«",
    "»",
    "“",
    "”",
    '"',
    "(",
    ")",
    "[",
    "]",
    ".",
    "?",
    "!",
    "…",
    ":",
    ";",
    ",",
    "%",
    "/",
    "'",
]
PIECES = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(ABBREVIATIONS),
    st.sampled_from(NUMBERS),
    st.sampled_from(MARKS),
    st.text(alphabet="abcæøåABCÆØÅ0123456789.§-–«»()", min_size=1, max_size=6),
)
JOINERS = st.sampled_from([" ", " ", " ", "", "  ", "\n", ":\n", "\n\n", "\t"])


@st.composite
def text_units(draw: st.DrawFn) -> str:
    """Norwegian-like text: words, abbreviations, numbers, dashes, quotes, brackets and §, with odd spacing."""
    pieces = draw(st.lists(PIECES, min_size=1, max_size=40))
    joiners = draw(st.lists(JOINERS, min_size=len(pieces), max_size=len(pieces)))
    return "".join(piece + joiner for piece, joiner in zip(pieces, joiners, strict=True))


def alphanumerics(text: str) -> list[str]:
    return [char for char in text if char.isalnum()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text_units())
def test_every_letter_and_digit_comes_out_in_order(text: str) -> None:
    sentences = split_sentences(text)
    if any(char.isalpha() for char in text):
        assert alphanumerics("".join(sentences)) == alphanumerics(text)
        assert all(sentence == sentence.strip() and sentence for sentence in sentences)
    else:
        assert sentences == []  # a text without letters gives no sentence


@settings(max_examples=50, deadline=None)
@given(st.lists(text_units(), min_size=1, max_size=6))
def test_many_units_at_once_match_one_by_one(texts: list[str]) -> None:
    assert segment_many(texts) == [split_sentences(text) for text in texts]
