"""Typed, validated run configuration.

A config is a YAML file in ``configs/`` loaded into a frozen :class:`Config`.
Every key is checked before any work starts: unknown keys (with a "did you
mean"), wrong types and impossible values are reported together in one
:class:`~samskaping.errors.ConfigError` naming the file, the key and what is
allowed. Any key can be overridden with ``--set section.key=value``.

Relative paths in a config are read relative to the current working directory
(the project root when the README's commands are followed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from samskaping.config_problems import describe_problems
from samskaping.errors import ConfigError, ModelLoadError
from samskaping.labels import LABEL_SET_NAMES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class DataConfig(_Section):
    """Where the labelled data comes from and how it is split."""

    path: Path = Field(Path("data/samskaping-sentences.jsonl"), description="Labelled CSV, JSONL or XLSX file.")
    paths: list[Path] | None = Field(
        None, description="Several labelled files trained on together (the shipped data and your own); replaces path."
    )
    validation_size: float = Field(
        0.15, gt=0, lt=0.5, description="Share for validation when the file has no split column."
    )
    test_size: float = Field(0.15, gt=0, lt=0.5, description="Share for test when the file has no split column.")
    on_invalid: Literal["refuse", "skip"] = Field(
        "refuse", description="refuse: any bad row stops the run; skip: bad rows are left out and listed."
    )

    @model_validator(mode="wrap")
    @classmethod
    def _paths_replace_path(cls, data: Any, handler: Any) -> DataConfig:
        # with paths given, path is not read, so it is kept as written and not checked (a config's path may be
        # relative to another folder when --set data.paths=[...] names the files to use)
        if not isinstance(data, dict) or not data.get("paths") or data.get("path") is None:
            return handler(data)
        unread = data["path"]
        config = handler({k: v for k, v in data.items() if k != "path"})
        return config.model_copy(update={"path": unread if isinstance(unread, Path) else Path(str(unread))})

    @field_validator("path")
    @classmethod
    def _exists(cls, value: Path, info: ValidationInfo) -> Path:
        if info.context and info.context.get("check_files") is False:
            return value  # a saved model's config: its training data need not be on this machine
        return _labelled_file(value)

    @field_validator("paths")
    @classmethod
    def _all_exist(cls, value: list[Path] | None, info: ValidationInfo) -> list[Path] | None:
        if value is None or (info.context and info.context.get("check_files") is False):
            return value
        if not value:
            raise ValueError("give at least one file, or leave paths out and use path")
        return [_labelled_file(p) for p in value]

    @property
    def files(self) -> list[Path]:
        """The labelled files to train on: ``paths`` when given, else ``[path]``."""
        return list(self.paths) if self.paths else [self.path]


def _labelled_file(value: Path) -> Path:
    if not value.is_file():
        raise ValueError(
            f"file {value} not found (relative paths are read from {Path.cwd()}); allowed: a CSV, JSONL or XLSX file"
        )
    if value.suffix.lower() not in {".csv", ".jsonl", ".xlsx"}:
        raise ValueError(f"{value}: unsupported file type; allowed: .csv, .jsonl, .xlsx")
    return value


class TrainingConfig(_Section):
    """Optimisation settings (used by the transformer; the baseline uses seed only)."""

    seed: int = 42
    epochs: int = Field(4, ge=1, le=100)
    batch_size: int = Field(16, ge=1, le=1024)
    eval_batch_size: int = Field(64, ge=1, le=4096)
    learning_rate: float = Field(3e-5, gt=0, le=1)
    head_learning_rate: float | None = Field(None, gt=0, le=1, description="Heads' learning rate (null: same).")
    weight_decay: float = Field(0.01, ge=0, lt=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    gradient_accumulation_steps: int = Field(1, ge=1, le=256)
    max_grad_norm: float = Field(1.0, gt=0)
    class_weighting: bool = Field(True, description="Weight classes by inverse frequency in the loss.")
    loss_weights: dict[str, float] = Field(
        default_factory=lambda: {"conception": 1.0, "factor": 1.0, "polarity": 1.0},
        description="Weight of each label set's loss in the sum.",
    )
    early_stopping_patience: int = Field(2, ge=0, description="Epochs without improvement before stopping (0: off).")
    group_by_length: bool = Field(
        False,
        description="Put sentences of similar length in the same training batch (transformers' length-grouped "
        "order: shuffled, then sorted within mega-batches of 50 batches), so batches carry less padding and an "
        "epoch costs less on a CPU.",
    )
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps (for smoke tests).")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (null: all cores).")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when available, else CPU; cuda: stop with a message when there is no GPU."
    )
    calibrate_int8: bool = Field(
        False,
        description="After training a transformer, choose and measure its int8 recipe on the validation and test "
        "splits and save it with the model (int8.json), so predict.py --int8 needs no further step; "
        "minutes on a CPU (python -m samskaping.speed calibrate MODEL does the same later).",
    )
    measure_bf16: bool = Field(
        True,
        description="After training a transformer on a CPU with bf16 instructions (AMX or AVX512-BF16), compare bf16 "
        "with fp32 on the validation and test splits and save the result with the model (bf16.json), so predict.py "
        "--bf16 needs no further step; seconds to a minute. Skipped with a message on other CPUs "
        "(python -m samskaping.speed calibrate MODEL --only bf16 does it later).",
    )

    @field_validator("loss_weights")
    @classmethod
    def _known_label_sets(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if k not in LABEL_SET_NAMES]
        if unknown:
            raise ValueError(f"unknown label set {unknown}; allowed: {list(LABEL_SET_NAMES)}")
        negative = {k: v for k, v in value.items() if v < 0}
        if negative:
            raise ValueError(f"loss weights must be >= 0, got {negative}")
        return value


class ModelConfig(_Section):
    """Which model to train and on which label sets."""

    kind: str = Field("baseline", description="The model kind: a name in samskaping.models.registry.REGISTRY.")
    name: str = Field(
        "tfidf-logreg", min_length=1, description="Hub id or local folder of the encoder; a label for the baseline."
    )
    label_sets: tuple[str, ...] = Field(LABEL_SET_NAMES, min_length=1)
    use_context: bool = Field(
        False, description="Read a bullet together with the lead-in of its list (clarification 15 of the label scheme)."
    )
    context_columns: tuple[Literal["context", "heading", "previous"], ...] = Field(
        ("context",),
        min_length=1,
        description="With use_context: what the model reads besides the sentence, joined in this order "
        "(context: a list item's lead-in; heading: the nearest heading above; previous: the sentence before); "
        "the baseline can read each column apart instead (model.baseline.context_features: separate).",
    )
    # model.<kind>: one section per registered kind, added by config_schema() from the kinds' specs

    @field_validator("label_sets")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in LABEL_SET_NAMES]
        if unknown:
            raise ValueError(f"unknown label set {unknown}; allowed: {list(LABEL_SET_NAMES)}")
        if len(set(value)) != len(value):
            raise ValueError(f"label sets repeat: {list(value)}")
        if "polarity" in value and "factor" not in value:
            raise ValueError("polarity needs factor (polarity is none exactly when factor is none)")
        return value


class PredictionConfig(_Section):
    """Decision rules applied at prediction time (saved with the model; ``predict.py`` flags override them)."""

    priors: str | dict[str, dict[str, float]] = Field(
        "estimated",
        description="training | uniform | estimated (EM on the documents being classified) "
        "| {label_set: {label: share}}",
    )
    prior_strength: float = Field(
        200.0,
        ge=0.0,
        description="estimated priors: pseudo-sentences of the Dirichlet prior centred on the training priors "
        "(MAP EM; the training priors weigh s/(n + s) over n sentences; "
        "0 = plain EM, which can set a label's prior to 0)",
    )
    calibrate: bool = Field(True, description="Fit a temperature per label set on the validation split.")
    confidence: float = Field(
        0.9, gt=0.5, lt=1.0, description="Coverage of the conformal prediction sets (0.9 = 90 %)."
    )

    @field_validator("priors")
    @classmethod
    def _known_priors(cls, value: Any) -> Any:
        from samskaping.priors import check_setting

        try:
            return check_setting(value, where="priors")
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("priors: ")) from None


class TrackingConfig(_Section):
    """MLflow tracking: where runs go and under which registered name the model is stored."""

    enabled: bool = True
    tracking_uri: str | None = Field(None, description="null: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db")
    experiment: str = Field("samskaping", min_length=1)
    run_name: str | None = None
    registered_model_name: str | None = Field("samskaping", description="Model registry name (null: do not register).")
    register_model: bool | None = Field(
        None,
        description="Make the run's model a version of registered_model_name: true always, false never, "
        "null (default) only for a full training (a run with training.max_steps set is a smoke test: not registered).",
    )

    def registry_name(self, training: TrainingConfig) -> str | None:
        """The registered model name this run's model becomes a version of, or None (not registered)."""
        wanted = self.register_model if self.register_model is not None else training.max_steps is None
        return self.registered_model_name if wanted else None


class Config(_Section):
    """A whole training run."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    prediction: PredictionConfig = PredictionConfig()
    tracking: TrackingConfig = TrackingConfig()

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain JSON-compatible data."""
        return self.model_dump(mode="json")


_SCHEMAS: dict[tuple[tuple[str, str], ...], type[Config]] = {}


def config_schema() -> type[Config]:
    """:class:`Config` with ``model.kind`` limited to the registered kinds and a ``model.<kind>`` section each.

    Built from the kinds' :class:`~samskaping.models.kinds.KindSpec` (once per state of the registry), so a
    kind added to :data:`~samskaping.models.registry.REGISTRY` is validated without a line here.

    Raises:
        ModelLoadError: a registry entry names no spec, or a kind's name is taken by a ``model`` key.
    """
    from samskaping.models.registry import REGISTRY, kind_specs

    key = tuple(REGISTRY.items())
    if key not in _SCHEMAS:
        specs = kind_specs()
        taken = sorted(set(specs) & set(ModelConfig.model_fields))
        if taken:
            raise ModelLoadError(f"model kind {taken[0]!r}: the name is a key of the model section; rename the kind")
        default = "baseline" if "baseline" in specs else next(iter(specs))
        sections: dict[str, Any] = {kind: (spec.section, spec.section()) for kind, spec in specs.items()}
        model = create_model(
            "ModelConfig",
            __base__=ModelConfig,
            kind=(Literal[tuple(specs)], Field(default, description=ModelConfig.model_fields["kind"].description)),
            **sections,
        )
        _SCHEMAS[key] = create_model("Config", __base__=Config, model=(model, model()))
    return _SCHEMAS[key]


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys: ``{"a": {"b": 1}} -> {"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value``; the value is read as YAML (``2``, ``1e-4``, ``[a, b]``, ``null``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, for example --set training.epochs=2")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: the value is not valid YAML ({exc.__class__.__name__})") from exc
    return key.strip(), value


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Load and validate a YAML config, applying ``--set`` style overrides.

    Args:
        path: the YAML file.
        overrides: strings of the form ``section.key=value``.

    Returns:
        The frozen, validated config.

    Raises:
        ConfigError: the file is missing or not YAML, or any key is unknown,
            of the wrong type or out of range (all problems in one message;
            a problem with a key given by ``--set`` is blamed on ``--set``).
    """
    path = Path(path)
    if not path.is_file():
        available = sorted(p.name for p in Path("configs").glob("*.yaml")) if Path("configs").is_dir() else []
        hint = f"; configs here: {', '.join(available)}" if available else ""
        raise ConfigError(f"{path}: config file not found{hint}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (data, model, training, tracking)")
    given: dict[str, str] = {}
    for item in overrides or []:
        key, value = parse_override(item)
        _set_dotted(raw, key, value)
        given[key] = item
    return validate_config(raw, source=str(path), overrides=given)


def validate_config(
    raw: dict[str, Any], source: str = "<config>", check_files: bool = True, overrides: dict[str, str] | None = None
) -> Config:
    """Validate a config given as nested dicts; see :func:`load_config`.

    Args:
        raw: the nested sections.
        source: the file named in messages.
        check_files: check that ``data.path`` exists (off for the config saved with a model).
        overrides: dotted key -> the ``--set`` text that gave it, so its problems name ``--set``.
    """
    schema = config_schema()
    try:
        return schema.model_validate(raw, context={"check_files": check_files})
    except ValidationError as exc:
        raise ConfigError(describe_problems(exc, schema, source, overrides or {})) from None
