"""Write a predict.py output folder as a coded REFI-QDA project (``.qdpx``), and the codebook alone (``.qdc``).

Source: REFI-QDA standard 1.5 (QDA-XML 1.0, ``Project.xsd`` and ``Codebook.xsd`` of 18 March 2019,
www.qdasoftware.org): a ``.qdpx`` is a ZIP with ``project.qde`` (XML in namespace
``urn:QDA-XML:project:1.0``) and the internal sources in a flat folder ``sources``; a plain-text source
is a UTF-8 ``.txt`` named by its GUID and referred to as ``internal://GUID.txt``; a text selection is
a range of Unicode code points counted from 0 (section 10.2).

What the programs' users report as import traps, and what is done here:

- positions are code points (Python ``str`` indices), never UTF-16 units or bytes: an emoji is one;
- no line break inside a sentence, and LF line ends (a CRLF read as one character by some programs and
  two by others shifts every later range); ``line_ends="crlf"`` writes CRLF with positions that count
  it as one character, as MAXQDA and ATLAS.ti do (QualCoder's REFI-QDA notes); no byte-order mark (it
  would be character 0 in a program that does not strip it);
- the folder is ``sources`` in lower case as the standard names it; names of files are GUIDs;
- GUIDs upper case, colours ``#RRGGBB``; only ``plainTextPath``, no ``richTextPath``;
- characters XML 1.0 cannot hold are left out of names and descriptions (never out of the source text).

Each plan is one source: its units in reading order, one per line, a blank line before a heading and
``• `` before a bullet, so every sentence is the exact range ``[startPosition, endPosition)`` of
its text (end exclusive, the reading of QualCoder's importer).
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from lxml import etree

from samskaping import __version__
from samskaping.errors import SamskapingError
from samskaping.export.codebook import CODEBOOK, CODES_BY_KEY, Code, code_keys_for, guid
from samskaping.export.source_text import BULLET, source_text, xml_text
from samskaping.files import atomic_write
from samskaping.labels import LABEL_SET_NORWEGIAN
from samskaping.outputs import read_output

log = logging.getLogger(__name__)

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
SCHEMA_DIR = Path(__file__).resolve().parent / "schema"
MODEL_USER_ID = "samskaping:model"
NAME_CHARS = 100
LINE_ENDS = {"lf": "\n", "crlf": "\r\n"}


@dataclass
class ExportResult:
    """What an export wrote."""

    path: Path
    sources: int
    selections: int
    codings: int
    changed_units: int  # sentences whose line breaks or control characters became spaces in the source text


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(
        parent, f"{{{parent.nsmap[None]}}}{tag}", {k: xml_text(v) for k, v in attributes.items()}
    )
    if text is not None:
        element.text = xml_text(text)
    return element


def _code_elements(parent: etree._Element, codes: tuple[Code, ...]) -> None:
    for code in codes:
        element = _sub(
            parent,
            "Code",
            guid=code.guid,
            name=code.name,
            isCodable="true" if code.codable else "false",
            color=code.colour,
        )
        _sub(element, "Description", code.description)
        _code_elements(element, code.children)


def codebook_xml() -> bytes:
    """The label scheme as a REFI-QDA codebook (``.qdc``, namespace ``urn:QDA-XML:codebook:1.0``), UTF-8, no BOM."""
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS}, origin=f"samskaping {__version__}")
    _code_elements(_sub(root, "Codes"), CODEBOOK)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _model_user(summary: dict[str, Any]) -> tuple[str, str]:
    model = summary.get("model") or {}
    what = model.get("name") or model.get("kind") or "model"
    version = model.get("samskaping_version") or __version__
    digest = model.get("digest") or model.get("run_id") or ""
    name = f"samskaping-modell {what} ({model.get('kind', '?')}, samskaping {version}{', ' + digest if digest else ''})"
    return guid(f"user:model:{what}:{digest}"), name


def _decided(row: dict[str, Any], label_set: str) -> str | None:
    """The label the outputs give, or ``None`` where the sentence is «usikker» (its prediction set is not one label)."""
    uncertain = row.get(f"{label_set}_uncertain")
    if (
        uncertain is not None
        and not (isinstance(uncertain, float) and pd.isna(uncertain))
        and str(uncertain).strip().lower() in ("true", "1")
    ):
        return None
    return str(row[label_set])


def _probabilities(row: dict[str, Any], label_sets: tuple[str, ...]) -> str:
    parts = []
    for ls in label_sets:
        score = row.get(f"{ls}_score")
        shown = f" {float(score):.2f}" if score is not None and not pd.isna(score) else ""
        given = row.get(f"{ls}_set")
        given = "" if given is None or (isinstance(given, float) and pd.isna(given)) else str(given)
        parts.append(
            f"{LABEL_SET_NORWEGIAN.get(ls, ls)} / {ls}: {row[ls]}{shown}"
            + (f" (sett: {given or 'tomt'})" if f"{ls}_set" in row else "")
        )
    return "; ".join(parts)


def _variables(documents: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(column, variable name, type) of the case variables this run knows."""
    wanted = [
        ("kommunenummer", "kommunenummer", "Text"),
        ("kommune", "kommune", "Text"),
        ("fylke", "fylke", "Text"),
        ("mentions_cocreation", "nevner samskaping", "Boolean"),
        ("cocreation_share", "andel samskapingssetninger", "Float"),
    ]
    return [w for w in wanted if w[0] in documents.columns]


def _value(parent: etree._Element, variable_guid: str, kind: str, value: Any) -> None:
    if value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == "":
        return
    if kind == "Boolean":
        text = "true" if str(value).strip().lower() in ("true", "1", "yes") else "false"
    elif kind == "Integer":
        text = str(int(float(value)))
    elif kind == "Float":
        text = f"{float(value):.4f}"
    else:
        text = str(value)
    element = _sub(parent, "VariableValue")
    _sub(element, "VariableRef", targetGUID=variable_guid)
    _sub(element, f"{kind}Value", text)


def _with_municipalities(documents: pd.DataFrame, order: list[str], given: dict[str, str] | None) -> pd.DataFrame:
    """``documents`` with ``kommunenummer``, ``kommune`` and ``fylke`` where a plan's municipality is known."""
    from samskaping.municipalities import municipality_of

    found = {d: m for d in order if (m := municipality_of(d, given)) is not None}
    if not found:
        return documents
    documents = documents.reindex(documents.index.union(order))
    for column, attribute in (("kommunenummer", "number"), ("kommune", "name"), ("fylke", "county")):
        if column not in documents.columns:
            documents[column] = pd.Series({d: getattr(m, attribute) for d, m in found.items()}, dtype=object)
    return documents


def _source_names(documents: list[str]) -> dict[str, str]:
    """A short, unique source name per document: the file name, or the whole path where two share one."""
    short = {d: Path(d).name or d for d in documents}
    counts = pd.Series(list(short.values())).value_counts()
    return {d: (name if counts[name] == 1 else d) for d, name in short.items()}


def build_project(
    output_dir: str | Path,
    include_none: bool = False,
    created: datetime | None = None,
    municipalities: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, str], ExportResult]:
    """The ``project.qde`` XML of an output folder and the source texts by file name inside ``sources/``.

    Args:
        output_dir: a ``predict.py --output`` folder (or a ``samskaping.spark`` one).
        include_none: also code sentences labelled ``none`` (conception «Ingen samskaping», factor «Ingen faktor»).
        created: the time stamp of every element (default: now, UTC).
        municipalities: ``document -> kommunenummer`` (:func:`samskaping.municipalities.read_municipality_file`);
            a plan not in it is placed by a kommunenummer in its file name, if it has one.

    Returns:
        The XML, the sources (``GUID.txt`` -> text) and the counts (``path`` is the output folder).

    Raises:
        SamskapingError: the folder is not an output folder of this tool.
    """
    folder = read_output(output_dir)
    stamp = _stamp(created or datetime.now(UTC))
    user_guid, user_name = _model_user(folder.summary)
    label_sets = folder.label_sets
    sentences = folder.sentences
    if "sentence_index" not in sentences.columns:
        raise SamskapingError(f"{folder.path}: the sentence table has no 'sentence_index' column; rerun predict.py")
    root = etree.Element(
        f"{{{PROJECT_NS}}}Project",
        nsmap={None: PROJECT_NS},
        name=xml_text(f"samskaping: {Path(folder.path).resolve().name}"),
        origin=f"samskaping {__version__}",
        creatingUserGUID=user_guid,
        creationDateTime=stamp,
        modifyingUserGUID=user_guid,
        modifiedDateTime=stamp,
    )
    users = _sub(root, "Users")
    _sub(users, "User", guid=user_guid, name=user_name, id=MODEL_USER_ID)
    _code_elements(_sub(_sub(root, "CodeBook"), "Codes"), CODEBOOK)
    documents_order = list(dict.fromkeys(sentences["document"].astype(str)))
    names = _source_names(documents_order)
    documents = (
        folder.documents.assign(document=folder.documents["document"].astype(str))
        .drop_duplicates("document")
        .set_index("document")
    )
    documents = _with_municipalities(documents, documents_order, municipalities)
    variables = _variables(documents)
    if variables:
        declared = _sub(root, "Variables")
        for _, name, kind in variables:
            _sub(declared, "Variable", guid=guid(f"variable:{name}"), name=name, typeOfVariable=kind)
    cases = _sub(root, "Cases")
    sources_element = _sub(root, "Sources")
    texts: dict[str, str] = {}
    result = ExportResult(Path(folder.path), 0, 0, 0, 0)
    for document, units in sentences.groupby(sentences["document"].astype(str), sort=False):
        source_guid = guid(f"source:{document}")
        text, placed = source_text(units)
        texts[f"{source_guid}.txt"] = text
        result.sources += 1
        kommune = documents["kommune"].get(document) if "kommune" in documents.columns else None
        known = kommune is not None and pd.notna(kommune) and str(kommune).strip()
        case = _sub(cases, "Case", guid=guid(f"case:{document}"), name=str(kommune) if known else names[document])
        _sub(case, "Description", f"Planen {document}")
        for column, name, kind in variables:
            _value(case, guid(f"variable:{name}"), kind, documents[column].get(document))
        _sub(case, "SourceRef", targetGUID=source_guid)
        source = _sub(
            sources_element,
            "TextSource",
            guid=source_guid,
            name=names[document],
            plainTextPath=f"internal://{source_guid}.txt",
            creatingUser=user_guid,
            creationDateTime=stamp,
        )
        _sub(
            source,
            "Description",
            f"Dokument: {document}\nTeksten slik samskaping leste den: én enhet per linje, tom linje før "
            f"en overskrift, «{BULLET.strip()}» foran et kulepunkt. Kodet av {user_name}.",
        )
        rows = units.sort_values("sentence_index", kind="stable").to_dict(orient="records")
        for row, unit in zip(rows, placed, strict=True):
            if row["text"] != text[unit.start : unit.end]:
                result.changed_units += 1
            keys = code_keys_for({ls: _decided(row, ls) for ls in label_sets}, include_none)
            if not keys:
                continue
            sentence = text[unit.start : unit.end]
            selection = _sub(
                source,
                "PlainTextSelection",
                guid=guid(f"selection:{document}\x00{unit.sentence_index}"),
                name=sentence if len(sentence) <= NAME_CHARS else sentence[: NAME_CHARS - 1] + "…",
                startPosition=str(unit.start),
                endPosition=str(unit.end),
                creatingUser=user_guid,
                creationDateTime=stamp,
            )
            _sub(
                selection,
                "Description",
                (
                    f"{_probabilities(row, label_sets)}. Setning {unit.sentence_index}, side "
                    f"{row.get('page') if pd.notna(row.get('page')) else '-'}."
                ),
            )
            for key in keys:
                coding = _sub(
                    selection,
                    "Coding",
                    guid=guid(f"coding:{document}\x00{unit.sentence_index}\x00{key}"),
                    creatingUser=user_guid,
                    creationDateTime=stamp,
                )
                _sub(coding, "CodeRef", targetGUID=CODES_BY_KEY[key].guid)
            result.selections += 1
            result.codings += len(keys)
    if not len(cases):
        root.remove(cases)
    _sub(
        root,
        "Description",
        f"Setninger klassifisert av {user_name}; kodene hans er maskinens forslag. "
        f"Kod selv med din egen bruker: python -m samskaping.review import leser dine kodinger tilbake.",
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True), texts, result


def schema(kind: str) -> etree.XMLSchema:
    """The REFI-QDA schema ``Project`` or ``Codebook`` shipped with the package (QDA-XML 1.0)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"{kind}.xsd")))


def _check(xml: bytes, kind: str) -> None:
    checker = schema(kind)
    if not checker.validate(etree.fromstring(xml)):
        first = checker.error_log[0]
        raise SamskapingError(
            f"the {kind} XML does not validate against {kind}.xsd (line {first.line}: {first.message}); this is a "
            "bug, please report it"
        )


def export_qdpx(
    output_dir: str | Path,
    path: str | Path,
    include_none: bool = False,
    created: datetime | None = None,
    line_ends: str = "lf",
    municipalities: dict[str, str] | None = None,
) -> ExportResult:
    """Write ``path`` (``.qdpx``): every plan of ``output_dir`` as a text source with the model's codings.

    The XML is validated against the standard's ``Project.xsd`` before anything is written.

    Args:
        output_dir: a ``predict.py --output`` folder.
        path: the ``.qdpx`` file to write (replaced atomically).
        include_none: also code ``none`` labels.
        line_ends: ``lf`` (default), or ``crlf`` for MAXQDA and ATLAS.ti: the source files get CRLF line ends
            while the positions count each CRLF as one character, as those programs write and read them
            (QualCoder's REFI-QDA notes); QualCoder itself and NVivo read ``lf`` as it is.
        municipalities: ``document -> kommunenummer`` for the cases (see :func:`build_project`).
        created: the time stamp of every element (default: now).

    Returns:
        The counts written.

    Raises:
        SamskapingError: ``output_dir`` is not an output folder, ``path`` does not end in ``.qdpx``, or
            ``line_ends`` is not ``lf`` or ``crlf``.
    """
    path = Path(path)
    if line_ends not in LINE_ENDS:
        raise SamskapingError(f"line ends {line_ends!r}: allowed are {', '.join(LINE_ENDS)}")
    if path.suffix.lower() != ".qdpx":
        raise SamskapingError(f"{path}: a REFI-QDA project must end in .qdpx")
    xml, texts, result = build_project(output_dir, include_none, created, municipalities)
    _check(xml, "Project")

    def write(target: Path) -> None:
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("project.qde", xml)
            for name, text in texts.items():
                archive.writestr(f"sources/{name}", text.replace("\n", LINE_ENDS[line_ends]).encode("utf-8"))

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)
    result.path = path
    if result.changed_units:
        log.info(
            "%d sentence(s) held line breaks or control characters; they are spaces in the project's text",
            result.changed_units,
        )
    return result


def write_qdc(path: str | Path) -> Path:
    """Write the codebook alone (``.qdc``), validated against the standard's ``Codebook.xsd``.

    Raises:
        SamskapingError: ``path`` does not end in ``.qdc``.
    """
    path = Path(path)
    if path.suffix.lower() != ".qdc":
        raise SamskapingError(f"{path}: a REFI-QDA codebook must end in .qdc")
    xml = codebook_xml()
    _check(xml, "Codebook")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda target: target.write_bytes(xml))
    return path
