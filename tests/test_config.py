from pathlib import Path

import pytest
from pydantic import ValidationError

from samskaping.config import flatten, load_config, parse_override
from samskaping.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def in_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_loads(name):
    cfg = load_config(ROOT / "configs" / name)
    assert cfg.model.label_sets == ("conception", "factor", "polarity")
    assert cfg.data.path.is_file()


def test_override_changes_value_and_type():
    cfg = load_config(
        "configs/baseline.yaml", ["training.epochs=2", "training.learning_rate=1e-4", "model.label_sets=[conception]"]
    )
    assert cfg.training.epochs == 2
    assert cfg.training.learning_rate == pytest.approx(1e-4)
    assert cfg.model.label_sets == ("conception",)


def test_config_is_frozen():
    cfg = load_config("configs/baseline.yaml")
    with pytest.raises(ValidationError, match="frozen"):
        cfg.training.epochs = 3  # type: ignore[misc]


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  epocs: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "training.epocs" in message
    assert "did you mean 'training.epochs'" in message


def test_all_problems_reported_together():
    with pytest.raises(ConfigError) as err:
        load_config(
            "configs/baseline.yaml",
            ["training.learning_rate=-1", "model.label_sets=[conception, stance]", "training.epochs=many"],
        )
    message = str(err.value)
    assert "3 problems" in message
    assert "training.learning_rate" in message and "greater than 0" in message
    assert "unknown label set ['stance']" in message and "allowed: ['conception', 'factor', 'polarity']" in message
    assert "training.epochs" in message and "'many'" in message


def test_missing_data_file_is_rejected_before_work():
    with pytest.raises(
        ConfigError, match=r"data.path: file nowhere/plan.csv not found .*allowed: a CSV, JSONL or XLSX file"
    ):
        load_config("configs/baseline.yaml", ["data.path=nowhere/plan.csv"])


def test_polarity_without_factor_is_rejected():
    with pytest.raises(ConfigError, match="polarity needs factor"):
        load_config("configs/baseline.yaml", ["model.label_sets=[conception, polarity]"])


def test_missing_config_file_lists_available():
    with pytest.raises(ConfigError, match=r"config file not found; configs here: .*baseline\.yaml"):
        load_config("configs/nope.yaml")


@pytest.mark.parametrize("text", ["training.epochs", "=3", ""])
def test_malformed_override(text):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_override(text)


def test_flatten_uses_dotted_keys():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == {"a.b": 1, "a.c.d": [1, 2], "e": "x"}


def test_data_paths_on_the_command_line_replace_a_data_path_relative_to_another_folder(tmp_path):
    config = tmp_path / "elsewhere.yaml"
    config.write_text("data:\n  path: ../their-project/data/plan.jsonl\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data.path: file ../their-project/data/plan.jsonl not found"):
        load_config(config)  # the fault: a path relative to another folder stops the run
    shipped = "data/samskaping-sentences.jsonl"
    cfg = load_config(config, [f"data.paths=[{shipped}]"])
    assert cfg.data.files == [Path(shipped)]
    assert cfg.data.path == Path("../their-project/data/plan.jsonl")  # kept as written, never read
    with pytest.raises(ConfigError, match=r"--set data.paths=\[nowhere.csv\]: data.paths: file nowhere.csv not found"):
        load_config(config, ["data.paths=[nowhere.csv]"])  # the files given are still checked
