"""neuroenergy.stats.document: one hand-built document rendered as text and as markdown, exactly."""

from __future__ import annotations

import pytest

from neuroenergy.stats.document import Bullets, Document, Figure, Paragraph, Section, Subheading, render, table


def _document() -> Document:
    return Document(
        title="Title",
        preamble=(Bullets(("cube: 4 cells", "cost table: 45nm-fp32")),),
        sections=(
            Section("Summary", (table(["finding", "paper", "ours"], [["1a. effect", "0.001", "0.5 | big"]],
                                      layout="records"),), numbered=False),
            Section("First", (Paragraph("At λ = 0."),
                              Figure("a.png", "A figure"),
                              table(["name", "value"], [["x", "1.5"], ["long name", "-0.25"]], caption="Values:"),
                              Subheading("Sub"),
                              Paragraph("After."))),
            Section("Second", (Bullets(("one", "two")),)),
        ),
    )


def test_text_rendering_is_exact():
    assert render(_document(), "text") == (
        "Title\n"
        "=====\n"
        "- cube: 4 cells\n"
        "- cost table: 45nm-fp32\n"
        "\n"
        "Summary\n"
        "  1a. effect\n"
        "    paper: 0.001\n"
        "    ours:  0.5 | big\n"
        "\n"
        "1. First\n"
        "  At lambda = 0.\n"
        "  Values:\n"
        "  name       value\n"
        "  ---------  -----\n"
        "  x            1.5\n"
        "  long name  -0.25\n"
        "\n"
        "  Sub\n"
        "  After.\n"
        "\n"
        "2. Second\n"
        "  - one\n"
        "  - two\n")


def test_markdown_rendering_is_exact():
    assert render(_document(), "markdown") == (
        "# Title\n"
        "\n"
        "- cube: 4 cells\n"
        "- cost table: 45nm-fp32\n"
        "\n"
        "## Summary\n"
        "\n"
        "| finding | paper | ours |\n"
        "|---|---|---|\n"
        "| 1a. effect | 0.001 | 0.5 \\| big |\n"
        "\n"
        "## 1. First\n"
        "\n"
        "At λ = 0.\n"
        "\n"
        "![A figure](a.png)\n"
        "\n"
        "Values:\n"
        "\n"
        "| name | value |\n"
        "|---|---|\n"
        "| x | 1.5 |\n"
        "| long name | -0.25 |\n"
        "\n"
        "### Sub\n"
        "\n"
        "After.\n"
        "\n"
        "## 2. Second\n"
        "\n"
        "- one\n"
        "- two\n")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="fmt must be"):
        render(_document(), "html")
