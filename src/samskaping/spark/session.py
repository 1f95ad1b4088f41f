"""Start a Spark session for a classification job, with errors that say what is missing."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samskaping.errors import SamskapingError

log = logging.getLogger(__name__)

LOG_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"
JAVA_HINT = (
    "Spark needs Java 17: on Debian/Ubuntu 'apt-get install -y openjdk-17-jre-headless' "
    "(or set JAVA_HOME to a Java 17 installation)"
)
EXTRA_HINT = 'install the spark extra: pip install -e ".[spark]"'


def is_local(master: str) -> bool:
    """``local``, ``local[N]``, ``local[*]``, ``local[N,F]``: driver and executors on this machine."""
    return master == "local" or master.startswith("local[")


def session_conf(master: str, conf: Mapping[str, str] | None = None, progress: bool = False) -> dict[str, str]:
    """The Spark settings of a job: quiet and self-contained on ``local``, the user's ``--conf`` on top.

    On a local master the executors bind to the loopback address and start no
    web UI (and run this very Python: :func:`start_session` sets
    ``PYSPARK_PYTHON``). On a cluster the workers' Python is the cluster's to
    set (``spark.pyspark.python``).
    """
    settings: dict[str, str] = {}
    if is_local(master):
        if "SPARK_LOCAL_IP" not in os.environ:
            settings["spark.driver.host"] = "127.0.0.1"
            settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.ui.enabled"] = "false"
    settings["spark.ui.showConsoleProgress"] = str(progress).lower()
    # Spark's start-up lines (its default log profile, the hostname, Hadoop's native library) are not news
    settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
    # the driver collects columns of every sentence (priors, corpus figures): through Arrow, not row by row
    settings["spark.sql.execution.arrow.pyspark.enabled"] = "true"
    # plan files go to Python in Arrow batches: bound them by bytes, not only by rows
    settings["spark.sql.execution.arrow.maxBytesPerBatch"] = str(64 * 1024 * 1024)
    settings.update(conf or {})
    return settings


def start_session(
    master: str, conf: Mapping[str, str] | None = None, verbose: bool = False, progress: bool = False
) -> Any:  # -> SparkSession
    """Start (or join) a Spark session on ``master``; ``progress`` shows Spark's stage bars.

    Raises:
        SamskapingError: pyspark is not installed, or Java is missing or too old.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SamskapingError(f"pyspark is not installed; {EXTRA_HINT}") from exc
    if is_local(master) and "PYSPARK_PYTHON" not in os.environ:
        # the executors run this very Python, so they import the same samskaping: pyspark 4.1's local
        # workers take theirs from this variable (else 'python3' on PATH, which outside an activated
        # virtual environment is another Python without samskaping; spark.pyspark.python was not enough)
        os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = SparkSession.builder.master(master).appName("samskaping")
    for key, value in session_conf(master, conf, progress).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # pyspark raises PySparkRuntimeError (JAVA_GATEWAY_EXITED) when java is absent
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "JAVA_GATEWAY_EXITED" in str(exc) or "java" in str(exc).lower():
            raise SamskapingError(f"Spark did not start ({first}); {JAVA_HINT}") from exc
        raise SamskapingError(f"Spark did not start on {master!r} ({first}); check --master and --conf") from exc
    spark.sparkContext.setLogLevel("INFO" if verbose else "ERROR")
    log.info("Spark %s on %s, %d cores", spark.version, master, spark.sparkContext.defaultParallelism)
    return spark
