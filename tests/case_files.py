"""Builders for the kinds of input that broke samskaping (issue 12), made from raw parts.

Each builder writes a small file of one *kind* of fault with invented plan text,
independently of the files in ``../shared/cases/``: PDFs with damaged page
trees or rotated pages, WordprocessingML written by hand (text boxes with their
VML fallback, content controls, smart tags, fields, revisions, notes), HTML in
legacy encodings, and tables with control characters, formulas and codes with
leading zeros.

Import as ``from case_files import ...`` with ``tests/`` on the Python path.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

# ---------------------------------------------------------------------- PDF

_PDF_FONT = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def raw_pdf(objects: dict[int, str], root: int = 1) -> bytes:
    """A PDF file from numbered object bodies, with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n{objects[number]}\nendobj\n".encode("latin-1")
    size = max(objects) + 1
    xref = len(out)
    out += f"xref\n0 {size}\n0000000000 65535 f \n".encode()
    for number in range(1, size):
        out += (f"{offsets[number]:010d} 00000 n \n" if number in offsets else "0000000000 00000 f \n").encode()
    out += f"trailer\n<< /Size {size} /Root {root} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def pdf_text_stream(lines: Sequence[str]) -> str:
    """A content stream that writes ``lines`` (latin-1 text) one under the other in Helvetica."""
    body = "BT\n/F1 12 Tf\n16 TL\n72 760 Td\n" + "".join(f"({line}) Tj T*\n" for line in lines) + "ET\n"
    return f"<< /Length {len(body.encode('latin-1'))} >>\nstream\n{body}endstream"


def pdf_page(contents: int, parent: int = 2) -> str:
    """A page object drawing the content stream object ``contents`` with font object 5."""
    return (
        f"<< /Type /Page /Parent {parent} 0 R /MediaBox [0 0 595 842] "
        f"/Resources << /Font << /F1 5 0 R >> >> /Contents {contents} 0 R >>"
    )


def pdf_with_page_tree(kids: str, extra: dict[int, str], count: int) -> bytes:
    """A PDF whose page tree (object 2) has the ``kids`` array given as source text.

    Object 1 is the catalogue, 2 the page tree, 5 the font; ``extra`` holds
    the pages, content streams and anything broken.
    """
    objects = {
        1: "<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {count} >>",
        5: _PDF_FONT,
        **extra,
    }
    return raw_pdf(objects)


def rotated_pdf(path: Path, pages: Sequence[Sequence[str]], rotations: Sequence[int]) -> Path:
    """A PDF whose pages are drawn upright with fpdf2, then turned with pypdf's ``Page.rotate``."""
    import pypdf
    from fpdf import FPDF

    from plan_files import dejavu_font_path

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(dejavu_font_path()))
    pdf.set_font("DejaVu", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    upright = io.BytesIO(bytes(pdf.output()))
    reader, writer = pypdf.PdfReader(upright), pypdf.PdfWriter()
    for page, angle in zip(reader.pages, rotations, strict=True):
        writer.add_page(page)
        if angle:
            writer.pages[-1].rotate(angle)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def landscape_pdf(path: Path, lines: Sequence[str], angle: int) -> Path:
    """One page whose content is drawn turned by ``angle`` and shown upright by a ``/Rotate`` of the same angle.

    This is how landscape pages (wide tables, maps) usually sit in a portrait
    plan: the reader sees the text upright, the page's own coordinates run sideways.
    """
    import pypdf
    from fpdf import FPDF

    from plan_files import dejavu_font_path

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(dejavu_font_path()))
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()
    width, height = pdf.w, pdf.h
    sideways = angle in (90, 270)
    # fpdf2 turns counter-clockwise as seen; /Rotate turns clockwise: the same angle undoes it
    with pdf.rotation(angle, x=width / 2, y=height / 2):
        x0 = width / 2 - height / 2 + 15 if sideways else 15
        y0 = height / 2 - width / 2 + 15 if sideways else 15
        pdf.set_xy(x0, y0)
        for line in lines:
            pdf.set_x(x0)
            pdf.cell((height if sideways else width) - 30, 6, line, new_x="LEFT", new_y="NEXT")
    reader, writer = pypdf.PdfReader(io.BytesIO(bytes(pdf.output()))), pypdf.PdfWriter()
    writer.add_page(reader.pages[0])
    writer.pages[0].rotate(angle)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


# ---------------------------------------------------------------------- DOCX

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NAMESPACES = {
    "w": W_NS,
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "wps": "http://schemas.microsoft.com/office/word/2010/wordprocessingShape",
    "wp14": "http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing",
    "v": "urn:schemas-microsoft-com:vml",
    "o": "urn:schemas-microsoft-com:office:office",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "w14": "http://schemas.microsoft.com/office/word/2010/wordml",
}
_XMLNS = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NAMESPACES.items())
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_DOC_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml"


def p(*runs: str, style: str | None = None) -> str:
    """A ``w:p`` with the given inline XML (use :func:`r` for plain runs)."""
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{ppr}{''.join(runs)}</w:p>"


def r(text: str) -> str:
    """A run with one text element (spaces kept)."""
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def text_box(paragraphs: Sequence[str]) -> str:
    """A run holding a text box as Word 2010+ writes it: DrawingML in ``mc:Choice``, the same box as VML in ``mc:Fallback``."""
    body = "".join(p(r(text)) for text in paragraphs)
    return (
        "<w:r><mc:AlternateContent>"
        '<mc:Choice Requires="wps"><w:drawing><wp:anchor distT="0" distB="0" distL="0" distR="0" simplePos="0" '
        'relativeHeight="1" behindDoc="0" locked="0" layoutInCell="1" allowOverlap="1">'
        '<wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="column"><wp:posOffset>0</wp:posOffset></wp:positionH>'
        '<wp:positionV relativeFrom="paragraph"><wp:posOffset>0</wp:posOffset></wp:positionV>'
        '<wp:extent cx="2000000" cy="800000"/><wp:wrapSquare wrapText="bothSides"/><wp:docPr id="1" '
        'name="Tekstboks 1"/>'
        '<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f"<wps:wsp><wps:txbx><w:txbxContent>{body}</w:txbxContent></wps:txbx><wps:bodyPr/></wps:wsp>"
        "</a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>"
        f'<mc:Fallback><w:pict><v:shape id="Tekstboks1" type="#_x0000_t202"><v:textbox><w:txbxContent>{body}'
        "</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r>"
    )


def vml_text_box(paragraphs: Sequence[str]) -> str:
    """A text box as older Word versions write it: VML only (``w:pict``), no alternate content."""
    body = "".join(p(r(text)) for text in paragraphs)
    return (
        f'<w:r><w:pict><v:shape id="Boks2" type="#_x0000_t202"><v:textbox><w:txbxContent>{body}'
        "</w:txbxContent></v:textbox></v:shape></w:pict></w:r>"
    )


def block_sdt(inner: str, tag: str = "Visjon") -> str:
    """A block-level content control around paragraphs or tables."""
    return f'<w:sdt><w:sdtPr><w:tag w:val="{tag}"/></w:sdtPr><w:sdtContent>{inner}</w:sdtContent></w:sdt>'


def inline_sdt(text: str, date: bool = False) -> str:
    """An inline content control (a date picker with ``date``) showing ``text``."""
    kind = (
        '<w:date w:fullDate="2024-03-14T00:00:00Z"><w:dateFormat w:val="d. MMMM yyyy"/></w:date>'
        if date
        else "<w:text/>"
    )
    return f"<w:sdt><w:sdtPr>{kind}</w:sdtPr><w:sdtContent>{r(text)}</w:sdtContent></w:sdt>"


def smart_tag(text: str) -> str:
    return f'<w:smartTag w:uri="urn:schemas-microsoft-com:office:smarttags" w:element="place">{r(text)}</w:smartTag>'


def custom_xml(inner: str) -> str:
    return f'<w:customXml w:element="kommune">{inner}</w:customXml>'


def hyperlink(text: str) -> str:
    return f'<w:hyperlink w:anchor="kapittel3">{r(text)}</w:hyperlink>'


def simple_field(instruction: str, result: str) -> str:
    return f'<w:fldSimple w:instr="{instruction}">{r(result)}</w:fldSimple>'


def complex_field(instruction: str, result: str, nested: str = "") -> str:
    """A field with begin/separate/end marks; ``nested`` is a whole field inside the instruction."""
    return (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve"> {instruction} </w:instrText></w:r>{nested}'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        f"{r(result)}"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )


def inserted(text: str) -> str:
    return f'<w:ins w:id="1" w:author="Saksbehandler" w:date="2024-03-01T00:00:00Z">{r(text)}</w:ins>'


def deleted(text: str) -> str:
    return (
        f'<w:del w:id="2" w:author="Saksbehandler" w:date="2024-03-01T00:00:00Z">'
        f'<w:r><w:delText xml:space="preserve">{text}</w:delText></w:r></w:del>'
    )


def moved_from(text: str) -> str:
    return f'<w:moveFrom w:id="3" w:author="S" w:date="2024-03-01T00:00:00Z">{r(text)}</w:moveFrom>'


def moved_to(text: str) -> str:
    return f'<w:moveTo w:id="4" w:author="S" w:date="2024-03-01T00:00:00Z">{r(text)}</w:moveTo>'


def note_reference(kind: str, number: int) -> str:
    """A footnote or endnote reference mark in the body (``kind``: footnote or endnote)."""
    return f'<w:r><w:{kind}Reference w:id="{number}"/></w:r>'


def table(rows: Sequence[Sequence[str]]) -> str:
    cells = "".join("<w:tr>" + "".join(f"<w:tc>{p(r(cell))}</w:tc>" for cell in row) + "</w:tr>" for row in rows)
    return f"<w:tbl>{cells}</w:tbl>"


def _notes_xml(kind: str, notes: Sequence[str]) -> str:
    separators = (
        f'<w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:{kind}>'
        f'<w:{kind} w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:{kind}>'
    )
    body = "".join(
        f'<w:{kind} w:id="{number}"><w:p><w:r><w:{kind}Ref/></w:r>{r(" " + text)}</w:p></w:{kind}>'
        for number, text in enumerate(notes, start=1)
    )
    return f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:{kind}s {_XMLNS}>{separators}{body}</w:{kind}s>'


def alt_chunk(rid: str) -> str:
    """A ``w:altChunk``: a part that Word merges into the document where it stands (see :func:`docx_bytes`)."""
    return f'<w:altChunk r:id="{rid}"/>'


def docx_bytes(
    body: str,
    footnotes: Sequence[str] = (),
    endnotes: Sequence[str] = (),
    chunks: Mapping[str, tuple[str, str, bytes | str]] | None = None,
) -> bytes:
    """A complete DOCX package (content types, relationships, document, notes) around ``body`` XML.

    ``chunks``: relationship id -> (file name under word/, content type, content) of embedded
    ``w:altChunk`` parts.
    """
    overrides = [f'<Override PartName="/word/document.xml" ContentType="{_DOC_CT}.document.main+xml"/>']
    rels = []
    parts: dict[str, str | bytes] = {}
    for kind, notes in (("footnote", footnotes), ("endnote", endnotes)):
        if notes:
            parts[f"word/{kind}s.xml"] = _notes_xml(kind, notes)
            overrides.append(f'<Override PartName="/word/{kind}s.xml" ContentType="{_DOC_CT}.{kind}s+xml"/>')
            rels.append(f'<Relationship Id="rId{len(rels) + 1}" Type="{_REL}/{kind}s" Target="{kind}s.xml"/>')
    for rid, (name, content_type, content) in (chunks or {}).items():
        parts[f"word/{name}"] = content
        overrides.append(f'<Override PartName="/word/{name}" ContentType="{content_type}"/>')
        rels.append(f'<Relationship Id="{rid}" Type="{_REL}/aFChunk" Target="{name}"/>')
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>' + "".join(overrides) + "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/_rels/document.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(rels)
            + "</Relationships>"
        ),
        "word/document.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document {_XMLNS} mc:Ignorable="w14 wp14">'
            f"<w:body>{body}<w:sectPr/></w:body></w:document>"
        ),
        **parts,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def write_docx(
    path: Path,
    body: str,
    footnotes: Sequence[str] = (),
    endnotes: Sequence[str] = (),
    chunks: Mapping[str, tuple[str, str, bytes | str]] | None = None,
) -> Path:
    path.write_bytes(docx_bytes(body, footnotes, endnotes, chunks))
    return path


def truncated_docx(good: bytes, part: str = "word/document.xml") -> bytes:
    """The package with ``part`` cut in the middle of its XML (stored, so the zip itself is sound)."""
    source = zipfile.ZipFile(io.BytesIO(good))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            archive.writestr(info.filename, data[: len(data) // 2] if info.filename == part else data)
    return buffer.getvalue()


def damaged_zip_docx(good: bytes, part: str = "word/document.xml") -> bytes:
    """The package with the compressed bytes of ``part`` overwritten (a bad block inside the zip)."""
    data = bytearray(good)
    info = zipfile.ZipFile(io.BytesIO(good)).getinfo(part)
    # local header: 30 bytes + name + extra, then the deflated data
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 2, start + min(info.compress_size - 2, 40)):
        data[offset] ^= 0x5A
    return bytes(data)
