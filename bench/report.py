"""The benchmark's one table and its JSON twin."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """One figure and its ratio to a reference measured in the same run (None = n/a)."""

    name: str
    value: float | None
    unit: str
    ratio: float | None
    reference: str
    note: str = ""


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return value / reference


def format_number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def table(groups: Mapping[str, list[Row]]) -> str:
    """Plain-text table, numbers right-aligned, a title line per group; notes follow their row."""
    header = ("measurement", "value", "unit", "ratio", "reference")
    rows = [row for group in groups.values() for row in group]
    cells = {id(r): (r.name, format_number(r.value), r.unit, format_ratio(r.ratio), r.reference) for r in rows}
    widths = [max(len(line[i]) for line in [header, *cells.values()]) for i in range(len(header))]
    right = {1, 3}

    def line(values: tuple[str, ...]) -> str:
        parts = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))]
        return "  ".join(parts).rstrip()

    out = [line(header), line(tuple("-" * w for w in widths))]
    for title, group in groups.items():
        if not group:
            continue
        out.append(f"[{title}]")
        for row in group:
            out.append(line(cells[id(row)]))
            if row.note:
                out.append(f"    ({row.note})")
    return "\n".join(out)


def write_json(path: Path, header: dict[str, Any], groups: Mapping[str, list[Row]], details: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"group": title, **asdict(row)} for title, group in groups.items() for row in group]
    payload = {**header, "rows": rows, "details": details}
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
