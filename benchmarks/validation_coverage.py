"""Do the validated figures keep their promise? Coverage and width on a written plan-like corpus with known labels.

    python benchmarks/validation_coverage.py [--model DIR | --weak] [--plans 41] [--draws 200] [--margin 0.05]
                                             [--resamples 1000] [--out benchmarks/results/validation-coverage.json]

Offline, one command. It builds a corpus of ``--plans`` plan-like sentence tables
from the project's written evaluation sentences (``data/eval/``: sentences written
for the project in plan style, none of them in the training data), each plan with
its own share of co-creation sentences (150-400 sentences, share drawn from
Beta(1, 8): mean 11 %, most plans under 15 %, as in real samfunnsdeler), classifies
it once with ``samskaping.predict.classify`` (the model's own priors setting), and
then, ``--draws`` times with a new seed, draws the blind validation sample that
``review export --strategy validation`` would draw (same function, the size
``--margin`` suggests), «codes» it with the known labels and computes the validated
figures with the same functions ``review validate`` uses. It reports:

- the corpus co-creation share: how often the prediction-powered 95 % interval
  covers the true share, its mean width, and the same for the interval from the
  coded sample alone;
- per plan: mean absolute error of the raw and of the corrected share, and how
  often the per-plan intervals cover the plan's true share;
- «plans with co-creation sentences»: how often the corrected interval covers
  the true count.

``--weak`` trains a deliberately weak baseline first (20 sentences per split and
conception of the shipped data, 76 in all): the corrections must hold for a model
that misses most co-creation sentences too.

Sentences are drawn with replacement from about 1,000 written sentences, so a
sentence can occur in several plans; the statistics do not depend on that.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
POOL = [ROOT / "data" / "eval" / "realistic-plans.jsonl", ROOT / "data" / "eval" / "realistic-sentences.jsonl"]


def build_corpus(folder: Path, plans: int, seed: int = 0) -> dict[str, float]:
    """Write ``plans`` JSONL sentence tables (text, context and the known labels) into ``folder``.

    Returns:
        The true co-creation share of each plan (file stem -> share).
    """
    rng = np.random.default_rng(seed)
    pool = pd.concat([pd.read_json(p, lines=True, dtype=False) for p in POOL], ignore_index=True)
    pool["context"] = pool.get("context", pd.Series("", index=pool.index)).fillna("")
    yes, no = pool[pool["conception"] != "none"], pool[pool["conception"] == "none"]
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for d in range(plans):
        size = int(rng.integers(150, 401))
        k = int(rng.binomial(size, rng.beta(1.0, 8.0)))
        rows = pd.concat(
            [yes.sample(k, replace=True, random_state=rng), no.sample(size - k, replace=True, random_state=rng)]
        )
        rows = rows.sample(frac=1.0, random_state=rng)[["text", "context", "conception", "factor", "polarity"]]
        name = f"plan{d + 1:02d}"
        rows.to_json(folder / f"{name}.jsonl", orient="records", lines=True, force_ascii=False)
        truth[name] = k / size
    return truth


def classify_corpus(plans: Path, out: Path, model_dir: Path | None) -> pd.DataFrame:
    """Classify the corpus as ``predict.py`` would; the sentence table with ``input_<set>`` (the known labels)."""
    from samskaping.default_model import ensure_default_model
    from samskaping.models import load_model
    from samskaping.predict import classify

    model = load_model(model_dir or ensure_default_model("baseline"))
    result = classify(sorted(plans.glob("*.jsonl")), model, out, progress=False)
    frame = result.sentences.reset_index(drop=True)
    frame["plan"] = frame["document"].map(lambda d: Path(d).stem)
    return frame


def train_weak(folder: Path) -> Path:
    """A baseline trained (untracked) on 76 shipped sentences: 15 train, 2 validation, 2 test per conception."""
    from samskaping.config import validate_config
    from samskaping.training import train

    shipped = pd.read_json(ROOT / "data" / "samskaping-sentences.jsonl", lines=True, dtype=False)
    per_class = {"train": 15, "validation": 2, "test": 2}
    rows = pd.concat(
        [
            shipped[shipped["split"] == split].groupby("conception").sample(n, random_state=0)
            for split, n in per_class.items()
        ]
    )
    data = folder / "weak.jsonl"
    rows.to_json(data, orient="records", lines=True, force_ascii=False)
    cfg = validate_config({"data": {"path": str(data)}, "tracking": {"enabled": False}})
    return train(cfg, folder / "weak-baseline", progress=False).model_dir


def simulate(frame: pd.DataFrame, draws: int, margin: float, resamples: int) -> dict[str, object]:
    """Draw ``draws`` validation samples and measure coverage, width and per-plan error (see the module docstring)."""
    from samskaping.review.export import stratified_sample
    from samskaping.validation import binary_plan_shares, classical_share, ppi_share, suggest_sample_size

    frame = frame.reset_index(drop=True)
    true_yes = (frame["input_conception"] != "none").to_numpy().astype(int)
    model_yes = (frame["conception"] != "none").to_numpy().astype(int)
    model_prob = 1.0 - frame["conception_p_none"].to_numpy(dtype=float)
    n = suggest_sample_size(float(model_yes.mean()), margin, len(frame))
    groups = frame.groupby("document", sort=False).indices
    plan_true = np.array([true_yes[i].mean() for i in groups.values()])
    plans_true = int(sum(true_yes[i].sum() > 0 for i in groups.values()))
    truth = float(true_yes.mean())
    rows = []
    for seed in range(draws):
        sample = stratified_sample(frame, n, seed).index.to_numpy()
        ppi = ppi_share(true_yes[sample], model_yes[sample], model_yes)
        _, only_low, only_high = classical_share(true_yes[sample])
        plans = binary_plan_shares(
            true_yes[sample],
            model_yes[sample],
            model_prob[sample],
            [model_yes[i] for i in groups.values()],
            [model_prob[i] for i in groups.values()],
            seed=seed,
            resamples=resamples,
        )
        row = {
            "covers": ppi.low <= truth <= ppi.high,
            "width": ppi.high - ppi.low,
            "only_covers": only_low <= truth <= only_high,
            "only_width": only_high - only_low,
            "raw_error": float(np.abs(plans["raw"] - plan_true).mean()),
        }
        if plans["estimate"] is not None:
            row.update(
                corrected_error=float(np.abs(plans["estimate"] - plan_true).mean()),
                plan_coverage=float(
                    np.mean((plans["low"] <= plan_true + 1e-12) & (plan_true <= plans["high"] + 1e-12))
                ),
                plans_covers=plans["plans"]["low"] <= plans_true <= plans["plans"]["high"],
                plans_estimate=plans["plans"]["estimate"],
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    corrected = table.dropna(subset=["corrected_error"]) if "corrected_error" in table else table.iloc[0:0]
    return {
        "sentences": len(frame),
        "plans": len(groups),
        "sample_size": n,
        "draws": draws,
        "margin": margin,
        "true_share": round(truth, 4),
        "raw_share": round(float(model_yes.mean()), 4),
        "coverage": round(float(table["covers"].mean()), 4),
        "mean_width": round(float(table["width"].mean()), 4),
        "sample_only_coverage": round(float(table["only_covers"].mean()), 4),
        "sample_only_mean_width": round(float(table["only_width"].mean()), 4),
        "per_plan_raw_error": round(float(table["raw_error"].mean()), 4),
        "per_plan_corrected_error": round(float(corrected["corrected_error"].mean()), 4) if len(corrected) else None,
        "per_plan_coverage": round(float(corrected["plan_coverage"].mean()), 4) if len(corrected) else None,
        "draws_corrected": len(corrected),
        "plans_true": plans_true,
        "plans_raw": int((frame.assign(y=model_yes).groupby("document")["y"].sum() > 0).sum()),
        "plans_estimate_mean": round(float(corrected["plans_estimate"].mean()), 2) if len(corrected) else None,
        "plans_coverage": round(float(corrected["plans_covers"].mean()), 4) if len(corrected) else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model folder (default: the offline default baseline)")
    parser.add_argument("--weak", action="store_true", help="train and use a deliberately weak baseline (76 sentences)")
    parser.add_argument("--plans", type=int, default=41)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per draw (per-plan intervals)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = train_weak(Path(tmp)) if args.weak else args.model
        build_corpus(Path(tmp) / "plans", args.plans, args.seed)
        frame = classify_corpus(Path(tmp) / "plans", Path(tmp) / "out", model)
    figures = simulate(frame, args.draws, args.margin, args.resamples)
    figures["model"] = "weak baseline (76 sentences)" if args.weak else str(args.model or "default baseline")
    figures["seconds"] = round(time.perf_counter() - start, 1)
    for key, value in figures.items():
        print(f"{key:28s} {value}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
