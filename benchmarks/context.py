"""Does a sentence's neighbourhood help? The baseline with and without its lead-in, heading and previous sentence.

    python benchmarks/context.py [--data data/samskaping-sentences.jsonl] [--out benchmarks/results/context.json]
    python benchmarks/context.py --model "none=MODEL_A" --model "lead-in + heading + previous=MODEL_B" \
        --out benchmarks/results/context-e5.json

Offline, one command, a few minutes on 2 cores. For each variant of ``model.context_columns`` (no
context; the lead-in only, as the configs that read context have it; lead-in + heading; lead-in +
heading + previous sentence; lead-in + previous sentence), the columns joined into one text as the
baseline reads them by default, and for the multi-column ones also with
``model.baseline.context_features: separate`` (one vectorizer per column: ``, separate`` variants),
it trains the baseline config on the train split of the shipped data and scores conception, factor
and polarity macro-F1 (labels decided as ``model.predict`` decides them: calibrated probabilities
under the training priors) on:

- the test split, apart for the rows written before the ``heading``/``previous`` columns existed
  (``pattern`` column absent or rows without neighbours) and the rows written with them;
- ``data/eval/independent.jsonl`` (written by a writer who saw neither the training data nor the
  notes' examples; every row has its heading and previous sentence);
- ``data/eval/realistic-plans.jsonl`` (six written plans in reading order; heading and previous
  sentence derived from the order, as ``predict.py`` derives them for a document).

With ``--model LABEL=FOLDER`` (repeatable) nothing is trained: the given model folders, each trained
with ``train.py`` and the context settings its config names, are scored on the same sets under the
same label. That is how the transformer is measured: a fine-tuning run takes minutes to hours, so
the runs are made apart (the commands are in docs/results.md) and scored here together.

Each set is also scored per ``form`` and per ``language``. The training rows of the earlier rounds
have no heading or previous sentence, so a variant that reads them learns them from the newer rows
only: the figures say what the shipped data supports, not what context could do with more of it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from samskaping.config import load_config
from samskaping.evaluation import evaluate
from samskaping.evaluation.sets import plans_in_reading_order
from samskaping.labels import LABEL_SET_NAMES
from samskaping.models import build_model
from samskaping.models.base import Classifier
from samskaping.models.loading import load_model

ROOT = Path(__file__).resolve().parents[1]
# variant -> (model.context_columns or None for no context, model.baseline.context_features)
VARIANTS: dict[str, tuple[tuple[str, ...] | None, str]] = {
    "none": (None, "joined"),
    "lead-in": (("context",), "joined"),
    "lead-in + heading": (("context", "heading"), "joined"),
    "lead-in + heading + previous": (("context", "heading", "previous"), "joined"),
    "lead-in + previous": (("context", "previous"), "joined"),
    "lead-in + heading, separate": (("context", "heading"), "separate"),
    "lead-in + heading + previous, separate": (("context", "heading", "previous"), "separate"),
    "lead-in + previous, separate": (("context", "previous"), "separate"),
}
MIN_ROWS = 20  # per form or language below this a macro-F1 says little; left out of the breakdown


def evaluation_sets(data: pd.DataFrame) -> dict[str, pd.DataFrame]:
    test = data[data["split"] == "test"]
    with_neighbours = test["heading"].fillna("").ne("") | test["previous"].fillna("").ne("")
    return {
        "test split, rows without neighbours": test[~with_neighbours],
        "test split, rows with heading/previous": test[with_neighbours],
        "independent": pd.read_json(ROOT / "data" / "eval" / "independent.jsonl", lines=True),
        "realistic plans": plans_in_reading_order(
            pd.read_json(ROOT / "data" / "eval" / "realistic-plans.jsonl", lines=True)
        ),
    }


def scores(frame: pd.DataFrame, predicted: dict[str, list[str]]) -> dict[str, float]:
    truth = {ls: frame[ls].tolist() for ls in LABEL_SET_NAMES}
    return {ls: round(r.macro_f1, 4) for ls, r in evaluate(truth, predicted, LABEL_SET_NAMES).items()}


def breakdown(frame: pd.DataFrame, predicted: dict[str, list[str]], column: str) -> dict[str, dict[str, float]]:
    out = {}
    for value, rows in frame.groupby(column).groups.items():
        if len(rows) < MIN_ROWS:
            continue
        positions = frame.index.get_indexer(rows)
        out[f"{value} ({len(rows)})"] = scores(
            frame.loc[rows], {ls: [labels[i] for i in positions] for ls, labels in predicted.items()}
        )
    return out


def trained_variants(train: pd.DataFrame) -> Iterator[tuple[str, Classifier, float]]:
    """The baseline config trained on ``train`` once per entry of :data:`VARIANTS`."""
    for variant, (columns, features) in VARIANTS.items():
        started = time.perf_counter()
        overrides = ["tracking.enabled=false", f"model.use_context={'true' if columns else 'false'}"]
        if columns:
            overrides.append(f"model.context_columns=[{', '.join(columns)}]")
            overrides.append(f"model.baseline.context_features={features}")
        cfg = load_config(ROOT / "configs" / "baseline.yaml", overrides)
        model = build_model(cfg, progress=False)
        model.fit(
            train["text"].tolist(), {ls: train[ls].tolist() for ls in LABEL_SET_NAMES}, contexts=model.contexts(train)
        )
        yield variant, model, started


def models(given: list[str], train: pd.DataFrame) -> Iterator[tuple[str, Classifier, float]]:
    """``(label, model, start time)``: the ``--model LABEL=FOLDER`` folders loaded, or the baseline variants trained."""
    if not given:
        yield from trained_variants(train)
        return
    for entry in given:
        label, sep, folder = entry.rpartition("=")
        if not sep or not label:
            raise SystemExit(f"--model {entry!r}: expected LABEL=FOLDER, e.g. none=models/e5-fast")
        yield label, load_model(folder), time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "samskaping-sentences.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "context.json")
    parser.add_argument(
        "--model", action="append", default=[], metavar="LABEL=FOLDER", help="score this folder instead of training"
    )
    args = parser.parse_args()
    data = pd.read_json(args.data, lines=True)
    for column in ("context", "heading", "previous"):
        data[column] = data[column].fillna("") if column in data.columns else ""
    train = data[data["split"] == "train"]
    sets = {name: frame.reset_index(drop=True) for name, frame in evaluation_sets(data).items()}
    results: dict[str, dict] = {}
    for variant, model, started in models(args.model, train):
        results[variant] = {}
        for name, frame in sets.items():
            predicted = model.predict(frame["text"].tolist(), contexts=model.contexts(frame))
            results[variant][name] = {
                "rows": len(frame),
                "macro_f1": scores(frame, predicted),
                "per_form": breakdown(frame, predicted, "form"),
                "per_language": breakdown(frame, predicted, "language"),
            }
        line = "; ".join(
            f"{name}: " + " / ".join(f"{v:.3f}" for v in r["macro_f1"].values()) for name, r in results[variant].items()
        )
        print(f"{variant:<40} {line}  ({time.perf_counter() - started:.0f} s)", flush=True)
    best = {
        name: max(results, key=lambda v, n=name: float(np.mean(list(results[v][n]["macro_f1"].values()))))
        for name in sets
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"label_sets": list(LABEL_SET_NAMES), "best_variant_by_mean_macro_f1": best, "variants": results},
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    print(f"best by mean macro-F1: {best}\nwritten: {args.out}")


if __name__ == "__main__":
    main()
