"""What the Spark path costs on top of predict.py, on this machine (issue 14).

    python benchmarks/spark_overhead.py [--plans 20] [--larger 100] [--sentences 100] [--rounds 3]
        [--out benchmarks/results/spark-overhead.json]

Offline, one command, a few minutes on a 2-core CPU; needs Java 17 and the
spark extra. It builds ``--plans`` plan files (half PDF, half DOCX, with
``tests/plan_files.py``) of about ``--sentences`` seeded shipped sentences
each, and classifies the folder with the default baseline (the model
``predict.py`` builds on first use) both ways:

* the commands, as a user runs them, each in a new process: ``predict.py`` and
  ``python -m samskaping.spark --master local[2]`` (JVM start, imports, model
  loading, Spark session and job);
* in one process: ``samskaping.predict.classify`` and
  ``samskaping.spark.job.classify_on_spark`` in one Spark session started once
  (its start and its first job, with the Python workers starting, timed
  apart); rounds alternate the two ways, on the corpus and on a larger one
  (``--larger`` plans), so that a job's time splits into a fixed part and a
  cost per sentence (``T(n) = fixed + n · per_sentence``).

Both ways must give the same labels (checked). From the timings it derives the
Spark path's overhead per sentence and per run; docs/scale-out.md turns them into an
estimate for many plans on many workers. The baseline costs almost nothing per
sentence, so the figures are the overhead itself: extraction, Arrow transfers,
the shuffle and the Parquet dataset on top of predict.py's own work.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "samskaping-sentences.jsonl"
MASTER = "local[2]"


def plan_files_module() -> Any:
    """``tests/plan_files.py`` (the test helpers that write real PDF and DOCX plans)."""
    spec = importlib.util.spec_from_file_location("plan_files", ROOT / "tests" / "plan_files.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def build_plans(folder: Path, plans: int, sentences: int, seed: int) -> dict[str, Any]:
    """``plans`` files of about ``sentences`` shipped sentences: headings and paragraphs of four sentences."""
    import pandas as pd

    plan_files = plan_files_module()
    texts = pd.read_json(DATA, lines=True, dtype=False)["text"].sample(frac=1.0, random_state=seed).tolist()
    folder.mkdir(parents=True)
    for k in range(plans):
        chosen = [texts[(k * sentences + i) % len(texts)] for i in range(sentences)]
        paragraphs = [" ".join(chosen[i : i + 4]) for i in range(0, len(chosen), 4)]
        if k % 2 == 0:
            pages = [
                [plan_files.Heading(f"{p + 1}. Tema {p + 1}"), *paragraphs[i : i + 5]]
                for p, i in enumerate(range(0, len(paragraphs), 5))
            ]
            plan_files.make_plan_pdf(folder / f"plan-{k:03d}.pdf", pages)
        else:
            blocks = [
                b
                for i in range(0, len(paragraphs), 5)
                for b in (plan_files.Heading(f"Tema {i // 5 + 1}"), *paragraphs[i : i + 5])
            ]
            plan_files.make_plan_docx(folder / f"plan-{k:03d}.docx", blocks)
    files = sorted(folder.iterdir())
    return {
        "plans": len(files),
        "pdf": sum(f.suffix == ".pdf" for f in files),
        "docx": sum(f.suffix == ".docx" for f in files),
        "bytes": sum(f.stat().st_size for f in files),
        "sentences_written_per_plan": sentences,
    }


def timed_command(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of a command; it must exit 0."""
    t0 = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - t0


def same_labels(spark_out: Path, predict_out: Path) -> bool:
    """Labels and probabilities of both output folders agree (probabilities to 1e-6)."""
    import numpy as np

    from samskaping.outputs import read_output

    key = ["document", "sentence_index"]
    a = read_output(spark_out).sentences.sort_values(key).reset_index(drop=True)
    b = read_output(predict_out).sentences.sort_values(key).reset_index(drop=True)
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for column in b.columns:
        if column.endswith("_score") or "_p_" in column:
            if not np.allclose(a[column].to_numpy(float), b[column].to_numpy(float), rtol=0, atol=1e-6):
                return False
        elif column in ("document", "text", "conception", "factor", "polarity") and not a[column].astype(str).equals(
            b[column].astype(str)
        ):
            return False
    return True


def machine_facts() -> dict[str, Any]:
    import pyspark

    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr.splitlines()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "unknown"
        )
    except (OSError, subprocess.CalledProcessError):
        model = platform.processor() or "unknown"
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pyspark": pyspark.__version__,
        "java": java[0] if java else "unknown",
        "load_average_at_start": list(os.getloadavg()),
    }


def run(plans: int, larger: int, sentences: int, rounds: int, seed: int) -> dict[str, Any]:
    from samskaping.default_model import ensure_default_model
    from samskaping.models import load_model
    from samskaping.predict import classify
    from samskaping.runtime import model_facts
    from samskaping.spark.job import ModelSource, classify_on_spark
    from samskaping.spark.session import start_session

    result: dict[str, Any] = {"machine": machine_facts(), "master": MASTER}
    model_dir = ensure_default_model("baseline")  # the figures in docs/scale-out.md are of the baseline
    model = load_model(model_dir)
    result["model"] = {"folder": str(model_dir), "kind": model.kind, "priors": str(model.cfg.prediction.priors)}
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "TQDM_DISABLE": "1"}
    with tempfile.TemporaryDirectory(prefix="samskaping-spark-bench-") as tmp:
        work = Path(tmp)
        result["corpus"] = build_plans(work / "plans", plans, sentences, seed)
        inputs = [str(work / "plans")]

        # the commands as a user runs them, alternating
        commands: dict[str, list[float]] = {"predict.py": [], "samskaping.spark": []}
        for r in range(rounds):
            commands["predict.py"].append(
                timed_command(
                    [
                        sys.executable,
                        "predict.py",
                        *inputs,
                        "--model",
                        str(model_dir),
                        "--output",
                        str(work / f"p{r}"),
                        "--quiet",
                    ],
                    env,
                )
            )
            commands["samskaping.spark"].append(
                timed_command(
                    [
                        sys.executable,
                        "-m",
                        "samskaping.spark",
                        *inputs,
                        "--model",
                        str(model_dir),
                        "--output",
                        str(work / f"s{r}"),
                        "--master",
                        MASTER,
                        "--quiet",
                    ],
                    env,
                )
            )
            print(
                f"round {r + 1}: predict.py {commands['predict.py'][-1]:.1f} s, "
                f"samskaping.spark {commands['samskaping.spark'][-1]:.1f} s",
                file=sys.stderr,
            )

        # the jobs alone, in one process and one Spark session, on the corpus and on a larger one
        result["larger_corpus"] = build_plans(work / "plans-larger", larger, sentences, seed)
        t0 = time.perf_counter()
        spark = start_session(MASTER)
        session_seconds = time.perf_counter() - t0
        jobs: dict[str, dict[str, list[float]]] = {size: {"predict": [], "spark": []} for size in ("corpus", "larger")}
        counts: dict[str, int] = {}
        info = model_facts(model, str(model_dir), None)
        try:
            classify_on_spark(spark, inputs, model, ModelSource(folder=model_dir), work / "cold", model_info=info)
            jobs["first_spark_job_of_the_session"] = time.perf_counter() - t0 - session_seconds  # type: ignore[assignment]
            classify(
                inputs, model, work / "warm-up", progress=False, model_info=info
            )  # readers imported, caches filled
            for r in range(rounds):
                for size, folder in (("corpus", inputs), ("larger", [str(work / "plans-larger")])):
                    t0 = time.perf_counter()
                    predicted = classify(folder, model, work / f"jp-{size}-{r}", progress=False, model_info=info)
                    jobs[size]["predict"].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    classify_on_spark(
                        spark, folder, model, ModelSource(folder=model_dir), work / f"js-{size}-{r}", model_info=info
                    )
                    jobs[size]["spark"].append(time.perf_counter() - t0)
                    counts[size] = int(predicted.summary["sentences"])
                print(
                    f"round {r + 1}: jobs {jobs['corpus']['predict'][-1]:.1f}/{jobs['corpus']['spark'][-1]:.1f} s, "
                    f"larger corpus {jobs['larger']['predict'][-1]:.1f}/{jobs['larger']['spark'][-1]:.1f} s",
                    file=sys.stderr,
                )
        finally:
            spark.stop()
        n = counts["corpus"]
        result["corpus"]["sentences"] = n
        result["larger_corpus"]["sentences"] = counts["larger"]
        result["labels_identical"] = all(
            same_labels(work / s, work / p)
            for s, p in (("s0", "p0"), ("js-corpus-0", "jp-corpus-0"), ("js-larger-0", "jp-larger-0"))
        )

    cmd_p, cmd_s = statistics.median(commands["predict.py"]), statistics.median(commands["samskaping.spark"])
    median = {
        size: {way: statistics.median(jobs[size][way]) for way in ("predict", "spark")} for size in ("corpus", "larger")
    }
    extra = counts["larger"] - counts["corpus"]
    # T(n) = fixed + n * per_sentence, from the two corpus sizes
    marginal = {way: (median["larger"][way] - median["corpus"][way]) / extra for way in ("predict", "spark")}
    fixed = {way: median["corpus"][way] - marginal[way] * n for way in ("predict", "spark")}
    result["commands_seconds"] = {k: [round(v, 2) for v in vs] for k, vs in commands.items()}
    result["jobs_seconds"] = {
        **{
            size: {way: [round(v, 2) for v in jobs[size][way]] for way in ("predict", "spark")}
            for size in ("corpus", "larger")
        },
        "spark_session_start": round(session_seconds, 2),
        "first_spark_job_of_the_session": round(jobs["first_spark_job_of_the_session"], 2),  # type: ignore[arg-type]
    }
    result["summary"] = {
        "sentences": n,
        "predict_command_seconds": round(cmd_p, 2),
        "spark_command_seconds": round(cmd_s, 2),
        "predict_command_sentences_per_second": round(n / cmd_p, 1),
        "spark_command_sentences_per_second": round(n / cmd_s, 1),
        "predict_job_seconds": round(median["corpus"]["predict"], 2),
        "spark_job_seconds": round(median["corpus"]["spark"], 2),
        "predict_job_sentences_per_second": round(n / median["corpus"]["predict"], 1),
        "spark_job_sentences_per_second": round(n / median["corpus"]["spark"], 1),
        "larger_sentences": counts["larger"],
        "predict_job_seconds_larger": round(median["larger"]["predict"], 2),
        "spark_job_seconds_larger": round(median["larger"]["spark"], 2),
        "spark_job_sentences_per_second_larger": round(counts["larger"] / median["larger"]["spark"], 1),
        "spark_command_startup_seconds": round(
            cmd_s - median["corpus"]["spark"], 2
        ),  # JVM, session, imports, model on the driver
        "predict_ms_per_sentence_marginal": round(1000 * marginal["predict"], 3),
        "spark_ms_per_sentence_marginal": round(1000 * marginal["spark"], 3),
        "predict_job_fixed_seconds": round(fixed["predict"], 2),
        "spark_job_fixed_seconds": round(fixed["spark"], 2),
    }
    result["load_average_at_end"] = list(os.getloadavg())
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--plans", type=int, default=20)
    p.add_argument("--larger", type=int, default=100, help="plans in the larger corpus (job timings only)")
    p.add_argument("--sentences", type=int, default=100, help="sentences written per plan")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "spark-overhead.json")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if not shutil.which("java"):
        print("error: Spark needs Java 17: bash .ci/install-java.sh", file=sys.stderr)
        return 2
    result = run(args.plans, args.larger, args.sentences, args.rounds, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result["summary"], indent=2))
    print(f"labels identical both ways: {result['labels_identical']}; written to {args.out}")
    return 0 if result["labels_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
