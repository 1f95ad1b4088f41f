"""Tests for samskaping.documents on real PDF, DOCX, HTML, TXT and Markdown files.

The files are built in temporary folders with the builders in plan_files.py;
nothing is mocked. Run with tests/ and src/ on the Python path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plan_files import (
    Bullets,
    Heading,
    Table,
    make_plan_docx,
    make_plan_html,
    make_plan_pdf,
    make_plan_txt,
    toc_line,
)
from samskaping.documents import (
    DOCUMENT_SUFFIXES,
    Sentence,
    TextUnit,
    extract_units,
    read_sentences,
    split_sentences,
)
from samskaping.errors import DocumentError

SAMPLE_PLANS = Path(__file__).resolve().parents[1] / "data" / "sample-plans"

HEADER = "Kommuneplanens samfunnsdel 2024–2036"
FOOTER = "Eksempelkommune – vedtatt 14. mars 2024"

INTRO = (
    "Kommuneplanens samfunnsdel er kommunens overordnede styringsdokument. "
    "Den viser hvordan vi vil utvikle lokalsamfunnet, jf. kap. 3. "
    "Vi vil f.eks. bygge ca. 200 nye boliger innen 2026. "
    "Planen ble vedtatt 1. januar 2024."
)
# Forced line breaks put «sam-», «Nord-» and «helse-» at line ends.
HYPHENATED = (
    "Kommunen skal legge til rette for sam-\n"
    "skaping med innbyggerne i hele Nord-\n"
    "Norge, og helse-\n"
    "og omsorgstjenester skal utvikles sammen med brukerne."
)
# A line that opens with a dash inside a sentence is not a bullet item.
DASHED = "Kommunen vil\n– sammen med innbyggerne – lage en ny handlingsdel."
WRAPPED = (
    "Dette avsnittet er så langt at det må brytes over flere linjer i dokumentet, "
    "og linjene skal settes sammen igjen til én setning når teksten hentes ut av PDF-filen."
)
# Lower-case words only after the first, so a page break inside a sentence
# is recognisable; long enough to run over onto the next page.
OVERFLOW = " ".join(
    f"Setning {n} handler om hvordan kommunen og innbyggerne sammen kan utvikle gode "
    "tjenester, trygge nærmiljø og et levende sentrum for alle som bor og arbeider her."
    for n in range(1, 26)
)


def plan_pages() -> list[list[object]]:
    """A four-page plan: contents page, intro with bullets, a table, an overflowing paragraph."""
    return [
        [Heading("Innhold"), toc_line("Innledning", 2), toc_line("Samskaping i praksis", 3), toc_line("Oppfølging", 4)],
        [
            Heading("Innledning"),
            INTRO,
            HYPHENATED,
            "Vi vil særlig prioritere:",
            Bullets(["Flere møteplasser for unge", "Bedre kollektivtilbud mellom bygdene og sentrum"]),
            WRAPPED,
        ],
        [
            Heading("Samskaping i praksis"),
            "Innbyggerne har deltatt i verksteder, folkemøter osv. Neste steg er handlingsdelen.",
            DASHED,
            Table([["Mål", "Tiltak", "Ansvar"], ["Bedre folkehelse", "Nytt helsehus", "Helse og omsorg"]]),
        ],
        [Heading("Oppfølging"), OVERFLOW],
    ]


@pytest.fixture(scope="module")
def plan_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "plan.pdf"
    return make_plan_pdf(path, plan_pages(), header=HEADER, footer=FOOTER)


@pytest.fixture(scope="module")
def pdf_sentences(plan_pdf: Path) -> list[Sentence]:
    return read_sentences(plan_pdf)


def texts(sentences: list[Sentence]) -> list[str]:
    return [sentence.text for sentence in sentences]


def page_of(sentences: list[Sentence], text: str) -> int | None:
    (match,) = [sentence for sentence in sentences if sentence.text == text]
    return match.page


# --------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------


def test_pdf_sentences_of_intro_page_in_order(pdf_sentences: list[Sentence]) -> None:
    found = texts(pdf_sentences)
    expected = [
        "Innledning",
        "Kommuneplanens samfunnsdel er kommunens overordnede styringsdokument.",
        "Den viser hvordan vi vil utvikle lokalsamfunnet, jf. kap. 3.",
        "Vi vil f.eks. bygge ca. 200 nye boliger innen 2026.",
        "Planen ble vedtatt 1. januar 2024.",
        (
            "Kommunen skal legge til rette for samskaping med innbyggerne i hele Nord-Norge, "
            "og helse- og omsorgstjenester skal utvikles sammen med brukerne."
        ),
        "Vi vil særlig prioritere:",
        "Flere møteplasser for unge",
        "Bedre kollektivtilbud mellom bygdene og sentrum",
        WRAPPED,
    ]
    start = found.index("Innledning")
    assert found[start : start + len(expected)] == expected


def test_pdf_drops_headers_footers_page_numbers_and_contents(pdf_sentences: list[Sentence]) -> None:
    joined = "\n".join(texts(pdf_sentences))
    assert "Kommuneplanens samfunnsdel 2024" not in joined
    assert "vedtatt 14. mars" not in joined
    assert "Side " not in joined and " av 4" not in joined
    assert "...." not in joined
    assert "Innhold" not in joined
    # The contents page has nothing left, so the first sentence is on page 2.
    assert pdf_sentences[0].text == "Innledning"
    assert pdf_sentences[0].page == 2


def test_pdf_hyphenation_undone_and_real_hyphens_kept(pdf_sentences: list[Sentence]) -> None:
    joined = " ".join(texts(pdf_sentences))
    assert "samskaping med innbyggerne" in joined
    assert "sam-" not in joined and "sam skaping" not in joined
    assert "Nord-Norge" in joined
    assert "helse- og omsorgstjenester" in joined
    assert "PDF-filen" in joined


def test_pdf_page_numbers_of_sentences(pdf_sentences: list[Sentence]) -> None:
    assert page_of(pdf_sentences, "Planen ble vedtatt 1. januar 2024.") == 2
    assert page_of(pdf_sentences, "Flere møteplasser for unge") == 2
    assert page_of(pdf_sentences, "Neste steg er handlingsdelen.") == 3
    assert page_of(pdf_sentences, "Nytt helsehus") == 3
    assert page_of(pdf_sentences, "Kommunen vil – sammen med innbyggerne – lage en ny handlingsdel.") == 3
    assert page_of(pdf_sentences, "Oppfølging") == 4
    assert [s.index for s in pdf_sentences] == list(range(len(pdf_sentences)))
    pages = [s.page for s in pdf_sentences]
    assert pages == sorted(pages)


def test_pdf_paragraph_running_over_a_page_break_stays_whole(pdf_sentences: list[Sentence]) -> None:
    overflow = [s for s in pdf_sentences if s.text.startswith("Setning ")]
    assert texts(overflow) == split_sentences(OVERFLOW)
    assert len(overflow) == 25
    assert overflow[0].page == 4
    assert overflow[-1].page == 5  # the paragraph ran onto a fifth page


def test_pdf_bullets_and_table_cells_are_separate_units(plan_pdf: Path) -> None:
    units = extract_units(plan_pdf)
    assert TextUnit(2, "Flere møteplasser for unge", "bullet") in units
    assert TextUnit(2, "Bedre kollektivtilbud mellom bygdene og sentrum", "bullet") in units
    cells = [unit.text for unit in units if unit.kind == "cell"]
    assert cells == ["Mål", "Tiltak", "Ansvar", "Bedre folkehelse", "Nytt helsehus", "Helse og omsorg"]
    assert all(unit.page == 3 for unit in units if unit.kind == "cell")
    assert TextUnit(2, WRAPPED, "paragraph") in units


def test_pdf_single_page_keeps_its_only_line(tmp_path: Path) -> None:
    # With one page nothing can "repeat on half the pages": no line is a header.
    path = make_plan_pdf(
        tmp_path / "en.pdf",
        [["Kommunen vil samarbeide med frivilligheten."]],
        header=None,
        footer=None,
        page_number=None,
    )
    assert texts(read_sentences(path)) == ["Kommunen vil samarbeide med frivilligheten."]


def test_pdf_page_without_text_is_logged_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = make_plan_pdf(
        tmp_path / "delvis.pdf", [["Kommunen vil samskape."], []], header=None, footer=None, page_number=None
    )
    with caplog.at_level("WARNING", logger="samskaping.documents"):
        assert texts(read_sentences(path)) == ["Kommunen vil samskape."]
    assert "no text layer on page(s) [2]" in caplog.text


def test_a_reader_reports_what_it_skipped_in_the_document_it_returns(tmp_path: Path) -> None:
    """The note travels with the Document (no log handler needed), as the message a person sees on the console."""
    from samskaping.documents import read_document, reading_notes

    path = make_plan_pdf(
        tmp_path / "delvis.pdf", [["Kommunen vil samskape."], []], header=None, footer=None, page_number=None
    )
    document = read_document(path)
    assert document.notes == (f"{path}: no text layer on page(s) [2]; those pages are skipped",)
    assert document.encoding is None  # only text files record an encoding
    assert reading_notes(document.notes, path) == "no text layer on page(s) [2]; those pages are skipped"
    complete = make_plan_pdf(tmp_path / "hel.pdf", [["Kommunen vil samskape."]], header=None, footer=None)
    assert read_document(complete).notes == ()


def test_sample_plan_pdf_and_txt_give_the_same_sentences() -> None:
    pdf = read_sentences(SAMPLE_PLANS / "eksempelkommune-samfunnsdel.pdf")
    txt = read_sentences(SAMPLE_PLANS.parent / "sample-plan-text" / "eksempelkommune-samfunnsdel.txt")
    assert texts(pdf) == texts(txt)
    assert len(txt) == 44
    assert {s.page for s in pdf} == {1, 2, 3}
    assert all(s.page is None for s in txt)
    assert (SAMPLE_PLANS / "eksempelkommune-samfunnsdel.pdf").stat().st_size < 100_000


# --------------------------------------------------------------------------
# DOCX, HTML, TXT, Markdown
# --------------------------------------------------------------------------

BODY = [
    Heading("Samskaping i praksis"),
    "Kommunen vil bl.a. styrke samarbeidet med frivilligheten. Vi inviterer til dialog.",
    Bullets(["Flere møteplasser for unge", "Gratis lokaler for lag og foreninger"]),
    Table([["Mål", "Tiltak"], ["Bedre folkehelse", "Turstier i nærmiljøet"]]),
    "Planen rulleres hvert fjerde år.",
]
BODY_UNITS = [
    TextUnit(None, "Samskaping i praksis", "heading"),
    TextUnit(None, "Kommunen vil bl.a. styrke samarbeidet med frivilligheten. Vi inviterer til dialog.", "paragraph"),
    TextUnit(None, "Flere møteplasser for unge", "bullet"),
    TextUnit(None, "Gratis lokaler for lag og foreninger", "bullet"),
    TextUnit(None, "Mål", "cell"),
    TextUnit(None, "Tiltak", "cell"),
    TextUnit(None, "Bedre folkehelse", "cell"),
    TextUnit(None, "Turstier i nærmiljøet", "cell"),
    TextUnit(None, "Planen rulleres hvert fjerde år.", "paragraph"),
]
BODY_SENTENCES = [
    "Samskaping i praksis",
    "Kommunen vil bl.a. styrke samarbeidet med frivilligheten.",
    "Vi inviterer til dialog.",
    "Flere møteplasser for unge",
    "Gratis lokaler for lag og foreninger",
    "Mål",
    "Tiltak",
    "Bedre folkehelse",
    "Turstier i nærmiljøet",
    "Planen rulleres hvert fjerde år.",
]


def test_docx_paragraphs_bullets_and_cells_in_document_order(tmp_path: Path) -> None:
    path = make_plan_docx(tmp_path / "plan.docx", BODY)
    assert extract_units(path) == BODY_UNITS
    sentences = read_sentences(path)
    assert texts(sentences) == BODY_SENTENCES
    assert {s.page for s in sentences} == {None}
    assert sentences[0].document == str(path)


def test_docx_merged_cells_read_once_and_toc_paragraphs_dropped(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Innledning\t3", style=document.styles.add_style("toc 1", 1))
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Felles overskrift"
    table.cell(1, 0).text = "Venstre"
    table.cell(1, 1).text = "Høyre"
    path = tmp_path / "flettet.docx"
    document.save(str(path))
    assert [unit.text for unit in extract_units(path)] == ["Felles overskrift", "Venstre", "Høyre"]


def test_html_drops_boilerplate_and_keeps_blocks(tmp_path: Path) -> None:
    path = make_plan_html(tmp_path / "plan.html", BODY, title="Kommuneplan for Eksempelkommune")
    units = extract_units(path)
    assert units == [TextUnit(None, "Kommuneplan for Eksempelkommune", "heading"), *BODY_UNITS]
    joined = " ".join(unit.text for unit in units)
    for boilerplate in ("skript", "Sporingsskript", "Kontakt oss", "forside", "Rådhusgata"):
        assert boilerplate not in joined


def test_html_inline_markup_and_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "inline.htm"
    path.write_text(
        "<html><body><div>Kommunen vil <b>sam</b>skape løsninger.<br>Vi vil lytte."
        "<p>Et <a href='#'>eget</a>\n   avsnitt.</p></div><ul><li><p>Punkt i avsnitt</p></li></ul></body></html>",
        encoding="utf-8",
    )
    assert extract_units(path) == [
        TextUnit(None, "Kommunen vil samskape løsninger.", "paragraph"),
        TextUnit(None, "Vi vil lytte.", "paragraph"),
        TextUnit(None, "Et eget avsnitt.", "paragraph"),
        TextUnit(None, "Punkt i avsnitt", "bullet"),
    ]


def test_txt_paragraphs_bullets_hyphenation_and_junk_lines(tmp_path: Path) -> None:
    path = tmp_path / "plan.txt"
    path.write_text(
        "Innhold\n"
        "Innledning ........................ 3\n"
        "Mål og strategier ................. 5\n"
        "\n"
        "Kommunen skal legge til rette for sam-\n"
        "skaping i hele Nord-\n"
        "Norge.\n"
        "\n"
        "Side 3 av 10\n"
        "\n"
        "Vi vil:\n"
        "- styrke frivilligheten\n"
        "• gi gratis lokaler\n"
        "  til lag og foreninger\n"
        "* lage møteplasser\n"
        "1. Vi skal bygge 200 boliger.\n"
        "\n"
        "12\n"
        "Tiltakene koster 2,5 mill. kroner i\n"
        "2025.\n"
        "- 4 -\n"
        "Planen ble vedtatt\n"
        "1. januar 2024. Målene er:\n"
        "1. bedre folkehelse\n"
        "2. flere arbeidsplasser\n",
        encoding="utf-8",
    )
    units = extract_units(path)
    assert units == [
        TextUnit(None, "Innhold", "heading"),
        TextUnit(None, "Kommunen skal legge til rette for samskaping i hele Nord-Norge.", "paragraph"),
        TextUnit(None, "Vi vil:", "paragraph"),
        TextUnit(None, "styrke frivilligheten", "bullet"),
        TextUnit(None, "gi gratis lokaler til lag og foreninger", "bullet"),
        TextUnit(None, "lage møteplasser", "bullet"),
        TextUnit(None, "Vi skal bygge 200 boliger.", "bullet"),
        TextUnit(
            None, "Tiltakene koster 2,5 mill. kroner i 2025. Planen ble vedtatt 1. januar 2024. Målene er:", "paragraph"
        ),
        TextUnit(None, "bedre folkehelse", "bullet"),
        TextUnit(None, "flere arbeidsplasser", "bullet"),
    ]


def test_txt_builder_round_trip(tmp_path: Path) -> None:
    path = make_plan_txt(tmp_path / "plan.txt", BODY)
    assert texts(read_sentences(path)) == BODY_SENTENCES


def test_markdown_syntax_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text(
        "# Samskaping\n\nVi vil **samskape** med [innbyggerne](https://example.org).\n\n"
        "> Planen gjelder\n> fram mot 2036.\n\n| Mål | Tiltak |\n|-----|--------|\n| Helse | Turstier |\n",
        encoding="utf-8",
    )
    assert extract_units(path) == [
        TextUnit(None, "Samskaping", "heading"),
        TextUnit(None, "Vi vil samskape med innbyggerne.", "paragraph"),
        TextUnit(None, "Planen gjelder fram mot 2036.", "paragraph"),
        TextUnit(None, "Mål", "cell"),
        TextUnit(None, "Tiltak", "cell"),
        TextUnit(None, "Helse", "cell"),
        TextUnit(None, "Turstier", "cell"),
    ]


def test_soft_hyphen_at_line_end_joins_the_word(tmp_path: Path) -> None:
    path = tmp_path / "myk.txt"
    path.write_text("Kommunen vil sam\u00ad\nskape løsninger med inn\u00ad\nbyggerne.\n", encoding="utf-8")
    assert texts(read_sentences(path)) == ["Kommunen vil samskape løsninger med innbyggerne."]


def test_text_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "tegn.txt"
    # Non-breaking space, soft hyphen, «fi» ligature, zero-width space, BOM.
    path.write_bytes("\ufeffKommunen\u00a0skal sam\u00adskape \ufb01re\u200b nye tiltak.\n".encode())
    assert texts(read_sentences(path)) == ["Kommunen skal samskape fire nye tiltak."]


# --------------------------------------------------------------------------
# Sentence segmentation
# --------------------------------------------------------------------------

SEGMENTATION_CASES = [
    # The measured spaCy mistakes: a split after «kap.» and none after «2026.».
    (
        (
            "Vi viser til planen, jf. kap. 3. Vi vil f.eks. bygge ca. 200 boliger innen 2026. "
            "Planen ble vedtatt 1. januar 2024."
        ),
        [
            "Vi viser til planen, jf. kap. 3.",
            "Vi vil f.eks. bygge ca. 200 boliger innen 2026.",
            "Planen ble vedtatt 1. januar 2024.",
        ],
    ),
    ("Planen ble vedtatt 1. januar 2024.", ["Planen ble vedtatt 1. januar 2024."]),
    (
        "Vi vil bl.a. styrke frivilligheten. Kommunen skal samarbeide med lag og foreninger.",
        ["Vi vil bl.a. styrke frivilligheten.", "Kommunen skal samarbeide med lag og foreninger."],
    ),
    (
        "Vi trenger skoler, barnehager osv. Neste steg er en handlingsdel.",
        ["Vi trenger skoler, barnehager osv.", "Neste steg er en handlingsdel."],
    ),
    (
        "Vi samarbeider med lag, foreninger mv. Kommunen tar ansvar.",
        ["Vi samarbeider med lag, foreninger mv.", "Kommunen tar ansvar."],
    ),
    (
        "Kommunen samarbeider med NAV, fylkeskommunen m.fl. Samarbeidet er viktig.",
        ["Kommunen samarbeider med NAV, fylkeskommunen m.fl.", "Samarbeidet er viktig."],
    ),
    (
        "Kommunen har ansvar for helse, skule o.l. Frivillige lag har ansvar for resten.",
        ["Kommunen har ansvar for helse, skule o.l.", "Frivillige lag har ansvar for resten."],
    ),
    ("Mål 3.2: Bedre folkehelse for alle innbyggere.", ["Mål 3.2: Bedre folkehelse for alle innbyggere."]),
    ("Tiltaket koster 2,5 mill. kroner i 2025.", ["Tiltaket koster 2,5 mill. kroner i 2025."]),
    ("Møtet starter kl. 18.00 i kommunestyresalen.", ["Møtet starter kl. 18.00 i kommunestyresalen."]),
    ("Møtet starter kl. 18.00. Alle er velkomne.", ["Møtet starter kl. 18.00.", "Alle er velkomne."]),
    (
        "Arbeidet ledes av dr. Hansen. Han har lang erfaring.",
        ["Arbeidet ledes av dr. Hansen.", "Han har lang erfaring."],
    ),
    (
        "Se f.eks. Folkehelseloven og jf. Plan- og bygningsloven § 11-2.",
        ["Se f.eks. Folkehelseloven og jf. Plan- og bygningsloven § 11-2."],
    ),
    (
        "Dette gjelder t.o.m. 2030. Etter det skal planen rulleres.",
        ["Dette gjelder t.o.m. 2030.", "Etter det skal planen rulleres."],
    ),
    ("Folketallet økte med 5 pst. Kommunen vokser.", ["Folketallet økte med 5 pst.", "Kommunen vokser."]),
    ("Vi kom på 3. plass i kåringen.", ["Vi kom på 3. plass i kåringen."]),
    ("Dette ble vedtatt 3. mars. Neste møte er 5. Mai.", ["Dette ble vedtatt 3. mars.", "Neste møte er 5. Mai."]),
    ("1. Vi skal bygge flere boliger.", ["1. Vi skal bygge flere boliger."]),
    ("Dette er Fylkeskomm. sitt ansvar.", ["Dette er Fylkeskomm. sitt ansvar."]),
    (
        "Hva vil vi oppnå? Et godt lokalsamfunn! Det krever innsats.",
        ["Hva vil vi oppnå?", "Et godt lokalsamfunn!", "Det krever innsats."],
    ),
    ("Kommunen vil: styrke samarbeidet.", ["Kommunen vil: styrke samarbeidet."]),
    ("Kommunen vil:\nstyrke samarbeidet.", ["Kommunen vil:", "styrke samarbeidet."]),
    ("Første avsnitt uten punktum\n\nAndre avsnitt", ["Første avsnitt uten punktum", "Andre avsnitt"]),
    ("Ei linje som held\nfram på neste linje.", ["Ei linje som held fram på neste linje."]),
    # Nynorsk
    (
        "Vi skal t.d. lage planar for skulen. Kommunen skal m.a. satse på barn og unge.",
        ["Vi skal t.d. lage planar for skulen.", "Kommunen skal m.a. satse på barn og unge."],
    ),
    ("Dei to tiltaka kostar høvesvis 2 og 3 mill. kroner.", ["Dei to tiltaka kostar høvesvis 2 og 3 mill. kroner."]),
    (
        "Vi gjer det no. Planen vart vedteken den 17. mai 2024.",
        ["Vi gjer det no.", "Planen vart vedteken den 17. mai 2024."],
    ),
    (
        "Kommunen skal samskape med innbyggjarane, jf. kap. 2. Dette gjeld òg frivillige lag.",
        ["Kommunen skal samskape med innbyggjarane, jf. kap. 2.", "Dette gjeld òg frivillige lag."],
    ),
    # Nothing to keep
    ("2024 – 2036 ...", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), SEGMENTATION_CASES)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def assert_document_error(path: Path, *phrases: str) -> str:
    with pytest.raises(DocumentError) as caught:
        read_sentences(path)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    for phrase in phrases:
        assert phrase in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert_document_error(tmp_path / "finnes-ikke.pdf", "file not found")


def test_unsupported_suffix_lists_allowed_ones(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    path.write_bytes(b"noe")
    message = assert_document_error(path, "unsupported file type '.xlsx'")
    for suffix in DOCUMENT_SUFFIXES:
        assert suffix in message


def test_old_word_format_gets_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "plan.doc"
    path.write_bytes(b"noe")
    assert_document_error(path, "save it as .docx")


@pytest.mark.parametrize("suffix", [".txt", ".pdf", ".docx", ".html"])
def test_empty_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tom{suffix}"
    path.write_bytes(b"")
    assert_document_error(path, "empty")


def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "skadet.pdf"
    path.write_bytes(b"dette er ikke en pdf\x00\xff" * 50)
    assert_document_error(path, "not a readable PDF")


def test_encrypted_pdf(tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    plain = make_plan_pdf(tmp_path / "åpen.pdf", [["Kommunen vil samskape."]])
    writer = pypdf.PdfWriter(clone_from=plain)
    writer.encrypt(user_password="hemmelig", owner_password="eier")
    path = tmp_path / "låst.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    assert_document_error(path, "password-protected")


def test_scanned_pdf_without_text_layer(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.set_fill_color(120, 120, 120)
        pdf.rect(20, 20, 170, 240, style="F")
    path = tmp_path / "skannet.pdf"
    pdf.output(str(path))
    assert_document_error(path, "no text layer", "2 pages", "OCR")


def test_docx_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "falsk.docx"
    path.write_text("Dette er bare tekst med feil filendelse.", encoding="utf-8")
    assert_document_error(path, "not a valid Word file", "save it again as .docx")


def test_text_without_content(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text("\n   \n12\n........\n", encoding="utf-8")
    assert_document_error(path, "no text found")


def test_html_with_only_boilerplate(tmp_path: Path) -> None:
    path = make_plan_html(tmp_path / "meny.html", [], title="")
    assert_document_error(path, "no text found")


@pytest.mark.parametrize(("codec", "recorded"), [("cp1252", "cp1252"), ("latin-1", "cp1252"), ("utf-8", "utf-8")])
def test_legacy_encoded_text_keeps_norwegian_letters(tmp_path: Path, codec: str, recorded: str) -> None:
    from samskaping.documents import read_document

    path = tmp_path / "gammel.txt"
    path.write_bytes(
        "Kommunen vil samskape løsninger med innbyggjarane på Ærøy – «sammen».".encode(codec, errors="replace")
    )
    sentences = read_sentences(path)
    assert "løsninger" in sentences[0].text and "Ærøy" in sentences[0].text
    assert read_document(path).encoding == recorded  # the reader reports what it decoded with


def test_directory_is_not_a_document(tmp_path: Path) -> None:
    folder = tmp_path / "mappe.pdf"
    folder.mkdir()
    assert_document_error(folder, "not a file")
