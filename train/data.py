"""Read, validate, build and summarise the labeled JSONL files."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from train.errors import DataError
from train.files import atomic_write
from train.labels import LabelSet


@dataclass(frozen=True)
class Record:
    """One paragraph; `labels` is None while it is unlabeled."""

    id: str
    text: str
    labels: tuple[str, ...] | None
    source: str = "seed"
    script: str | None = None

    @property
    def group(self) -> str:
        """The article or authored batch this paragraph came from."""
        return self.id.rsplit(":", 1)[0]

    @property
    def article(self) -> str | None:
        return article_of(self.id, self.source)

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "labels": None if self.labels is None else list(self.labels),
        }
        if self.source != "seed":
            row["source"] = self.source
        if self.script is not None:
            row["script"] = self.script
        return row


def article_of(record_id: str | None, source: str = "seed") -> str | None:
    """The article a paragraph was read in, by the ids' convention `<article>:<paragraph>`.

    Authored paragraphs (written one by one) and ids without a colon stand alone.
    """
    if record_id is None or source == "authored" or ":" not in record_id:
        return None
    return record_id.rsplit(":", 1)[0] or None


@dataclass(frozen=True)
class Problem:
    """A validation finding, printed as `file:line: message`."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class DataFile:
    """Fingerprint of an input file, recorded with every model and run."""

    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Dataset:
    records: tuple[Record, ...]
    files: tuple[DataFile, ...]
    labels: tuple[str, ...]  # the label set the records were checked against, in output order

    @property
    def labeled(self) -> list[Record]:
        return [r for r in self.records if r.labels is not None]

    @property
    def n_unlabeled(self) -> int:
        return sum(r.labels is None for r in self.records)

    @property
    def sha256(self) -> str:
        """One digest over all input files, in order."""
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f"{f.path}\0{f.sha256}\n".encode())
        return digest.hexdigest()


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given, directories as the `*.jsonl` files directly inside them."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise DataError(f"{path}: directory holds no .jsonl files")
            files.extend(found)
        elif not path.exists():
            raise DataError(f"{path}: no such file")
        else:
            files.append(path)
    return files


def decode_lines(handle: Iterable[bytes], name: str) -> Iterator[tuple[int, str]]:
    """Numbered UTF-8 lines of a byte stream; a BOM and CRLF endings are accepted."""
    for number, raw in enumerate(handle, 1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{name}:{number}: not UTF-8 text ({exc.reason})") from None
        yield number, line.rstrip("\r\n")


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Numbered lines of a UTF-8 text file."""
    try:
        with path.open("rb") as handle:
            yield from decode_lines(handle, str(path))
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None


def _parse(path: Path, number: int, line: str, labels_known: Sequence[str]) -> Record | Problem:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return Problem(path, number, f"invalid JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(raw, dict):
        return Problem(path, number, "expected a JSON object")
    rid, text, labels = raw.get("id"), raw.get("text"), raw.get("labels", None)
    if not isinstance(rid, str) or not rid:
        return Problem(path, number, "missing or empty 'id'")
    if not isinstance(text, str) or not text.strip():
        return Problem(path, number, f"record {rid!r} has empty 'text'")
    if labels is not None:
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            return Problem(path, number, f"record {rid!r}: 'labels' must be a list of label ids")
        unknown = sorted(set(labels) - set(labels_known))
        if unknown:
            known = ", ".join(labels_known)
            return Problem(path, number, f"record {rid!r}: unknown label {unknown[0]!r} (known: {known})")
        if len(set(labels)) != len(labels):
            return Problem(path, number, f"record {rid!r}: a label is repeated")
        labels = tuple(sorted(labels, key=list(labels_known).index))
    return Record(
        id=rid,
        text=text,
        labels=labels,
        source=str(raw.get("source", "seed")),
        script=raw.get("script"),
    )


def scan(paths: Sequence[Path], labels: Sequence[str]) -> tuple[list[Record], list[Problem]]:
    """Every record and every problem found in the given files, label names checked against `labels`."""
    records: list[Record] = []
    problems: list[Problem] = []
    first_seen: dict[str, tuple[Path, int]] = {}
    for path in expand_paths(paths):
        count = 0
        for number, line in read_lines(path):
            if not line.strip():
                continue
            count += 1
            parsed = _parse(path, number, line, labels)
            if isinstance(parsed, Problem):
                problems.append(parsed)
                continue
            if parsed.id in first_seen:
                where = "{}:{}".format(*first_seen[parsed.id])
                problems.append(Problem(path, number, f"duplicate id {parsed.id!r} (first at {where})"))
                continue
            first_seen[parsed.id] = (path, number)
            records.append(parsed)
        if count == 0:
            problems.append(Problem(path, 1, "file holds no records"))
    return records, problems


def file_digest(path: Path) -> DataFile:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return DataFile(path=str(path), sha256=digest, size=path.stat().st_size)


def load_dataset(paths: Sequence[Path], labels: Sequence[str]) -> Dataset:
    """Read labeled files; any problem is a DataError naming the first one."""
    records, problems = scan(paths, labels)
    if problems:
        more = f" (and {len(problems) - 1} more; see `train data check`)" if len(problems) > 1 else ""
        raise DataError(f"{problems[0]}{more}")
    files = tuple(file_digest(p) for p in expand_paths(paths))
    return Dataset(records=tuple(records), files=files, labels=tuple(labels))


def label_matrix(records: Sequence[Record], labels: Sequence[str]) -> list[list[int]]:
    """Binary indicator rows, one column per label in the order of `labels`."""
    return [[int(label in (r.labels or ())) for label in labels] for r in records]


def too_few_examples(records: Sequence[Record], labels: Sequence[str], folds: int) -> dict[str, str]:
    """label → why stratified `folds`-fold CV cannot evaluate it: fewer labeled examples than folds."""
    counts = Counter(label for r in records for label in r.labels or ())
    return {
        label: f"label {label!r} has {counts[label]} labeled examples, fewer than --folds {folds}; "
        "label more paragraphs or lower --folds"
        for label in labels
        if counts[label] < folds
    }


def label_problems(records: Sequence[Record], label_set: LabelSet, labels_file: Path, folds: int) -> list[Problem]:
    """`too_few_examples`, each reported at its label's table in the labels file."""
    few = too_few_examples(records, label_set.names, folds)
    return [Problem(labels_file, label.line, few[label.name]) for label in label_set.labels if label.name in few]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file as they are, to rewrite it keeping every field."""
    rows: list[dict[str, Any]] = []
    for number, line in read_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: invalid JSON ({exc.msg} at column {exc.colno}); fix it first") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object; fix it first")
        rows.append(row)
    return rows


def relabel(paths: Sequence[Path], decisions: Mapping[str, Sequence[str] | None]) -> list[Path]:
    """Set the labels of records by id, in the files that hold them; return the files rewritten.

    Every id must exist before anything is written; each file is then replaced atomically,
    keeping its other records, fields and line order as they were.
    """
    files = expand_paths(paths)
    rows_by_file: dict[Path, list[dict[str, Any]]] = {}
    found: set[str] = set()
    for path in files:
        rows = read_rows(path)
        if any(row.get("id") in decisions for row in rows):
            rows_by_file[path] = rows
            found.update(row["id"] for row in rows if row.get("id") in decisions)
    missing = [rid for rid in decisions if rid not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataError(f"no record with id {missing[0]!r} in {', '.join(map(str, files))}{more}")
    for path, rows in rows_by_file.items():
        for row in rows:
            if row.get("id") in decisions:
                labels = decisions[row["id"]]
                row["labels"] = None if labels is None else list(labels)
        write_jsonl(path, rows)
    return list(rows_by_file)


# --- building records from the seed articles ---------------------------------------


@dataclass
class BuildReport:
    records: list[Record]
    kept: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    orphans: list[Record] = field(default_factory=list)


def seed_paragraphs(seeds_dir: Path) -> list[tuple[str, str]]:
    """(id, text) for every non-empty line of every `.txt` article."""
    articles = sorted(seeds_dir.glob("*.txt"))
    if not articles:
        raise DataError(f"{seeds_dir}: no .txt articles found")
    return [
        (f"{article.stem}:{number}", line.strip())
        for article in articles
        for number, line in read_lines(article)
        if line.strip()
    ]


def build(seeds_dir: Path, labeled_path: Path, labels: Sequence[str]) -> BuildReport:
    """Recreate seed records, keeping labels by id; changed or vanished ids become orphans."""
    existing: dict[str, Record] = {}
    if labeled_path.exists():
        records, problems = scan([labeled_path], labels)
        if problems:
            raise DataError(f"{problems[0]} (fix it before rebuilding)")
        existing = {r.id: r for r in records}
    report = BuildReport(records=[])
    seen: set[str] = set()
    for rid, text in seed_paragraphs(seeds_dir):
        seen.add(rid)
        old = existing.get(rid)
        if old is not None and old.text == text:
            report.records.append(old)
            report.kept += 1
            continue
        if old is None:
            report.added.append(rid)
        else:
            report.changed.append(rid)
            report.orphans.append(old)
        report.records.append(Record(id=rid, text=text, labels=None))
    report.orphans.extend(r for rid, r in existing.items() if rid not in seen)
    return report


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write JSON Lines atomically."""
    atomic_write(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode())


# --- statistics ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    total: int
    unlabeled: int
    no_label: int
    multi_label: int
    per_label: dict[str, int]
    pairs: dict[tuple[str, str], int]
    by_source: dict[str, int]
    by_script: dict[str, int]
    label_by_source: dict[str, dict[str, int]]


def stats(records: Sequence[Record], labels: Sequence[str]) -> Stats:
    labeled = [r for r in records if r.labels is not None]
    per_label = Counter(label for r in labeled for label in r.labels or ())
    pairs = Counter(pair for r in labeled for pair in combinations(r.labels or (), 2))
    label_by_source: dict[str, Counter[str]] = {}
    for r in labeled:
        counts = label_by_source.setdefault(r.source, Counter())
        counts.update(r.labels or ("(none)",))
    return Stats(
        total=len(records),
        unlabeled=len(records) - len(labeled),
        no_label=sum(not r.labels for r in labeled),
        multi_label=sum(len(r.labels or ()) > 1 for r in labeled),
        per_label={label: per_label[label] for label in labels},
        pairs={pair: pairs[pair] for pair in combinations(labels, 2)},
        by_source=dict(Counter(r.source for r in records)),
        by_script=dict(Counter(r.script or "unknown" for r in records)),
        label_by_source={source: dict(c) for source, c in label_by_source.items()},
    )


def near_duplicates(records: Sequence[Record], threshold: float = 0.9) -> list[tuple[str, str, float]]:
    """Pairs of records whose character 3-gram TF-IDF cosine similarity is at least `threshold`."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(records) < 2:
        return []
    vectors = TfidfVectorizer(analyzer="char", ngram_range=(3, 3)).fit_transform(r.text for r in records)
    similarity = (vectors @ vectors.T).tocoo()
    return sorted(
        (records[i].id, records[j].id, float(s))
        for i, j, s in zip(similarity.row, similarity.col, similarity.data, strict=True)
        if i < j and s >= threshold
    )


def shared_runs(
    records: Sequence[Record], seed_lines: Sequence[tuple[str, str]], run: int = 15
) -> list[tuple[str, str, str]]:
    """(record id, other id, shared text) where a non-seed record repeats `run` characters of another text.

    Our own paragraphs must be our own words: a long identical run means copied text.
    Articles added with `train data add` are outlets' text, as the seeds are: others must not
    copy them, but they are not held to our own words themselves.
    """
    owners: dict[str, set[str]] = {}
    texts = [(r.id, r.text) for r in records if r.source != "seed"]
    for owner, text in [*seed_lines, *texts]:
        for i in range(len(text) - run + 1):
            owners.setdefault(text[i : i + run], set()).add(owner)
    found: dict[tuple[str, str], str] = {}
    for rid, text in ((r.id, r.text) for r in records if r.source not in ("seed", "added")):
        for i in range(len(text) - run + 1):
            piece = text[i : i + run]
            for other in owners[piece] - {rid}:
                found.setdefault((rid, other), piece)
    return [(rid, other, piece) for (rid, other), piece in sorted(found.items())]


def orphan_path(labeled_path: Path) -> Path:
    return labeled_path.with_name(labeled_path.stem + ".orphans.jsonl")


def write_build(report: BuildReport, labeled_path: Path, labels: Sequence[str]) -> Path | None:
    """Write the rebuilt records; append orphans to their own file first, so no label is ever lost."""
    orphans = None
    if report.orphans:
        orphans = orphan_path(labeled_path)
        kept = scan([orphans], labels)[0] if orphans.exists() else []
        write_jsonl(orphans, [r.to_json() for r in [*kept, *report.orphans]])
    write_jsonl(labeled_path, (r.to_json() for r in report.records))
    return orphans
