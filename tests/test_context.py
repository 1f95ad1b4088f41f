"""What a model reads besides the sentence: lead-in, heading and previous sentence (samskaping.context)."""

from __future__ import annotations

import functools
import json

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


# -- the transformer reads a pair: context first, the sentence second, pooled over the sentence -----------------

PAIR_TEXTS = ["Kommunen vil samarbeide med lag og foreningar.", "Planen gjeld for perioden.", "Vi lyttar til ungdomen."]
PAIR_CONTEXTS = ["Medverknad og samskaping", "", "Slik vil vi arbeide | Kommunen har ungdomsråd."]


def _pair_model(tiny_bert, tmp_path, **transformer):
    from conftest import small_frame, tiny_transformer_config, write_jsonl
    from samskaping.models import build_model

    data = write_jsonl(small_frame({"train": 8}), tmp_path / "d.jsonl")
    cfg = tiny_transformer_config(tiny_bert, data, epochs=1, pooling="mean", **transformer)
    cfg["model"].update({"use_context": True, "context_columns": ["heading", "previous"]})
    return build_model(validate_config(cfg), progress=False)


def test_sentence_mask_keeps_the_second_segment_in_bert_and_xlmr_layouts() -> None:
    import torch

    from samskaping.models.transformer_network import sentence_mask

    sep = 2
    # XLM-R / e5 pair: <s> c c </s></s> s s </s> <pad>; BERT pair: [CLS] c [SEP] s s s [SEP] <pad> <pad>
    ids = torch.tensor([[0, 5, 6, 2, 2, 7, 8, 2, 1], [0, 5, 2, 7, 8, 9, 2, 1, 1], [0, 7, 8, 9, 2, 1, 1, 1, 1]])
    mask = (ids != 1).long()
    got = sentence_mask(ids, mask, sep)
    assert got.tolist()[0] == [0, 0, 0, 0, 0, 1, 1, 0, 0]
    assert got.tolist()[1] == [0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert got.tolist()[2] == mask.tolist()[2]  # a sentence alone keeps its whole mask
    assert got.dtype == mask.dtype


@pytest.mark.parametrize("pooling", ["sentence", "pair"])
def test_the_transformer_pools_a_pair_over_the_sentence_or_the_whole_pair(tiny_bert, tmp_path, pooling) -> None:
    import torch

    model = _pair_model(tiny_bert, tmp_path, context_pooling=pooling)
    network = model.network.eval()
    assert network.pool_after_sep == (model.tokenizer.sep_token_id if pooling == "sentence" else None)
    encoded = model.tokenizer(PAIR_CONTEXTS[0], PAIR_TEXTS[0])  # [CLS] context [SEP] sentence [SEP]
    assert model._encode(PAIR_TEXTS[:1], PAIR_CONTEXTS[:1])[0] == encoded["input_ids"]
    input_ids, mask = model._collate([encoded["input_ids"]])
    with torch.no_grad():
        states = network.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state[0]
        pooled = network.pool(input_ids, mask)[0]
    sentence = [
        i
        for i, (kind, token) in enumerate(zip(encoded["token_type_ids"], encoded["input_ids"], strict=True))
        if kind == 1 and token != model.tokenizer.sep_token_id
    ]
    expected = states[sentence].mean(0) if pooling == "sentence" else states.mean(0)
    assert torch.allclose(pooled, expected, atol=1e-6)
    assert not torch.allclose(states[sentence].mean(0), states.mean(0), atol=1e-4)  # the two poolings differ
    # the context still reaches the sentence's tokens through attention
    other = model._collate(model._encode(PAIR_TEXTS[:1], ["Ein heilt annan overskrift"]))
    with torch.no_grad():
        assert not torch.allclose(network.pool(*other)[0], pooled, atol=1e-5)


def test_cached_lower_layers_pool_a_pair_as_the_whole_network_does(tiny_bert, tmp_path) -> None:
    import torch

    from samskaping.models.transformer_top import lower_states, pad_states, top_only

    model = _pair_model(tiny_bert, tmp_path, train_top_layers=1)
    network = model.network.eval()
    ids = model._encode(PAIR_TEXTS, PAIR_CONTEXTS)
    states = lower_states(network.encoder, ids, 1, model._collate, batch_size=2)
    with torch.no_grad():
        whole = network(*model._collate(ids))
        with top_only(network.encoder, 1):
            hidden, mask = pad_states(states, model.device)
            cached = network(model._collate(ids)[0], mask, inputs_embeds=hidden)
    for ls in model.label_sets:
        assert torch.allclose(whole[ls], cached[ls], atol=1e-4), ls


@pytest.mark.slow
def test_a_sentence_pooled_context_model_round_trips_runs_the_same_in_onnx_and_old_folders_pool_the_pair(
    tiny_bert, tmp_path, monkeypatch
) -> None:
    import numpy as np

    from samskaping.labels import LABEL_SETS
    from samskaping.models import load_model
    from samskaping.runtime.onnx import use_onnx

    monkeypatch.setenv("SAMSKAPING_CACHE", str(tmp_path / "cache"))
    model = _pair_model(tiny_bert, tmp_path)
    frame = _sixty_rows().copy()
    frame["previous"] = frame["text"].shift(1).fillna("")
    model.fit(frame["text"].tolist(), {ls: frame[ls].tolist() for ls in LABEL_SETS}, contexts=model.contexts(frame))
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.network.pool_after_sep == model.tokenizer.sep_token_id
    torch_probs = loaded.predict_proba(PAIR_TEXTS, contexts=PAIR_CONTEXTS)
    for ls in LABEL_SETS:
        np.testing.assert_allclose(torch_probs[ls], model.predict_proba(PAIR_TEXTS, contexts=PAIR_CONTEXTS)[ls])
    use_onnx(loaded, threads=1)
    onnx_probs = loaded.predict_proba(PAIR_TEXTS, contexts=PAIR_CONTEXTS)
    for ls in LABEL_SETS:
        np.testing.assert_allclose(onnx_probs[ls], torch_probs[ls], atol=1e-4, rtol=0)
    # a folder saved before context_pooling existed was trained pooling the whole pair, and loads so
    manifest_path = tmp_path / "model" / "samskaping-model.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert manifest["config"]["model"]["transformer"].pop("context_pooling") == "sentence"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    old = load_model(tmp_path / "model")
    assert old.cfg.model.transformer.context_pooling == "pair" and old.network.pool_after_sep is None
    assert not np.allclose(old.predict_proba(PAIR_TEXTS, contexts=PAIR_CONTEXTS)["factor"], torch_probs["factor"])
