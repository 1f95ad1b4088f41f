"""A layout test set: designed plan documents with their gold sentences in reading order, and a scorer.

Every document is written at test time for a fictional municipality, with text
made up for the set (sentences built from word lists, so each one is unique and
can be matched exactly). Each stands for one layout feature of issue 23:

===================  ======================================================================
``two_columns``      two-column pages; the content stream draws the footer first, the right
                     column before the left and the headings last
``three_columns``    three-column pages with a spanning ingress, drawn right to left
``spread``           landscape sheets holding two pages each, with their own page numbers (on the
                     second sheet drawn first, together, on one baseline)
``running_heads``    plan title in the head of even pages, chapter name on odd pages
``photos``           photos with credits («Foto: …») and captions in a smaller font
``pull_quote``       a pull quote repeating a body sentence, set inside the column (on page 2 with
                     an attribution line under it)
``fact_box``         a «Fakta» box beside the body text, on page 2 drawn line by line between the
                     body's lines (PDFium joins a box line to a body line on the same baseline)
``word_layout``      a Word file with a TOC field, a two-column section, a «Fakta» text box (drawn
                     and as VML fallback) and a one-row layout table holding two columns of text
``web_page``         an HTML page with cookie banner, breadcrumbs, share links, sidebar and
                     chat widget around an article with a fact box, a figure caption and a
                     collapsed section
===================  ======================================================================

:func:`score` compares what :func:`samskaping.documents.read_sentences` gives
with the gold: recall (gold sentences found as whole sentences), order (the
longest increasing run of the found ones in gold order, as a share of those
found) and precision (rows that are gold sentences).

Import as ``from layout_set import build_all, score`` with ``tests/`` on the Python path.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plan_files import dejavu_font_path

BOLD_FONT = "DejaVuSans-Bold.ttf"
PT = 0.3528  # mm per point


@dataclass
class Gold:
    """A layout document and its gold sentences (text, unit) in reading order."""

    feature: str
    path: Path
    sentences: list[tuple[str, str]] = field(default_factory=list)
    pages: list[int] | None = None  # the page of each gold sentence, where the feature is about pages


# --- text -------------------------------------------------------------------------------------

_SUBJECTS = [
    "Kommunen",
    "Innbyggerne",
    "Ungdomsrådet",
    "Frivillige lag",
    "Næringslivet",
    "Skolene",
    "Eldrerådet",
    "Grendelagene",
    "Biblioteket",
    "Helsestasjonen",
    "Idrettslagene",
    "Kulturhuset",
]
_VERBS = [
    "vil utvikle",
    "skal prøve ut",
    "ønsker å styrke",
    "planlegger",
    "tar ansvar for",
    "vil følge opp",
    "skal evaluere",
    "vil dele erfaringer om",
]
_OBJECTS = [
    "nye møteplasser",
    "trygge skoleveier",
    "et grønnere sentrum",
    "flere turstier",
    "bedre bussruter",
    "tiltak mot ensomhet",
    "lokale matfestivaler",
    "felles dugnader",
    "digitale innbyggertjenester",
    "klimavennlige boliger",
    "aktiviteter for barn",
    "rent vann i elvene",
]
_PLACES = [
    "i Nordbygda",
    "langs fjorden",
    "på Storøya",
    "i sentrum",
    "i hele kommunen",
    "ved skolene",
    "i grendene",
    "sammen med nabokommunene",
]


def sentence_source(seed: int) -> Callable[[], str]:
    """A function giving a new, unique Norwegian plan sentence on every call (deterministic per seed)."""
    combos = itertools.cycle(itertools.product(_SUBJECTS, _VERBS, _OBJECTS, _PLACES))
    skip = itertools.islice(combos, seed * 131 % 97, None, 7)  # spread the combinations over the lists

    def next_sentence() -> str:
        subject, verb, obj, place = next(skip)
        return f"{subject} {verb} {obj} {place}."

    return next_sentence


def paragraph(source: Callable[[], str], count: int) -> list[str]:
    """``count`` sentences for one paragraph."""
    return [source() for _ in range(count)]


# --- PDF drawing --------------------------------------------------------------------------------


@dataclass
class Ops:
    """Text drawing operations of one page, grouped in frames that are drawn in a chosen order."""

    frames: list[list[tuple[float, float, str, float, bool]]] = field(default_factory=list)

    def frame(self) -> list[tuple[float, float, str, float, bool]]:
        self.frames.append([])
        return self.frames[-1]


def _pdf(orientation: str = "P", page_format: str = "A4") -> object:
    from fpdf import FPDF

    pdf = FPDF(orientation=orientation, format=page_format)
    pdf.set_auto_page_break(auto=False)
    pdf.add_font("plan", fname=str(dejavu_font_path()))
    pdf.add_font("plan", style="B", fname=str(dejavu_font_path().with_name(BOLD_FONT)))
    return pdf


def _wrap(pdf: object, text: str, width: float, size: float, bold: bool) -> list[str]:
    pdf.set_font("plan", style="B" if bold else "", size=size)
    return pdf.multi_cell(width, size * PT * 1.4, text, dry_run=True, output="LINES")


def flow(
    pdf: object,
    ops: Ops,
    blocks: Sequence[tuple[str, float, bool]],
    columns: Sequence[tuple[float, float, float, float]],
    gap: float = 1.0,
) -> None:
    """Lay ``blocks`` (text, size, bold) into ``columns`` (x, top, width, bottom), line by line, one frame per column."""
    column = 0
    frame = ops.frame()
    x, y, width, bottom = columns[column]
    for text, size, bold in blocks:
        leading = size * PT * 1.4
        for line in _wrap(pdf, text, width, size, bold):
            if y + leading > bottom:
                column += 1
                if column == len(columns):
                    raise ValueError(f"text does not fit the columns: {line!r}")
                frame = ops.frame()
                x, y, width, bottom = columns[column]
            y += leading
            frame.append((x, y, line, size, bold))
        y += leading * gap


def draw(pdf: object, ops: Ops, order: Sequence[int] | None = None) -> None:
    """Draw the frames of a page in ``order`` (indices into ``ops.frames``); the content stream follows it."""
    for index in order if order is not None else range(len(ops.frames)):
        for x, y, text, size, bold in ops.frames[index]:
            pdf.set_font("plan", style="B" if bold else "", size=size)
            pdf.text(x, y, text)


def text_at(ops: Ops, x: float, y: float, text: str, size: float, bold: bool = False) -> None:
    """One line as a frame of its own."""
    ops.frame().append((x, y, text, size, bold))


# --- the documents --------------------------------------------------------------------------------

BODY, INGRESS, HEADING, SMALL = 10.0, 12.0, 16.0, 7.5


def _body_blocks(gold: Gold, source: Callable[[], str], plan: Sequence[str | int]) -> list[tuple[str, float, bool]]:
    """Blocks for a column flow: a str is a heading, an int a paragraph of that many sentences; gold follows."""
    blocks = []
    for item in plan:
        if isinstance(item, str):
            blocks.append((item, HEADING - 3, True))
            gold.sentences.append((item, "heading"))
        else:
            sentences = paragraph(source, item)
            blocks.append((" ".join(sentences), BODY, False))
            gold.sentences.extend((sentence, "paragraph") for sentence in sentences)
    return blocks


def _headings_last(ops: Ops, first: int = 0) -> list[int]:
    """Drawing order with the body frames reversed (right column first) and one-line bold frames last."""
    body = [i for i in range(first, len(ops.frames)) if not all(bold for *_, bold in ops.frames[i])]
    headings = [i for i in range(first, len(ops.frames)) if i not in body]
    return list(range(first)) + body[::-1] + headings


def _split_headings(ops: Ops) -> Ops:
    """The same lines with every bold line moved to a frame of its own (as a heading frame threaded apart)."""
    split = Ops()
    for frame in ops.frames:
        current = split.frame()
        for op in frame:
            if op[4]:
                split.frame().append(op)
                current = split.frame()
            else:
                current.append(op)
    split.frames = [frame for frame in split.frames if frame]
    return split


def two_columns(folder: Path) -> Gold:
    """Fjellvik: two two-column pages, footer drawn first, right column before the left, headings last."""
    gold = Gold("two_columns", folder / "fjellvik-tokolonner.pdf")
    source = sentence_source(1)
    pdf = _pdf()
    plans = [
        ["Levende lokalsamfunn", 3, 4, "Samskaping i praksis", 3, 2, 4, 3, 3],
        ["Arbeid og næring", 4, 3, 2, "Klima og miljø", 4, 3, 4, 2],
    ]
    for page, plan in enumerate(plans, start=1):
        pdf.add_page()
        ops = Ops()
        text_at(ops, 20, 287, "Fjellvik kommune – kommuneplanens samfunnsdel 2025–2037", SMALL)
        text_at(ops, 185, 287, str(page), SMALL)
        title = ["Kommuneplan for Fjellvik"] if page == 1 else []
        y = 25.0
        if title:
            text_at(ops, 20, y, title[0], HEADING + 4, True)
            gold.sentences.append((title[0], "heading"))
            y += 14
        blocks = _body_blocks(gold, source, plan)
        flow(pdf, ops, blocks, [(20, y, 82, 275), (108, y, 82, 275)])
        ops = _split_headings(ops)
        draw(pdf, ops, _headings_last(ops, first=2))
    pdf.output(str(gold.path))
    return gold


def three_columns(folder: Path) -> Gold:
    """Havøy: a spanning heading and ingress above three columns, columns drawn right to left."""
    gold = Gold("three_columns", folder / "havoy-trekolonner.pdf")
    source = sentence_source(2)
    pdf = _pdf()
    for page in (1, 2):
        pdf.add_page()
        ops = Ops()
        heading = "Et godt liv på Havøy" if page == 1 else "Sammen om velferd"
        gold.sentences.append((heading, "heading"))
        ingress = paragraph(source, 2)
        gold.sentences.extend((sentence, "paragraph") for sentence in ingress)
        flow(pdf, ops, [(heading, HEADING + 4, True)], [(15, 15, 180, 40)])
        flow(pdf, ops, [(" ".join(ingress), INGRESS, False)], [(15, 32, 180, 60)])
        blocks = _body_blocks(
            gold, source, [3, 4, "Tiltak for unge" if page == 1 else "Tiltak for eldre", 3, 3, 4, 3, 2]
        )
        flow(pdf, ops, blocks, [(15, 55, 56, 280), (77, 55, 56, 280), (139, 55, 56, 280)])
        text_at(ops, 15, 290, f"Havøy kommune | side {page}", SMALL)
        draw(pdf, ops, [len(ops.frames) - 1, *range(len(ops.frames) - 2, -1, -1)])
    pdf.output(str(gold.path))
    return gold


def spread(folder: Path) -> Gold:
    """Lindal: an A4 cover, then two A3 landscape sheets that each hold two printed pages (2-3, 4-5)."""
    gold = Gold("spread", folder / "lindal-oppslag.pdf", pages=[])
    source = sentence_source(3)
    pdf = _pdf()
    pdf.add_page()
    ops = Ops()
    for text in ("Kommuneplanens samfunnsdel for Lindal", "Vedtatt av kommunestyret i juni 2025"):
        flow(pdf, ops, [(text, HEADING + 4, True)], [(20, 60 + 20 * len(ops.frames), 170, 200)])
    gold.sentences += [
        ("Kommuneplanens samfunnsdel for Lindal", "heading"),
        ("Vedtatt av kommunestyret i juni 2025", "heading"),
    ]
    gold.pages += [1, 1]
    draw(pdf, ops)
    chapters = iter(["Innledning", "Befolkning og bosetting", "Oppvekst", "Helse og omsorg"])
    for sheet in (1, 2):
        pdf.add_page(orientation="L", format="A3")
        ops = Ops()
        for half in (0, 1):
            printed = 2 * sheet + half
            before = len(gold.sentences)
            blocks = _body_blocks(gold, source, [next(chapters), 4, 3, 4, 3, 4, 2])
            flow(pdf, ops, blocks, [(20 + 210 * half, 25, 80, 280), (108 + 210 * half, 25, 80, 280)])
            gold.pages += [printed] * (len(gold.sentences) - before)
            if sheet == 1:
                text_at(ops, 20 + 210 * half if half == 0 else 390, 290, str(printed), SMALL)
        if sheet == 2:  # both page numbers drawn first, one after the other on one baseline (a master page)
            ops.frames.insert(0, [(20, 290, "Side 4", SMALL, False), (385, 290, "Side 5", SMALL, False)])
        draw(pdf, ops)
    pdf.output(str(gold.path))
    return gold


def running_heads(folder: Path) -> Gold:
    """Storås: seven one-column pages, title in the head of even pages and the chapter name on odd pages."""
    gold = Gold("running_heads", folder / "storas-lopetekst.pdf")
    source = sentence_source(4)
    pdf = _pdf()
    chapters = {1: "Levende lokalsamfunn", 4: "Klima og miljø", 6: "Oppfølging av planen"}
    chapter = ""
    for page in range(1, 8):
        pdf.add_page()
        ops = Ops()
        plan: list[str | int] = []
        if page in chapters:
            chapter = chapters[page]
            plan.append(chapter)
        plan += [4, 3, 5, 4]
        head = "Kommuneplanens samfunnsdel for Storås 2025–2037" if page % 2 == 0 else chapter
        text_at(ops, 20 if page % 2 == 0 else 120, 12, head, SMALL)
        flow(pdf, ops, _body_blocks(gold, source, plan), [(20, 22, 170, 280)])
        text_at(ops, 20 if page % 2 == 0 else 185, 290, str(page), SMALL)
        draw(pdf, ops)
    pdf.output(str(gold.path))
    return gold


def photos(folder: Path) -> Gold:
    """Birkeland: photos (grey boxes) with a credit beside them and a caption under them, in two columns."""
    gold = Gold("photos", folder / "birkeland-foto.pdf")
    source = sentence_source(5)
    pdf = _pdf()
    captions = [
        "Ungdomsrådet la fram sine forslag for kommunestyret i mars.",
        "Mange møtte opp da den nye gangbrua over elva ble åpnet.",
        "Frivillige rydder strendene ved Birkelandsvatnet hver vår.",
    ]
    credits = iter(["Foto: Ola Nordmann", "Foto: Birkeland kommune", "Foto/ill.: Kari Hansen"])
    captions_iter = iter(captions)
    for page in (1, 2):
        pdf.add_page()
        ops = Ops()
        photos_here = 2 if page == 1 else 1
        y = 20.0
        for _ in range(photos_here):
            pdf.set_fill_color(180, 180, 180)
            pdf.rect(20, y, 170, 50, style="F")
            text_at(ops, 192, y + 50, next(credits), SMALL - 1.5)
            caption = next(captions_iter)
            flow(pdf, ops, [(caption, SMALL + 0.5, False)], [(20, y + 51, 170, y + 60)])
            gold.sentences.append((caption, "caption"))
            y += 66
        blocks = _body_blocks(gold, source, ["Møteplasser" if page == 1 else "Natur og friluftsliv", 3, 3, 2, 3])
        flow(pdf, ops, blocks, [(20, y, 82, 280), (108, y, 82, 280)])
        text_at(ops, 185, 290, str(page), SMALL)
        draw(pdf, ops)
    pdf.output(str(gold.path))
    return gold


def pull_quote(folder: Path) -> Gold:
    """Nordvik: a pull quote that repeats a body sentence, set in the middle of the left column."""
    gold = Gold("pull_quote", folder / "nordvik-sitat.pdf")
    source = sentence_source(6)
    pdf = _pdf()
    for page in (1, 2):
        pdf.add_page()
        ops = Ops()
        before = len(gold.sentences)
        blocks = _body_blocks(gold, source, ["Nærmiljø" if page == 1 else "Kultur og fritid", 4, 3, 4, 3, 4, 3, 4])
        quoted = gold.sentences[before + 3][0]
        # the left column stops above the quote and goes on below it
        flow(pdf, ops, blocks, [(20, 20, 82, 105), (20, 155, 82, 280), (108, 20, 82, 280)])
        quote = [(f"«{quoted}»", 14, False)] + ([("– Kari Hansen, ungdomsrådet", 8, False)] if page == 2 else [])
        flow(pdf, ops, quote, [(22, 110, 78, 150)], gap=0.3)
        text_at(ops, 185, 290, str(page), SMALL)
        draw(pdf, ops, [len(ops.frames) - 2, *range(len(ops.frames) - 2), len(ops.frames) - 1])
    pdf.output(str(gold.path))
    return gold


def fact_box(folder: Path) -> Gold:
    """Vestre Åsen: one wide body column with a «Fakta» box in a narrow column beside it."""
    gold = Gold("fact_box", folder / "vestre-asen-fakta.pdf")
    source = sentence_source(7)
    pdf = _pdf()
    facts = [
        [
            "Vestre Åsen har om lag 8 400 innbyggere.",
            "Kommunen har fire skolekretser og to sykehjem.",
            "Nesten halvparten av innbyggerne bor utenfor sentrum.",
        ],
        [
            "Kommunen har 23 frivillige lag med egne hus.",
            "Over 600 innbyggere deltok i planarbeidet.",
            "Medvirkningen skjedde i tolv åpne verksteder.",
        ],
    ]
    for page in (1, 2):
        pdf.add_page()
        ops = Ops()
        blocks = _body_blocks(gold, source, ["Frivillighet" if page == 1 else "Medvirkning", 4, 3, 4, 3, 4, 3, 2])
        flow(pdf, ops, blocks, [(20, 20, 115, 280)])
        pdf.set_fill_color(225, 235, 245)
        pdf.rect(140, 30, 55, 80, style="F")
        box = [("Fakta", BODY + 1, True)] + [(fact, BODY - 1, False) for fact in facts[page - 1]]
        gold.sentences.append(("Fakta", "factbox"))
        gold.sentences.extend((fact, "factbox") for fact in facts[page - 1])
        flow(pdf, ops, box, [(143, 33 if page == 1 else 20, 49, 108)], gap=0.4)
        if page == 2:  # the box drawn line by line between the body's lines, some on the same baseline
            body_frame, box_frame = ops.frames
            for op in box_frame:
                at = next((i for i, line in enumerate(body_frame) if line[1] >= op[1] - 0.5), len(body_frame))
                body_frame.insert(at + 1, op)
            ops.frames = [body_frame]
        text_at(ops, 185, 290, str(page), SMALL)
        draw(pdf, ops)
    pdf.output(str(gold.path))
    return gold


def web_page(folder: Path) -> Gold:
    """Solbakken: a municipal web page with its chrome around the article."""
    gold = Gold("web_page", folder / "solbakken-samfunnsdel.html")
    source = sentence_source(8)
    article: list[str] = []

    def add(tag: str, sentences: list[str], unit: str) -> None:
        article.append(f"<{tag}>{' '.join(sentences)}</{tag}>")
        gold.sentences.extend((sentence, unit) for sentence in sentences)

    add("h1", ["Kommuneplanens samfunnsdel for Solbakken"], "heading")
    add("p", paragraph(source, 3), "paragraph")
    add("h2", ["Samskaping med innbyggerne"], "heading")
    add("p", paragraph(source, 4), "paragraph")
    caption = ["Innbyggere og politikere på planverksted i Solbakken samfunnshus."]
    article.append(f'<figure><img src="verksted.jpg" alt=""><figcaption>{caption[0]}</figcaption></figure>')
    gold.sentences.append((caption[0], "caption"))
    facts = ["Solbakken har om lag 5 200 innbyggere.", "Planen gjelder fram til 2037."]
    article.append(
        '<aside class="faktaboks"><h3>Fakta</h3><ul>' + "".join(f"<li>{f}</li>" for f in facts) + "</ul></aside>"
    )
    gold.sentences.append(("Fakta", "factbox"))
    gold.sentences.extend((fact, "factbox") for fact in facts)
    add("p", paragraph(source, 3), "paragraph")
    hidden = paragraph(source, 3)
    article.append(f"<details><summary>Les mer om medvirkningen</summary><p>{' '.join(hidden)}</p></details>")
    gold.sentences.append(("Les mer om medvirkningen", "paragraph"))
    gold.sentences.extend((sentence, "paragraph") for sentence in hidden)
    add("h2", ["Veien videre"], "heading")
    add("p", paragraph(source, 3), "paragraph")
    page = f"""<!DOCTYPE html>
<html lang="nb"><head><meta charset="utf-8"><title>Samfunnsdelen - Solbakken kommune</title></head>
<body>
<div id="cookie-consent" class="cookie-banner"><p>Vi bruker informasjonskapsler for å gi deg en bedre opplevelse.
Les mer om hvordan vi behandler personopplysninger.</p><button>Godta alle</button><button>Bare nødvendige</button></div>
<div class="site-header"><a href="/">Solbakken kommune</a> <a href="/sok">Søk</a> <a href="/en">English</a></div>
<div class="breadcrumbs"><ol><li><a href="/">Forside</a></li><li><a href="/plan">Plan og bygg</a></li>
<li>Kommuneplanens samfunnsdel</li></ol></div>
<div class="content">
<article>
{chr(10).join(article)}
<div class="share-links"><p>Del denne siden:</p><a href="#">Facebook</a> <a href="#">E-post</a> <a href="#">Skriv ut</a></div>
</article>
<aside class="sidebar"><h2>Aktuelt</h2><ul><li>Ledige stillinger i barnehagene</li><li>Vannavstengning i Nedre gate i morgen</li>
<li>Søk om tilskudd til lag og foreninger innen 1. mars</li></ul><p>Har du spørsmål om planen? Ring servicetorget.</p></aside>
</div>
<div id="chat-widget" class="chat"><p>Hei! Jeg er chatboten til kommunen.</p><p>Hva kan jeg hjelpe deg med i dag?</p></div>
<div class="site-footer"><p>Solbakken kommune, Torget 3. Åpningstider kl. 8-15.</p></div>
</body></html>
"""
    gold.path.write_text(page, encoding="utf-8")
    return gold


_TEXT_BOX = """<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"
 xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"
 xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
 xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"
 xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
 xmlns:v="urn:schemas-microsoft-com:vml"><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>
<wp:anchor distT="0" distB="0" distL="114300" distR="114300" simplePos="0" relativeHeight="1" behindDoc="0" locked="0"
 layoutInCell="1" allowOverlap="1"><wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="column"><wp:posOffset>3600000</wp:posOffset>
</wp:positionH><wp:positionV relativeFrom="paragraph"><wp:posOffset>0</wp:posOffset></wp:positionV><wp:extent cx="1800000" cy="1800000"/>
<wp:wrapSquare wrapText="bothSides"/><wp:docPr id="10" name="Fakta"/><a:graphic><a:graphicData
 uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp><wps:spPr/><wps:txbx><w:txbxContent>{paragraphs}
</w:txbxContent></wps:txbx><wps:bodyPr/></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>
<mc:Fallback><w:pict><v:shape style="width:140pt;height:140pt"><v:textbox><w:txbxContent>{paragraphs}</w:txbxContent>
</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>"""


def word_layout(folder: Path) -> Gold:
    """Eidsberget: a Word file with a two-column section, a Fakta text box and a layout table."""
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn

    gold = Gold("word_layout", folder / "eidsberget-word.docx")
    source = sentence_source(9)
    document = docx.Document()

    def heading(text: str) -> None:
        document.add_heading(text, level=1)
        gold.sentences.append((text, "heading"))

    def prose(count: int) -> object:
        sentences = paragraph(source, count)
        gold.sentences.extend((sentence, "paragraph") for sentence in sentences)
        return document.add_paragraph(" ".join(sentences))

    heading("Kommuneplan for Eidsberget")
    # a table of contents as Word writes it: a TOC field whose entries are plain paragraphs
    entries = [("Samarbeid med frivilligheten", 2), ("Barn og unge", 3), ("Veien videre", 4)]
    for number, (entry, page) in enumerate(entries):
        paragraph_ = document.add_paragraph()
        if number == 0:
            for kind in ("begin", "instr", "separate"):
                run = paragraph_.add_run()._r
                if kind == "instr":
                    code = run.makeelement(qn("w:instrText"), {})
                    code.text = 'TOC \\o "1-3" \\h \\z \\u'
                    run.append(code)
                else:
                    run.append(run.makeelement(qn("w:fldChar"), {qn("w:fldCharType"): kind}))
        paragraph_.add_run(f"{entry}\t{page}")
        if number == len(entries) - 1:
            run = paragraph_.add_run()._r
            run.append(run.makeelement(qn("w:fldChar"), {qn("w:fldCharType"): "end"}))
    prose(3)
    # a new section set in two columns
    document.add_section(0)  # WD_SECTION.CONTINUOUS
    cols = document.sections[-1]._sectPr.makeelement(qn("w:cols"), {qn("w:num"): "2", qn("w:space"): "708"})
    document.sections[-1]._sectPr.append(cols)
    heading("Samarbeid med frivilligheten")
    anchor = prose(4)
    facts = ["Fakta", "Eidsberget har 31 lag og foreninger.", "Frivilligsentralen ble åpnet i 2019."]
    box = "".join(f'<w:p><w:r><w:t xml:space="preserve">{fact}</w:t></w:r></w:p>' for fact in facts)
    anchor._p.append(
        parse_xml(
            _TEXT_BOX.replace("{paragraphs}", box).replace(
                "<w:p>", '<w:p xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            )
        )
    )
    gold.sentences.extend((fact, "factbox") for fact in facts)
    prose(3)
    # a one-row table used to set two columns of text side by side
    table = document.add_table(rows=1, cols=2)
    for cell, title in zip(table.rows[0].cells, ("Barn og unge", "Eldre"), strict=True):
        cell.paragraphs[0].text = title
        cell.paragraphs[0].style = document.styles["Heading 2"]
        gold.sentences.append((title, "heading"))
        for count in (3, 2):
            sentences = paragraph(source, count)
            cell.add_paragraph(" ".join(sentences))
            gold.sentences.extend((sentence, "paragraph") for sentence in sentences)
    heading("Veien videre")
    prose(3)
    document.save(str(gold.path))
    return gold


BUILDERS: tuple[Callable[[Path], Gold], ...] = (
    two_columns,
    three_columns,
    spread,
    running_heads,
    photos,
    pull_quote,
    fact_box,
    word_layout,
    web_page,
)


def build_all(folder: Path) -> list[Gold]:
    """Write every layout document into ``folder``; return their gold."""
    folder.mkdir(parents=True, exist_ok=True)
    return [build(folder) for build in BUILDERS]


# --- scoring ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """Figures of one document: recall, order, precision, the share of found sentences with the right unit,
    and (where the gold has pages) the share with the right page."""

    feature: str
    recall: float
    order: float
    precision: float
    units: float
    pages: float | None
    missed: tuple[str, ...]
    extra: tuple[str, ...]


def _key(text: str) -> str:
    return " ".join(text.split())


def _longest_increasing(values: Sequence[int]) -> int:
    import bisect

    tails: list[int] = []
    for value in values:
        at = bisect.bisect_left(tails, value)
        tails[at : at + 1] = [value]
    return len(tails)


def score(gold: Gold) -> Score:
    """Read ``gold.path`` with the project's reader and score it against the gold sentences."""
    from samskaping.documents import read_sentences

    read = read_sentences(gold.path)
    wanted: dict[str, list[int]] = {}
    for index, (text, _) in enumerate(gold.sentences):
        wanted.setdefault(_key(text), []).append(index)
    found: list[int] = []
    extra: list[str] = []
    units = pages = 0
    for sentence in read:
        left = wanted.get(_key(sentence.text))
        if not left:
            extra.append(sentence.text)
            continue
        index = left.pop(0)  # a repeated text («Fakta») matches its occurrences in turn
        found.append(index)
        units += sentence.unit == gold.sentences[index][1]
        if gold.pages is not None:
            pages += sentence.page == gold.pages[index]
    missed = [text for index, (text, _) in enumerate(gold.sentences) if index not in set(found)]
    return Score(
        feature=gold.feature,
        recall=len(found) / len(gold.sentences),
        order=_longest_increasing(found) / len(found) if found else 0.0,
        precision=len(found) / len(read) if read else 0.0,
        units=units / len(found) if found else 0.0,
        pages=pages / len(found) if gold.pages is not None and found else None,
        missed=tuple(missed),
        extra=tuple(extra),
    )
