"""The REFI-QDA export on real files: a plan classified by a real model, written as .qdpx and .qdc, checked
against the standard's XSD, read back with an independent reader (pyrefiqda), every coding's range
compared with its sentence, and a coder's edits made on the XML coming back through ``review import``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from samskaping.errors import DataError, SamskapingError
from samskaping.export.codebook import CODEBOOK, CODES_BY_KEY, all_codes, code_keys_for
from samskaping.export.qdpx import SCHEMA_DIR, export_qdpx, write_qdc
from samskaping.export.source_text import source_text
from samskaping.labels import NORWEGIAN

ROOT = Path(__file__).resolve().parents[1]
NS = {"q": "urn:QDA-XML:project:1.0"}
EMOJI = "\U0001f642"  # one code point, two UTF-16 units
COMBINING = "m\u0304"  # m + combining macron: no precomposed form, so NFKC keeps two code points
PLAN = f"""Samskaping i Ærøy kommune

Kommunen vil samarbeide med innbyggerne om nye løsninger på Sørøya. Vi skal bygge tillit gjennom dialog {EMOJI} med frivillige lag og foreninger. Stedsnavnet Sa{COMBINING}i-tunet skal brukes om møteplassen i Åsen.

Kommunen vil:

- invitere ungdomsrådet inn tidlig, før løsningene er bestemt
- gi lag og foreninger gratis tilgang til kommunale lokaler

Økonomi

Stramme økonomiske rammer gir lite handlingsrom til utviklingsarbeid.
"""
STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def classified(small_baseline_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder of predict for one plan with Norwegian letters, an emoji, a combining mark, bullets and headings."""
    from samskaping.models import load_model
    from samskaping.predict import classify

    folder = tmp_path_factory.mktemp("qda")
    plan = folder / "ærøy-samfunnsdel.txt"
    plan.write_text(PLAN, encoding="utf-8")
    classify([plan], load_model(small_baseline_dir), folder / "out", progress=False)
    return folder / "out"


def _sentences(out: Path) -> pd.DataFrame:
    from samskaping.outputs import read_output

    return read_output(out).sentences.sort_values("sentence_index")


def _qde(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as archive:
        return etree.fromstring(archive.read("project.qde"))


def test_qdpx_validates_reads_back_and_every_range_is_its_sentence(classified: Path, tmp_path: Path) -> None:
    from pyrefiqda.refiproject import RefiProject

    path = export_qdpx(classified, tmp_path / "plans.qdpx", include_none=True, created=STAMP).path
    schema = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "Project.xsd")))
    root = _qde(path)
    assert schema.validate(root), schema.error_log
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        sources = [n for n in names if n != "project.qde"]
        assert len(sources) == 1 and re.fullmatch(
            r"sources/[0-9A-F-]{36}\.txt", sources[0]
        )  # lower-case folder, GUID name
        raw = archive.read(sources[0])
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw  # no BOM, LF only
    text = raw.decode("utf-8")

    project = RefiProject.load(path, extract_dir=str(tmp_path / "extracted"))  # an independent reader
    selections = project.sources.text_source[0].plain_text_selection
    sentences = _sentences(classified)
    assert len(selections) == len(sentences)  # include_none: every sentence is coded
    ordered = sorted(selections, key=lambda s: int(s.start_position))
    for selection, sentence in zip(ordered, sentences["text"], strict=True):
        assert text[int(selection.start_position) : int(selection.end_position)] == sentence
    emoji = next(s for s in ordered if EMOJI in text[int(s.start_position) : int(s.end_position)])
    after = ordered[ordered.index(emoji) + 1]
    start = int(after.start_position)
    # counted in code points: the same place counted in UTF-16 units would be one further on
    assert len(text[:start].encode("utf-16-le")) // 2 == start + 1
    assert any(COMBINING in sentence for sentence in sentences["text"])
    assert "Ærøy" in text and "Sørøya" in text and "• invitere ungdomsrådet" in text  # bullets marked, letters kept


def test_codebook_has_norwegian_and_english_names_descriptions_and_colours(tmp_path: Path) -> None:
    from pyrefiqda.reficodebook import RefiCodebook

    qdc = write_qdc(tmp_path / "samskaping.qdc")
    tree = etree.parse(str(qdc))
    assert etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "Codebook.xsd"))).validate(tree)
    assert qdc.read_bytes().startswith(b"<?xml")  # no BOM
    loaded = RefiCodebook.load(qdc)  # an independent reader
    assert [c.name for c in loaded.codes.code] == [c.name for c in CODEBOOK]
    assert len(loaded.codes.code[1].code) == 6 + 1 + 2  # six factors, none, two «usikker»
    codes = tree.getroot().findall(".//{urn:QDA-XML:codebook:1.0}Code")
    assert len(codes) == len(all_codes()) == 2 + 5 + 6 * 3 + 1 + 2
    guids = [c.get("guid") for c in codes]
    assert len(set(guids)) == len(guids) and all(g == g.upper() for g in guids)
    for element in codes:
        assert re.fullmatch(r"#[0-9A-F]{6}", element.get("color"))
        norwegian, english = element.get("name").split(" / ")
        description = element.find("{urn:QDA-XML:codebook:1.0}Description").text
        assert norwegian and english and len(description) > 60
    service = CODES_BY_KEY["conception/service"]
    assert service.name == f"{NORWEGIAN['conception']['service']} / Co-production of services"
    assert "brukere" in service.description and "users" in service.description
    hindering = CODES_BY_KEY["factor/resources/hindering"]
    assert hindering.name == "Overskudd og ressurser – hemmer / Surplus capacity and resources – hindering"
    assert hindering.labels == {"factor": "resources", "polarity": "hindering"}
    assert [c.codable for c in CODEBOOK] == [False, False]  # the two folders are not codes


def test_codes_follow_the_decided_labels_and_usikker() -> None:
    assert code_keys_for({"conception": "democratic", "factor": "resources", "polarity": "hindering"}) == [
        "conception/democratic",
        "factor/resources/hindering",
    ]
    assert code_keys_for({"conception": "none", "factor": "none", "polarity": "none"}) == []
    assert code_keys_for({"conception": "none", "factor": "none", "polarity": "none"}, include_none=True) == [
        "conception/none",
        "factor/none",
    ]
    assert code_keys_for({"conception": None, "factor": None, "polarity": None}) == [
        "conception/uncertain",
        "factor/uncertain",
    ]
    assert code_keys_for({"conception": "service", "factor": "anchoring", "polarity": None}) == [
        "conception/service",
        "factor/anchoring",
        "polarity/uncertain",
    ]


def test_the_model_is_its_own_user_and_says_its_probabilities(classified: Path, tmp_path: Path) -> None:
    path = export_qdpx(classified, tmp_path / "plans.qdpx", created=STAMP).path
    root = _qde(path)
    users = root.findall("q:Users/q:User", NS)
    assert (
        len(users) == 1
        and users[0].get("id") == "samskaping:model"
        and users[0].get("name").startswith("samskaping-modell ")
    )
    model = users[0].get("guid")
    codings = root.findall(".//q:Coding", NS)
    assert codings and {c.get("creatingUser") for c in codings} == {model}
    sentences = _sentences(classified)
    unsure = (
        sentences[["conception_uncertain", "factor_uncertain"]]
        .astype(str)
        .apply(lambda c: c.str.lower() == "true")
        .any(axis=1)
    )
    coded = sentences[(sentences["conception"] != "none") | (sentences["factor"] != "none") | unsure]
    selections = root.findall(".//q:PlainTextSelection", NS)
    assert len(selections) == len(coded)
    for selection in selections:
        description = selection.find("q:Description", NS).text
        assert re.search(r"conception: \w+ \d\.\d\d", description) and "sett:" in description
    case = root.find("q:Cases/q:Case", NS)
    assert case.get("name") == "ærøy-samfunnsdel.txt" and case.find("q:SourceRef", NS) is not None
    again = export_qdpx(classified, tmp_path / "again.qdpx", created=STAMP).path
    assert _qde(again) is not None and zipfile.ZipFile(again).read("project.qde") == zipfile.ZipFile(path).read(
        "project.qde"
    )


def test_crlf_line_ends_count_as_one_character(classified: Path, tmp_path: Path) -> None:
    from samskaping.export.reader import read_project

    path = export_qdpx(classified, tmp_path / "crlf.qdpx", include_none=True, line_ends="crlf").path
    with zipfile.ZipFile(path) as archive:
        raw = next(archive.read(n) for n in archive.namelist() if n.startswith("sources/"))
    assert raw.count(b"\r\n") == raw.count(b"\n") > 5  # every line end is CRLF
    text = raw.decode("utf-8").replace("\r\n", "\n")
    selections = sorted(
        (int(e.get("startPosition")), int(e.get("endPosition"))) for e in _qde(path).iter("{*}PlainTextSelection")
    )
    assert [text[s:e] for s, e in selections] == _sentences(classified)["text"].tolist()
    project = read_project(path)  # read back with CRLF as one character, as written
    assert next(iter(project.sources.values())).text == text
    with pytest.raises(SamskapingError, match="allowed are lf, crlf"):
        export_qdpx(classified, tmp_path / "x.qdpx", line_ends="cr")


def test_line_breaks_inside_a_sentence_keep_every_range() -> None:
    units = pd.DataFrame(
        {
            "sentence_index": [0, 1, 2],
            "unit": ["heading", "paragraph", "bullet"],
            "text": ["Innledning", "To linjer\r\ni én setning\u2028her.", f"Siste {EMOJI}"],
        }
    )
    text, placed = source_text(units)
    assert "\r" not in text and "\u2028" not in text
    assert [text[p.start : p.end] for p in placed] == ["Innledning", "To linjer  i én setning her.", f"Siste {EMOJI}"]
    assert text.splitlines() == ["Innledning", "To linjer  i én setning her.", f"• Siste {EMOJI}"]


def _code(parent: etree._Element, key: str, user: str, n: int) -> None:
    coding = etree.SubElement(
        parent, "{urn:QDA-XML:project:1.0}Coding", guid=f"00000000-0000-4000-8000-{n:012d}", creatingUser=user
    )
    etree.SubElement(
        coding, "{urn:QDA-XML:project:1.0}CodeRef", targetGUID=CODES_BY_KEY[key].guid if "/" in key else key
    )


def _select(source: etree._Element, start: int, end: int, codes: list[str], user: str, n: int) -> None:
    selection = etree.Element(
        "{urn:QDA-XML:project:1.0}PlainTextSelection",
        guid=f"00000000-0000-4000-9000-{n:012d}",
        startPosition=str(start),
        endPosition=str(end),
        creatingUser=user,
    )
    source.find("q:Description", NS).addnext(selection)  # selections come right after the Description
    for i, key in enumerate(codes):
        _code(selection, key, user, n * 10 + i)


def test_review_import_takes_a_coders_qdpx_back(classified: Path, tmp_path: Path) -> None:
    exported = export_qdpx(classified, tmp_path / "plans.qdpx", created=STAMP).path
    root = _qde(exported)
    with zipfile.ZipFile(exported) as archive:
        source_name = next(n for n in archive.namelist() if n.startswith("sources/"))
        text = archive.read(source_name).decode("utf-8")
    kari = "A1B2C3D4-0000-4000-8000-00000000000A"
    etree.SubElement(root.find("q:Users", NS), "{urn:QDA-XML:project:1.0}User", guid=kari, name="Kari Nordmann")
    source = root.find(".//q:TextSource", NS)

    def span(words: str) -> tuple[int, int]:
        start = text.index(words)
        return start, start + len(words)

    economy = span("Stramme økonomiske rammer gir lite handlingsrom til utviklingsarbeid.")
    _select(source, *economy, ["factor/resources/hindering"], kari, 1)  # conception left alone: the model's or none
    s, e = span("dialog " + EMOJI)  # a part of a sentence, after the emoji
    _select(source, s, e, ["conception/democratic", "factor/social_process/promoting"], kari, 2)
    bullet = span("gi lag og foreninger gratis tilgang til kommunale lokaler")
    _select(source, *bullet, ["conception/democratic", "factor/none"], kari, 3)
    two = span("Kommunen vil:")[0], bullet[1]
    _select(source, *two, ["conception/service"], kari, 4)  # three sentences in one range
    _select(
        source, *span(f"Stedsnavnet Sa{COMBINING}i-tunet"), ["conception/uncertain"], kari, 5
    )  # «usikker» is no answer
    _select(
        source, *span("Samskaping i Ærøy kommune"), ["FFFFFFFF-0000-4000-8000-000000000000"], kari, 6
    )  # not our code
    # as a program might write it back: Sources with a capital S, a BOM before the text
    edited = tmp_path / "coded.qdpx"
    with zipfile.ZipFile(edited, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        archive.writestr("Sources/" + source_name.split("/", 1)[1], b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "Project.xsd"))).validate(_qde(edited))

    target = tmp_path / "labels.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "samskaping.review", "import", str(edited), "--to", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr  # rows imported, some ranges listed
    problems = [line for line in run.stderr.splitlines() if "not imported" in line]
    assert len(problems) == 3 and len(run.stderr.strip().splitlines()) == 3, run.stderr  # one line each
    assert any("spans 3 sentences" in p for p in problems), "\n".join(problems)
    assert any("«usikker»" in p for p in problems)
    assert any("is not a samskaping code" in p for p in problems)
    rows = {r["text"]: r for r in map(json.loads, target.read_text(encoding="utf-8").splitlines())}
    economy_text = text[economy[0] : economy[1]]
    assert set(rows) == {
        economy_text,
        f"Vi skal bygge tillit gjennom dialog {EMOJI} med frivillige lag og foreninger.",
        text[bullet[0] : bullet[1]],
    }
    sentences = _sentences(classified).set_index("text")
    model_conception = sentences.loc[economy_text, "conception"]
    expected = (
        model_conception if str(sentences.loc[economy_text, "conception_uncertain"]).lower() != "true" else "none"
    )
    assert (rows[economy_text]["conception"], rows[economy_text]["factor"], rows[economy_text]["polarity"]) == (
        expected,
        "resources",
        "hindering",
    )
    emoji_row = rows[f"Vi skal bygge tillit gjennom dialog {EMOJI} med frivillige lag og foreninger."]
    assert (emoji_row["conception"], emoji_row["factor"], emoji_row["polarity"]) == (
        "democratic",
        "social_process",
        "promoting",
    )
    bullet_row = rows[text[bullet[0] : bullet[1]]]
    assert (bullet_row["conception"], bullet_row["factor"], bullet_row["polarity"]) == ("democratic", "none", "none")
    assert bullet_row["context"] == "Kommunen vil:"  # a bullet keeps its lead-in
    index = int(sentences.loc[bullet_row["text"], "sentence_index"])
    assert bullet_row["id"].endswith(f"#{index}") and bullet_row["annotator"] == "Kari Nordmann"


def test_bad_files_are_named_in_one_line(classified: Path, tmp_path: Path) -> None:
    from samskaping.export.reader import read_project

    with pytest.raises(SamskapingError, match=r"plans\.zip: a REFI-QDA project must end in \.qdpx"):
        export_qdpx(classified, tmp_path / "plans.zip")
    with pytest.raises(SamskapingError, match=r"codebook must end in \.qdc"):
        write_qdc(tmp_path / "book.xml")
    not_zip = tmp_path / "broken.qdpx"
    not_zip.write_text("not a zip", encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.qdpx: not a \.qdpx \(a ZIP with project\.qde\)"):
        read_project(not_zip)


@pytest.mark.slow
def test_predict_qdpx_flag_and_the_export_command(small_baseline_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.txt"
    plan.write_text(PLAN, encoding="utf-8")
    out = tmp_path / "out"
    run = subprocess.run(
        [
            sys.executable,
            "predict.py",
            str(plan),
            "--output",
            str(out),
            "--model",
            str(small_baseline_dir),
            "--qdpx",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    schema = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "Project.xsd")))
    assert schema.validate(_qde(out / "samskaping.qdpx"))
    run = subprocess.run(
        [sys.executable, "-m", "samskaping.export", "qdc", "--output", str(tmp_path / "s.qdc")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 0 and (tmp_path / "s.qdc").is_file(), run.stderr
