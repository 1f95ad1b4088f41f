"""The transformer kind: a shared encoder with one classification head per label set.

One encoder pass serves every label set (the network is in
:mod:`~samskaping.models.transformer_network`, the training loop in
:mod:`~samskaping.models.transformer_training`). Saved as safetensors + JSON (no pickle):

    encoder/            the fine-tuned encoder (Hugging Face format)
    tokenizer/          its tokenizer
    heads.safetensors   the heads' weights

torch and transformers are imported inside the methods, so reading this kind's :data:`SPEC` (which the
config does to validate ``model.transformer``) loads neither.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from samskaping.errors import ModelLoadError
from samskaping.labels import LABEL_SETS
from samskaping.models.base import Classifier, Contexts
from samskaping.models.kinds import KindSection, KindSpec

if TYPE_CHECKING:
    import torch

    from samskaping.config import Config
    from samskaping.models.transformer_network import MultiHeadModel

log = logging.getLogger(__name__)


class TransformerConfig(KindSection):
    """A shared transformer encoder with one classification head per label set."""

    max_length: int = Field(128, ge=8, le=512, description="Tokens per sentence; longer ones are truncated.")
    pooling: Literal["cls", "mean"] = Field(
        "cls", description="Sentence vector: the [CLS] token or the mean of tokens."
    )
    dropout: float = Field(0.1, ge=0, lt=1)
    local_files_only: bool = Field(False, description="Never try the network, even when HF_HUB_OFFLINE is unset.")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) to download.")
    trust_remote_code: bool = Field(
        False,
        description="Run Python code shipped with the model (NorBERT 3 needs it); off unless you trust the source.",
    )
    prefix: str = Field("", description="Text put before every sentence, as the model was pretrained (e5: 'query: ').")
    freeze_embeddings: bool = Field(
        False, description="Keep the word embeddings fixed while fine-tuning (faster, less memory)."
    )
    train_top_layers: int | None = Field(
        None,
        ge=1,
        description="Fine-tune only the top N encoder layers and the heads; the embeddings and the layers below "
        "run once per sentence and their output is cached (null: fine-tune the whole encoder).",
    )
    context_pooling: Literal["sentence", "pair"] = Field(
        "sentence",
        description="With model.use_context and mean pooling: average the sentence's own tokens, which read the "
        "context through attention (sentence), or every token of the context-sentence pair (pair).",
    )


def build_network(cfg: Config, encoder: Any, tokenizer: Any) -> MultiHeadModel:
    """The encoder with its pooling and heads as ``cfg`` says (``context_pooling`` needs the separator id)."""
    from samskaping.models.transformer_network import MultiHeadModel

    t = cfg.model.transformer
    sentence_only = cfg.model.use_context and t.pooling == "mean" and t.context_pooling == "sentence"
    return MultiHeadModel(
        encoder, cfg.model.label_sets, t.dropout, t.pooling, tokenizer.sep_token_id if sentence_only else None
    )


def pick_device(wanted: str) -> torch.device:
    """``auto``: CUDA when available, else CPU; ``cuda`` without a GPU is an error.

    Raises:
        ModelLoadError: CUDA was asked for and torch sees no GPU.
    """
    import torch

    if wanted == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            "CUDA was asked for (training.device: cuda or --device cuda) but torch sees no GPU "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use --device cpu or auto"
        )
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(wanted)


class TransformerClassifier(Classifier):
    """Fine-tunes a pretrained encoder with one head per label set.

    With ``model.use_context`` the list lead-in of a bullet is the first text
    segment and the sentence the second (``[CLS] lead-in [SEP] sentence [SEP]``),
    so the encoder reads the bullet in the light of its lead-in.
    """

    kind = "transformer"
    uses_torch = True
    supports_int8 = True
    supports_bf16 = True

    def __init__(self, cfg: Config, network: MultiHeadModel, tokenizer: Any, progress: bool = True) -> None:
        import torch

        super().__init__(cfg)
        self.network = network
        self.tokenizer = tokenizer
        self.progress = progress
        self.max_length = cfg.model.transformer.max_length
        self.prefix = cfg.model.transformer.prefix
        self.device = torch.device("cpu")
        self._fitted = False
        # where the model was loaded from (None when built in memory): the ONNX export is cached there
        self.source_folder: Path | None = None
        # a callable (input_ids, attention_mask) -> logits per label set that replaces the PyTorch
        # network at prediction (samskaping.runtime.onnx.OnnxBackend); None: PyTorch
        self.backend: Any = None
        # "bf16": PyTorch bf16 autocast on the CPU (samskaping.runtime.bf16.bf16_model); "fp32": plain
        self.precision = "fp32"
        # the weights digest of an encoder whose PyTorch weights were freed (release_encoder), else None
        self.released_digest: str | None = None

    # -- the PyTorch weights while ONNX Runtime runs the model ------------------
    @property
    def encoder_released(self) -> bool:
        return self.released_digest is not None

    def release_encoder(self, digest: str) -> bool:
        """Free the PyTorch encoder's weights while a backend computes the logits (ONNX Runtime holds its own copy).

        They are read again from the model folder when PyTorch is needed (:meth:`restore_encoder`, called by
        :meth:`logits`, :meth:`fit`, :meth:`to` and saving). A model built in memory, with no folder to read
        them from, keeps them.

        Args:
            digest: the weights' digest (:func:`samskaping.runtime.export.weights_digest`), kept to answer for them.

        Returns:
            Whether the weights were freed.
        """
        if self.source_folder is None or self.device.type != "cpu":
            return False
        self.network.encoder.to("meta")  # parameters without storage; the config and modules stay
        self.released_digest = digest
        return True

    def restore_encoder(self) -> None:
        """Read the encoder's weights again after :meth:`release_encoder` (no-op otherwise)."""
        if not self.encoder_released:
            return
        from samskaping.models.transformer_network import load_encoder

        encoder = load_encoder(self.source_folder / "encoder", self.cfg.model.transformer.trust_remote_code)
        encoder.eval()
        self.network.encoder = encoder.to(self.device)
        self.released_digest = None
        log.debug("encoder weights read again from %s", self.source_folder)

    # -- construction -----------------------------------------------------
    @classmethod
    def from_config(cls, cfg: Config, progress: bool = True) -> TransformerClassifier:
        """Resolve and load the pretrained encoder named in ``cfg.model.name``.

        Raises:
            ModelLoadError: the encoder cannot be had (see :func:`resolve_encoder`).
        """
        from transformers import AutoTokenizer, set_seed

        from samskaping.models.encoder_source import resolve_encoder
        from samskaping.models.transformer_network import load_encoder

        t = cfg.model.transformer
        folder = resolve_encoder(cfg.model.name, t.revision, t.local_files_only)
        set_seed(cfg.training.seed)  # head initialisation is part of the seeded run
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=t.trust_remote_code)
            encoder = load_encoder(folder, t.trust_remote_code)
        except (OSError, ValueError) as exc:
            hint = (
                "; it ships its own code: set model.transformer.trust_remote_code: true if you trust it"
                if "trust_remote_code" in str(exc)
                else ""
            )
            raise ModelLoadError(
                f"model '{cfg.model.name}' ({folder}) could not be loaded: {str(exc).splitlines()[0]}{hint}"
            ) from exc
        network = build_network(cfg, encoder, tokenizer)
        return cls(cfg, network, tokenizer, progress)

    def is_fitted(self) -> bool:
        return self._fitted

    @property
    def class_weighted(self) -> bool:
        return self.cfg.training.class_weighting

    def to(self, device: torch.device) -> TransformerClassifier:
        """Move the network to ``device`` (``cpu`` or ``cuda``)."""
        if self.encoder_released and device.type == "cpu":
            self.device = device  # reloaded on the CPU when PyTorch is needed again
            return self
        self.restore_encoder()
        self.network.to(device)
        self.device = device
        return self

    # -- batching -----------------------------------------------------------
    def _encode(self, texts: Sequence[str], contexts: Contexts = None) -> list[list[int]]:
        texts = [self.prefix + text for text in texts]
        context = self.context_inputs(texts, contexts)
        if not any(context):
            return self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        # the sentence keeps its tokens; a long lead-in is cut first
        pairs = self.tokenizer(context, texts, truncation="only_first", max_length=self.max_length)["input_ids"]
        alone = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        return [p if c else a for p, a, c in zip(pairs, alone, context, strict=True)]

    def _collate(self, ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad a batch to its own longest sequence (dynamic padding)."""
        import torch

        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        return input_ids.to(self.device), mask.to(self.device)

    def _autocast(self) -> Any:
        """bf16 mixed precision on a GPU; on the CPU plain fp32 unless ``precision`` is "bf16"."""
        from contextlib import nullcontext

        import torch

        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        if self.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return nullcontext()

    # -- training -----------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: Mapping[str, Sequence[str]],
        validation: tuple[Sequence[str], Mapping[str, Sequence[str]], Contexts] | None = None,
        tracker: Any = None,
        contexts: Contexts = None,
    ) -> dict[str, Any]:
        import torch
        from transformers import set_seed

        from samskaping.models.transformer_training import fit_network

        t = self.cfg.training
        set_seed(t.seed)
        self.backend = None  # training changes the weights an exported graph was made of
        self.restore_encoder()
        if t.threads:
            torch.set_num_threads(t.threads)
        self.to(pick_device(t.device))
        return fit_network(self, texts, labels, validation, tracker, contexts)

    # -- prediction ---------------------------------------------------------
    def logits(
        self, texts: Sequence[str], batch_size: int | None = None, contexts: Contexts = None
    ) -> dict[str, np.ndarray]:
        """Logits per label set; batches are sorted by length so padding stays small."""
        texts = list(texts)
        size = batch_size or self.cfg.training.eval_batch_size
        out = {ls: np.zeros((len(texts), len(LABEL_SETS[ls])), dtype=np.float32) for ls in self.label_sets}
        if not texts:
            return out
        import torch

        ids = self._encode(texts, contexts)
        order = np.argsort([len(x) for x in ids], kind="stable")
        if self.backend is None:
            self.restore_encoder()
        was_training = self.network.training
        self.network.eval()
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(order), size):
                rows = order[start : start + size]
                input_ids, mask = self._collate([ids[i] for i in rows])
                if self.backend is not None:
                    for ls, values in self.backend(input_ids.cpu().numpy(), mask.cpu().numpy()).items():
                        out[ls][rows] = values
                    continue
                logits = self.network(input_ids, mask)
                for ls in self.label_sets:
                    out[ls][rows] = logits[ls].float().cpu().numpy()
        self.network.train(was_training)
        return out

    # -- saving -------------------------------------------------------------
    def _save_files(self, folder: Path) -> None:
        from safetensors.torch import save_file

        self.restore_encoder()
        self.network.encoder.save_pretrained(folder / "encoder", safe_serialization=True)
        self.tokenizer.save_pretrained(folder / "tokenizer")
        heads = {
            f"{ls}.{k}": v.detach().cpu().contiguous()
            for ls, head in self.network.heads.items()
            for k, v in head.state_dict().items()
        }
        save_file(heads, str(folder / "heads.safetensors"))

    @classmethod
    def _load_files(cls, folder: Path, cfg: Config) -> TransformerClassifier:
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        from samskaping.models.transformer_network import load_encoder

        missing = [n for n in ("encoder", "tokenizer", "heads.safetensors") if not (folder / n).exists()]
        if missing:
            raise ModelLoadError(
                f"{folder}: missing {', '.join(missing)}; the model folder is incomplete, retrain or copy it again"
            )
        t = cfg.model.transformer
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer", trust_remote_code=t.trust_remote_code)
            encoder = load_encoder(folder / "encoder", t.trust_remote_code)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"{folder}: the encoder or tokenizer cannot be loaded ({str(exc).splitlines()[0]})"
            ) from exc
        network = build_network(cfg, encoder, tokenizer)
        state = load_file(str(folder / "heads.safetensors"))
        for ls, head in network.heads.items():
            head.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(f"{ls}.")})
        network.eval()
        model = cls(cfg, network, tokenizer, progress=False)
        model._fitted = True
        model.source_folder = folder
        return model


SPEC = KindSpec(
    name="transformer",
    section=TransformerConfig,
    classifier=TransformerClassifier,
    # onnx and onnxruntime: the MLflow model runs the encoder in ONNX Runtime when it can
    requirements=("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "filelock"),
    has_encoder=True,
    saved_before={"context_pooling": "pair"},  # folders saved before the setting pooled the whole pair
    contract_config={
        "model": {"transformer": {"max_length": 48}},
        "training": {
            "epochs": 3,
            "batch_size": 8,
            "learning_rate": 1e-3,
            "head_learning_rate": 5e-3,
            "warmup_ratio": 0.0,
            "early_stopping_patience": 0,
        },
    },
)

__all__ = ["SPEC", "TransformerClassifier", "TransformerConfig", "pick_device"]
