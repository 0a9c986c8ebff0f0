"""The catalog as a table: what ``dashscope-mock models`` prints and the README shows.

A fact the entry marks ``decision`` gets a ``*``: it is our choice, not confirmed; one
marked ``code`` gets a ``†``: read second-hand, in a public client quoting Alibaba's page.
``python -m mockserver.catalog.table`` rewrites the table between the README's markers.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .loader import Catalog, default_catalog
from .schema import ModelEntry

README_PATH = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- models:start -->\n", "<!-- models:end -->\n"
HEADER = ("model", "route", "mode", "submit/s", "concurrent", "CNY/image", "free", "output")


def _mark(text: str, source: str) -> str:
    if source.startswith("decision"):
        return f"{text}*"
    return f"{text}†" if source.startswith("code") else text


def row(entry: ModelEntry) -> tuple[str, ...]:
    price = "-" if entry.billing.unit_price_cny is None else f"{entry.billing.unit_price_cny:.2f}"
    shape = {"results": "results[]." + "/".join(entry.output.url_keys), "fields": ", ".join(entry.output.url_fields),
             "choices": "choices[].message.content[].image", "lists": ", ".join(entry.output.lists),
             "checks": ", ".join(f"{key}[]" for key in (entry.output.checks.passed if entry.output.checks else ())),
             "call": "choices[].message.content[].image, " + ("finished" if entry.output.usage_tokens else "task_metric"),
             "video": _video(entry)}[entry.output.shape]
    if entry.output.text_results is not None:
        shape += f" (+text_results with {entry.output.text_results.when})"
    return (
        entry.name,
        entry.route.path,
        entry.mode,
        _mark(str(entry.limits.submit_per_second), entry.limits.source),
        _mark(str(entry.limits.concurrency), entry.limits.source),
        _mark(price, entry.billing.source),
        str(entry.billing.free_quota),
        _mark(shape, entry.output.source),
    )


def _video(entry: ModelEntry) -> str:
    video = entry.output.video
    return "results.video_url (MP4)" if video is not None and video.layout == "results" else "video_url (MP4)"


def _served(catalog: Catalog) -> list[ModelEntry]:
    """Every model on every route it answers (wan2.6 and qwen-image twice: their task and their call)."""
    return sorted(catalog.served(), key=lambda entry: (entry.name, entry.mode))


def markdown(catalog: Catalog | None = None) -> str:
    catalog = catalog or default_catalog()
    rows = [row(entry) for entry in _served(catalog)]
    lines = [
        "Generated from `contracts/models/` by `python -m mockserver.catalog.table`; do not edit by hand.",
        "A `*` marks a fact that is our decision, not confirmed by Alibaba's documentation or a capture;",
        "a `†` one read second-hand, in a public client that quotes Alibaba's page;",
        "each entry lists its sources, and `dashscope-mock models NAME` shows the whole entry.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines) + "\n"


def plain(catalog: Catalog | None = None) -> str:
    """The same table, aligned for a terminal."""
    catalog = catalog or default_catalog()
    rows = [HEADER] + [row(entry) for entry in _served(catalog)]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip() for cells in rows) + "\n"


def entry_yaml(entry: ModelEntry) -> str:
    """One entry in full, defaults included, as YAML."""
    return yaml.safe_dump(entry.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def readme_table(readme: str) -> str:
    """The table as the README holds it now, between its markers."""
    return readme.split(START, 1)[1].split(END, 1)[0]


def with_table(readme: str, table: str) -> str:
    """The README with ``table`` put between its markers."""
    head, rest = readme.split(START, 1)
    return head + START + table + END + rest.split(END, 1)[1]


if __name__ == "__main__":
    README_PATH.write_text(with_table(README_PATH.read_text(encoding="utf-8"), markdown()), encoding="utf-8")
    print(f"wrote the model table into {README_PATH}")
