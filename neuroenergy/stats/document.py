"""A neutral document (sections of paragraphs, lists, tables and figures) and its one renderer.

The study report is built once as a :class:`Document`; :func:`render` turns it
into the plain text that ``stats`` prints (``fmt="text"``) or into the
markdown of ``report.md`` (``fmt="markdown"``). A section builder never
formats for one output: it says *what* to show, the renderer says *how*.

Rules of the two formats:

* text: the title underlined with ``=``; the preamble unindented; each section
  after a blank line as ``N. title`` (numbered sections count in order), its
  blocks indented by two spaces; tables as aligned columns (numbers right
  aligned) or, for ``layout="records"``, one record per row with ``header:
  value`` lines; figures are left out (a terminal cannot show them); ``λ`` is
  written ``lambda`` (terminals and logs of any encoding).
* markdown: ``# title``, sections as ``## N. title``, subheadings ``###``,
  every block followed by a blank line; tables as pipe tables (``|`` in a cell
  escaped); figures as ``![alt](path)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence, Union

__all__ = ["Paragraph", "Bullets", "Subheading", "Table", "Figure", "Block", "Section", "Document", "table", "render"]


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of running text (one line in the text output)."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list, one item per entry."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Subheading:
    """A heading inside a section."""

    text: str


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells; ``caption`` (optional) is shown above it.

    ``layout="records"`` suits tables of long cells: the text output shows each
    row as its first cell followed by one ``header: cell`` line per other
    column; markdown shows a pipe table either way.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    layout: Literal["columns", "records"] = "columns"


@dataclass(frozen=True)
class Figure:
    """An image file beside the report, by its path relative to the report; ``alt`` describes it."""

    path: str
    alt: str


Block = Union[Paragraph, Bullets, Subheading, Table, Figure]


@dataclass(frozen=True)
class Section:
    """A titled part of a document; ``numbered`` sections are numbered 1, 2, ... in order."""

    title: str
    blocks: tuple[Block, ...]
    numbered: bool = True


@dataclass(frozen=True)
class Document:
    """A title, blocks shown before the first section, and the sections."""

    title: str
    preamble: tuple[Block, ...]
    sections: tuple[Section, ...]


def table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "",
          layout: Literal["columns", "records"] = "columns") -> Table:
    """A :class:`Table` from any sequences (lists are frozen into tuples)."""
    return Table(tuple(header), tuple(tuple(row) for row in rows), caption, layout)


def render(document: Document, fmt: Literal["text", "markdown"]) -> str:
    """``document`` as plain text (``"text"``) or markdown (``"markdown"``), ending in a newline."""
    if fmt == "text":
        return _render_text(document)
    if fmt == "markdown":
        return _render_markdown(document)
    raise ValueError(f"fmt must be 'text' or 'markdown', not {fmt!r}")


def _headings(document: Document) -> list[str]:
    headings, number = [], 0
    for section in document.sections:
        if section.numbered:
            number += 1
            headings.append(f"{number}. {section.title}")
        else:
            headings.append(section.title)
    return headings


# ----------------------------------------------------------------------------- text

def _render_text(document: Document) -> str:
    out = [document.title, "=" * len(document.title)]
    for block in document.preamble:
        out += _text_block(block, "")
    for heading, section in zip(_headings(document), document.sections):
        out += ["", heading]
        for block in section.blocks:
            out += _text_block(block, "  ")
    # Plain ASCII for lambda: the text goes to terminals and logs of any encoding.
    return ("\n".join(out) + "\n").replace("λ", "lambda")


def _text_block(block: Block, indent: str) -> list[str]:
    if isinstance(block, Paragraph):
        return [indent + block.text]
    if isinstance(block, Bullets):
        return [f"{indent}- {item}" for item in block.items]
    if isinstance(block, Subheading):
        return ["", indent + block.text]
    if isinstance(block, Table):
        lines = [indent + block.caption] if block.caption else []
        if block.layout == "records":
            width = max(len(h) for h in block.header[1:]) if len(block.header) > 1 else 0
            for row in block.rows:
                lines.append(indent + row[0])
                lines += [f"{indent}  {(h + ':').ljust(width + 1)} {cell}"
                          for h, cell in zip(block.header[1:], row[1:])]
            return lines
        return lines + _text_table(block.header, block.rows, indent)
    if isinstance(block, Figure):
        return []
    raise TypeError(f"not a document block: {block!r}")


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    numeric = [all(_looks_numeric(r[i]) for r in rows if r[i]) and bool(rows) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return indent + "  ".join(c.rjust(w) if num else c.ljust(w)
                                  for c, w, num in zip(cells, widths, numeric)).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def _looks_numeric(text: str) -> bool:
    return text[:1].isdigit() or text[:1] in "+-<[." and text[1:2].isdigit() or text[:2] in ("-0", "+0")


# ----------------------------------------------------------------------------- markdown

def _render_markdown(document: Document) -> str:
    out = [f"# {document.title}", ""]
    for block in document.preamble:
        out += _markdown_block(block) + [""]
    for heading, section in zip(_headings(document), document.sections):
        out += [f"## {heading}", ""]
        for block in section.blocks:
            out += _markdown_block(block) + [""]
    return "\n".join(out)


def _markdown_block(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text]
    if isinstance(block, Bullets):
        return [f"- {item}" for item in block.items]
    if isinstance(block, Subheading):
        return [f"### {block.text}"]
    if isinstance(block, Table):
        return ([block.caption, ""] if block.caption else []) + _md_table(block.header, block.rows)
    if isinstance(block, Figure):
        return [f"![{block.alt}]({block.path})"]
    raise TypeError(f"not a document block: {block!r}")


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return out + ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
