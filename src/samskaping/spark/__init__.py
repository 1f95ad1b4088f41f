"""Classify many plans on Apache Spark: ``python -m samskaping.spark INPUT... --model M --output DIR``.

The same work as ``predict.py``, spread over a Spark cluster (or ``local[*]``):

1. the driver lists the inputs with Spark's ``binaryFile`` source (folders
   recursively) and applies ``predict.py``'s rules to the names
   (:mod:`~samskaping.spark.listing`);
2. executors extract and segment every plan with the same document code as
   ``predict.py`` (:func:`samskaping.reading.read_input`), one failure row per
   file that cannot be read (:mod:`~samskaping.spark.executors`);
3. executors classify the sentences: an MLflow model through
   ``mlflow.pyfunc.spark_udf(env_manager="local")``, a model folder shipped to
   them as an archive and run in a pandas UDF;
4. ``sentences.parquet`` is written partitioned by document, and the driver
   writes ``documents.<fmt>`` and ``summary.json`` from per-document summaries
   made on the executors with :mod:`samskaping.summaries`.

Needs the ``spark`` extra (``pip install -e ".[spark]"``) and Java 17. Nothing
is imported from pyspark until a job runs.
"""
