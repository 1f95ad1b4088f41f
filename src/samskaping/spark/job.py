"""``classify_on_spark``: a classification run of ``predict.py``, spread over a Spark session.

The output folder has what ``predict.py`` writes, so ``python -m samskaping.report``
reads it: ``sentences.parquet`` (a Parquet dataset partitioned by document:
``sentences.parquet/document=<name>/part-….parquet``), ``documents.<fmt>``,
``summary.json`` (with ``sentences_format: parquet``) and ``methods.md``. There is no ``--resume``:
a Spark job is rerun whole.

On a cluster, the inputs and ``output_dir`` must be paths every machine reads
and writes at the same place (HDFS/S3 URIs for inputs, a shared filesystem for
the output folder); the model folder is shipped to the executors as an archive.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pandas as pd

from samskaping import outputs
from samskaping.errors import SamskapingError
from samskaping.methods import methods_markdown
from samskaping.models.base import Classifier
from samskaping.predict import LEADING_COLUMNS
from samskaping.run_summary import Failure, document_table, group_duplicates, run_summary, warn_duplicates
from samskaping.spark.executors import (
    EXTRACTED_SCHEMA,
    SUMMARY_SCHEMA,
    decide_udf,
    extract_batches,
    extract_file,
    summarise_group,
)
from samskaping.spark.listing import Choice, Input, Listed, choose_files, is_uri, local_location, spark_roots
from samskaping.spark.model import ModelSource, ddl, decision_rules, output_types, ship_model

log = logging.getLogger(__name__)

SENTENCES_DATASET = f"{outputs.SENTENCES}.parquet"
_GLOB_CHARACTERS = re.compile(r"([\[\]{}*?\\])")

__all__ = ["ModelSource", "SparkResult", "classify_on_spark"]


@dataclass
class SparkResult:
    """What a Spark classification run produced (the sentences stay in ``sentences.parquet``)."""

    output_dir: Path
    documents: pd.DataFrame
    summary: dict[str, Any]
    failures: list[Failure] = field(default_factory=list)


@dataclass
class _Extracted:
    """The extracted sentences (cached on the executors) and what the driver learnt about every document."""

    cached: Any  # the DataFrame of extracted rows, persisted
    sentences: Any  # its readable sentences
    read: list[str]  # documents read, in predict.py's order
    failures: list[Failure]
    encodings: dict[str, str]
    notes: dict[str, str]  # what a reader warned about, per document (as predict.py's reading_notes)
    extras: list[str]  # other columns of sentence-table inputs
    counts: dict[str, int]


def classify_on_spark(
    spark: Any,
    inputs: Sequence[str],
    model: Classifier,
    source: ModelSource,
    output_dir: str | Path,
    fmt: str = "csv",
    partitions: int | None = None,
    batch_size: int | None = None,
    model_info: dict[str, Any] | None = None,
) -> SparkResult:
    """Classify every sentence of ``inputs`` on ``spark`` and write the outputs to ``output_dir``.

    Args:
        spark: a running SparkSession.
        inputs: files or folders (searched recursively): local paths or URIs Spark reads (``hdfs://…``).
        model: the model, loaded on the driver (its label sets and decision rules shape the tables).
        source: where the executors load the same model from.
        output_dir: the output folder, on a filesystem the executors write to as well.
        fmt: the format of ``documents.<fmt>`` (the sentences are always Parquet).
        partitions: Spark tasks per stage (default: the session's default parallelism).
        batch_size: sentences per model batch for model folders (default: the model's own).
        model_info: what ``summary.json`` records about the model.

    Returns:
        The document table, the summary and the inputs that failed.

    Raises:
        SamskapingError: an unknown format, or no input could be read at all.
    """
    if fmt not in outputs.FORMATS:
        raise SamskapingError(f"unknown output format {fmt!r}; allowed: {', '.join(outputs.FORMATS)}")
    if partitions is not None and partitions < 1:
        raise SamskapingError(f"--partitions must be at least 1, got {partitions}")
    tasks = partitions or spark.sparkContext.defaultParallelism
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    removed = outputs.clear_outputs(out)
    if removed:
        log.warning("%s held results of an earlier run (%s); they are replaced", out, ", ".join(removed))

    started = time.perf_counter()
    raw_files, choice = _list_inputs(spark, inputs)
    extracted = _extract(raw_files, choice, partitions)
    try:
        extraction_seconds = time.perf_counter() - started
        target = _spark_location(out / SENTENCES_DATASET)
        t0 = time.perf_counter()
        written_schema, rules = _classify_and_write(spark, extracted, model, source, tasks, batch_size, target)
        model_seconds = time.perf_counter() - t0
    finally:
        extracted.cached.unpersist()

    classified = sum(extracted.counts.values())
    # wall times of the Spark jobs: listing and extraction, then the model, the decisions and the writing
    timing = {"extraction_seconds": extraction_seconds, "model_seconds": model_seconds, "new_sentences": classified}
    run = {"model": dict(model_info or {}), "decision_rules": rules, "timing": timing, "output_format": fmt}
    documents, summary = _summarise(spark, target, written_schema, model, extracted, run)
    warn_duplicates(summary["duplicate_documents"])
    summary.update(
        {
            "sentences_format": "parquet",
            "spark": {"master": spark.sparkContext.master, "spark_version": spark.version, "partitions": tasks},
        }
    )
    outputs.write_table(documents, outputs.table_path(out, outputs.DOCUMENTS, fmt), fmt)
    outputs.write_json(summary, out / outputs.SUMMARY)
    outputs.write_text(methods_markdown(summary), out / outputs.METHODS)
    return SparkResult(out, documents, summary, extracted.failures)


def _list_inputs(spark: Any, inputs: Sequence[str]) -> tuple[Any, Choice]:
    """Spark's ``binaryFile`` table of the inputs (nothing read yet) and the files to read from it.

    Raises:
        SamskapingError: nothing to read.
    """
    described = [_describe(spark, item) for item in inputs]
    roots = spark_roots(described)
    raw, listed = None, []
    if roots:
        reader = spark.read.format("binaryFile").option("recursiveFileLookup", "true")
        raw = reader.load([_GLOB_CHARACTERS.sub(r"\\\1", root) for root in roots])  # inputs are paths, not patterns
        # the scan names every non-empty file as its path column will (no content is read); the file index
        # also knows the empty files, which the scan leaves out, URI-encoded and with file:/// for file:/
        lengths = {r.path: r.length for r in raw.select("path", "length").collect()}
        indexed = [re.sub(r"^file:///", "file:/", unquote(p)) for p in raw.inputFiles()]
        listed = [Listed(path, lengths.get(path, 0)) for path in dict.fromkeys([*lengths, *indexed])]
    choice = choose_files(described, listed, _hidden_local_files(described, listed))
    if raw is None or not choice.documents:
        raise SamskapingError(f"nothing to classify: {_listing(choice.failures) or 'no inputs given'}")
    return raw, choice


def _extract(raw_files: Any, choice: Choice, partitions: int | None) -> _Extracted:
    """Extract and segment the chosen files on the executors; the sentences stay cached there.

    Raises:
        SamskapingError: no file could be read.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    files = raw_files.filter(F.col("path").isin(list(choice.documents))).select("path", "content")
    if partitions:
        files = files.repartition(partitions)
    rows = files.mapInPandas(extract_batches(choice.documents), EXTRACTED_SCHEMA).persist(StorageLevel.MEMORY_AND_DISK)
    status = {
        r.document: r
        for r in rows.groupBy("document")
        .agg(
            F.count("text").alias("sentences"),
            F.first("error", ignorenulls=True).alias("error"),
            F.first("encoding", ignorenulls=True).alias("encoding"),
            F.first("notes", ignorenulls=True).alias("notes"),
            F.first("extra", ignorenulls=True).alias("extra"),
        )
        .collect()
    }
    failures = list(choice.failures)
    for document in choice.documents.values():
        row = status.get(document)
        if row is None and document in choice.empty:  # Spark reads no empty file: predict.py's reason for it
            failures.append(Failure(document, extract_file(document, b"")["error"].iat[0]))
        elif row is None:  # only if Spark named a file differently from its own listing
            failures.append(
                Failure(document, "not read: Spark returned nothing for it; report it to the samskaping developers")
            )
        elif row.error is not None:
            failures.append(Failure(document, row.error))
    read = [d for d in choice.documents.values() if d in status and status[d].error is None]
    if not read:
        rows.unpersist()
        raise SamskapingError(f"nothing to classify: {_listing(failures)}")
    extras = list(dict.fromkeys(k for d in read if status[d].extra for k in json.loads(status[d].extra)))
    return _Extracted(
        cached=rows,
        sentences=rows.filter(F.col("error").isNull()),
        read=read,
        failures=failures,
        encodings={d: status[d].encoding for d in read if status[d].encoding},
        notes={d: status[d].notes for d in read if status[d].notes},
        extras=extras,
        counts={d: int(status[d].sentences) for d in read},
    )


def _classify_and_write(
    spark: Any,
    extracted: _Extracted,
    model: Classifier,
    source: ModelSource,
    tasks: int,
    batch_size: int | None,
    target: str,
) -> tuple[Any, dict[str, Any]]:
    """Run the model and the decision rules on the executors and write ``sentences.parquet``.

    Returns:
        The written table's schema and the decision rules' record.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    raw_types, decided_types = output_types(model)
    shipped = ship_model(spark, model, source, batch_size)
    try:
        extra_map = F.from_json("extra", "map<string,string>")
        scored = (
            extracted.sentences.repartition(tasks)
            .withColumn("_raw", shipped.raw(F.col("text"), F.col("context")))
            .select(
                *LEADING_COLUMNS,
                *[extra_map[n].alias(n) for n in extracted.extras],
                *[F.col("_raw")[n].alias(n) for n in raw_types],
            )
        )
        estimated = model.cfg.prediction.priors == "estimated"
        if estimated:  # every sentence's probabilities first (the model runs once), then the priors
            scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            priors, rules = decision_rules(
                model, lambda: _raw_in_predict_order(scored, list(raw_types), extracted.read)
            )
            decide = decide_udf(shipped.archive, ddl(decided_types), priors, model.cfg.prediction.confidence)
            table = scored.withColumn("_d", decide(F.struct(*list(raw_types)))).select(
                *LEADING_COLUMNS, *extracted.extras, *[F.col("_d")[n].alias(n) for n in decided_types]
            )
            (
                table.repartition(tasks, "document")
                .sortWithinPartitions("document", "sentence_index")
                .write.mode("overwrite")
                .partitionBy("document")
                .parquet(target)
            )
        finally:
            if estimated:
                scored.unpersist()
    finally:
        shutil.rmtree(shipped.staged, ignore_errors=True)
    return table.schema, rules


def _raw_in_predict_order(scored: Any, raw_names: list[str], order: list[str]) -> pd.DataFrame:
    """Every sentence's raw probabilities on the driver, in predict.py's order (documents as given, then sentences)."""
    frame = scored.select("document", "sentence_index", *raw_names).toPandas()
    rank = {d: i for i, d in enumerate(order)}
    frame = frame.assign(_rank=frame["document"].map(rank)).sort_values(["_rank", "sentence_index"], kind="stable")
    return frame[raw_names].reset_index(drop=True)


def _summarise(
    spark: Any, target: str, schema: Any, model: Classifier, extracted: _Extracted, run: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``documents.<fmt>`` (one row per document, made on the executors) and ``summary.json``, as predict.py's."""
    written = spark.read.schema(schema).parquet(target)  # what was written: the model does not run again
    rows = written.groupBy("document").applyInPandas(summarise_group(model.label_sets), SUMMARY_SCHEMA).collect()
    by_document = {r.document: r.row for r in rows}
    lines = "\n".join(by_document[d] for d in extracted.read if d in by_document)
    summarised = pd.read_json(StringIO(lines), lines=True, dtype=False)
    documents = document_table(summarised, extracted.encodings, extracted.notes)
    # the corpus figures that count sentences need labels and flags only: a few bytes a sentence on the driver
    light = [f.name for f in schema.fields if f.name in model.label_sets or f.dataType.typeName() == "boolean"]
    sentences = written.select(*light).toPandas()
    duplicates = _duplicates(written, extracted.read)
    summary = run_summary(documents, model.label_sets, sentences, extracted.failures, duplicates, extracted.notes, run)
    return documents, summary


def _duplicates(written: Any, order: list[str]) -> list[dict[str, Any]]:
    """Documents with the same sentence texts, as predict.py finds them (the digests are made on the executors)."""
    from pyspark.sql import functions as F

    texts = F.expr("concat_ws('\\n', transform(sort_array(collect_list(struct(sentence_index, text))), s -> s.text))")
    rows = written.groupBy("document").agg(F.sha2(texts, 256).alias("digest"), F.count("*").alias("n")).collect()
    found = {r.document: (r.digest, int(r.n)) for r in rows}
    return group_duplicates((d, *found[d]) for d in order if d in found)


def _listing(failures: Sequence[Failure]) -> str:
    return "; ".join(f"{f.path}: {f.error}" for f in failures)


def _describe(spark: Any, item: str) -> Input:
    """Where Spark finds ``item`` and whether it is a file, a folder or missing.

    Raises:
        SamskapingError: Spark cannot open the URI's filesystem.
    """
    if not is_uri(item):
        path = Path(item)
        kind = "folder" if path.is_dir() else "file" if path.is_file() else "missing"
        return Input(item, local_location(item), kind)
    jvm = spark.sparkContext._jvm  # the Hadoop filesystem API, as Spark itself uses it
    hadoop_path = jvm.org.apache.hadoop.fs.Path(item)
    try:
        fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        qualified = fs.makeQualified(hadoop_path)
        if not fs.exists(qualified):
            return Input(item, item, "missing")
        return Input(item, qualified.toString(), "folder" if fs.getFileStatus(qualified).isDirectory() else "file")
    except Exception as exc:  # py4j wraps the filesystem's IOException (no such scheme, no access)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SamskapingError(
            f"{item}: Spark cannot open it ({first}); check the URI and the cluster's filesystem settings"
        ) from exc


def _hidden_local_files(inputs: Sequence[Input], listed: Sequence[Listed]) -> list[str]:
    """Files in local input folders that Spark did not list (it skips names beginning with ``_`` or ``.``)."""
    seen = {entry.path for entry in listed}
    hidden = []
    for item in inputs:
        if item.kind != "folder" or is_uri(item.given):
            continue
        for folder, _, names in os.walk(item.given):
            for name in names:
                location = local_location(os.path.join(folder, name))
                if location not in seen:
                    hidden.append(location)
    return hidden


def _spark_location(path: Path) -> str:
    """A local path as Spark's explicit ``file:`` location (a bare path would go to a cluster's default filesystem)."""
    return "file://" + os.path.abspath(path)
