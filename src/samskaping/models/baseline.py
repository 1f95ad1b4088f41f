"""The offline baseline: TF-IDF word and character n-grams + logistic regression.

The vectorizers are fitted once and shared by one class-weighted logistic
regression per label set. With ``model.use_context`` the context columns
(``model.context_columns``: lead-in, heading, previous sentence) are read as
features of their own: joined into one text by one more vectorizer
(``model.baseline.context_features: joined``, the default), or one word
n-gram vectorizer per column (``separate``: a word in the heading is then
another feature than the same word in the previous sentence). It trains in
seconds on the shipped data and needs no download. Saved without pickle:
vocabularies as JSON, weights as safetensors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, model_validator
from safetensors.numpy import load_file, save_file

from samskaping.errors import ModelLoadError
from samskaping.labels import LABEL_SETS
from samskaping.models.base import Classifier, Contexts
from samskaping.models.kinds import KindSection, KindSpec

if TYPE_CHECKING:  # scikit-learn and scipy load when a baseline is built or loaded, not when its spec is read
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from samskaping.config import Config

log = logging.getLogger(__name__)

VECTORIZER_FILE = "baseline-vectorizers"
COLUMN_SEPARATOR = "\x1f"  # joins a row's context columns for context_features: separate (never in plan text)
NO_CONTEXT = "(ingen innledning)"  # a context vocabulary cannot be empty: one training row reads this instead
NEVER_SEEN = -1e9  # logit of a class absent from the training data (probability 0 after softmax)


class BaselineConfig(KindSection):
    """TF-IDF word and character n-grams + logistic regression, one per label set."""

    word_ngram_max: int = Field(2, ge=1, le=4, description="Longest word n-gram.")
    char_ngram_min: int = Field(2, ge=1, le=6)
    char_ngram_max: int = Field(5, ge=1, le=8)
    min_df: int = Field(1, ge=1, description="Drop n-grams seen in fewer training sentences.")
    max_features: int | None = Field(200_000, ge=1000, description="Vocabulary cap per vectorizer (null: none).")
    C: float = Field(8.0, gt=0, description="Inverse regularisation strength of the logistic regression.")
    max_iter: int = Field(3000, ge=10)
    class_weight: Literal["balanced", "none"] = "balanced"
    context_features: Literal["joined", "separate"] = Field(
        "joined",
        description="With model.use_context: joined reads the context columns joined into one text by one "
        "vectorizer; separate gives each column its own word n-gram vectorizer (context:<column>).",
    )

    @model_validator(mode="after")
    def _char_range(self) -> BaselineConfig:
        if self.char_ngram_min > self.char_ngram_max:
            raise ValueError(
                f"char_ngram_min ({self.char_ngram_min}) must not exceed char_ngram_max ({self.char_ngram_max})"
            )
        return self


def context_vectorizer_names(params: BaselineConfig, use_context: bool, columns: Sequence[str]) -> list[str]:
    """The names of the context vectorizers, in feature order.

    Returns:
        ``[]`` without ``use_context``; ``["context"]`` for ``context_features: joined``;
        ``["context:<column>", ...]`` in ``columns`` order for ``separate``.
    """
    if not use_context:
        return []
    if params.context_features == "joined":
        return ["context"]
    return [f"context:{column}" for column in dict.fromkeys(columns)]  # a repeated column reads once


def build_vectorizers(
    params: BaselineConfig, use_context: bool, columns: Sequence[str] = ("context",)
) -> dict[str, TfidfVectorizer]:
    """The TF-IDF vectorizers: word and character n-grams of the sentence, word n-grams of its context.

    Args:
        params: the baseline section of the config.
        use_context: add the context vectorizers (named by :func:`context_vectorizer_names`).
        columns: ``model.context_columns``; read only for ``context_features: separate``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizers = {
        "word": TfidfVectorizer(
            analyzer="word",
            ngram_range=(1, params.word_ngram_max),
            min_df=params.min_df,
            max_features=params.max_features,
            sublinear_tf=True,
            lowercase=True,
        ),
        # char_wb keeps n-grams inside words, which suits compounds
        # («samskapingsprosess», «brukermedvirkning») and nynorsk/bokmål variants.
        "char": TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(params.char_ngram_min, params.char_ngram_max),
            min_df=params.min_df,
            max_features=params.max_features,
            sublinear_tf=True,
            lowercase=True,
        ),
    }
    for name in context_vectorizer_names(params, use_context, columns):
        vectorizers[name] = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
    return vectorizers


class BaselineClassifier(Classifier):
    """TF-IDF features shared by one logistic regression per label set."""

    kind = "baseline"

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.params: BaselineConfig = cfg.model.baseline
        self.vectorizers = build_vectorizers(self.params, cfg.model.use_context, cfg.model.context_columns)
        self.classifiers: dict[str, LogisticRegression] = {}

    @classmethod
    def from_config(cls, cfg: Config, progress: bool = True) -> BaselineClassifier:
        return cls(cfg)

    @property
    def class_weighted(self) -> bool:
        return self.params.class_weight == "balanced"

    @property
    def separate_context(self) -> bool:
        """Whether each context column has a vectorizer of its own (``use_context`` and ``separate``)."""
        return self.cfg.model.use_context and self.params.context_features == "separate"

    def contexts(self, frame: Any) -> list[str] | None:
        """The context of each row of ``frame`` as this model reads it, or ``None`` (see ``Classifier.contexts``).

        For ``context_features: separate`` each row's string holds the values of ``model.context_columns``
        in order, joined by :data:`COLUMN_SEPARATOR` ("" for a column the frame lacks), so that the
        columns stay apart through any caller that passes contexts on as strings.
        """
        if not self.separate_context:
            return super().contexts(frame)
        from samskaping.context import context_texts

        columns = [context_texts(frame, (column,)) for column in dict.fromkeys(self.cfg.model.context_columns)]
        if all(values is None for values in columns):
            return None
        filled = [values if values is not None else [""] * len(frame) for values in columns]
        return [COLUMN_SEPARATOR.join(parts) for parts in zip(*filled, strict=True)]

    def context_blocks(self, texts: Sequence[str], contexts: Contexts) -> dict[str, list[str]]:
        """What each context vectorizer reads: name -> one string per text ("" for none).

        A separate-columns model splits each context at :data:`COLUMN_SEPARATOR`; a plain string (as the
        Spark job sends a row's lead-in) is read as the ``context`` column, or the first one without it.

        Raises:
            ValueError: ``contexts`` is not as long as ``texts``, or a row holds another number of columns.
        """
        context = self.context_inputs(texts, contexts)
        if not self.separate_context:
            return {"context": context} if self.cfg.model.use_context else {}
        columns = list(dict.fromkeys(self.cfg.model.context_columns))
        plain = columns.index("context") if "context" in columns else 0
        out: dict[str, list[str]] = {f"context:{column}": [] for column in columns}
        for row in context:
            if COLUMN_SEPARATOR in row:
                parts = row.split(COLUMN_SEPARATOR)
            else:
                parts = [""] * len(columns)
                parts[plain] = row
            if len(parts) != len(columns):
                raise ValueError(f"a context holds {len(parts)} columns, the model reads {len(columns)}: {columns}")
            for column, part in zip(columns, parts, strict=True):
                out[f"context:{column}"].append(part.strip())
        return out

    def _features(self, texts: Sequence[str], contexts: Contexts, fit: bool = False) -> sparse.csr_matrix:
        inputs = self.context_blocks(texts, contexts)
        blocks = []
        for name, vectorizer in self.vectorizers.items():
            column = inputs.get(name, list(texts))
            if name in inputs and fit and not any(column):
                column = [*column[:-1], NO_CONTEXT]  # a vocabulary cannot be empty
            blocks.append(vectorizer.fit_transform(column) if fit else vectorizer.transform(column))
        from scipy import sparse

        return sparse.hstack(blocks, format="csr")

    def fit(
        self,
        texts: Sequence[str],
        labels: Mapping[str, Sequence[str]],
        validation: tuple[Sequence[str], Mapping[str, Sequence[str]], Contexts] | None = None,
        tracker: Any = None,
        contexts: Contexts = None,
    ) -> dict[str, Any]:
        from sklearn.linear_model import LogisticRegression

        features = self._features(texts, contexts, fit=True)
        for label_set in self.label_sets:
            classifier = LogisticRegression(
                C=self.params.C,
                max_iter=self.params.max_iter,
                class_weight=None if self.params.class_weight == "none" else self.params.class_weight,
                random_state=self.cfg.training.seed,
            )
            classifier.fit(features, list(labels[label_set]))
            self.classifiers[label_set] = classifier
            log.info("baseline: fitted %s", label_set)
        return {"train_rows": len(texts), "features": int(features.shape[1])}

    def is_fitted(self) -> bool:
        return set(self.classifiers) == set(self.label_sets)

    def logits(
        self, texts: Sequence[str], batch_size: int | None = None, contexts: Contexts = None
    ) -> dict[str, np.ndarray]:
        texts = list(texts)
        out = {ls: np.zeros((len(texts), len(LABEL_SETS[ls]))) for ls in self.label_sets}
        if not texts:
            return out
        features = self._features(texts, contexts)
        for label_set, classifier in self.classifiers.items():
            scores = classifier.decision_function(features)
            if scores.ndim == 1:  # two classes seen in training: sklearn gives one margin
                scores = np.column_stack([-scores / 2, scores / 2])
            full = np.full((len(texts), len(LABEL_SETS[label_set])), NEVER_SEEN)
            for column, label in enumerate(classifier.classes_):
                full[:, LABEL_SETS[label_set].index(label)] = scores[:, column]
            out[label_set] = full
        return out

    # The fitted state is saved as JSON (vocabularies, classes) and safetensors
    # (idf weights, coefficients) rather than pickle: a model folder can then be
    # shared and opened without running code from it.
    def _save_files(self, folder: Path) -> None:
        meta = {name: {t: int(i) for t, i in v.vocabulary_.items()} for name, v in self.vectorizers.items()}
        (folder / f"{VECTORIZER_FILE}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        save_file(
            {name: np.ascontiguousarray(v.idf_, dtype=np.float64) for name, v in self.vectorizers.items()},
            str(folder / f"{VECTORIZER_FILE}.safetensors"),
        )
        for label_set, classifier in self.classifiers.items():
            (folder / f"baseline-{label_set}.json").write_text(
                json.dumps({"classes": [str(c) for c in classifier.classes_]}), encoding="utf-8"
            )
            save_file(
                {
                    "coef": np.ascontiguousarray(classifier.coef_, dtype=np.float64),
                    "intercept": np.ascontiguousarray(classifier.intercept_, dtype=np.float64),
                },
                str(folder / f"baseline-{label_set}.safetensors"),
            )

    @classmethod
    def _load_files(cls, folder: Path, cfg: Config) -> BaselineClassifier:
        from sklearn.linear_model import LogisticRegression

        model = cls(cfg)
        needed = [f"{VECTORIZER_FILE}.json", f"{VECTORIZER_FILE}.safetensors"]
        needed += [f"baseline-{ls}.{ext}" for ls in model.label_sets for ext in ("json", "safetensors")]
        missing = [name for name in needed if not (folder / name).is_file()]
        if missing:
            raise ModelLoadError(
                f"{folder}: missing {', '.join(missing)}; "
                "the model folder is incomplete or from an older version, retrain it"
            )
        try:
            vocabularies = json.loads((folder / f"{VECTORIZER_FILE}.json").read_text(encoding="utf-8"))
            idf = load_file(str(folder / f"{VECTORIZER_FILE}.safetensors"))
            for name, vectorizer in model.vectorizers.items():
                vectorizer.vocabulary_ = vocabularies[name]
                vectorizer.idf_ = idf[name]
            for label_set in model.label_sets:
                meta = json.loads((folder / f"baseline-{label_set}.json").read_text(encoding="utf-8"))
                arrays = load_file(str(folder / f"baseline-{label_set}.safetensors"))
                classifier = LogisticRegression()
                classifier.classes_ = np.array(meta["classes"], dtype=object)
                classifier.coef_, classifier.intercept_ = arrays["coef"], arrays["intercept"]
                model.classifiers[label_set] = classifier
        except (ValueError, KeyError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"{folder}: damaged baseline files ({exc}); retrain the model") from exc
        return model


SPEC = KindSpec(
    name="baseline",
    section=BaselineConfig,
    classifier=BaselineClassifier,
    requirements=(),  # scikit-learn, scipy and safetensors are in every MLflow model's requirements
    has_encoder=False,
    contract_config={"model": {"name": "tfidf-logreg"}},
)
