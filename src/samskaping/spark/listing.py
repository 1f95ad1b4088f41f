"""Which listed files a Spark job reads, by ``predict.py``'s rules, and the name each document gets.

Spark lists folders itself (``binaryFile`` with ``recursiveFileLookup``) and
names files by their full URI (``file:/home/…/plans/a.pdf``). These pure
functions choose from that listing what ``predict.py`` would read from the same
inputs, with the same failures, and name every document as ``predict.py`` does
(the input as given, joined with the path below it), so that both give the
same tables.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from samskaping.predict import _suffixes
from samskaping.run_summary import Failure

# binaryFile keeps a file's bytes in one array: 2 GiB less a little is the most it reads
MAX_FILE_BYTES = 2**31 - 1 - 1024
# a partition folder is ``document=<escaped name>``: one path component, 255 bytes on common filesystems
MAX_PARTITION_NAME_BYTES = 255
# what Spark escapes in partition folder names (ExternalCatalogUtils.escapePathName)
_SPARK_ESCAPED = frozenset([chr(c) for c in range(0x01, 0x20)] + list("\"#%'*/:=?\\\x7f{[]^"))


@dataclass(frozen=True)
class Input:
    """One input as the user gave it, where Spark finds it, and what it is."""

    given: str
    location: str  # Spark's form: file:/abs/path, hdfs://namenode:8020/path, ...
    kind: Literal["file", "folder", "missing"]


@dataclass(frozen=True)
class Listed:
    """One file of Spark's listing: its ``path`` column and its size."""

    path: str
    length: int


@dataclass
class Choice:
    """The files to read (Spark path -> document name, in ``predict.py``'s order), the failures, the empty files."""

    documents: dict[str, str]
    failures: list[Failure]
    empty: set[str] = field(
        default_factory=set
    )  # documents of zero bytes (Spark reads none; they fail as in predict.py)


def is_uri(item: str) -> bool:
    """True for ``scheme://…`` inputs (``hdfs://``, ``s3a://``, ``file://``); False for plain paths."""
    scheme, sep, _ = item.partition("://")
    return bool(sep) and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum() and len(scheme) > 1


def local_location(item: str) -> str:
    """Spark's form of a local path: ``file:`` and the absolute path (Hadoop writes one slash)."""
    return "file:" + os.path.abspath(item)


def spark_roots(inputs: Sequence[Input]) -> list[str]:
    """The locations to hand to Spark: existing inputs, without those inside another (no file is listed twice)."""
    existing = list(dict.fromkeys(i.location for i in inputs if i.kind != "missing"))
    folders = [loc for loc in existing if any(i.location == loc and i.kind == "folder" for i in inputs)]
    return [loc for loc in existing if not any(loc != f and loc.startswith(f.rstrip("/") + "/") for f in folders)]


def _below(location: str, path: str) -> str | None:
    """``path`` relative to the folder ``location`` ("" for itself), or None when it lies elsewhere."""
    if path == location:
        return ""
    prefix = location.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def _join(given: str, relative: str) -> str:
    """The document name ``predict.py`` would give: the input as given, joined with the path below it."""
    if not relative:
        return given if is_uri(given) else str(Path(given))
    if is_uri(given):
        return given.rstrip("/") + "/" + relative
    return str(Path(given) / relative)


def _sort_key(document: str) -> tuple[str, ...]:
    """``predict.py`` sorts a folder's files as Path objects (part by part)."""
    return PurePosixPath(document).parts


def choose_files(inputs: Sequence[Input], listed: Sequence[Listed], hidden: Sequence[str] = ()) -> Choice:
    """The files ``predict.py`` would read from ``inputs``, among those Spark listed, and every failure.

    Args:
        inputs: the inputs in the order given, each with its Spark location and kind.
        listed: Spark's listing of the existing inputs (folders recursively), empty files with length 0.
        hidden: Spark locations of files in the input folders that Spark does not list (it skips
            names that begin with ``_`` or ``.``, folders included).

    Returns:
        Spark path -> document name, in input order (sorted within a folder), and the failures.
    """
    allowed, not_read = _suffixes()
    listing = ", ".join(sorted(allowed))
    documents: dict[str, str] = {}
    failures: list[Failure] = []
    empty: set[str] = set()

    def take(path: str, length: int, document: str) -> None:
        if length > MAX_FILE_BYTES:
            failures.append(
                Failure(
                    document, "not read: larger than 2 GiB, the most Spark's binaryFile source reads; split the file"
                )
            )
        elif len(partition_name(document).encode("utf-8")) > MAX_PARTITION_NAME_BYTES:
            failures.append(
                Failure(
                    document,
                    f"not read: its name is too long for a partition folder of sentences.parquet "
                    f"(more than {MAX_PARTITION_NAME_BYTES} bytes); give it a shorter path",
                )
            )
        else:
            documents.setdefault(path, document)
            if length == 0:
                empty.add(documents[path])

    for item in inputs:
        if item.kind == "missing":
            failures.append(Failure(item.given, "not found; check the path and the current folder"))
            continue
        if item.kind == "file":
            suffix = PurePosixPath(item.location).suffix.lower()
            if suffix not in allowed:
                hint = not_read.get(suffix, f"allowed: {listing}")
                failures.append(
                    Failure(
                        _join(item.given, ""), f"unsupported file type '{PurePosixPath(item.location).suffix}'; {hint}"
                    )
                )
                continue
            for entry in listed:
                if entry.path == item.location:
                    take(entry.path, entry.length, _join(item.given, ""))
            continue
        found = []
        for entry in listed:
            relative = _below(item.location, entry.path)
            if relative and not PurePosixPath(relative).name.startswith((".", "~$")):
                found.append((_join(item.given, relative), entry))
        found.sort(key=lambda pair: _sort_key(pair[0]))
        before = len(failures)
        readable = 0
        for document, entry in found:
            suffix = PurePosixPath(document).suffix.lower()
            if suffix in allowed:
                readable += 1
                take(entry.path, entry.length, document)
            elif suffix in not_read:
                failures.append(Failure(document, f"not read: {not_read[suffix]}"))
        for location in hidden:
            relative = _below(item.location, location)
            name = PurePosixPath(relative or "").name
            if relative and name.lower().endswith(tuple(allowed)) and not name.startswith((".", "~$")):
                failures.append(
                    Failure(
                        _join(item.given, relative),
                        "not read: Spark skips files and folders whose "
                        "names begin with '_' or '.'; rename it, or classify it with predict.py",
                    )
                )
        if not readable and len(failures) == before:
            failures.append(Failure(_join(item.given, ""), f"folder holds no {listing} files"))
    return Choice(documents, failures, empty)


def partition_name(document: str) -> str:
    """The folder Spark writes a document's sentences to: ``document=`` and the name, escaped as Spark does."""
    return "document=" + "".join(f"%{ord(c):02X}" if c in _SPARK_ESCAPED else c for c in document)
