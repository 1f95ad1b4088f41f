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


@pytest.mark.slow
def test_predict_gives_a_context_model_each_sentences_heading_and_previous_sentence(tmp_path) -> None:
    """A baseline trained to read heading and previous sentence gets them from a real PDF's sentence table."""
    from pathlib import Path

    import numpy as np

    from conftest import small_frame
    from samskaping.labels import LABEL_SETS
    from samskaping.models import build_model
    from samskaping.outputs import read_output
    from samskaping.predict import classify

    frame = small_frame({"train": 400, "validation": 8, "test": 8})
    # neighbours for the training rows: the row before in the file as previous, its theme as heading
    frame["previous"] = frame["text"].shift(1).fillna("")
    frame["heading"] = frame["theme"].fillna("")
    cfg = validate_config(
        {
            "model": {"kind": "baseline", "use_context": True, "context_columns": ["heading", "previous"]},
            "tracking": {"enabled": False},
        }
    )
    model = build_model(cfg, progress=False)
    train = frame[frame["split"] == "train"]
    model.fit(train["text"].tolist(), {ls: train[ls].tolist() for ls in LABEL_SETS}, contexts=model.contexts(train))
    plan = Path(__file__).resolve().parents[1] / "data" / "sample-plans" / "eksempelkommune-samfunnsdel.pdf"
    classify([plan], model, tmp_path / "out", progress=False, priors="training")
    table = read_output(tmp_path / "out").sentences.sort_values("sentence_index").reset_index(drop=True)
    assert table["heading"].fillna("").ne("").any()
    # what the model must have read: each sentence's heading and the sentence before it in the plan
    expected = [
        " | ".join(p for p in (str(h or "").strip(), str(prev).strip()) if p)
        for h, prev in zip(table["heading"], ["", *table["text"].tolist()[:-1]], strict=True)
    ]
    with_context = model.predict_proba(table["text"].tolist(), contexts=expected)
    alone = model.predict_proba(table["text"].tolist(), contexts=[""] * len(table))
    assert not np.allclose(with_context["conception"], alone["conception"])  # the neighbours change the scores
    got = table["conception"].tolist()
    chosen = [LABEL_SETS["conception"][i] for i in with_context["conception"].argmax(1)]
    assert got == chosen
