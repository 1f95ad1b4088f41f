"""A shared transformer encoder with one classification head per label set.

One encoder pass serves every label set; the heads are linear layers on the
pooled sentence vector, trained jointly on the weighted sum of their
cross-entropy losses. Saved as safetensors + JSON (no pickle):

    encoder/            the fine-tuned encoder (Hugging Face format)
    tokenizer/          its tokenizer
    heads.safetensors   the heads' weights
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from samskaping.config import Config
from samskaping.errors import ModelLoadError
from samskaping.labels import LABEL_SETS, encode
from samskaping.models.base import Classifier, Contexts
from samskaping.models.encoder_source import resolve_encoder

log = logging.getLogger(__name__)


class MultiHeadModel(nn.Module):
    """Encoder + dropout + one linear head per label set."""

    def __init__(self, encoder: nn.Module, label_sets: Sequence[str], dropout: float, pooling: str) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        hidden = encoder.config.hidden_size
        self.heads = nn.ModuleDict({ls: nn.Linear(hidden, len(LABEL_SETS[ls])) for ls in label_sets})

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            return states[:, 0]
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.dropout(self.pool(input_ids, attention_mask))
        # the heads stay in fp32 under bf16 autocast: a few hundred products, and probabilities keep fp32 digits
        with torch.autocast(pooled.device.type, enabled=False):
            pooled = pooled.float()
            return {ls: head(pooled) for ls, head in self.heads.items()}


def class_weights(labels: Sequence[int], n_classes: int) -> torch.Tensor:
    """scikit-learn's «balanced» weights ``n / (k * count)`` for the classes seen; unseen classes get 1."""
    from sklearn.utils.class_weight import compute_class_weight

    y = np.asarray(labels, dtype=np.int64)
    seen = np.unique(y)
    weights = np.ones(n_classes)
    weights[seen] = compute_class_weight("balanced", classes=seen, y=y)
    return torch.tensor(weights, dtype=torch.float32)


def load_encoder(folder: Path | str, trust_remote_code: bool) -> nn.Module:
    """The encoder without BERT's pooler (its dense + tanh is never used: the heads pool themselves)."""
    from transformers import AutoModel

    try:
        return AutoModel.from_pretrained(folder, trust_remote_code=trust_remote_code, add_pooling_layer=False)
    except TypeError:  # encoders that have no pooler option
        return AutoModel.from_pretrained(folder, trust_remote_code=trust_remote_code)


def pick_device(wanted: str) -> torch.device:
    """``auto``: CUDA when available, else CPU; ``cuda`` without a GPU is an error.

    Raises:
        ModelLoadError: CUDA was asked for and torch sees no GPU.
    """
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
        # network at prediction (samskaping.onnx_runtime.OnnxBackend); None: PyTorch
        self.backend: Any = None
        # "bf16": PyTorch bf16 autocast on the CPU (samskaping.speed.bf16_model); "fp32": plain
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
            digest: the weights' digest (:func:`samskaping.onnx_runtime.weights_digest`), kept to answer for them.

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
        network = MultiHeadModel(encoder, cfg.model.label_sets, t.dropout, t.pooling)
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
        from tqdm.auto import tqdm
        from transformers import get_linear_schedule_with_warmup, set_seed

        from samskaping.evaluation import evaluate

        t = self.cfg.training
        set_seed(t.seed)
        self.backend = None  # training changes the weights an exported graph was made of
        self.restore_encoder()
        if t.threads:
            torch.set_num_threads(t.threads)
        self.to(pick_device(t.device))
        ids = self._encode(texts, contexts)
        targets = {ls: torch.tensor(encode(ls, labels[ls])) for ls in self.label_sets}
        loss_fns = {
            ls: nn.CrossEntropyLoss(
                weight=class_weights(targets[ls].tolist(), len(LABEL_SETS[ls])).to(self.device)
                if t.class_weighting
                else None
            )
            for ls in self.label_sets
        }
        loss_weights = {ls: float(t.loss_weights.get(ls, 1.0)) for ls in self.label_sets}
        if self.cfg.model.transformer.freeze_embeddings:
            self.network.encoder.get_input_embeddings().weight.requires_grad_(False)

        decay, no_decay = [], []
        for _, param in self.network.encoder.named_parameters():
            if param.requires_grad:
                (no_decay if param.ndim < 2 else decay).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": t.weight_decay, "lr": t.learning_rate},
                {"params": no_decay, "weight_decay": 0.0, "lr": t.learning_rate},
                {
                    "params": list(self.network.heads.parameters()),
                    "weight_decay": t.weight_decay,
                    "lr": t.head_learning_rate or t.learning_rate,
                },
            ]
        )
        batch_size, accumulate = t.batch_size, t.gradient_accumulation_steps
        steps_per_epoch = math.ceil(math.ceil(len(ids) / batch_size) / accumulate)
        total_steps = steps_per_epoch * t.epochs
        if t.max_steps:
            total_steps = min(total_steps, t.max_steps)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * total_steps), total_steps)
        generator = torch.Generator().manual_seed(t.seed)

        best_score, best_state, best_epoch, stale = -math.inf, None, 0, 0
        history: list[dict[str, float]] = []
        step = 0
        started = time.perf_counter()
        try:
            for epoch in range(1, t.epochs + 1):
                epoch_started = time.perf_counter()
                self.network.train()
                order = torch.randperm(len(ids), generator=generator).tolist()
                batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
                bar = tqdm(batches, desc=f"Epoch {epoch}/{t.epochs}", unit="batch", disable=not self.progress)
                running, seen = 0.0, 0
                optimizer.zero_grad()
                for b, batch in enumerate(bar):
                    input_ids, mask = self._collate([ids[i] for i in batch])
                    with self._autocast():
                        logits = self.network(input_ids, mask)
                        loss = sum(
                            loss_weights[ls] * loss_fns[ls](logits[ls].float(), targets[ls][batch].to(self.device))
                            for ls in self.label_sets
                        )
                    (loss / accumulate).backward()
                    running += loss.item() * len(batch)
                    seen += len(batch)
                    if (b + 1) % accumulate == 0 or b + 1 == len(batches):
                        nn.utils.clip_grad_norm_(self.network.parameters(), t.max_grad_norm)
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad()
                        step += 1
                        bar.set_postfix(loss=f"{running / seen:.3f}")
                        if step >= total_steps:
                            break
                train_loss = running / max(1, seen)
                record = {"epoch": epoch, "train_loss": train_loss, "steps": step}
                if validation is not None:
                    val_texts, val_labels, *rest = validation  # (texts, labels) or (texts, labels, contexts)
                    val_contexts = rest[0] if rest else None
                    predicted = self.predict(val_texts, batch_size=t.eval_batch_size, contexts=val_contexts)
                    reports = evaluate(val_labels, predicted, self.label_sets)
                    record.update({f"validation_{ls}_macro_f1": r.macro_f1 for ls, r in reports.items()})
                    score = float(np.mean([r.macro_f1 for r in reports.values()]))
                else:
                    score = -train_loss
                record["validation_mean_macro_f1"] = score
                record["epoch_seconds"] = time.perf_counter() - epoch_started
                history.append(record)
                # one plain line per epoch, so a log file shows progress even without a progress bar
                log.info(
                    "epoch %d/%d: train loss %.4f, validation mean macro-F1 %.4f, %.0f s",
                    epoch,
                    t.epochs,
                    train_loss,
                    score,
                    record["epoch_seconds"],
                )
                if tracker is not None:
                    tracker.log_metrics({f"epoch_{k}": v for k, v in record.items() if k != "epoch"}, step=epoch)
                if score > best_score:
                    best_score, best_epoch, stale = score, epoch, 0
                    best_state = copy.deepcopy(self.network.state_dict())
                    self._fitted = True
                else:
                    stale += 1
                    if t.early_stopping_patience and stale >= t.early_stopping_patience:
                        log.info("early stopping: no improvement for %d epoch(s)", stale)
                        break
                if step >= total_steps:
                    break
        except KeyboardInterrupt:
            if best_state is not None:
                self.network.load_state_dict(best_state)
                log.warning("interrupted: restored the best checkpoint (epoch %d)", best_epoch)
            raise
        if best_state is not None:
            self.network.load_state_dict(best_state)
        self._fitted = True
        self.network.eval()
        return {
            "best_epoch": best_epoch,
            "best_validation_mean_macro_f1": best_score,
            "steps": step,
            "seconds": round(time.perf_counter() - started, 2),
            "device": self.device.type,
            "history": history,
        }

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
        network = MultiHeadModel(encoder, cfg.model.label_sets, t.dropout, t.pooling)
        state = load_file(str(folder / "heads.safetensors"))
        for ls, head in network.heads.items():
            head.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(f"{ls}.")})
        network.eval()
        model = cls(cfg, network, tokenizer, progress=False)
        model._fitted = True
        model.source_folder = folder
        return model


__all__ = ["MultiHeadModel", "TransformerClassifier", "class_weights", "pick_device"]
