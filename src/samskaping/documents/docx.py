"""DOCX reader: the body XML walked as Word shows it.

python-docx opens the package (and refuses broken ones); the text is then read
from the WordprocessingML elements themselves, because ``Paragraph.text`` and
``Document.paragraphs`` skip much of what Word displays. What comes out:

- paragraphs, headings (``Heading``/``Overskrift`` styles or an outline level),
  list items and table cells (merged cells once), in document order; a layout
  table (one or two rows whose cells hold several paragraphs or a heading) is
  read as text, its cells one after the other, not as ``cell`` units; column
  sections need nothing, as Word's text runs through the columns in order; the
  entries of a table of contents are left out (TOC styles, or inside a TOC field);
- text inside content controls (``w:sdt``, block and inline), custom XML and
  smart tags, hyperlinks, tracked insertions and moves (``w:ins``, ``w:moveTo``);
- fields by their displayed result, never their instruction (``w:fldSimple``,
  and ``w:fldChar`` begin/separate/end, nested);
- text boxes once: the ``mc:Choice`` of an ``mc:AlternateContent`` is read and its
  VML ``mc:Fallback`` copy is not; a text box becomes its own units after the
  paragraph that anchors it (``factbox`` units where its first line is «Fakta…»);
- footnotes and endnotes after the body, as units of kind ``footnote``;
- embedded chunks (``w:altChunk``: HTML, plain text, WordprocessingML or a
  whole .docx that a program put in the file for Word to merge when it opens
  it) in their place; a chunk in another format (RTF, MHT) is reported, not
  read silently as nothing.

Deleted revision text (``w:del``, ``w:moveFrom``, ``w:delText``) and Word's
table-of-contents paragraphs do not come out, nor do symbol-font characters
(``w:sym``: Wingdings/Symbol pictures of bullets and arrows).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from samskaping.documents.document import Document, note
from samskaping.documents.limits import check_package
from samskaping.documents.lines import TextUnit, UnitKind, is_junk_line, normalise, split_marker, units_from_lines
from samskaping.errors import DocumentError

log = logging.getLogger(__name__)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_WORD_XML = "application/vnd.openxmlformats-officedocument.wordprocessingml."
FOOTNOTE_SEPARATORS = frozenset({"separator", "continuationSeparator", "continuationNotice"})
# A table of at most this many rows can be a layout table (text set side by side), not a data table.
_LAYOUT_ROWS = 2
# Containers whose children are read as if they stood in their place.
_TRANSPARENT = frozenset(
    {
        f"{W}ins",
        f"{W}moveTo",
        f"{W}hyperlink",
        f"{W}smartTag",
        f"{W}customXml",
        f"{W}fldSimple",
        f"{W}r",
        f"{W}bdo",
        f"{W}dir",
        f"{W}sdtContent",
    }
)
_SKIPPED = frozenset(
    {
        f"{W}del",
        f"{W}moveFrom",
        f"{W}delText",
        f"{W}instrText",
        f"{W}rPr",
        f"{W}pPr",
        f"{W}sdtPr",
        f"{W}sdtEndPr",
        f"{W}footnoteReference",
        f"{W}endnoteReference",
    }
)


def read(path: Path) -> Document:
    """Units of a DOCX file: body blocks in order, then footnotes and endnotes.

    Raises:
        DocumentError: not a valid Word file (not a ZIP, damaged ZIP, truncated XML, not a DOCX package), or the
            package or a .docx embedded in it would inflate beyond :class:`~samskaping.documents.limits.ReadingLimits`.
    """
    import docx

    check_package(path, path)  # declared sizes and ratios, before anything is inflated
    try:
        document = docx.Document(str(path))
        styles = {style.style_id: (style.name or "").lower() for style in document.styles}
        body = document.element.body
        notes = _note_roots(document)
    except Exception as exc:  # python-docx, zipfile, zlib and lxml raise many types for a damaged file
        raise DocumentError(
            f"{path}: not a valid Word file ({_damage(exc, path)}); open it in Word and save it again as .docx"
        ) from exc
    reader = _Reader(styles, document.part, path, [])
    units = list(reader.blocks(body, in_cell=False))
    for root in notes:
        units.extend(reader.notes(root))
    return Document(path, units, None, tuple(reader.reading_notes))


def _damage(exc: Exception, path: Path) -> str:
    """What is wrong with a DOCX package that cannot be opened, in plain words."""
    import zipfile
    import zlib

    from lxml import etree

    name = type(exc).__name__
    if name == "PackageNotFoundError" or (isinstance(exc, zipfile.BadZipFile) and "not a zip" in str(exc).lower()):
        return "not a ZIP/Office Open XML package"
    if isinstance(exc, zlib.error | zipfile.BadZipFile | EOFError):
        return "its ZIP archive is damaged"
    if isinstance(exc, etree.XMLSyntaxError):
        return "the XML inside it is broken or cut short"
    if isinstance(exc, KeyError):
        return "a part of the package is missing"
    first = str(exc).splitlines()[0] if str(exc) else name
    return first.replace(f"'{path}'", "the file").replace(str(path), "the file")


def _note_roots(document: Any) -> list[Any]:
    """The parsed footnotes and endnotes parts of the package (absent parts are skipped)."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from lxml import etree

    roots = []
    for rel in document.part.rels.values():
        if rel.reltype in (RT.FOOTNOTES, RT.ENDNOTES) and not rel.is_external:
            part = rel.target_part
            element = getattr(part, "element", None)
            roots.append(element if element is not None else etree.fromstring(part.blob))
    return roots


class _Reader:
    """Walks WordprocessingML blocks and runs; knows the document's style names."""

    def __init__(self, styles: dict[str, str], part: Any, path: Path, notes: list[str]) -> None:
        self.styles = styles
        self.part = part  # the main document part: its relationships lead to embedded chunks
        self.path = path
        self.reading_notes = notes  # what was read only in part (an embedded part not read), for the Document
        self.toc_depth = 0  # fields open inside a TOC field that runs over paragraphs (0: not in one)

    # -- blocks -----------------------------------------------------------
    def blocks(self, parent: Any, in_cell: bool, kind: UnitKind | None = None) -> Iterator[TextUnit]:
        """Units of the block-level children of ``parent`` (body, cell, text box, content control, note)."""
        for child in parent:
            tag = child.tag
            if tag == f"{W}p":
                yield from self.paragraph(child, in_cell, kind)
            elif tag == f"{W}tbl":
                yield from self.table(child)
            elif tag in (f"{W}sdt", f"{W}customXml", f"{W}ins", f"{W}moveTo", f"{W}sdtContent"):
                yield from self.blocks(child, in_cell, kind)
            elif tag == f"{MC}AlternateContent":
                choice = child.find(f"{MC}Choice")
                if choice is not None:
                    yield from self.blocks(choice, in_cell, kind)
            elif tag == f"{W}altChunk":
                yield from self.alt_chunk(child)

    def alt_chunk(self, element: Any) -> Iterator[TextUnit]:
        """The units of an embedded chunk (``w:altChunk``), read by its content type."""
        import io

        from lxml import etree

        rel = self.part.rels.get(element.get(f"{R}id"))
        if rel is None or rel.is_external:
            note(
                self.reading_notes,
                log,
                "%s: an embedded part (w:altChunk) is missing from the file; its text is not read; "
                "open the file in Word and save it again",
                self.path,
            )
            return
        chunk = rel.target_part
        content_type = chunk.content_type.split(";")[0].strip().lower()
        if content_type in ("text/html", "application/xhtml+xml"):
            from samskaping.documents.html import units_from_html

            yield from units_from_html(chunk.blob)
        elif content_type == "text/plain":
            from samskaping.documents.text import decode_text, units_from_text

            text, _ = decode_text(chunk.blob)
            yield from units_from_text(text.replace("\r\n", "\n").replace("\r", "\n"))
        elif content_type.startswith(_WORD_XML) and content_type.endswith("main+xml"):
            body = etree.fromstring(chunk.blob).find(f"{W}body")
            if body is not None:
                yield from self.blocks(body, in_cell=False)
        elif content_type.startswith((_WORD_XML + "document", _WORD_XML + "template")):
            import docx

            check_package(chunk.blob, self.path, "an embedded Word document (w:altChunk): ")
            inner = docx.Document(io.BytesIO(chunk.blob))
            styles = {style.style_id: (style.name or "").lower() for style in inner.styles}
            yield from _Reader(styles, inner.part, self.path, self.reading_notes).blocks(
                inner.element.body, in_cell=False
            )
        else:
            note(
                self.reading_notes,
                log,
                "%s: an embedded part in %s (w:altChunk) is not read; open the file in Word and save it "
                "again as .docx, which merges it into the document",
                self.path,
                content_type,
            )

    def table(self, table: Any) -> Iterator[TextUnit]:
        """Every cell once, row by row (a horizontally merged cell is one ``w:tc``).

        A layout table (text set side by side) is read as text: its cells' paragraphs,
        headings and lists keep their kinds instead of becoming ``cell`` units.
        """
        layout = self._is_layout_table(table)
        for cell in table.iter(f"{W}tc"):
            if _ancestor_table(cell) is table:
                yield from self.blocks(cell, in_cell=not layout)

    def _is_layout_table(self, table: Any) -> bool:
        """One or two rows whose cells hold running text: several paragraphs, or a heading, in one cell."""
        rows = table.findall(f"{W}tr")
        if not rows or len(rows) > _LAYOUT_ROWS:
            return False
        for cell in (cell for row in rows for cell in row.findall(f"{W}tc")):
            paragraphs = [p for p in cell.findall(f"{W}p") if "".join(t.text or "" for t in p.iter(f"{W}t")).strip()]
            if len(paragraphs) >= 2 or any(self._is_heading(p, self._style(p)) for p in paragraphs):
                return True
        return False

    def notes(self, root: Any) -> Iterator[TextUnit]:
        """Footnotes or endnotes, without Word's separator notes."""
        for footnote in root:
            if footnote.get(f"{W}type") in FOOTNOTE_SEPARATORS:
                continue
            yield from self.blocks(footnote, in_cell=False, kind="footnote")

    # -- paragraphs -------------------------------------------------------
    def paragraph(self, p: Any, in_cell: bool, forced: UnitKind | None) -> Iterator[TextUnit]:
        if self._in_toc_field(p):
            return  # the entries of a table of contents, whatever their style
        style = self._style(p)
        boxes: list[Any] = []
        text = "".join(_inline_text(p, boxes))
        if not style.startswith("toc"):  # Word's table of contents
            lines = [line for line in text.split("\n") if not is_junk_line(normalise(line))]
            if lines:
                is_bullet, first = split_marker(normalise(lines[0], keep_line_break_hyphen=True))
                kind: UnitKind
                if forced is not None:
                    kind = forced
                elif in_cell:
                    kind = "cell"
                elif is_bullet or self._is_list(p, style):
                    kind = "bullet"
                elif self._is_heading(p, style):
                    kind = "heading"
                else:
                    kind = "paragraph"
                yield from units_from_lines(None, kind, [first, *lines[1:]])
        for box in boxes:
            yield from self.blocks(box, in_cell=False, kind=forced or _box_kind(box))

    def _in_toc_field(self, p: Any) -> bool:
        """Whether ``p`` lies in a TOC field (``w:fldChar`` begin … ``TOC \\o`` … end), which may span paragraphs."""
        was_in = self.toc_depth > 0
        for node in p.iter(f"{W}fldChar", f"{W}instrText"):
            if node.tag == f"{W}instrText":
                if self.toc_depth == 0 and (node.text or "").strip().upper().startswith("TOC"):
                    self.toc_depth = 1
            elif self.toc_depth:
                kind = node.get(f"{W}fldCharType")
                self.toc_depth += 1 if kind == "begin" else -1 if kind == "end" else 0
        return was_in or self.toc_depth > 0

    def _style(self, p: Any) -> str:
        node = p.find(f"{W}pPr/{W}pStyle")
        return self.styles.get(node.get(f"{W}val"), "") if node is not None else ""

    @staticmethod
    def _is_list(p: Any, style: str) -> bool:
        """Word list items: direct numbering, or a list style («List Bullet», «Listeavsnitt»)."""
        return p.find(f"{W}pPr/{W}numPr") is not None or "list" in style or "liste" in style

    @staticmethod
    def _is_heading(p: Any, style: str) -> bool:
        return (
            style.startswith(("heading", "overskrift", "title", "tittel"))
            or p.find(f"{W}pPr/{W}outlineLvl") is not None
        )


def _box_kind(box: Any) -> UnitKind | None:
    """ "factbox" for a text box whose first line is a «Fakta…» title, else None."""
    first = next((p for p in box.iter(f"{W}p") if "".join(t.text or "" for t in p.iter(f"{W}t")).strip()), None)
    if first is None:
        return None
    title = "".join(t.text or "" for t in first.iter(f"{W}t")).strip()
    return "factbox" if len(title.split()) <= 6 and title.lower().startswith("fakta") else None


def _ancestor_table(cell: Any) -> Any:
    node = cell.getparent()
    while node is not None and node.tag != f"{W}tbl":
        node = node.getparent()
    return node


def _inline_text(element: Any, boxes: list[Any], fields: list[str] | None = None) -> Iterator[str]:
    """The displayed text of a paragraph's inline content, in order.

    ``fields`` is the stack of open complex fields: ``"code"`` until their
    ``separate`` mark, ``"result"`` after it; text shows only when no open
    field is still in its code part. Text boxes met on the way are appended to
    ``boxes`` (read later as blocks) instead of being inlined.
    """
    fields = [] if fields is None else fields
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIPPED:
            continue  # comments and processing instructions have non-string tags
        if tag == f"{W}fldChar":
            kind = child.get(f"{W}fldCharType")
            if kind == "begin":
                fields.append("code")
            elif kind == "separate" and fields:
                fields[-1] = "result"
            elif kind == "end" and fields:
                fields.pop()
            continue
        showing = "code" not in fields
        if tag == f"{W}t":
            if showing:
                yield child.text or ""
        elif tag in (f"{W}tab", f"{W}ptab"):
            if showing:
                yield "\t"
        elif tag in (f"{W}br", f"{W}cr"):
            if showing:
                yield " " if child.get(f"{W}type") == "page" else "\n"
        elif tag == f"{W}noBreakHyphen":
            if showing:
                yield "-"
        elif tag == f"{W}softHyphen":
            if showing:
                yield "\u00ad"
        elif tag in _TRANSPARENT or tag == f"{W}sdt":
            yield from _inline_text(child, boxes, fields)
        elif tag == f"{MC}AlternateContent":
            choice = child.find(f"{MC}Choice")  # the Fallback repeats the same content as VML
            if choice is not None:
                yield from _inline_text(choice, boxes, fields)
        else:
            # drawings, VML shapes, embedded objects: only their text boxes carry text
            boxes.extend(node for node in child.iter(f"{W}txbxContent") if _outer_box(node, child))


def _outer_box(box: Any, root: Any) -> bool:
    """Whether ``box`` is not nested in another text box below ``root`` (nested ones are read with their parent)."""
    node = box.getparent()
    while node is not None and node is not root:
        if node.tag == f"{W}txbxContent":
            return False
        if node.tag == f"{MC}Fallback":
            return False
        node = node.getparent()
    return True
