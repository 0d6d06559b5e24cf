"""docs/compared.md quotes bench/RESULTS.md: the run's date and commit, and every measured number.

A new benchmark run changes RESULTS.md; this test then names the figures to copy into the page.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "compared.md"
RESULTS = ROOT / "bench" / "RESULTS.md"
#: The page's columns -> the system's rows in RESULTS.md.
SYSTEMS = {
    "DBJobQ": "dbjobq/postgresql",
    "pgqueuer": "pgqueuer/postgresql",
    "procrastinate": "procrastinate/postgresql",
}
#: The page's row label (its start) -> (the RESULTS.md section heading's start, the figure's column after the system).
ROWS = {
    "W1:": ("## W1 ", 0),
    "W2:": ("## W2 ", 0),
    "W3:": ("## W3 ", 0),
    "W4: enqueue-to-start latency, p50": ("## W4 enqueue-to-start", 0),
    "W4: enqueue-to-start latency, p99": ("## W4 enqueue-to-start", 2),
    "W6:": ("## W6 ", 1),
}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _page_table() -> list[list[str]]:
    text = PAGE.read_text(encoding="utf-8")
    section = text[text.index("<!-- measured:start") : text.index("<!-- measured:end -->")]
    return [_cells(line) for line in section.splitlines() if line.startswith("|") and not line.startswith("|---")]


def _results_figure(heading: str, system: str, column: int) -> str:
    text = RESULTS.read_text(encoding="utf-8")
    start = text.index("\n" + heading) + 1
    section = text[start : text.find("\n## ", start)]
    # A row measured in another run than its section's carries "(run of DATE)" after the system.
    [row] = [cells for cells in map(_cells, section.splitlines()) if re.sub(r" \(.*\)$", "", cells[0]) == system]
    return row[1 + column].split(" (")[0]


def test_compared_page_cites_the_benchmark_runs() -> None:
    runs = re.findall(r"^\| (\d{4}-\d\d-\d\d \d\d:\d\d UTC) \|", RESULTS.read_text(encoding="utf-8"), re.M)
    page = " ".join(PAGE.read_text(encoding="utf-8").split())
    cited = re.findall(r"measured on (\d{4}-\d\d-\d\d)", page)
    assert cited, "the page must say when its numbers were measured"
    assert all(any(run.startswith(day) for run in runs) for day in cited), f"bench/RESULTS.md holds runs {runs}"


def test_compared_page_numbers_are_those_of_bench_results() -> None:
    header, *rows = _page_table()
    columns = [next(system for name, system in SYSTEMS.items() if cell.startswith(name)) for cell in header[1:]]
    assert len(rows) == len(ROWS)
    wrong = []
    for label, *figures in rows:
        [(heading, column)] = [spec for start, spec in ROWS.items() if label.startswith(start)]
        for system, figure in zip(columns, figures, strict=True):
            expected = _results_figure(heading, system, column)
            if figure != expected:
                wrong.append(f"{label} / {system}: page {figure}, bench/RESULTS.md {expected}")
    assert wrong == []
