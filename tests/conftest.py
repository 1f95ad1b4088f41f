"""Shared fixtures: small labelled files cut from the shipped data, a tiny BERT built offline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "samskaping-sentences.jsonl"
FIXTURE_LAST_ID = 4129


def shipped_split_sizes() -> dict[str, int]:
    """Rows of the shipped file's validation and test splits."""
    frame = pd.read_json(SHIPPED, lines=True, dtype=False)
    return {split: int((frame["split"] == split).sum()) for split in ("validation", "test")}


def small_frame(per_split: dict[str, int] | None = None) -> pd.DataFrame:
    """A deterministic slice of the shipped data that keeps every conception in every split."""
    per_split = per_split or {"train": 24, "validation": 8, "test": 8}
    frame = pd.read_json(SHIPPED, lines=True, dtype=False)
    # the rows of the first two rounds (sk00001-sk04129) only: rows added later must not change the tiny
    # test models (a pandas sample over a longer frame draws other rows)
    frame = frame[frame["id"].str.removeprefix("sk").astype(int) <= FIXTURE_LAST_ID]
    parts = []
    for split, n in per_split.items():
        part = frame[frame["split"] == split]
        # the same number from every conception, so that each class is present in each split
        per_class = max(1, n // part["conception"].nunique())
        parts.append(part.groupby("conception").sample(per_class, random_state=0).sort_values("id"))
    return pd.concat(parts).reset_index(drop=True)


def write_jsonl(frame: pd.DataFrame, path: Path) -> Path:
    path.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in frame.to_dict(orient="records")) + "\n", encoding="utf-8"
    )
    return path


def built_once(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, build: Callable[[Path], Path]
) -> Path:
    """What ``build(folder)`` returns, built once per test run even when pytest-xdist runs several workers.

    Each xdist worker has its own session, so a session fixture would otherwise be built once per worker.
    The workers of one run share the parent of their temporary folders; the first to come builds there under a
    file lock, the others wait and reuse it (the pattern of pytest-xdist's documentation, «Making session-scoped
    fixtures execute only once»). Without xdist (``-n 0``) it builds in the session's own folder.
    """
    from filelock import FileLock

    if worker_id == "master":
        return build(tmp_path_factory.mktemp(name))
    folder = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    done = folder.with_name(folder.name + ".done")
    with FileLock(str(folder) + ".lock"):
        if not done.is_file():
            folder.mkdir(exist_ok=True)
            done.write_text(str(build(folder)), encoding="utf-8")
    return Path(done.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def small_baseline_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A baseline model trained (untracked) on a 76-row slice of the shipped data; shared, do not write into it."""

    def build(folder: Path) -> Path:
        from samskaping.config import validate_config
        from samskaping.training import train

        data = write_jsonl(small_frame({"train": 60, "validation": 8, "test": 8}), folder / "d.jsonl")
        cfg = validate_config({"data": {"path": str(data)}, "tracking": {"enabled": False}})
        return train(cfg, folder / "baseline", progress=False).model_dir

    return built_once(tmp_path_factory, worker_id, "small-baseline", build)


@pytest.fixture
def small_data(tmp_path: Path) -> Path:
    """A 40-row labelled JSONL with a split column."""
    return write_jsonl(small_frame(), tmp_path / "small.jsonl")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A 2-layer BERT (hidden size 32) with a WordPiece tokenizer trained on the shipped sentences."""
    return built_once(tmp_path_factory, worker_id, "tiny-bert", _build_tiny_bert)


def _build_tiny_bert(folder: Path) -> Path:
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    texts = pd.read_json(SHIPPED, lines=True)["text"].tolist()
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(texts), encoding="utf-8")
    wordpiece = BertWordPieceTokenizer(lowercase=True, strip_accents=False)
    wordpiece.train([str(corpus)], vocab_size=2000, min_frequency=2)
    wordpiece.save_model(str(folder))
    corpus.unlink()
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True, strip_accents=False)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_transformer_config(tiny_bert: Path, data: Path, epochs: int, **transformer: object) -> dict:
    """The config dict the tiny-BERT tests train with (``transformer`` adds keys of model.transformer)."""
    return {
        "data": {"path": str(data)},
        "model": {"kind": "transformer", "name": str(tiny_bert), "transformer": {"max_length": 64, **transformer}},
        # one thread: a 32-wide model is all overhead, and extra threads only add synchronisation
        "training": {
            "seed": 3,
            "epochs": epochs,
            "batch_size": 16,
            "learning_rate": 8e-3,
            "head_learning_rate": 2e-2,
            "warmup_ratio": 0.0,
            "early_stopping_patience": 0,
            "threads": 1,
        },
        "tracking": {"enabled": False},
    }


@pytest.fixture(scope="session")
def tiny_fitted_dir(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The tiny BERT fine-tuned on a 400-sentence slice of the train split, saved as a model folder.

    Fewer sentences or epochs leave it predicting one class for everything,
    which would agree with any quantisation and guard nothing. The int8 and
    ONNX tests (test_speed.py, test_onnx.py) share it; copy it before writing into it.
    """
    return built_once(tmp_path_factory, worker_id, "tiny-fitted", lambda work: _fit_tiny(tiny_bert, work))


def _fit_tiny(tiny_bert: Path, work: Path) -> Path:
    import torch

    from samskaping.config import validate_config
    from samskaping.labels import LABEL_SETS
    from samskaping.models import build_model

    frame = small_frame({"train": 400, "validation": 8, "test": 8})
    data = write_jsonl(frame, work / "d.jsonl")
    # 150 steps: 3-5 distinct labels per label set on the shipped test split, in seconds
    cfg = validate_config(tiny_transformer_config(tiny_bert, data, epochs=6))
    threads = torch.get_num_threads()
    try:
        model = build_model(cfg, progress=False)
        train = frame[frame["split"] == "train"]
        model.fit(train["text"].tolist(), {ls: train[ls].tolist() for ls in LABEL_SETS})
    finally:
        torch.set_num_threads(threads)  # fit sets it for the whole process
    return model.save(work / "model")


@pytest.fixture(scope="session")
def default_baseline_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """``predict.py --baseline``'s model: the baseline config trained on all of the shipped data (about 15 s)."""
    from samskaping import default_model

    return built_once(
        tmp_path_factory,
        worker_id,
        "default-baseline",
        lambda folder: default_model.build(folder / "baseline", "baseline"),
    )
