"""The plain-data model and the one scorer every inference path uses.

Everything prediction needs is arrays and JSON in one `.npz` file, read with
`allow_pickle=False`: opening a model runs no code. Scoring needs numpy and the
segmenter only (no scikit-learn, scipy, pandas, joblib or mlflow), and reproduces
the scikit-learn pipeline's probabilities (`tests/test_scorer.py` holds it to 1e-6):

- normalisation and segmentation are the same functions the pipeline calls;
- every vocabulary is a sorted array of integer keys: an n-gram of symbol ids
  (a character's or a word's index + 1) packed in base `n_symbols + 1`, so a
  batch's n-grams are found with one `searchsorted` per n-gram length;
- TF-IDF (sublinear tf, idf, l2 per feature part) is computed in float32 as
  scikit-learn computes it;
- every classifier kind is a mean of sigmoids of linear functions: one component
  for logistic regression, SGD and naive Bayes, one per calibration fold for the
  calibrated SVM.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from train.context import FORMS, OFF, Context, article_numbers, blend
from train.errors import ModelError
from train.tokens import is_word, normalize_all, segmenter

FORMAT = "topic-tagger-plain"
FORMAT_VERSION = 1
UNICODE_MAX = 0x110000

Kind = Literal["word", "char"]


@dataclass(frozen=True)
class Features:
    """A batch's sparse TF-IDF matrix as coordinates, rows in batch order."""

    rows: np.ndarray  # int64
    columns: np.ndarray  # int64, column in the whole feature space
    values: np.ndarray  # float32, as scikit-learn's TF-IDF computes them
    n_rows: int


class KeyIndex:
    """An open-addressing hash table from int64 keys to columns, probed for a whole batch at once.

    Fibonacci hashing into a table four times the vocabulary, so most lookups end at the
    first probe: several times faster than a binary search over the sorted keys.
    """

    EMPTY = -1
    MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, keys: np.ndarray, columns: np.ndarray) -> None:
        bits = max(4, int(np.ceil(np.log2(max(len(keys), 1) * 4))))
        self.mask = (1 << bits) - 1
        self.shift = np.uint64(64 - bits)
        self.keys = np.full(self.mask + 1, self.EMPTY, dtype=np.int64)
        self.columns = np.zeros(self.mask + 1, dtype=np.int64)
        slots, pending, self.probes = self._home(keys), np.arange(len(keys)), 0
        while len(pending):  # each round, one key per free slot takes it; the rest move one slot on
            self.probes += 1
            free = self.keys[slots] == self.EMPTY
            chosen, first = np.unique(slots[free], return_index=True)
            placed = pending[free][first]
            self.keys[chosen], self.columns[chosen] = keys[placed], columns[placed]
            waiting = np.ones(len(pending), dtype=bool)
            waiting[np.flatnonzero(free)[first]] = False
            pending, slots = pending[waiting], (slots[waiting] + 1) & self.mask

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.astype(np.uint64) * self.MULTIPLIER) >> self.shift).astype(np.int64)

    def lookup(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions of the candidates found, their columns)."""
        slots, active = self._home(candidates), np.arange(len(candidates))
        found, columns = [], []
        for _ in range(self.probes):  # no key sits further than `probes` slots from home
            stored = self.keys[slots]
            hit = stored == candidates[active]
            found.append(active[hit])
            columns.append(self.columns[slots[hit]])
            going_on = ~hit & (stored != self.EMPTY)
            active, slots = active[going_on], (slots[going_on] + 1) & self.mask
            if not len(active):
                break
        return np.concatenate(found), np.concatenate(columns)


SEPARATOR = -2  # between texts in a batch's stream of word ids
DROPPED = -1  # a segment the word features skip (punctuation, spaces)
UNKNOWN = 0  # a symbol outside the vocabulary: no n-gram spans it
MAX_REMEMBERED_TOKENS = 100_000  # unknown tokens cached per process, so memory stays flat on any input


class TokenIds(dict[str, int]):
    """Token → symbol id; a miss is UNKNOWN or DROPPED (as `is_word` says), remembered up to a bound."""

    def __init__(self, tokens: Sequence[str]) -> None:
        super().__init__((token, index) for index, token in enumerate(tokens, 1))
        self.limit = len(self) + MAX_REMEMBERED_TOKENS

    def __missing__(self, token: str) -> int:
        value = UNKNOWN if is_word(token) else DROPPED
        if len(self) < self.limit:
            self[token] = value
        return value


@dataclass(frozen=True)
class NgramPart:
    """One TF-IDF vectorizer: word n-grams of the segmenter's tokens, or character n-grams inside words."""

    kind: Kind
    ngram_range: tuple[int, int]
    sublinear_tf: bool
    symbols: np.ndarray  # char: code points; word: tokens; a symbol's id is its index + 1
    keys: np.ndarray  # int64, sorted: each vocabulary entry's packed symbol ids
    key_columns: np.ndarray  # int64: the column of each key in this part
    idf: np.ndarray  # float32, per column
    offset: int  # first column of this part in the whole feature space

    @property
    def base(self) -> int:
        return len(self.symbols) + 1

    @property
    def n_features(self) -> int:
        return len(self.idf)

    @cached_property
    def _index(self) -> KeyIndex:
        return KeyIndex(self.keys, self.key_columns)

    @cached_property
    def _unigram_columns(self) -> np.ndarray:
        """A 1-gram's key is its symbol id: a plain array lookup, no hashing."""
        columns = np.full(self.base, -1, dtype=np.int64)
        single = self.keys < self.base
        columns[self.keys[single]] = self.key_columns[single]
        return columns

    @cached_property
    def _char_ids(self) -> np.ndarray:
        table = np.zeros(UNICODE_MAX, dtype=np.int32)
        table[self.symbols] = np.arange(1, len(self.symbols) + 1)
        return table

    @cached_property
    def _token_ids(self) -> TokenIds:
        return TokenIds(self.symbols.tolist())

    def symbol_ids(
        self, texts: Sequence[str], segment: Callable[[str], Iterable[str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """One stream of symbol ids for the batch, an UNKNOWN between texts; and each position's row."""
        if self.kind == "char":
            # char_wb: every whitespace-separated word padded with one space on each side.
            padded = [f" {'  '.join(words)} " if (words := text.split()) else "" for text in texts]
            # surrogatepass: a lone surrogate is a code point like any other, as it is to scikit-learn.
            codes = np.frombuffer("\0".join(padded).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            ids = np.append(self._char_ids[codes].astype(np.int64), UNKNOWN)
            lengths = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
            ids[np.cumsum(lengths + 1) - 1] = UNKNOWN  # the separators, whatever character they were
            return ids, np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)
        lookup = self._token_ids.__getitem__
        flat: list[int] = []
        for text in texts:
            flat.extend(map(lookup, segment(text)))
            flat.append(SEPARATOR)
        ids = np.asarray(flat, dtype=np.int64)
        ids = ids[ids != DROPPED]
        ends = ids == SEPARATOR
        rows = np.cumsum(ends) - ends
        ids[ends] = UNKNOWN
        return ids, rows

    def counts(self, ids: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, count) of every vocabulary n-gram in the id stream, sorted by row."""
        low, high = self.ngram_range
        unknown_before = np.concatenate(([0], np.cumsum(ids == UNKNOWN)))
        keys = np.zeros(len(ids), dtype=np.int64)
        weight = 1
        found_rows, found_columns = [], []
        for n in range(1, min(high, len(ids)) + 1):
            keys = keys[: len(ids) - n + 1] + ids[n - 1 :] * weight
            weight *= self.base
            if n < low:
                continue
            starts = np.flatnonzero(unknown_before[n:] == unknown_before[:-n])  # windows of known symbols only
            if n == 1:
                columns = self._unigram_columns[keys[starts]]
                hits = np.flatnonzero(columns >= 0)
                columns = columns[hits]
            else:
                hits, columns = self._index.lookup(keys[starts])
            found_rows.append(rows[starts[hits]])
            found_columns.append(columns)
        if not found_rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        pairs, count = np.unique(
            np.concatenate(found_rows) * self.n_features + np.concatenate(found_columns), return_counts=True
        )
        return pairs // self.n_features, pairs % self.n_features, count

    def transform(self, texts: Sequence[str], segment: Callable[[str], Iterable[str]]) -> Features:
        rows, columns, count = self.counts(*self.symbol_ids(texts, segment))
        values = count.astype(np.float32)
        if self.sublinear_tf:
            np.log(values, out=values)
            values += np.float32(1.0)
        values *= self.idf[columns]
        # l2 per row, as sklearn's inplace_csr_row_normalize_l2: float32 squares summed in float64.
        norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
        values = (values / norms[rows]).astype(np.float32)
        return Features(rows, columns + self.offset, values, len(texts))


@dataclass(frozen=True)
class Scorer:
    """A fitted model as plain data: labels, thresholds, normalisation, segmenter, vocabularies, weights."""

    labels: tuple[str, ...]
    thresholds: np.ndarray
    segmenter: dict[str, Any] | None  # engine, hmm, user_words; None without a word part
    parts: tuple[NgramPart, ...]
    classifier: str
    # Per component and label, sigmoid(scale * (x · coef + intercept) + shift); their mean is the probability.
    coef: np.ndarray  # (n_components, n_labels, n_features), float64
    intercept: np.ndarray  # (n_components, n_labels)
    scale: np.ndarray  # (n_components, n_labels)
    shift: np.ndarray  # (n_components, n_labels)
    feature_names_source: Any = None  # the names, or a function that reads them when first asked
    context: Context = OFF  # how much of its article a paragraph's scores take (`train.context`)

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[2])

    @cached_property
    def _segment(self) -> Callable[[str], Iterable[str]]:
        if self.segmenter is None:
            return lambda text: ()
        settings = self.segmenter
        return segmenter(settings["engine"], tuple(settings["user_words"]), bool(settings["hmm"]))

    def features(self, texts: Sequence[str]) -> Features:
        """TF-IDF features of raw texts, as the pipeline's `normalize` and `features` steps give them."""
        if len(texts) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Features(empty, empty, np.zeros(0, dtype=np.float32), 0)
        normalized = normalize_all(texts)
        parts = [part.transform(normalized, self._segment) for part in self.parts]
        return Features(
            rows=np.concatenate([p.rows for p in parts]),
            columns=np.concatenate([p.columns for p in parts]),
            values=np.concatenate([p.values for p in parts]),
            n_rows=len(texts),
        )

    def scores(self, texts: Sequence[str], articles: Sequence[str | None] | None = None) -> np.ndarray:
        """Probability per label, shape (n_texts, n_labels): the pipeline's `predict_proba`, then,
        if `articles` names each text's article (None: alone), blended with its article's."""
        scores = self.scores_of(self.features(texts))
        return scores if articles is None else self.in_context(scores, articles)

    def in_context(self, scores: np.ndarray, articles: Sequence[str | None]) -> np.ndarray:
        """Each row's scores in the light of its article; unchanged when the model's context is off."""
        if self.context.weight == 0.0:
            return scores
        return blend(scores, article_numbers(articles), self.context)

    def scores_of(self, features: Features) -> np.ndarray:
        n_components, n_labels = self.intercept.shape
        values = features.values.astype(np.float64)
        linear = np.empty((n_components, n_labels, features.n_rows))
        for component in range(n_components):
            for label in range(n_labels):
                pushed = self.coef[component, label].take(features.columns) * values
                linear[component, label] = np.bincount(features.rows, weights=pushed, minlength=features.n_rows)
        logit = self.scale[..., None] * (linear + self.intercept[..., None]) + self.shift[..., None]
        probability: np.ndarray = (1.0 / (1.0 + np.exp(-logit))).mean(axis=0).T
        return probability

    def decide(self, scores: np.ndarray) -> np.ndarray:
        return scores >= self.thresholds

    def coefficients(self) -> np.ndarray:
        """Linear weight of every feature for every label, (n_labels, n_features): the mean over components."""
        mean: np.ndarray = self.coef.mean(axis=0)
        return mean

    def feature_names(self) -> np.ndarray:
        """`word__奥特曼`, `char__诉讼` ...: each feature with the part it came from, in column order."""
        source = self.feature_names_source
        return np.asarray(source() if callable(source) else source)


# --- the file format ------------------------------------------------------------------


def to_arrays(scorer: Scorer) -> dict[str, np.ndarray]:
    """The scorer as named arrays; the JSON header is one of them, as UTF-8 bytes."""
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "labels": list(scorer.labels),
        "thresholds": [float(t) for t in scorer.thresholds],
        "normalize": {"unicode": "NFKC", "lowercase": True, "opencc": "tw2sp"},
        "segmenter": scorer.segmenter,
        "classifier": scorer.classifier,
        "article_context": {"form": scorer.context.form, "weight": scorer.context.weight},
        "parts": [
            {"kind": p.kind, "ngram_range": list(p.ngram_range), "sublinear_tf": p.sublinear_tf, "norm": "l2"}
            for p in scorer.parts
        ],
    }
    arrays = {
        "header": np.frombuffer(json.dumps(header, ensure_ascii=False).encode(), dtype=np.uint8),
        "coef": scorer.coef,
        "intercept": scorer.intercept,
        "scale": scorer.scale,
        "shift": scorer.shift,
        "feature_names": scorer.feature_names(),
    }
    for i, p in enumerate(scorer.parts):
        arrays |= {f"part{i}_symbols": p.symbols, f"part{i}_keys": p.keys}
        arrays |= {f"part{i}_key_columns": p.key_columns, f"part{i}_idf": p.idf}
    return arrays


def to_bytes(scorer: Scorer) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **to_arrays(scorer))
    return buffer.getvalue()


def from_bytes(payload: bytes, name: str) -> Scorer:
    """Read a plain model; a pickle, a foreign archive or a damaged file is a ModelError naming `name`."""
    try:
        archive = np.load(io.BytesIO(payload), allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        header = json.loads(bytes(archive["header"]).decode())
        if header.get("format") != FORMAT:
            raise ValueError("not a topic-tagger plain model")
        if header.get("version") != FORMAT_VERSION:
            raise ModelError(
                f"{name}: plain model format version {header.get('version')}, this code reads {FORMAT_VERSION}; "
                "retrain with `train fit`"
            )
        parts = []
        offset = 0
        for i, spec in enumerate(header["parts"]):
            part = NgramPart(
                kind=spec["kind"],
                ngram_range=(int(spec["ngram_range"][0]), int(spec["ngram_range"][1])),
                sublinear_tf=bool(spec["sublinear_tf"]),
                symbols=archive[f"part{i}_symbols"],
                keys=archive[f"part{i}_keys"],
                key_columns=archive[f"part{i}_key_columns"],
                idf=archive[f"part{i}_idf"],
                offset=offset,
            )
            offset += part.n_features
            parts.append(part)
        scorer = Scorer(
            labels=tuple(header["labels"]),
            thresholds=np.asarray(header["thresholds"], dtype=np.float64),
            segmenter=header["segmenter"],
            parts=tuple(parts),
            classifier=header["classifier"],
            coef=archive["coef"],
            intercept=archive["intercept"],
            scale=archive["scale"],
            shift=archive["shift"],
            feature_names_source=lambda: archive["feature_names"],  # read only when explaining
            context=_context(header.get("article_context", {"weight": 0.0})),
        )
        _check_shapes(scorer)
        return scorer
    except ModelError:
        raise
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
        EOFError,
        zipfile.BadZipFile,
        UnicodeDecodeError,
    ) as exc:
        raise ModelError(f"{name}: not a readable topic-tagger model ({exc})") from None


def _context(spec: dict[str, Any]) -> Context:
    """The header's article context; a model written before it existed has none."""
    context = Context(form=spec.get("form", "mean"), weight=float(spec["weight"]))
    if context.form not in FORMS or not 0.0 <= context.weight < 1.0:
        raise ValueError(f"article context {spec!r} is not a form in {FORMS} with a weight in [0, 1)")
    return context


def _check_shapes(scorer: Scorer) -> None:
    """A file whose arrays disagree is refused at load, not half-way through a batch."""
    n_labels = len(scorer.labels)
    n_components = scorer.intercept.shape[0] if scorer.intercept.ndim == 2 else 0
    expected = (n_components, n_labels)
    if not n_labels or len(scorer.thresholds) != n_labels or n_components == 0:
        raise ValueError("labels, thresholds and weights disagree")
    if scorer.coef.shape != (n_components, n_labels, sum(p.n_features for p in scorer.parts)):
        raise ValueError(f"weights of shape {scorer.coef.shape} do not fit the vocabularies")
    if scorer.scale.shape != expected or scorer.shift.shape != expected:
        raise ValueError("calibration arrays do not fit the labels")
    for part in scorer.parts:
        if part.kind not in ("word", "char") or len(part.keys) != len(part.key_columns):
            raise ValueError(f"malformed {part.kind!r} vocabulary")
        if len(part.key_columns) and not 0 <= part.key_columns.min() <= part.key_columns.max() < part.n_features:
            raise ValueError(f"{part.kind} vocabulary points outside its features")
        if part.kind == "char" and len(part.symbols) and part.symbols.max() >= UNICODE_MAX:
            raise ValueError("character vocabulary holds no code points")
        if part.base ** part.ngram_range[1] >= 2**63:
            raise ValueError(f"{part.kind} n-grams do not fit 64-bit keys")


def read(path: Path) -> Scorer:
    return from_bytes(path.read_bytes(), str(path))
