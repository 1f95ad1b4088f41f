"""Reading each input in a worker process, so that a hostile file costs one failure, never the batch.

PDFium, lxml and zlib are native code: a PDF stream that inflates to gigabytes
can make PDFium abort the whole process, and a reader can loop or wait (on a
named pipe) forever. :class:`IsolatedReader` reads one input at a time in a
worker process with an address-space limit (``RLIMIT_AS``) and a wall-clock
limit per input (:class:`~samskaping.documents.limits.ReadingLimits`). The
worker is reused from one input to the next and started again only after a
failure of its own: a crash (SIGABRT, SIGSEGV), an exhausted memory limit or a
time-out becomes that input's one-line failure, and the batch goes on. Only
reading and segmenting happen in the worker; the model stays in the caller.

What the readers log in the worker (a page skipped, a cell cut) is logged again
in the caller, under the same logger names, so it reaches the console as before.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from samskaping.documents.limits import ReadingLimits, current, using
from samskaping.errors import SamskapingError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# Seconds a worker gets to exit on its own before it is killed.
_GRACE = 5.0
# Libraries that start a thread pool when imported; one thread is plenty for reading, and each thread's
# stack and malloc arena count against the worker's address space.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")
# What a worker imports before it says it is ready: pandas, the table reader and every document reader.
_PRELOADED = (
    "pandas",
    "samskaping.documents.tables",
    "samskaping.documents.pdf",
    "samskaping.documents.docx",
    "samskaping.documents.html",
    "samskaping.documents.text",
    "samskaping.documents.markdown",
)
# Seconds a new worker may take to start and import its readers.
_START_SECONDS = 120.0


@dataclass
class Outcome:
    """What reading one input gave: its sentences, or the one-line reason it was not read.

    Attributes:
        frame: the sentence table (:func:`read_input`), ``None`` on failure.
        encoding: the encoding a text file was read with, else ``None``.
        error: why the input was not read, one line without the path; ``None`` when it was.
        records: what the readers logged: ``(logger name, level, message)``, to log again in the caller.
        notes: what the reader read only in part (its :class:`~samskaping.documents.document.Document`'s notes).
    """

    frame: pd.DataFrame | None = None
    encoding: str | None = None
    error: str | None = None
    records: list[tuple[str, int, str]] = field(default_factory=list)
    notes: tuple[str, ...] = ()


@dataclass
class ReadInput:
    """One input as a run records it: its sentences, encoding and reading notes, or why it was not read.

    Attributes:
        document: the input's name in the outputs.
        frame: the sentence table, ``None`` when it was not read.
        encoding: the encoding a text file was read with; ``""`` for other inputs.
        notes: what was read only in part, one cell (:func:`~samskaping.documents.document.reading_notes`).
        error: why it was not read, one line without the path; ``None`` when it was.
    """

    document: str
    frame: pd.DataFrame | None
    encoding: str = ""
    notes: str = ""
    error: str | None = None


def read_and_segment(reader: IsolatedReader, path: Path, document: str, shown: str) -> ReadInput:
    """Read and segment one input with ``reader``: the one input step of ``predict.py`` and the Spark job.

    Args:
        reader: the reader to read with (a worker process with the limits in force, or this process).
        path: the file to read (Spark reads a temporary copy).
        document: the input's name in the outputs.
        shown: the name to show for ``path`` inside notes and errors.

    Returns:
        The input's sentences, encoding and notes, or its failure; never raises for a problem of the input.
    """
    from samskaping.documents import reading_notes

    outcome = reader.read(path)
    if outcome.error is not None:  # any failure of one input is that input's failure, never the batch's
        return ReadInput(document, None, error=outcome.error.replace(str(path), shown))
    return ReadInput(document, outcome.frame, outcome.encoding or "", reading_notes(outcome.notes, path, shown))


def read_segmented(path: Path) -> tuple[pd.DataFrame, str | None, tuple[str, ...]]:
    """The sentences of one input (:func:`read_input`), the encoding of a text file and the reading notes.

    Raises:
        DocumentError, DataError: the file cannot be read or has no text.
    """
    import pandas as pd

    from samskaping.documents.tables import TABLE_SUFFIXES, read_sentence_table

    if path.suffix.lower() in TABLE_SUFFIXES:
        notes: list[str] = []
        frame = read_sentence_table(path, notes)  # cells cleaned like document text
        return frame, None, tuple(notes)
    from samskaping.documents import read_document, segment

    document = read_document(path)
    sentences = segment(document)
    frame = pd.DataFrame(
        {
            "document": [s.document for s in sentences],
            "page": pd.array([s.page for s in sentences], dtype="Int64"),
            "sentence_index": [s.index for s in sentences],
            "unit": [s.unit for s in sentences],
            "heading": [s.heading for s in sentences],
            "context": [s.context for s in sentences],
            "text": [s.text for s in sentences],
        }
    )
    return frame, document.encoding, document.notes


def read_input(path: Path) -> pd.DataFrame:
    """Sentences of one input: ``document``, ``page``, ``sentence_index``, ``unit``, ``heading``, ``context``, ``text``.

    Tables keep their other columns (label-like ones renamed ``input_…``) and a
    ``context`` column if they have one; their text is cleaned like document text
    (:func:`samskaping.documents.tables.read_sentence_table`).

    Raises:
        DocumentError, DataError: the file cannot be read or has no text.
    """
    return read_segmented(path)[0]


def reason(path: Path, exc: BaseException) -> str:
    """One plain line for a failed input, without repeating the path."""
    from samskaping.errors import SamskapingError

    # the path goes first: a file name may hold a line break itself
    text = str(exc).strip().removeprefix(f"{path}: ").removeprefix(f"{path}, ").replace(str(path), "the file")
    lines = text.splitlines()
    first = lines[0] if lines else ""
    if isinstance(exc, SamskapingError):
        return "; ".join(line.strip() for line in lines)  # one failure, one line
    return (
        f"could not be read ({type(exc).__name__}{': ' + first if first else ''}); "
        "check that it opens in its usual program, save it again, or report the file to the samskaping developers"
    )


def memory_reason(limits: ReadingLimits) -> str:
    """The failure line of an input that needed more memory than the worker may use."""
    return (
        f"needs more memory than the {limits.memory_mb:,} MB allowed for reading one file (--read-memory-mb); "
        "it may be damaged or made to exhaust memory (a ZIP or stream bomb); if it is a real plan, raise the limit"
    )


def read_one(path: Path, level: int = logging.INFO) -> Outcome:
    """Read one input in this process under the limits in force, and catch everything it raises.

    Args:
        path: a plan document or a sentence table.
        level: the lowest level of log records to keep in the outcome.

    Returns:
        The outcome; never raises for a problem of the input (``MemoryError`` included).
    """
    records: list[tuple[str, int, str]] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append((record.name, record.levelno, record.getMessage()))

    keep = _Keep(level)
    logger = logging.getLogger("samskaping")
    logger.addHandler(keep)
    try:
        frame, encoding, notes = read_segmented(path)
        return Outcome(frame, encoding, None, records, notes)
    except MemoryError:
        return Outcome(None, None, memory_reason(current()), records)
    except Exception as exc:  # noqa: BLE001 - any failure of one input is that input's failure, never the batch's
        return Outcome(None, None, reason(path, exc), records)
    finally:
        logger.removeHandler(keep)


def _limit_memory(megabytes: int) -> None:
    """Cap this process's address space (where the platform allows it), never above the hard limit it inherited."""
    try:
        import resource
    except ImportError:  # Windows: no RLIMIT_AS; the time limit still holds
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = megabytes * 1024 * 1024
    soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _serve(conn: Any, limits: ReadingLimits, level: int) -> None:
    """The worker: read the paths sent on ``conn`` one by one and send back each :class:`Outcome`."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
        for variable in _THREAD_VARIABLES:
            os.environ[variable] = "1"
        logging.getLogger("samskaping").setLevel(level)
        # spaCy's blank pipeline never needs torch, which thinc imports when it can: a gigabyte of address space
        sys.modules.setdefault("torch", None)  # type: ignore[assignment]
        _limit_memory(limits.memory_mb)
        import importlib

        for module in _PRELOADED:  # so that the time limit counts reading, not starting up
            importlib.import_module(module)
        from samskaping.documents import split_sentences

        split_sentences("Klar.")  # loads the segmentation pipeline
        conn.send("ready")
        with using(limits):
            while True:
                try:
                    path = conn.recv()
                except EOFError:
                    return
                if path is None:
                    return
                outcome = read_one(Path(path), level)
                try:
                    conn.send(outcome)
                except MemoryError:  # the sentences did not fit in memory a second time, as a message
                    conn.send(Outcome(None, None, memory_reason(limits), outcome.records[-20:]))
    except BaseException:  # noqa: BLE001 - a worker never prints a traceback; the caller reports its end
        os._exit(70)


class IsolatedReader:
    """Reads inputs one at a time in a reused worker process with memory and time limits.

    Use it as a context manager, so that the worker ends with the run::

        with IsolatedReader() as reader:
            outcome = reader.read(Path("plan.pdf"))

    Args:
        limits: the limits (default: those in force, :func:`~samskaping.documents.limits.current`).
            With ``isolated=False`` inputs are read in this process, without the memory and time limits.
    """

    def __init__(self, limits: ReadingLimits | None = None) -> None:
        self.limits = limits or current()
        self._process: Any = None
        self._conn: Any = None

    def __enter__(self) -> IsolatedReader:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(kill=exc_type is not None)  # after Ctrl-C, do not wait for the input being read

    def read(self, path: Path) -> Outcome:
        """Read one input; a crash, a time-out or exhausted memory comes back as the outcome's ``error``.

        Args:
            path: a plan document or a sentence table.

        Returns:
            The outcome; what the readers logged has been logged here too.

        Raises:
            SamskapingError: the worker process cannot start at all (too little memory for its libraries).
        """
        level = logging.getLogger("samskaping").getEffectiveLevel()
        if not self.limits.isolated:
            with using(self.limits):
                return read_one(path, level)
        if self._process is None:
            self._start(level)
        try:
            self._conn.send(str(path))
        except OSError:  # the worker ended while idle (killed from outside): start another
            self.close(kill=True)
            self._start(level)
            self._conn.send(str(path))
        if self._conn.poll(self.limits.seconds):
            try:
                outcome: Outcome = self._conn.recv()
            except (EOFError, OSError):
                return Outcome(error=self._crashed())
            for name, record_level, message in outcome.records:
                logging.getLogger(name).log(record_level, "%s", message)
            return outcome
        self.close(kill=True)
        return Outcome(
            error=f"not read within {self.limits.seconds:g} s, the time limit for reading one file "
            "(--read-seconds); it may be damaged or made to keep readers busy; if it is a very "
            "long plan, raise the limit"
        )

    def _start(self, level: int) -> None:
        import multiprocessing

        # spawn: a fresh interpreter, never a fork of a process that holds a model and threads
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, self.limits, level), daemon=True, name="samskaping-reader"
        )
        self._process.start()
        child.close()
        try:
            ready = self._conn.poll(_START_SECONDS) and self._conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.close(kill=True)
            raise SamskapingError(
                f"the worker process that reads the files did not start (with --read-memory-mb "
                f"{self.limits.memory_mb} it may have too little memory to load its libraries); "
                "raise --read-memory-mb, or report it to the samskaping developers"
            )

    def _crashed(self) -> str:
        """The failure line for a worker that ended while reading (and forget the worker)."""
        process = self._process
        process.join(_GRACE)
        code = process.exitcode
        self.close(kill=True)
        if code is not None and code < 0:
            try:
                how = f"with {signal.Signals(-code).name}"
            except ValueError:
                how = f"with signal {-code}"
        else:
            how = f"with status {code}"
        return (
            f"the reader stopped {how} while reading it (a crash or exhausted memory in a native library; "
            f"the limit is {self.limits.memory_mb:,} MB, --read-memory-mb); it may be damaged or made to harm "
            "readers; open it in its usual program and save it again, or report the file to the samskaping developers"
        )

    def close(self, kill: bool = False) -> None:
        """End the worker: ask it to exit, or kill it (after a time-out or a crash)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return
        if not kill:
            try:
                conn.send(None)
            except OSError:
                kill = True
        if not kill:
            process.join(_GRACE)
        if process.is_alive():
            process.kill()
            process.join()
        conn.close()
