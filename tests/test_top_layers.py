"""Fine-tuning only the top layers with the frozen lower layers cached (model.transformer.train_top_layers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import small_frame, tiny_transformer_config, write_jsonl
from samskaping.config import validate_config
from samskaping.errors import ConfigError
from samskaping.labels import LABEL_SETS
from samskaping.models import build_model, load_model


def _config(tiny_bert: Path, data: Path, top: int | None) -> object:
    return validate_config(tiny_transformer_config(tiny_bert, data, epochs=3, train_top_layers=top))


@pytest.fixture(scope="module")
def frame_and_data(tmp_path_factory: pytest.TempPathFactory):
    frame = small_frame({"train": 200, "validation": 40, "test": 8})
    return frame, write_jsonl(frame, tmp_path_factory.mktemp("top") / "d.jsonl")


def test_the_cached_path_gives_the_logits_of_the_whole_network(tiny_bert: Path, frame_and_data) -> None:
    from samskaping.models.transformer_top import lower_states, pad_states, top_only

    frame, data = frame_and_data
    model = build_model(_config(tiny_bert, data, 1), progress=False)
    network = model.network.eval()
    texts = frame["text"].tolist()[:24]
    ids = model._encode(texts)
    states = lower_states(network.encoder, ids, 1, model._collate, batch_size=5)
    # the cache is the first layer's output of a normal run, sentence by sentence
    for i in (0, 7, 23):
        input_ids, mask = model._collate([ids[i]])
        full = network.encoder(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
        assert torch.allclose(states[i], full.hidden_states[1][0], atol=1e-5)
    with torch.no_grad():
        whole = network(*model._collate(ids))
        with top_only(network.encoder, 1):
            hidden, mask = pad_states(states, model.device)
            cached = network(None, mask, inputs_embeds=hidden)
    for ls in model.label_sets:
        assert torch.allclose(whole[ls], cached[ls], atol=1e-4), ls
    assert len(network.encoder.encoder.layer) == 2  # the context manager put every layer back


def test_only_the_top_layer_and_heads_change_and_the_model_round_trips(
    tiny_bert: Path, frame_and_data, tmp_path: Path
) -> None:
    frame, data = frame_and_data
    model = build_model(_config(tiny_bert, data, 1), progress=False)
    before = {k: v.clone() for k, v in model.network.state_dict().items()}
    train = frame[frame["split"] == "train"]
    validation = frame[frame["split"] == "validation"]
    result = model.fit(
        train["text"].tolist(),
        {ls: train[ls].tolist() for ls in LABEL_SETS},
        validation=(validation["text"].tolist(), {ls: validation[ls].tolist() for ls in LABEL_SETS}),
    )
    after = model.network.state_dict()
    frozen = [k for k in before if ".embeddings." in k or ".layer.0." in k]
    trained = [k for k in before if ".layer.1." in k or k.startswith("heads.")]
    assert frozen and trained
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert all(not torch.equal(before[k], after[k]) for k in trained if k.endswith("weight"))
    assert len(result["history"]) == 3 and all("validation_conception_macro_f1" in h for h in result["history"])
    # the validation score of the cached path is the one model.predict gives for the kept epoch
    from samskaping.evaluation import evaluate

    reports = evaluate(
        {ls: validation[ls].tolist() for ls in LABEL_SETS},
        model.predict(validation["text"].tolist()),
        model.label_sets,
    )
    assert np.mean([r.macro_f1 for r in reports.values()]) == pytest.approx(result["best_validation_mean_macro_f1"])
    folder = model.save(tmp_path / "model")
    again = load_model(folder)
    texts = frame["text"].tolist()[:16]
    for ls, probs in model.predict_proba(texts).items():
        np.testing.assert_allclose(again.predict_proba(texts)[ls], probs, atol=1e-5)


def test_more_top_layers_than_the_encoder_has_is_one_clear_error(tiny_bert: Path, frame_and_data) -> None:
    frame, data = frame_and_data
    model = build_model(_config(tiny_bert, data, 3), progress=False)
    train = frame[frame["split"] == "train"].head(20)
    with pytest.raises(ConfigError, match=r"train_top_layers: 3 is not between 1 and the 2 layers"):
        model.fit(train["text"].tolist(), {ls: train[ls].tolist() for ls in LABEL_SETS})


def test_length_grouped_batches_cover_every_row_once_with_less_padding() -> None:
    from samskaping.models.transformer_training import training_batches

    lengths = np.random.default_rng(0).integers(5, 97, size=3851).tolist()

    def padded(batches: list[list[int]]) -> int:
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    plain = training_batches(lengths, 16, False, torch.Generator().manual_seed(42))
    grouped = training_batches(lengths, 16, True, torch.Generator().manual_seed(42))
    for batches in (plain, grouped):
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
        assert all(len(b) == 16 for b in batches[:-1])
    # the tokens an epoch pays for: real tokens plus padding
    assert padded(grouped) < 0.7 * padded(plain)
    assert padded(grouped) < 1.1 * sum(lengths)
    # seeded: the same generator seed gives the same epoch, another seed another one
    assert grouped == training_batches(lengths, 16, True, torch.Generator().manual_seed(42))
    assert grouped != training_batches(lengths, 16, True, torch.Generator().manual_seed(43))
