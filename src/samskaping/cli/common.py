"""What every command shares: logging set-up and the one wrapper from errors to exit statuses."""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import signal
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from samskaping.errors import SamskapingError

EXIT_OK, EXIT_PARTIAL, EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_NOISY_LOGGERS = ("mlflow", "alembic", "urllib3", "httpx", "filelock", "huggingface_hub", "transformers", "matplotlib")


class Parser(argparse.ArgumentParser):
    """An argument parser that names a mistyped option instead of guessing what was meant.

    Abbreviations are off (``--out`` is not ``--output``), and an option that
    does not exist is reported as such, with a «did you mean» when a known
    option is close, before argparse would report a required option as missing.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        argv = list(sys.argv[1:] if args is None else args)
        known = [o for o in self._option_string_actions if o.startswith("--")]
        for token in argv:
            if token == "--":
                break
            name = token.split("=", 1)[0]
            if token.startswith("--") and name not in self._option_string_actions:
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.error(f"unknown option {name}{hint}; see {self.prog} --help for the options")
        return super().parse_known_args(argv, namespace)


class _PlainFormatter(logging.Formatter):
    """``LEVEL message`` with any ANSI colour codes a library put into the message removed.

    What is left of control and bidirectional characters (from a file name in the message) is
    escaped, so that one message is one line and nothing in it acts on the terminal.
    """

    def format(self, record: logging.LogRecord) -> str:
        import re

        return re.sub(r"\x1b\[[0-9;]*m", "", super().format(record))

    def formatMessage(self, record: logging.LogRecord) -> str:
        import re

        from samskaping.display import safe_text

        record.message = safe_text(re.sub(r"\x1b\[[0-9;]*m", "", record.message))
        return super().formatMessage(record)


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Plain messages on stderr; library modules only create loggers.

    Also makes Ctrl-C (SIGINT) raise KeyboardInterrupt even when the process
    was started with SIGINT ignored (as background jobs of a shell script are),
    so that an interrupted run always ends cleanly: KILLED in MLflow, best
    checkpoint kept, finished documents written. Warnings that libraries raise
    about themselves (deprecations inside MLflow or transformers) are shown
    only with ``--verbose``.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PlainFormatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in _NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # MLflow configures its own loggers when imported (after this), from this variable
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    if not verbose:
        # transformers prints load reports (e.g. BERT's unused pooler weights, dropped on purpose) in colour
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        for module in ("mlflow", "transformers", "huggingface_hub", "torch", "pydantic", "sklearn"):
            warnings.filterwarnings("ignore", module=module)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
    if quiet or not sys.stderr.isatty() or os.environ.get("HF_HUB_OFFLINE") == "1":
        # no download or weight-loading bars where nobody watches them, or where nothing is downloaded
        # (transformers' own bars follow huggingface_hub's switch)
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if quiet:
        os.environ.setdefault("TQDM_DISABLE", "1")


def print_result(summary: dict, output: object, failures: list, report: object = None) -> int:
    """What ``predict.py`` and ``samskaping.spark`` print at the end; the status (1 when some input was not read)."""
    from samskaping.display import display_name, safe_text

    print(f"{summary['documents']} document(s), {summary['sentences']} sentences -> {display_name(str(output))}")
    print(summary["mention_finding"])
    if report is not None:
        print(f"report: {report}")
    if "conception_sentences" in summary:
        out = display_name(str(output))
        print(
            f"the shares are the model's uncorrected output; to validate them, code a blind sample: "
            f"python -m samskaping.review export {out} --strategy validation, then "
            f"python -m samskaping.review validate {out} --labels {out}/validation.xlsx "
            "(docs/user-guide/trusting-the-figures.md)"
        )
    if failures:
        print(f"{len(failures)} input(s) could not be read:", file=sys.stderr)
        for failure in failures:
            print(f"  {display_name(failure.path)}: {safe_text(failure.error)}", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def progress_wanted(quiet: bool) -> bool:
    """Progress bars only when a person is watching the terminal."""
    return not quiet and sys.stderr.isatty()


def model_or_default(model: str | None, baseline: bool, progress: bool) -> str:
    """``--model`` as given, else the folder of the default model (e5, or the baseline with ``--baseline``).

    The default is trained on first use (:func:`samskaping.default_model.ensure_default_model`).

    Raises:
        SamskapingError: both ``--model`` and ``--baseline`` were given.
    """
    if model is not None:
        if baseline:
            raise SamskapingError("--baseline picks the default model; leave it out when --model is given")
        return model
    from samskaping.default_model import ensure_default_model

    return str(ensure_default_model("baseline" if baseline else "e5", progress))


def run_command(body: Callable[[], int], interrupted: str = "interrupted") -> int:
    """Run a command's body and turn what it raises into a line on stderr and an exit status.

    Args:
        body: the command; returns its own status when it finishes.
        interrupted: what to say after Ctrl-C (what was kept, how to continue), unless the
            KeyboardInterrupt carries its own message.

    Returns:
        The body's status; 2 for the project's errors, 130 for Ctrl-C, 3 for anything
        else (a bug: the traceback goes to a file named in the message).
    """
    try:
        return body()
    except SamskapingError as exc:
        from samskaping.display import safe_text

        print(f"error: {safe_text(str(exc), keep_newlines=True)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        # a KeyboardInterrupt raised with a message says what was kept better than the default
        print(str(exc.args[0]) if exc.args else interrupted, file=sys.stderr)
        return EXIT_INTERRUPTED
    # a bug in samskaping or a library: never looks like success or partial success
    except Exception as exc:  # noqa: BLE001 - the last line of defence writes a crash report and exits 1
        report = Path(tempfile.gettempdir()) / f"samskaping-crash-{datetime.now():%Y%m%d-%H%M%S}.txt"
        try:
            report.write_text(traceback.format_exc(), encoding="utf-8")
            where = f"the details are in {report}"
        except OSError:
            where = "run again with --verbose for details"
        from samskaping.display import safe_text

        print(
            f"internal error: {type(exc).__name__}: {safe_text(str(exc).splitlines()[0]) if str(exc) else ''}; "
            f"{where}; "
            "please report it to the samskaping developers",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
