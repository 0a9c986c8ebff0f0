"""The case catalogue as Markdown, for ``docs/conformance.md``.

``python -m conformance.catalogue`` rewrites the part between the doc's
markers; a test fails when it is stale.
"""

from __future__ import annotations

from pathlib import Path

from .cases import CATALOGUE, SECTIONS

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "conformance.md"
START, END = "<!-- cases:start -->\n", "<!-- cases:end -->\n"


def markdown() -> str:
    lines = ["Generated from `conformance/cases/` by `python -m conformance.catalogue`; do not edit by hand."]
    section = None
    for case in CATALOGUE:
        number = case.id.split(".")[0]
        if number != section:
            section = number
            lines += ["", f"### {number}. {SECTIONS[number]}", "",
                      "| case | level | what the emulator does | what the client should do | source |",
                      "|---|---|---|---|---|"]
        cells = [f"**{case.id}** {case.title}", case.level, case.emulator, case.expected, case.source]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def section_of(text: str) -> str:
    """The generated part of the doc, between the markers."""
    return text.split(START, 1)[1].split(END, 1)[0]


def rewrite(path: Path = DOC_PATH) -> None:
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(head + START + markdown() + END + tail, encoding="utf-8")


if __name__ == "__main__":
    rewrite()
