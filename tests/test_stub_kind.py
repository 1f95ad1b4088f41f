"""A model kind added inside a test: one module (this file) and one registry line.

The stub kind ``centroid`` (hashed word counts, one centroid per label, cosine similarity as logits)
declares itself with a :class:`~samskaping.models.kinds.KindSpec`. Registered by one line, it is
validated by the config, passes the contract test every kind passes, and is logged to a real local
MLflow store, registered and loaded back with the requirements its spec names.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import Field
from safetensors.numpy import load_file, save_file

from samskaping.errors import ConfigError
from samskaping.labels import LABEL_SETS
from samskaping.models.base import Classifier, Contexts
from samskaping.models.kinds import KindSection, KindSpec
from samskaping.models.registry import REGISTRY
from test_models import check_contract, fit_tiny, make_config

CENTROIDS_FILE = "centroids.safetensors"


class CentroidConfig(KindSection):
    """The stub kind's section, ``model.centroid``."""

    features: int = Field(1024, ge=16, description="Hashed word features per sentence.")
    sharpness: float = Field(10.0, gt=0, description="Logits are the cosine similarity times this.")


class CentroidClassifier(Classifier):
    """One centroid of L2-normalised hashed word counts per label; logits = sharpness x cosine similarity."""

    kind = "centroid"

    def __init__(self, cfg: Any) -> None:
        super().__init__(cfg)
        self.params: CentroidConfig = cfg.model.centroid
        self.centroids: dict[str, np.ndarray] = {}

    @classmethod
    def from_config(cls, cfg: Any, progress: bool = True) -> CentroidClassifier:
        return cls(cfg)

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        from sklearn.feature_extraction.text import HashingVectorizer

        hashing = HashingVectorizer(n_features=self.params.features, alternate_sign=False, norm="l2")
        return hashing.transform(list(texts)).toarray()

    def fit(
        self,
        texts: Sequence[str],
        labels: Mapping[str, Sequence[str]],
        validation: tuple[Any, ...] | None = None,
        tracker: Any = None,
        contexts: Contexts = None,
    ) -> dict[str, Any]:
        vectors = self._vectors(texts)
        for ls in self.label_sets:
            given = np.asarray(labels[ls])
            centroids = np.zeros((len(LABEL_SETS[ls]), vectors.shape[1]))
            for row, label in enumerate(LABEL_SETS[ls]):
                if (given == label).any():
                    mean = vectors[given == label].mean(axis=0)
                    centroids[row] = mean / max(np.linalg.norm(mean), 1e-12)
            self.centroids[ls] = centroids
        return {"train_rows": len(texts)}

    def is_fitted(self) -> bool:
        return set(self.centroids) == set(self.label_sets)

    def logits(
        self, texts: Sequence[str], batch_size: int | None = None, contexts: Contexts = None
    ) -> dict[str, np.ndarray]:
        vectors = self._vectors(texts)
        return {ls: self.params.sharpness * vectors @ c.T for ls, c in self.centroids.items()}

    def _save_files(self, folder: Path) -> None:
        save_file({ls: np.ascontiguousarray(c) for ls, c in self.centroids.items()}, str(folder / CENTROIDS_FILE))

    @classmethod
    def _load_files(cls, folder: Path, cfg: Any) -> CentroidClassifier:
        model = cls(cfg)
        model.centroids = dict(load_file(str(folder / CENTROIDS_FILE)))
        return model


SPEC = KindSpec(
    name="centroid",
    section=CentroidConfig,
    classifier=CentroidClassifier,
    requirements=(),
    has_encoder=False,
    contract_config={"model": {"name": "hashed-centroids", "centroid": {"features": 256}}},
)


@pytest.fixture
def centroid_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setitem(REGISTRY, "centroid", f"{__name__}:SPEC")  # the one registry line
    yield "centroid"


def test_the_stub_kind_passes_the_contract(centroid_kind: str, tmp_path: Path) -> None:
    folder = check_contract(centroid_kind, tmp_path, None)
    assert (folder / CENTROIDS_FILE).is_file()


def test_the_config_validates_the_stub_kinds_section(centroid_kind: str, tmp_path: Path) -> None:
    from samskaping.config import validate_config

    cfg = make_config(centroid_kind, tmp_path, None)
    assert cfg.model.centroid == CentroidConfig(features=256)
    assert cfg.to_dict()["model"]["baseline"]["C"] == 8.0  # the other kinds keep their sections
    with pytest.raises(ConfigError, match=r"model.centroid.features: .*greater than or equal to 16 \(got 4\)"):
        validate_config({"model": {"kind": "centroid", "centroid": {"features": 4}}}, check_files=False)
    with pytest.raises(
        ConfigError, match=r"unknown key 'model.centroid.feature' \(did you mean 'model.centroid.features'"
    ):
        validate_config({"model": {"kind": "centroid", "centroid": {"feature": 64}}}, check_files=False)


def test_an_unregistered_kind_is_refused_with_the_registered_ones(tmp_path: Path) -> None:
    from samskaping.config import validate_config

    with pytest.raises(
        ConfigError, match=r"model.kind: Input should be 'baseline' or 'transformer' \(got 'centroid'\)"
    ):
        validate_config({"model": {"kind": "centroid"}}, check_files=False)


def test_a_registry_line_that_names_no_spec_of_its_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from samskaping.errors import ModelLoadError
    from samskaping.models.registry import kind_spec

    monkeypatch.setitem(REGISTRY, "centroids", f"{__name__}:SPEC")  # the spec says "centroid"
    with pytest.raises(ModelLoadError, match=r"model kind 'centroids': test_stub_kind:SPEC is not a KindSpec named"):
        kind_spec("centroids")
    monkeypatch.setitem(REGISTRY, "centroids", f"{__name__}:CentroidConfig")
    with pytest.raises(ModelLoadError, match="fix its line in REGISTRY"):
        kind_spec("centroids")


@pytest.mark.slow
def test_the_stub_kind_is_logged_registered_and_loaded_from_a_real_mlflow_store(
    centroid_kind: str, tmp_path: Path
) -> None:
    from samskaping.mlflow_model import load_from_mlflow, log_model
    from samskaping.store import open_client

    model, _, frame = fit_tiny(centroid_kind, tmp_path, None)
    folder = model.save(tmp_path / "centroid-model")
    client, uri = open_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("stub-kind", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment)
    version = log_model(client, run.info.run_id, folder, "centroid")
    client.set_terminated(run.info.run_id)
    assert version == "1"

    logged = tmp_path / "artifacts" / run.info.run_id / "artifacts" / "model"
    names = {line.split("==")[0] for line in (logged / "requirements.txt").read_text().split()}
    assert "scikit-learn" in names and not names & {"torch", "transformers", "onnxruntime"}  # what its spec names

    loaded = load_from_mlflow("models:/centroid/1", tracking_uri=uri)
    assert type(loaded).__name__ == "CentroidClassifier" and loaded.kind == "centroid"
    texts = frame["text"].tolist()
    expected, got = model.predict_proba(texts), loaded.predict_proba(texts)
    for ls in expected:
        np.testing.assert_allclose(got[ls], expected[ls], atol=1e-9)
