"""Default paths and the training settings (the label set is data: `train.labels`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from train.errors import DataError

SEEDS_DIR = Path("seeds")
SEED_DATA = Path("data/paragraphs.jsonl")
AUTHORED_DIR = Path("data/authored")
ARTICLES_DIR = Path("data/articles")
EVAL_DIR = Path("data/eval")  # held out: never trained on, and never added again as new text
ADDED_DIR = Path("data/added")  # articles added with `train data add`, unlabeled until someone labels them
DEFAULT_DATA: tuple[Path, ...] = (SEED_DATA, AUTHORED_DIR, ARTICLES_DIR, ADDED_DIR)
USER_DICT = Path("data/userdict.txt")
MODEL_PATH = Path("models/topic_classifier.npz")  # with .joblib (the pipeline) and .json (metadata) beside it
EXPERIMENT = "topic-tagger"


def default_data() -> list[Path]:
    """The data `fit` and friends read when given none; `data/added/` only once something was added."""
    return [p for p in DEFAULT_DATA if p != ADDED_DIR or any(p.glob("*.jsonl"))]


Analyzer = Literal["word", "char", "both"]
ClassifierKind = Literal["logreg", "svm", "nb", "sgd"]
TokenizerKind = Literal["jieba", "jieba-nohmm", "rjieba"]
ArticleContext = Literal["auto", "off"]


@dataclass(frozen=True)
class FitConfig:
    """Everything that decides the trained pipeline and how it is evaluated."""

    analyzer: Analyzer = "both"
    # rjieba: jieba's algorithm and dictionary in Rust, ~19x faster at equal CV scores (tools/sweep.py).
    tokenizer: TokenizerKind = "rjieba"
    word_ngram_max: int = 2
    # 1-3: single characters (诉, 薪, 股) carry topic; chosen on grouped CV (tools/sweep.py).
    char_ngram_min: int = 1
    char_ngram_max: int = 3
    min_df: int = 2
    max_df: float = 0.9
    sublinear_tf: bool = True
    classifier: ClassifierKind = "logreg"
    C: float = 4.0
    folds: int = 5
    repeats: int = 3
    seed: int = 42
    # auto: blend each paragraph with its article only if CV grouped by article says it helps (train.context).
    article_context: ArticleContext = "auto"

    def to_params(self) -> dict[str, Any]:
        """Flat dict for MLflow params and the sidecar."""
        return asdict(self)

    @classmethod
    def from_file(cls, path: Path) -> FitConfig:
        """Read settings from a JSON file; unknown keys are an error."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{path}: cannot read config: {exc}") from None
        if not isinstance(raw, dict):
            raise DataError(f"{path}: a config file holds one JSON object")
        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise DataError(f"{path}: unknown config keys: {sorted(unknown)}")
        return cls(**raw)
