"""What a model reads besides the sentence: lead-in, heading and previous sentence (samskaping.context)."""

from __future__ import annotations

import pandas as pd
import pytest

from samskaping.config import validate_config
from samskaping.context import context_texts, previous_sentences
from samskaping.errors import ConfigError


def test_previous_sentence_is_the_one_before_in_the_same_document_whatever_the_row_order() -> None:
    table = pd.DataFrame(
        {
            "document": ["b.pdf", "a.pdf", "a.pdf", "b.pdf", "a.pdf"],
            "sentence_index": [1, 2, 0, 0, 1],
            "text": ["B1", "A2", "A0", "B0", "A1"],
        }
    )
    assert previous_sentences(table).tolist() == ["B0", "A1", "", "", "A0"]


def test_columns_are_joined_in_the_configured_order_skipping_empty_ones() -> None:
    rows = pd.DataFrame(
        {
            "text": ["første punkt", "Ei setning."],
            "context": ["Kommunen skal:", ""],
            "heading": ["Medverknad", "Frivilligheit"],
            "previous": ["Innbyggjarane vart spurde.", ""],
        }
    )
    assert context_texts(rows, ("context", "heading", "previous")) == [
        "Kommunen skal: | Medverknad | Innbyggjarane vart spurde.",
        "Frivilligheit",
    ]
    assert context_texts(rows, ("previous", "context")) == ["Innbyggjarane vart spurde. | Kommunen skal:", ""]
    assert context_texts(rows[["text"]], ("context", "heading")) is None


def test_previous_is_derived_for_a_sentence_table_without_the_column() -> None:
    table = pd.DataFrame(
        {"document": ["p.docx"] * 3, "sentence_index": [0, 1, 2], "text": ["Én.", "To.", "Tre."], "heading": ""}
    )
    assert context_texts(table, ("heading", "previous")) == ["", "Én.", "To."]


def test_an_unknown_context_column_is_refused_by_the_config() -> None:
    with pytest.raises(ConfigError, match="context_columns"):
        validate_config({"model": {"use_context": True, "context_columns": ["context", "naboar"]}})
