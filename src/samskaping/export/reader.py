"""Read a REFI-QDA project back: the coders' codings as labelled sentences, for ``python -m samskaping.review import``.

Source: REFI-QDA standard 1.5 (QDA-XML 1.0, ``Project.xsd`` of 18 March 2019). Read leniently, as
projects come back from NVivo, ATLAS.ti, MAXQDA or QualCoder: the XML namespace is matched by local
name, the sources folder as ``sources`` or ``Sources``, GUIDs in either case with or without braces,
a byte-order mark dropped; a source text with CRLF line ends from ATLAS.ti is read with LF (ATLAS.ti
counts CRLF as one character, QualCoder's importer notes).

How codings become labels (one row per sentence a coder coded):

- a coding counts as a coder's when its user (or its selection's user) is not the model's user
  (the ``User`` with ``id="samskaping:model"`` that :mod:`samskaping.export.qdpx` writes);
- a selection maps to the one sentence (line of the source text) it overlaps; a selection over
  several sentences, or none, is listed as a problem and not imported;
- codes are recognised by GUID, else by name, else by the ``samskaping: KEY`` line of their description;
- a label set the coder did not code on the sentence takes the model's code that still stands there,
  else ``none``; a coder's «usikker» code, two different codes of one label set, or a factor without
  «fremmer»/«hemmer» is listed as a problem.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from lxml import etree

from samskaping.errors import DataError
from samskaping.export.codebook import CODES_BY_KEY, all_codes
from samskaping.export.qdpx import MODEL_USER_ID
from samskaping.export.source_text import BULLET
from samskaping.labels import NONE

_KEY_LINE = re.compile(r"^samskaping: (\S+)\s*$", re.MULTILINE)


def _guid(value: str | None) -> str:
    return (value or "").strip().strip("{}").upper()


@dataclass
class Selection:
    """One text selection and the codes on it: ``codings`` holds (code GUID, user GUID)."""

    source: str
    start: int
    end: int
    codings: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Source:
    """One text source: its name, the document it was made from (``Dokument:`` line), and its text."""

    guid: str
    name: str
    document: str
    text: str | None


@dataclass
class Project:
    """What :func:`read_project` finds in a ``.qdpx``."""

    path: Path
    users: dict[str, str]
    model_users: set[str]
    codes: dict[str, str]  # code GUID -> samskaping code key, for the codes recognised
    code_names: dict[str, str]  # code GUID -> name, for every code
    sources: dict[str, Source]
    selections: list[Selection]


@dataclass(frozen=True)
class RangeProblem:
    """A coded range that did not become a labelled row."""

    file: str
    source: str
    start: int
    end: int
    excerpt: str
    reason: str

    def __str__(self) -> str:
        excerpt = " ".join(self.excerpt.split())  # one line, whatever the range holds
        return f"{self.file}: source '{self.source}', characters {self.start}-{self.end} «{excerpt}»: {self.reason}"


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _code_key(element: etree._Element, names: dict[str, str]) -> str | None:
    found = CODES_BY_KEY.get(names.get(element.get("name", ""), ""))
    if found:
        return found.key
    description = next((c.text or "" for c in element if _local(c) == "Description"), "")
    match = _KEY_LINE.search(description)
    return match.group(1) if match and match.group(1) in CODES_BY_KEY else None


def read_project(path: str | Path) -> Project:
    """Read the users, codes, text sources and text selections of a ``.qdpx``.

    Raises:
        DataError: the file is not a ZIP holding a ``.qde`` project.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{path}: not a .qdpx (a ZIP with project.qde); export it again from the QDA program") from exc
    with archive:
        members = {name.lower(): name for name in archive.namelist()}
        qde = next((members[n] for n in members if n.endswith(".qde") and "/" not in n), None)
        if qde is None:
            raise DataError(f"{path}: no project.qde inside; a .qdpx must hold project.qde and a sources folder")
        try:
            root = etree.fromstring(
                archive.read(qde), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
            )
        except etree.XMLSyntaxError as exc:
            raise DataError(f"{path}: {qde} is not well-formed XML ({exc})") from exc
        ours = {c.guid: c.key for c in all_codes()}
        names = {c.name: c.key for c in all_codes()}
        users, model_users, codes, code_names, sources, selections = {}, set(), {}, {}, {}, []
        # ATLAS.ti (and this tool's --line-ends crlf) count a CRLF as one character
        crlf_counts_one = any(name in (root.get("origin") or "").lower() for name in ("atlas", "samskaping"))
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            tag = _local(element)
            if tag == "User":
                users[_guid(element.get("guid"))] = element.get("name", "")
                if element.get("id") == MODEL_USER_ID or element.get("name", "").startswith("samskaping-modell"):
                    model_users.add(_guid(element.get("guid")))
            elif tag == "Code":
                code_guid = _guid(element.get("guid"))
                code_names[code_guid] = element.get("name", "")
                key = ours.get(code_guid) or _code_key(element, names)
                if key:
                    codes[code_guid] = key
            elif tag == "TextSource":
                sources[_guid(element.get("guid"))] = _source(element, archive, members, crlf_counts_one)
            elif tag == "PlainTextSelection":
                source = element.getparent()
                try:
                    selection = Selection(
                        _guid(source.get("guid")), int(element.get("startPosition")), int(element.get("endPosition"))
                    )
                except (TypeError, ValueError):
                    continue
                for coding in (c for c in element if isinstance(c.tag, str) and _local(c) == "Coding"):
                    ref = next((r for r in coding if isinstance(r.tag, str) and _local(r) == "CodeRef"), None)
                    if ref is not None:
                        selection.codings.append(
                            (
                                _guid(ref.get("targetGUID")),
                                _guid(coding.get("creatingUser") or element.get("creatingUser")),
                            )
                        )
                selections.append(selection)
    return Project(path, users, model_users, codes, code_names, sources, selections)


def _source(
    element: etree._Element, archive: zipfile.ZipFile, members: dict[str, str], crlf_counts_one: bool
) -> Source:
    description = next((c.text or "" for c in element if isinstance(c.tag, str) and _local(c) == "Description"), "")
    document = next(
        (line[len("Dokument:") :].strip() for line in description.splitlines() if line.startswith("Dokument:")), ""
    )
    text = None
    inline = next((c for c in element if isinstance(c.tag, str) and _local(c) == "PlainTextContent"), None)
    target = element.get("plainTextPath") or ""
    if inline is not None:
        text = inline.text or ""
    elif target.startswith("internal://"):
        member = members.get(f"sources/{target[len('internal://') :]}".lower())
        if member:
            text = archive.read(member).decode("utf-8-sig", errors="replace")
    if text is not None and crlf_counts_one:
        text = text.replace("\r\n", "\n")
    name = element.get("name", "")
    return Source(_guid(element.get("guid")), name, document or name, text)


@dataclass(frozen=True)
class Unit:
    """One line of a source text: a sentence, with where its words start and end."""

    index: int
    start: int
    end: int
    kind: str
    context: str


def units_of(text: str) -> list[Unit]:
    """The units of a source text written by :mod:`samskaping.export.qdpx`: one per non-blank line.

    A bullet (``• ``) gets the last non-bullet line before it as its context (its list's lead-in).
    """
    units: list[Unit] = []
    position, blank_before, lead_in = 0, False, ""
    for line in text.split("\n"):
        end = position + len(line.rstrip("\r"))
        if not line.strip():
            blank_before = True
        else:
            start = position + (len(BULLET) if line.startswith(BULLET) else 0)
            kind = "bullet" if line.startswith(BULLET) else "heading" if blank_before else "paragraph"
            units.append(Unit(len(units), start, end, kind, lead_in if kind == "bullet" else ""))
            if kind != "bullet":
                lead_in = text[start:end]
            blank_before = False
        position += len(line) + 1
    return units


def coded_sentences(path: str | Path) -> tuple[pd.DataFrame, list[RangeProblem], int]:
    """The sentences coders coded in a ``.qdpx``, as rows for ``review import``.

    Returns:
        Rows (``text``, ``context``, ``document``, ``row_id``, ``annotator``, ``conception``, ``factor``,
        ``polarity``), the problems (one per range or sentence not imported), and how many sentences
        of the project no coder coded.

    Raises:
        DataError: the file is not a REFI-QDA project.
    """
    project = read_project(path)
    file = str(project.path)
    problems: list[RangeProblem] = []
    units_by_source = {g: units_of(s.text) for g, s in project.sources.items() if s.text is not None}
    coder: dict[tuple[str, int], list[str]] = {}
    standing: dict[tuple[str, int], list[str]] = {}
    annotators: dict[tuple[str, int], set[str]] = {}
    for selection in project.selections:
        source = project.sources.get(selection.source)
        by_coder = [(code, user) for code, user in selection.codings if user not in project.model_users]
        if not selection.codings:
            continue
        name = source.name if source else selection.source
        if source is None or source.text is None:
            if by_coder:
                problems.append(
                    RangeProblem(file, name, selection.start, selection.end, "", "the source's text is not in the file")
                )
            continue
        excerpt = source.text[max(selection.start, 0) : selection.end][:40]
        hit = [u for u in units_by_source[source.guid] if selection.start < u.end and selection.end > u.start]
        if len(hit) != 1:
            if by_coder:
                reason = (
                    "covers no sentence" if not hit else f"spans {len(hit)} sentences; code each sentence on its own"
                )
                if selection.start < 0 or selection.end > len(source.text) or selection.end <= selection.start:
                    reason = f"is not a range of the source text (0-{len(source.text)})"
                problems.append(RangeProblem(file, name, selection.start, selection.end, excerpt, reason))
            continue
        where = (source.guid, hit[0].index)
        for code, user in selection.codings:
            key = project.codes.get(code)
            if user in project.model_users:
                if key:
                    standing.setdefault(where, []).append(key)
                continue
            if key is None:
                problems.append(
                    RangeProblem(
                        file,
                        name,
                        selection.start,
                        selection.end,
                        excerpt,
                        f"code '{project.code_names.get(code, code)}' is not a samskaping code",
                    )
                )
                continue
            coder.setdefault(where, []).append(key)
            annotators.setdefault(where, set()).add(project.users.get(user, "") or user)
    rows = []
    for (source_guid, index), keys in coder.items():
        source, unit = project.sources[source_guid], units_by_source[source_guid][index]
        labels, reason = labels_from_codes(keys, standing.get((source_guid, index), []))
        sentence = source.text[unit.start : unit.end]
        if reason:
            problems.append(RangeProblem(file, source.name, unit.start, unit.end, sentence[:40], reason))
            continue
        rows.append(
            {
                "text": sentence,
                "context": unit.context,
                "document": source.document,
                "row_id": f"{source.document}#{index}",
                "annotator": ", ".join(sorted(annotators[(source_guid, index)])),
                **labels,
            }
        )
    total = sum(len(u) for u in units_by_source.values())
    return (
        pd.DataFrame(
            rows, columns=["text", "context", "document", "row_id", "annotator", "conception", "factor", "polarity"]
        ),
        problems,
        total - len(coder),
    )


def labels_from_codes(coder: list[str], standing: list[str]) -> tuple[dict[str, str], str]:
    """The three labels of one sentence from the code keys a coder put on it and the model's that stand there.

    Returns:
        The labels, and an empty string; or empty labels and why the sentence cannot be labelled.
    """

    def label_sets(keys: list[str]) -> dict[str, set[tuple[str, ...]]]:
        found: dict[str, set[tuple[str, ...]]] = {}
        for key in keys:
            group = "conception" if key.startswith("conception/") else "factor"
            found.setdefault(group, set()).add(
                tuple(key.split("/")[1:]) if not key.startswith("polarity/") else ("uncertain",)
            )
        return found

    mine, model = label_sets(coder), label_sets(standing)
    labels: dict[str, str] = {}
    for group in ("conception", "factor"):
        chosen = mine.get(group)
        if not chosen:  # the coder left this label set alone: what the model coded there stands, else none
            chosen = {v for v in model.get(group, set()) if "uncertain" not in v} or {(NONE,)}
        if any("uncertain" in v for v in chosen):
            return {}, f"coded «usikker» for {group}; choose a label"
        if len(chosen) > 1:
            shown = ", ".join("/".join(v) for v in sorted(chosen))
            return {}, f"{len(chosen)} different {group} codes ({shown}); keep one"
        value = next(iter(chosen))
        if group == "conception":
            labels["conception"] = value[0]
        elif value[0] == NONE:
            labels["factor"], labels["polarity"] = NONE, NONE
        elif len(value) == 1:
            return {}, f"factor {value[0]} without «fremmer» or «hemmer»; code one of its two sub-codes"
        else:
            labels["factor"], labels["polarity"] = value[0], value[1]
    return labels, ""
