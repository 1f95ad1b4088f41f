"""What a model reads besides the sentence: lead-in, heading and previous sentence (samskaping.context)."""

from __future__ import annotations

import functools

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


# -- the baseline's context features: joined into one text (default) or one vectorizer per column --------------

HEADING_ONLY = "zorblattheim"  # a made-up word that the training rows have in their heading and nowhere else


@functools.cache
def _sixty_rows() -> pd.DataFrame:
    from conftest import small_frame

    return small_frame({"train": 60})


@functools.cache
def _separate_baseline(columns: tuple[str, ...], features: str = "separate"):
    """A baseline with ``context_features=features`` fitted on 60 shipped rows given a heading and previous sentence.

    The heading of every row of one conception is :data:`HEADING_ONLY`; the previous sentence is the row before.
    Returns (model, fit facts, the training frame); shared by the tests (cached), so none may change them.
    """
    from samskaping.labels import LABEL_SETS
    from samskaping.models import build_model

    frame = _sixty_rows().copy()
    frame["previous"] = frame["text"].shift(1).fillna("")
    chosen = frame["conception"].value_counts().index[0]
    frame["heading"] = [HEADING_ONLY if c == chosen else "" for c in frame["conception"]]
    frame = frame.drop(columns=[c for c in ("context",) if c in frame.columns])
    cfg = validate_config(
        {
            "model": {
                "kind": "baseline",
                "use_context": True,
                "context_columns": list(columns),
                "baseline": {"context_features": features},
            },
            "training": {"seed": 3},
            "tracking": {"enabled": False},
        }
    )
    model = build_model(cfg, progress=False)
    facts = model.fit(
        frame["text"].tolist(), {ls: frame[ls].tolist() for ls in LABEL_SETS}, contexts=model.contexts(frame)
    )
    return model, facts, frame


@pytest.mark.slow  # fits baselines on the context rows: seconds each
def test_separate_context_features_have_one_vectorizer_per_column_and_their_vocabularies_add_up() -> None:
    # the frame has no lead-in column: its vectorizer sees only "" and must still get a vocabulary
    model, facts, _ = _separate_baseline(("context", "heading", "previous"))
    assert list(model.vectorizers) == ["word", "char", "context:context", "context:heading", "context:previous"]
    sizes = {name: len(v.vocabulary_) for name, v in model.vectorizers.items()}
    assert facts["features"] == sum(sizes.values())
    assert all(coef.shape[1] == facts["features"] for coef in (c.coef_ for c in model.classifiers.values()))
    assert HEADING_ONLY in model.vectorizers["context:heading"].vocabulary_
    assert HEADING_ONLY not in model.vectorizers["context:previous"].vocabulary_


@pytest.mark.slow  # fits baselines on the context rows: seconds each
@pytest.mark.parametrize("features", ["separate", "joined"])
def test_a_heading_word_counts_only_in_the_heading_when_columns_are_separate(features: str) -> None:
    """Separate: the heading's word in the previous-sentence slot is unknown there; joined: it is the same feature."""
    import numpy as np

    model, _, frame = _separate_baseline(("heading", "previous"), features)
    texts = frame["text"].tolist()[:12]

    def probs(heading: str, previous: str) -> np.ndarray:
        rows = pd.DataFrame({"text": texts, "heading": heading, "previous": previous})
        return model.predict_proba(texts, contexts=model.contexts(rows))["conception"]

    empty, in_heading, in_previous = probs("", ""), probs(HEADING_ONLY, ""), probs("", HEADING_ONLY)
    assert not np.allclose(in_heading, empty)
    if features == "separate":
        np.testing.assert_array_equal(in_previous, empty)
    else:
        np.testing.assert_allclose(in_previous, in_heading)


@pytest.mark.slow  # fits baselines on the context rows: seconds each
def test_separate_context_baseline_saves_and_loads_with_identical_probabilities(tmp_path) -> None:
    import numpy as np

    from samskaping.models import load_model

    model, _, frame = _separate_baseline(("context", "heading", "previous"))
    again = load_model(model.save(tmp_path / "m"))
    assert list(again.vectorizers) == list(model.vectorizers)
    contexts = again.contexts(frame)
    assert contexts == model.contexts(frame)
    before = model.predict_proba(frame["text"].tolist(), contexts=contexts)
    after = again.predict_proba(frame["text"].tolist(), contexts=contexts)
    for label_set, matrix in before.items():
        np.testing.assert_array_equal(after[label_set], matrix)


@pytest.mark.slow  # fits baselines on the context rows: seconds each
def test_context_features_default_to_joined_and_a_folder_saved_without_the_setting_loads(tmp_path) -> None:
    import json

    import numpy as np

    from samskaping.models import load_model

    assert validate_config({}).model.baseline.context_features == "joined"
    model, _, frame = _separate_baseline(("heading", "previous"), "joined")
    assert list(model.vectorizers) == ["word", "char", "context"]
    folder = model.save(tmp_path / "m")
    manifest = json.loads((folder / "samskaping-model.json").read_text(encoding="utf-8"))
    del manifest["config"]["model"]["baseline"]["context_features"]  # as a folder from before the setting
    (folder / "samskaping-model.json").write_text(json.dumps(manifest), encoding="utf-8")
    again = load_model(folder)
    assert again.params.context_features == "joined"
    contexts = model.contexts(frame)
    pairs = zip(frame["heading"], frame["previous"], strict=True)
    assert contexts == [" | ".join(p for p in pair if p) for pair in pairs]
    np.testing.assert_array_equal(
        again.predict_proba(frame["text"].tolist(), contexts=contexts)["factor"],
        model.predict_proba(frame["text"].tolist(), contexts=contexts)["factor"],
    )
