"""The offline baseline: TF-IDF word and character n-grams + logistic regression.

One scikit-learn Pipeline per label set. It trains in seconds on the shipped
data and needs no download. Saved without pickle: vocabularies as JSON,
weights as safetensors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from safetensors.numpy import load_file, save_file

from samskaping.errors import ModelLoadError
from samskaping.labels import LABEL_SETS
from samskaping.models.base import Classifier

log = logging.getLogger(__name__)


def build_pipeline(params: Mapping[str, Any], seed: int) -> Pipeline:
    """A TF-IDF (word + char n-gram) + logistic regression pipeline."""
    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    ngram_range=(1, params["word_ngram_max"]),
                    min_df=params["min_df"],
                    max_features=params["max_features"],
                    sublinear_tf=True,
                    lowercase=True,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    # char_wb keeps n-grams inside words, which suits compounds
                    # («samskapingsprosess», «brukermedvirkning») and nynorsk/bokmål variants.
                    analyzer="char_wb",
                    ngram_range=(params["char_ngram_min"], params["char_ngram_max"]),
                    min_df=params["min_df"],
                    max_features=params["max_features"],
                    sublinear_tf=True,
                    lowercase=True,
                ),
            ),
        ]
    )
    classifier = LogisticRegression(
        C=params["C"],
        max_iter=params["max_iter"],
        class_weight=None if params["class_weight"] == "none" else params["class_weight"],
        random_state=seed,
    )
    return Pipeline([("features", features), ("classifier", classifier)])


class BaselineClassifier(Classifier):
    """TF-IDF + logistic regression, one pipeline per label set."""

    kind = "baseline"

    def __init__(self, label_sets: Sequence[str], config: Mapping[str, Any] | None = None) -> None:
        super().__init__(label_sets, config)
        self.pipelines: dict[str, Pipeline] = {}

    def fit(
        self,
        texts: Sequence[str],
        labels: Mapping[str, Sequence[str]],
        validation: tuple[Sequence[str], Mapping[str, Sequence[str]]] | None = None,
        tracker: Any = None,
    ) -> dict[str, Any]:
        params = self.config["model"]["baseline"]
        seed = self.config["training"]["seed"]
        for label_set in self.label_sets:
            pipeline = build_pipeline(params, seed)
            pipeline.fit(list(texts), list(labels[label_set]))
            self.pipelines[label_set] = pipeline
            log.info("baseline: fitted %s", label_set)
        return {"train_rows": len(texts)}

    def is_fitted(self) -> bool:
        return set(self.pipelines) == set(self.label_sets)

    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> dict[str, np.ndarray]:
        texts = list(texts)
        out: dict[str, np.ndarray] = {}
        for label_set in self.label_sets:
            pipeline = self.pipelines[label_set]
            probs = pipeline.predict_proba(texts) if texts else np.zeros((0, len(pipeline.classes_)))
            # Reorder to the label-scheme order; classes never seen in training get probability 0.
            full = np.zeros((len(texts), len(LABEL_SETS[label_set])))
            for column, label in enumerate(pipeline.classes_):
                full[:, LABEL_SETS[label_set].index(label)] = probs[:, column]
            out[label_set] = full
        return out

    def _save_files(self, folder: Path) -> None:
        for label_set, pipeline in self.pipelines.items():
            meta, arrays = _pipeline_state(pipeline)
            (folder / f"baseline-{label_set}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            save_file(arrays, str(folder / f"baseline-{label_set}.safetensors"))

    @classmethod
    def _load_files(cls, folder: Path, manifest: dict[str, Any]) -> BaselineClassifier:
        model = cls(list(manifest["label_sets"]), manifest.get("config"))
        params = model.config["model"]["baseline"]
        seed = model.config["training"]["seed"]
        for label_set in model.label_sets:
            meta_path = folder / f"baseline-{label_set}.json"
            array_path = folder / f"baseline-{label_set}.safetensors"
            missing = [p.name for p in (meta_path, array_path) if not p.is_file()]
            if missing:
                raise ModelLoadError(f"{folder}: missing {', '.join(missing)}; the model folder is incomplete, retrain or copy it again")
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                arrays = load_file(str(array_path))
                model.pipelines[label_set] = _restore_pipeline(build_pipeline(params, seed), meta, arrays)
            except (ValueError, KeyError, json.JSONDecodeError) as exc:
                raise ModelLoadError(f"{meta_path}: damaged baseline files ({exc}); retrain the model") from exc
        return model


# The fitted state is saved as JSON (vocabularies, classes) and safetensors
# (idf weights, coefficients) rather than pickle: a model folder can then be
# shared and opened without running code from it.
def _pipeline_state(pipeline: Pipeline) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    features: FeatureUnion = pipeline.named_steps["features"]
    classifier: LogisticRegression = pipeline.named_steps["classifier"]
    meta: dict[str, Any] = {"classes": [str(c) for c in classifier.classes_], "vocabulary": {}}
    arrays: dict[str, np.ndarray] = {
        "coef": np.ascontiguousarray(classifier.coef_, dtype=np.float64),
        "intercept": np.ascontiguousarray(classifier.intercept_, dtype=np.float64),
    }
    for name, vectorizer in features.transformer_list:
        meta["vocabulary"][name] = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        arrays[f"idf_{name}"] = np.ascontiguousarray(vectorizer.idf_, dtype=np.float64)
    return meta, arrays


def _restore_pipeline(pipeline: Pipeline, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Pipeline:
    features: FeatureUnion = pipeline.named_steps["features"]
    for name, vectorizer in features.transformer_list:
        vectorizer.vocabulary_ = meta["vocabulary"][name]
        vectorizer.idf_ = arrays[f"idf_{name}"]
    classifier: LogisticRegression = pipeline.named_steps["classifier"]
    classifier.classes_ = np.array(meta["classes"], dtype=object)
    classifier.coef_ = arrays["coef"]
    classifier.intercept_ = arrays["intercept"]
    return pipeline
