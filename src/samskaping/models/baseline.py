"""The offline baseline: TF-IDF word and character n-grams + logistic regression.

The vectorizers are fitted once and shared by one class-weighted logistic
regression per label set. With ``model.use_context`` a third vectorizer reads
the list lead-in of a bullet as separate features. It trains in seconds on
the shipped data and needs no download. Saved without pickle: vocabularies as
JSON, weights as safetensors.
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

    @model_validator(mode="after")
    def _char_range(self) -> BaselineConfig:
        if self.char_ngram_min > self.char_ngram_max:
            raise ValueError(
                f"char_ngram_min ({self.char_ngram_min}) must not exceed char_ngram_max ({self.char_ngram_max})"
            )
        return self


def build_vectorizers(params: BaselineConfig, use_context: bool) -> dict[str, TfidfVectorizer]:
    """The TF-IDF vectorizers: word and character n-grams of the sentence, word n-grams of its context."""
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
    if use_context:
        vectorizers["context"] = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
    return vectorizers


class BaselineClassifier(Classifier):
    """TF-IDF features shared by one logistic regression per label set."""

    kind = "baseline"

    def __init__(self, cfg: Config) -> None:
        super().__init__(cfg)
        self.params: BaselineConfig = cfg.model.baseline
        self.vectorizers = build_vectorizers(self.params, cfg.model.use_context)
        self.classifiers: dict[str, LogisticRegression] = {}

    @classmethod
    def from_config(cls, cfg: Config, progress: bool = True) -> BaselineClassifier:
        return cls(cfg)

    @property
    def class_weighted(self) -> bool:
        return self.params.class_weight == "balanced"

    def _features(self, texts: Sequence[str], contexts: Contexts, fit: bool = False) -> sparse.csr_matrix:
        context = self.context_inputs(texts, contexts)
        blocks = []
        for name, vectorizer in self.vectorizers.items():
            column = context if name == "context" else list(texts)
            if name == "context" and fit and not any(column):
                column = [*column[:-1], "(ingen innledning)"]  # a vocabulary cannot be empty
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
