"""Training and prediction on a CUDA GPU, measured: one e5 epoch, the test split, agreement with the CPU.

    bash benchmarks/gpu_check.sh            # or: python benchmarks/gpu_check.py [--config ...] [--epochs 1]

On a machine with a CUDA GPU and a CUDA build of torch, it trains ``configs/multilingual-e5-small.yaml``
for ``--epochs`` epochs with ``training.device=cuda`` (no int8/bf16 steps, no MLflow), then predicts the
test split of the shipped data with the trained model on the GPU and on the CPU, and writes
``benchmarks/results/gpu-check.json``:

- ``seconds_per_epoch``: the training loop's own epoch time (``epoch_seconds`` of the history);
- ``gpu_sentences_per_second`` / ``cpu_sentences_per_second``: test-split prediction, model loaded;
- ``peak_gpu_memory_mb``: ``torch.cuda.max_memory_allocated`` over training and prediction;
- ``label_agreement_gpu_vs_cpu``: the share of test sentences whose labels are the same when the
  same weights run on the GPU (bf16 autocast, as training and ``--device cuda`` use) and on the CPU
  (fp32), per label set; ``test_macro_f1``: the GPU labels against the gold labels.

Without a GPU it stops with one line saying so (status 2) and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "multilingual-e5-small.yaml")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu-check.json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print(
            f"no CUDA GPU visible to torch {torch.__version__} (CUDA build: {torch.version.cuda or 'no'}); "
            "run this on a machine with a GPU and a CUDA build of torch",
            file=sys.stderr,
        )
        return 2

    from samskaping.config import load_config
    from samskaping.data import load_labelled_files, split_frame
    from samskaping.evaluation import evaluate
    from samskaping.runtime import RuntimeOptions, prepare
    from samskaping.runtime.agreement import label_agreement
    from samskaping.training import train

    cfg = load_config(
        args.config,
        [
            f"data.path={ROOT / 'data' / 'samskaping-sentences.jsonl'}",
            f"training.epochs={args.epochs}",
            "training.device=cuda",
            "training.calibrate_int8=false",
            "training.measure_bf16=false",
            "tracking.enabled=false",
        ],
    )
    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        result = train(cfg, Path(work) / "model", config_path=args.config, progress=False)
        train_seconds = time.perf_counter() - started
        manifest = json.loads((result.model_dir / "samskaping-model.json").read_text(encoding="utf-8"))
        history = (manifest.get("fit") or {}).get("history") or []
        labelled = load_labelled_files(cfg.data.files, on_invalid=cfg.data.on_invalid)
        test = split_frame(labelled, cfg.data.validation_size, cfg.data.test_size, cfg.training.seed)["test"]
        texts = test["text"].tolist()
        labels, speed = {}, {}
        for device in ("cuda", "cpu"):
            predictor = prepare(result.model_dir, RuntimeOptions(device=device))
            predictor.model.predict(texts[:64])  # warm-up: kernels, allocator
            started = time.perf_counter()
            labels[device] = predictor.model.predict(texts, contexts=predictor.model.contexts(test))
            speed[device] = len(texts) / (time.perf_counter() - started)
    gold = {ls: test[ls].tolist() for ls in labels["cuda"]}
    report = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpu": platform.processor() or platform.machine(),
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config),
        "epochs": args.epochs,
        "train_seconds_total": round(train_seconds, 1),
        "seconds_per_epoch": [round(h.get("epoch_seconds", float("nan")), 1) for h in history],
        "test_sentences": len(texts),
        "gpu_sentences_per_second": round(speed["cuda"], 1),
        "cpu_sentences_per_second": round(speed["cpu"], 1),
        "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20),
        "label_agreement_gpu_vs_cpu": label_agreement(labels["cuda"], labels["cpu"]),
        "test_macro_f1": {ls: round(r.macro_f1, 4) for ls, r in evaluate(gold, labels["cuda"], tuple(gold)).items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
