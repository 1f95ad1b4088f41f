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
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from samskaping.errors import ModelLoadError
from samskaping.labels import LABEL_SETS, encode
from samskaping.models.base import Classifier, decode_predictions
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
        return {ls: head(pooled) for ls, head in self.heads.items()}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so CPU training repeats exactly."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def class_weights(labels: Sequence[int], n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``n / (k * count)``; unseen classes get 1."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes).astype(np.float64)
    seen = counts > 0
    weights = np.ones(n_classes)
    weights[seen] = counts.sum() / (seen.sum() * counts[seen])
    return torch.tensor(weights, dtype=torch.float32)


def linear_schedule(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up to 1, then linear decay to 0."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


class TransformerClassifier(Classifier):
    """Fine-tunes a pretrained encoder with one head per label set."""

    kind = "transformer"

    def __init__(
        self,
        label_sets: Sequence[str],
        config: Mapping[str, Any],
        network: MultiHeadModel,
        tokenizer: Any,
        progress: bool = True,
    ) -> None:
        super().__init__(label_sets, config)
        self.network = network
        self.tokenizer = tokenizer
        self.progress = progress
        self.max_length = int(config["model"]["transformer"]["max_length"])
        self._fitted = False

    # -- construction -----------------------------------------------------
    @classmethod
    def from_config(cls, cfg: Any, progress: bool = True) -> TransformerClassifier:
        """Resolve and load the pretrained encoder named in ``cfg.model.name``.

        Raises:
            ModelLoadError: the encoder cannot be had (see :func:`resolve_encoder`).
        """
        from transformers import AutoModel, AutoTokenizer

        t = cfg.model.transformer
        folder = resolve_encoder(cfg.model.name, t.revision, t.local_files_only)
        seed_everything(cfg.training.seed)  # head initialisation is part of the seeded run
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder)
            encoder = AutoModel.from_pretrained(folder)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"model '{cfg.model.name}' ({folder}) could not be loaded: {exc}") from exc
        network = MultiHeadModel(encoder, cfg.model.label_sets, t.dropout, t.pooling)
        return cls(cfg.model.label_sets, cfg.to_dict(), network, tokenizer, progress)

    def is_fitted(self) -> bool:
        return self._fitted

    # -- batching -----------------------------------------------------------
    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]

    def _collate(self, ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad a batch to its own longest sequence (dynamic padding)."""
        width = max(len(x) for x in ids)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        return input_ids, mask

    # -- training -----------------------------------------------------------
    def fit(
        self,
        texts: Sequence[str],
        labels: Mapping[str, Sequence[str]],
        validation: tuple[Sequence[str], Mapping[str, Sequence[str]]] | None = None,
        tracker: Any = None,
    ) -> dict[str, Any]:
        from tqdm.auto import tqdm

        from samskaping.evaluation import evaluate

        t = self.config["training"]
        seed_everything(t["seed"])
        if t.get("threads"):
            torch.set_num_threads(int(t["threads"]))
        ids = self._encode(texts)
        targets = {ls: torch.tensor(encode(ls, labels[ls])) for ls in self.label_sets}
        loss_fns = {
            ls: nn.CrossEntropyLoss(
                weight=class_weights(targets[ls].tolist(), len(LABEL_SETS[ls])) if t["class_weighting"] else None
            )
            for ls in self.label_sets
        }
        loss_weights = {ls: float(t["loss_weights"].get(ls, 1.0)) for ls in self.label_sets}

        head_lr = t["head_learning_rate"] or t["learning_rate"]
        decay, no_decay = [], []
        for name, param in self.network.encoder.named_parameters():
            (no_decay if param.ndim < 2 else decay).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": t["weight_decay"], "lr": t["learning_rate"]},
                {"params": no_decay, "weight_decay": 0.0, "lr": t["learning_rate"]},
                {"params": list(self.network.heads.parameters()), "weight_decay": t["weight_decay"], "lr": head_lr},
            ]
        )
        batch_size, accumulate = t["batch_size"], t["gradient_accumulation_steps"]
        steps_per_epoch = math.ceil(math.ceil(len(ids) / batch_size) / accumulate)
        total_steps = steps_per_epoch * t["epochs"]
        if t.get("max_steps"):
            total_steps = min(total_steps, t["max_steps"])
        warmup = int(t["warmup_ratio"] * total_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: linear_schedule(s, warmup, total_steps))
        generator = torch.Generator().manual_seed(t["seed"])

        best_score, best_state, best_epoch, stale = -math.inf, None, 0, 0
        history: list[dict[str, float]] = []
        step = 0
        started = time.perf_counter()
        try:
            for epoch in range(1, t["epochs"] + 1):
                self.network.train()
                order = torch.randperm(len(ids), generator=generator).tolist()
                batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
                bar = tqdm(batches, desc=f"Epoch {epoch}/{t['epochs']}", unit="batch", disable=not self.progress)
                running, seen = 0.0, 0
                optimizer.zero_grad()
                for b, batch in enumerate(bar):
                    input_ids, mask = self._collate([ids[i] for i in batch])
                    logits = self.network(input_ids, mask)
                    loss = sum(loss_weights[ls] * loss_fns[ls](logits[ls], targets[ls][batch]) for ls in self.label_sets)
                    (loss / accumulate).backward()
                    running += loss.item() * len(batch)
                    seen += len(batch)
                    if (b + 1) % accumulate == 0 or b + 1 == len(batches):
                        nn.utils.clip_grad_norm_(self.network.parameters(), t["max_grad_norm"])
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
                    val_texts, val_labels = validation
                    predicted = self.predict(val_texts, batch_size=t["eval_batch_size"])
                    reports = evaluate(val_labels, predicted, self.label_sets)
                    record.update({f"validation_{ls}_macro_f1": r.macro_f1 for ls, r in reports.items()})
                    score = float(np.mean([r.macro_f1 for r in reports.values()]))
                else:
                    score = -train_loss
                record["validation_mean_macro_f1"] = score
                history.append(record)
                log.info("epoch %d: train loss %.4f, validation mean macro-F1 %.4f", epoch, train_loss, score)
                if tracker is not None:
                    tracker.log_metrics({f"epoch_{k}": v for k, v in record.items() if k != "epoch"}, step=epoch)
                if score > best_score:
                    best_score, best_epoch, stale = score, epoch, 0
                    best_state = copy.deepcopy(self.network.state_dict())
                    self._fitted = True
                else:
                    stale += 1
                    if t["early_stopping_patience"] and stale >= t["early_stopping_patience"]:
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
            "history": history,
        }

    # -- prediction ---------------------------------------------------------
    def predict_proba(self, texts: Sequence[str], batch_size: int | None = None) -> dict[str, np.ndarray]:
        """Probabilities per label set; batches are sorted by length so padding stays small."""
        texts = list(texts)
        size = batch_size or int(self.config["training"].get("eval_batch_size", 64))
        out = {ls: np.zeros((len(texts), len(LABEL_SETS[ls])), dtype=np.float32) for ls in self.label_sets}
        if not texts:
            return out
        ids = self._encode(texts)
        order = np.argsort([len(x) for x in ids], kind="stable")
        was_training = self.network.training
        self.network.eval()
        with torch.inference_mode():
            for start in range(0, len(order), size):
                rows = order[start : start + size]
                input_ids, mask = self._collate([ids[i] for i in rows])
                logits = self.network(input_ids, mask)
                for ls in self.label_sets:
                    out[ls][rows] = torch.softmax(logits[ls].float(), dim=-1).numpy()
        self.network.train(was_training)
        return out

    # -- saving -------------------------------------------------------------
    def _save_files(self, folder: Path) -> None:
        from safetensors.torch import save_file

        self.network.encoder.save_pretrained(folder / "encoder", safe_serialization=True)
        self.tokenizer.save_pretrained(folder / "tokenizer")
        heads = {f"{ls}.{k}": v.detach().contiguous() for ls, head in self.network.heads.items() for k, v in head.state_dict().items()}
        save_file(heads, str(folder / "heads.safetensors"))

    @classmethod
    def _load_files(cls, folder: Path, manifest: dict[str, Any]) -> TransformerClassifier:
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        missing = [n for n in ("encoder", "tokenizer", "heads.safetensors") if not (folder / n).exists()]
        if missing:
            raise ModelLoadError(f"{folder}: missing {', '.join(missing)}; the model folder is incomplete, retrain or copy it again")
        config = manifest["config"]
        t = config["model"]["transformer"]
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
            encoder = AutoModel.from_pretrained(folder / "encoder")
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{folder}: the encoder or tokenizer cannot be loaded ({exc})") from exc
        label_sets = list(manifest["label_sets"])
        network = MultiHeadModel(encoder, label_sets, t["dropout"], t["pooling"])
        state = load_file(str(folder / "heads.safetensors"))
        for ls, head in network.heads.items():
            head.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(f"{ls}.")})
        network.eval()
        model = cls(label_sets, config, network, tokenizer, progress=False)
        model._fitted = True
        return model


__all__ = ["MultiHeadModel", "TransformerClassifier", "decode_predictions"]
