"""The Norwegian encoder configs, and the message for a model that ships its own code without trust_remote_code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from samskaping.config import load_config, validate_config
from samskaping.errors import ModelLoadError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "samskaping-sentences.jsonl"


@pytest.mark.parametrize(
    "config, hub_id",
    [
        ("norbert3-base", "ltg/norbert3-base"),
        ("norbert3-small", "ltg/norbert3-small"),
    ],
)
def test_norbert3_configs_ask_for_remote_code_and_the_hub(config, hub_id):
    cfg = load_config(ROOT / "configs" / f"{config}.yaml", [])
    t = cfg.model.transformer
    assert (cfg.model.kind, cfg.model.name) == ("transformer", hub_id)
    assert (t.trust_remote_code, t.local_files_only) == (True, False)


def test_trust_remote_code_is_off_unless_a_config_says_so():
    raw = {"data": {"path": str(DATA)}, "model": {"kind": "transformer", "name": "x"}}
    assert validate_config(raw).model.transformer.trust_remote_code is False
    assert load_config(ROOT / "configs" / "multilingual-e5-small.yaml", []).model.transformer.trust_remote_code is False


def test_model_with_its_own_code_and_trust_remote_code_off_says_how(tiny_bert, tmp_path, monkeypatch):
    """A local model whose architecture exists only as code in its folder, as NorBERT 3's does on the hub."""
    from samskaping.models.transformer import TransformerClassifier

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "custom-bert"
    shutil.copytree(tiny_bert, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="samskaping-custom",
        architectures=["CustomModel"],
        auto_map={"AutoConfig": "configuration_custom.CustomConfig", "AutoModel": "modeling_custom.CustomModel"},
    )
    (folder / "config.json").write_text(json.dumps(config))
    # never imported here: refusing to run it is the point
    (folder / "configuration_custom.py").write_text(
        "from transformers import BertConfig\n\n\n"
        "class CustomConfig(BertConfig):\n    model_type = 'samskaping-custom'\n"
    )
    (folder / "modeling_custom.py").write_text(
        "raise RuntimeError('remote code ran although trust_remote_code is false')\n"
    )
    cfg = validate_config(
        {
            "data": {"path": str(DATA)},
            "model": {"kind": "transformer", "name": str(folder), "transformer": {"max_length": 32}},
            "tracking": {"enabled": False},
        }
    )
    with pytest.raises(ModelLoadError) as err:
        TransformerClassifier.from_config(cfg, progress=False)
    message = str(err.value)
    assert f"model '{folder}'" in message
    assert "it ships its own code: set model.transformer.trust_remote_code: true if you trust it" in message
    assert "\n" not in message
