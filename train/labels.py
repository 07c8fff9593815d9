"""The label set, read from `data/labels.toml`: topics are data, not code."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from train.errors import DataError

LABELS_PATH = Path("data/labels.toml")

# Label names become column names in CSV, Spark structs and MLflow metric keys.
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TABLE = re.compile(r"^\s*\[\[\s*label\s*\]\]")


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    line: int = 0  # where its table starts in the labels file, for `file:line:` messages


@dataclass(frozen=True)
class LabelSet:
    """The topics a dataset is labeled with, in the order every output uses."""

    labels: tuple[Label, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def in_order(self, chosen: Iterable[str]) -> tuple[str, ...]:
        """`chosen` in the label set's order, as every file and output writes labels."""
        wanted = set(chosen)
        return tuple(name for name in self.names if name in wanted)

    def description(self, name: str) -> str:
        return next(label.description for label in self.labels if label.name == name)

    @classmethod
    def from_names(cls, names: tuple[str, ...]) -> LabelSet:
        """A label set known only by its names, as a model carries it."""
        return cls(tuple(Label(name, "") for name in names))


def load_labels(path: Path = LABELS_PATH) -> LabelSet:
    """Read and validate the label set; any problem is a DataError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (the label set: one [[label]] table per topic)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML: {exc}") from None
    tables = raw.get("label")
    if not isinstance(tables, list) or not tables:
        raise DataError(f"{path}: no [[label]] tables; each topic is a [[label]] with a name and a description")
    # tomllib gives no positions; a [[label]] header line is where each table starts.
    starts = [n for n, line in enumerate(text.splitlines(), 1) if _TABLE.match(line)]
    labels: list[Label] = []
    for number, table in enumerate(tables, 1):
        line = starts[number - 1] if len(starts) == len(tables) else 0
        where = f"{path}:{line}: label {number}" if line else f"{path}: label {number}"
        name, description = table.get("name"), table.get("description")
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"{where}: missing or empty 'name'")
        if not _NAME.match(name):
            raise DataError(f"{where}: name {name!r} must be lowercase letters, digits and _ (a column name)")
        if name in (label.name for label in labels):
            raise DataError(f"{where}: duplicate name {name!r}")
        if not isinstance(description, str) or not description.strip():
            raise DataError(f"{where} ({name}): missing or empty 'description'")
        unknown = set(table) - {"name", "description"}
        if unknown:
            raise DataError(f"{where} ({name}): unknown keys {sorted(unknown)}")
        labels.append(Label(name, description.strip(), line))
    return LabelSet(tuple(labels))
