"""`train data add`: articles as unlabeled paragraph records in `data/added/`.

What a paragraph is, per input format:

- `.txt`: each non-empty line, as in `seeds/`. A file is read as hard-wrapped instead, each
  blank-line-separated block one paragraph with its lines joined, when it has two blocks or more
  and more than half of them span several lines. Pages pasted into a file put blank lines
  between one-line paragraphs and leave the odd block of several lines (a menu, a byline);
  those lines stay paragraphs of their own.
- `.md`: the text of headings, paragraphs and list items (markdown-it-py); code, tables, images,
  link URLs and HTML tags are dropped, link text is kept.
- `.html`/`.htm`: the main text as trafilatura finds it (headings, paragraphs, list items,
  quotes), without navigation, boilerplate, code or tables. Nothing is fetched.
- `.jsonl`: one `{"id": ..., "text": ...}` object per line, one paragraph each; other keys are ignored.

Every input file is one article, named `<stem-slug>-<hash8>`: the file name made safe for an id,
and the first 8 hex digits of the SHA-256 of its normalised text (`duplicate_key` of each
paragraph, a line each). Its paragraphs get ids `<name>:<n>`, n counting from 1 in the article,
and go to `<out>/<name>.jsonl`. A `.jsonl` file keeps its own ids when none of the ones it adds
is already taken (in the data or earlier in the batch); otherwise all its ids become
`<name>:<id>`, so one file's records never mix the two forms.

A paragraph whose `duplicate_key` equals that of a record already in the data, or of one earlier
in the batch, is skipped and counted; its number is not reused, so ids stay stable.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from train.data import Record, decode_lines, read_lines, read_rows, write_jsonl
from train.errors import DataError
from train.tokens import normalize

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from markdown_it.token import Token

SOURCE = "added"
SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")


@dataclass(frozen=True)
class Article:
    """One input file read into paragraphs; `ids` are a `.jsonl` file's own, else None."""

    path: Path
    name: str
    paragraphs: tuple[str, ...]
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AddResult:
    inputs: int
    added: int
    duplicates: int
    written: tuple[Path, ...]


def duplicate_key(text: str) -> str:
    """The text as the model reads it (`tokens.normalize`: NFKC, case, traditional → simplified), spaces folded."""
    return " ".join(normalize(text).split())


def add_articles(paths: Sequence[Path], out_dir: Path, data: Sequence[Path]) -> AddResult:
    """Add the paragraphs of `paths` not already in `data` (or `out_dir`) as one file per article.

    Every input is read and every id checked before the first file is written.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir}: is a file, expected a folder for the added articles")
    articles = [read_article(path) for path in paths]
    planned, duplicates = plan(articles, known_records([*data, out_dir]))
    writes: list[tuple[Path, list[dict[str, Any]]]] = []
    for name, records in planned.items():
        target = out_dir / f"{name}.jsonl"
        # Kept as they are (labels included) if the user trimmed the file and now adds the article again.
        rows = read_rows(target) if target.exists() else []
        writes.append((target, [*rows, *(r.to_json() for r in records)]))
    for target, rows in writes:
        write_jsonl(target, rows)
    return AddResult(
        inputs=len(paths),
        added=sum(len(records) for records in planned.values()),
        duplicates=duplicates,
        written=tuple(target for target, _ in writes),
    )


def plan(articles: Sequence[Article], known: Iterable[tuple[str, str]]) -> tuple[dict[str, list[Record]], int]:
    """The new records of each article by its name, and how many paragraphs were duplicates."""
    seen: set[str] = set()
    taken: set[str] = set()
    for rid, text in known:
        seen.add(duplicate_key(text))
        taken.add(rid)
    planned: dict[str, list[Record]] = {}
    duplicates = 0
    for article in articles:
        kept: list[tuple[int, str]] = []
        for number, text in enumerate(article.paragraphs, 1):
            key = duplicate_key(text)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            kept.append((number, text))
        ids = _ids(article, [number for number, _ in kept], taken)
        taken.update(ids)
        if kept:
            records = planned.setdefault(article.name, [])
            records += [
                Record(id=rid, text=text, labels=None, source=SOURCE) for rid, (_, text) in zip(ids, kept, strict=True)
            ]
    return planned, duplicates


def _ids(article: Article, numbers: Sequence[int], taken: set[str]) -> list[str]:
    if article.ids is None:
        ids = [f"{article.name}:{number}" for number in numbers]
    else:
        own = [article.ids[number - 1] for number in numbers]
        ids = own if taken.isdisjoint(own) else [f"{article.name}:{rid}" for rid in own]
    clash = next((rid for rid in ids if rid in taken), None)
    if clash is not None:
        raise DataError(f"{article.path}: id {clash!r} is already in the data with another text; rename that record")
    return ids


def known_records(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """(id, text) of every readable record in the data files and folders that exist.

    Lenient on purpose: a bad line is `train data check`'s to report, and it needs the label set.
    """
    found: list[tuple[str, str]] = []
    for path in dict.fromkeys(paths):
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            for _, line in read_lines(file):
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(raw, dict) and isinstance(raw.get("text"), str):
                    found.append((str(raw.get("id")), raw["text"]))
    return found


# --- reading one input --------------------------------------------------------------


def read_article(path: Path) -> Article:
    """The paragraphs of one input file; any problem is a DataError naming the file (and line)."""
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected {', '.join(SUFFIXES)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    if b"\0" in data:
        raise DataError(f"{path}: binary file, expected UTF-8 text")
    lines = list(decode_lines(io.BytesIO(data), str(path)))
    if not any(line.strip() for _, line in lines):
        raise DataError(f"{path}: empty file")
    ids: tuple[str, ...] | None = None
    if suffix == ".jsonl":
        rows = _jsonl_rows(path, lines)
        ids, paragraphs = tuple(rid for rid, _ in rows), [text for _, text in rows]
    elif suffix == ".md":
        paragraphs = paragraphs_of_markdown("\n".join(line for _, line in lines))
    elif suffix in (".html", ".htm"):
        paragraphs = paragraphs_of_html("\n".join(line for _, line in lines))
        if not paragraphs:
            raise DataError(f"{path}: no main text found (only navigation or boilerplate?)")
    else:
        paragraphs = paragraphs_of_txt([line for _, line in lines])
    if not paragraphs:
        raise DataError(f"{path}: no paragraphs of text found")
    digest = hashlib.sha256("\n".join(map(duplicate_key, paragraphs)).encode()).hexdigest()
    return Article(path=path, name=f"{slug(path.stem)}-{digest[:8]}", paragraphs=tuple(paragraphs), ids=ids)


def slug(stem: str) -> str:
    """A file name as an id part: letters (Chinese too), digits and `_`, the rest as `-`; never a colon."""
    cleaned = re.sub(r"[^\w]+", "-", unicodedata.normalize("NFKC", stem).lower()).strip("-_")
    return cleaned[:40].rstrip("-_") or "article"


def join_lines(lines: Iterable[str]) -> str:
    """Wrapped lines as one: a space only between two ASCII characters, as wrapped Chinese has none."""
    joined = ""
    for line in (line.strip() for line in lines):
        if line:
            space = " " if joined and joined[-1].isascii() and line[0].isascii() else ""
            joined += space + line
    return joined


def paragraphs_of_txt(lines: Sequence[str]) -> list[str]:
    """Paragraphs of a plain-text article: a line each, or a block each when it is hard-wrapped."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    blocks = [block for block in blocks if block]
    if len(blocks) >= 2 and 2 * sum(len(block) > 1 for block in blocks) > len(blocks):
        return [join_lines(block) for block in blocks]
    return [line.strip() for block in blocks for line in block]


def paragraphs_of_markdown(source: str) -> list[str]:
    """Text of headings, paragraphs and list items; code, tables, images, URLs and HTML dropped."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    paragraphs = []
    for opening, token in pairwise(tokens):
        # Table cells and HTML blocks are never opened by a paragraph or heading.
        if token.type == "inline" and opening.type in ("paragraph_open", "heading_open"):
            text = _inline_text(token.children or [])
            if text:
                paragraphs.append(text)
    return paragraphs


def _inline_text(children: Sequence[Token]) -> str:
    pieces: list[str] = []
    in_autolink = False  # <https://…>: its only text is the URL
    for child in children:
        if child.type == "link_open" and child.markup == "autolink":
            in_autolink = True
        elif child.type == "link_close" and in_autolink:
            in_autolink = False
        elif in_autolink:
            continue
        elif child.type in ("text", "code_inline"):
            pieces.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            pieces.append("\n")
    return " ".join(join_lines("".join(pieces).splitlines()).split())


_HTML_BLOCKS = frozenset({"head", "p", "item", "quote"})
_HTML_SKIPPED = frozenset({"code", "table", "graphic", "comments"})


def paragraphs_of_html(page: str) -> list[str]:
    """Main-text paragraphs of a saved page, as trafilatura extracts them (no network)."""
    from xml.etree import ElementTree

    import trafilatura

    # favor_precision: without it a page of navigation alone comes back as its menu.
    xml = trafilatura.extract(
        page,
        output_format="xml",
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        with_metadata=False,
    )
    if not xml:
        return []
    return list(_html_blocks(ElementTree.fromstring(xml)))


def _html_blocks(element: Element) -> Iterator[str]:
    for child in element:
        if child.tag in _HTML_SKIPPED:
            continue
        if child.tag in _HTML_BLOCKS and not any(
            inner.tag in _HTML_BLOCKS for inner in child.iter() if inner is not child
        ):
            for br in child.iter("lb"):
                br.tail = "\n" + (br.tail or "")
            text = " ".join(join_lines("".join(child.itertext()).splitlines()).split())
            if text:
                yield text
        else:
            yield from _html_blocks(child)


def _jsonl_rows(path: Path, lines: Iterable[tuple[int, str]]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    first: dict[str, int] = {}
    for number, line in lines:
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(raw, dict):
            raise DataError(f"{where}: expected a JSON object with 'id' and 'text'")
        rid, text = raw.get("id"), raw.get("text")
        if isinstance(rid, int) and not isinstance(rid, bool):
            rid = str(rid)
        if not isinstance(rid, str) or not rid.strip():
            raise DataError(f"{where}: missing or empty 'id'")
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: record {rid!r} has empty 'text'")
        if rid in first:
            raise DataError(f"{where}: duplicate id {rid!r} (first at line {first[rid]})")
        first[rid] = number
        rows.append((rid, text.strip()))
    return rows
