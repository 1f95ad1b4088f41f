"""The training loop of a transformer classifier: AdamW, linear warm-up and decay, early stopping.

Runs :class:`~samskaping.models.transformer.TransformerClassifier.fit` after the model has been put on
its device: batches of the shuffled training sentences, the weighted sum of one cross-entropy loss per
label set (classes weighted when ``training.class_weighting`` is on), gradient accumulation and
clipping, one validation pass per epoch, and the best epoch's weights kept (also on Ctrl-C).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from samskaping.labels import LABEL_SETS, encode
from samskaping.models.transformer_network import class_weights
from samskaping.models.transformer_top import check_top_layers, freeze_lower, lower_states, pad_states, top_only

if TYPE_CHECKING:
    from samskaping.models.base import Contexts
    from samskaping.models.transformer import TransformerClassifier

log = logging.getLogger(__name__)


def fit_network(
    model: TransformerClassifier,
    texts: Sequence[str],
    labels: Mapping[str, Sequence[str]],
    validation: tuple[Any, ...] | None,
    tracker: Any,
    contexts: Contexts,
) -> dict[str, Any]:
    """Train ``model``'s network in place, seeded, on its device; see :meth:`TransformerClassifier.fit`.

    Returns:
        best_epoch, best_validation_mean_macro_f1, steps, seconds, device and the per-epoch history.

    Raises:
        KeyboardInterrupt: after restoring the best epoch so far (the model is then fitted if one finished).
    """
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    from samskaping.evaluation import evaluate

    t = model.cfg.training
    ids = model._encode(texts, contexts)
    targets = {ls: torch.tensor(encode(ls, labels[ls])) for ls in model.label_sets}
    loss_fns = {
        ls: nn.CrossEntropyLoss(
            weight=class_weights(targets[ls].tolist(), len(LABEL_SETS[ls])).to(model.device)
            if t.class_weighting
            else None
        )
        for ls in model.label_sets
    }
    loss_weights = {ls: float(t.loss_weights.get(ls, 1.0)) for ls in model.label_sets}
    if model.cfg.model.transformer.freeze_embeddings:
        model.network.encoder.get_input_embeddings().weight.requires_grad_(False)
    n_lower, cached, val_ids, val_cached = None, [], [], []
    if model.cfg.model.transformer.train_top_layers:
        n_lower = check_top_layers(
            model.network.encoder, model.cfg.model.transformer.train_top_layers, model.cfg.model.name
        )
        freeze_lower(model.network.encoder, n_lower)
        cached = _cached_states(model, ids, n_lower, "training")
        if validation is not None:
            val_texts, _, *rest = validation
            val_ids = model._encode(val_texts, rest[0] if rest else None)
            val_cached = _cached_states(model, val_ids, n_lower, "validation")

    decay, no_decay = [], []
    for _, param in model.network.encoder.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": t.weight_decay, "lr": t.learning_rate},
            {"params": no_decay, "weight_decay": 0.0, "lr": t.learning_rate},
            {
                "params": list(model.network.heads.parameters()),
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
    lengths = [len(x) for x in ids]  # tokens per training sentence, for length-grouped batches

    best_score, best_state, best_epoch, stale = -math.inf, None, 0, 0
    history: list[dict[str, float]] = []
    step = 0
    started = time.perf_counter()
    try:
        for epoch in range(1, t.epochs + 1):
            epoch_started = time.perf_counter()
            model.network.train()
            batches = training_batches(lengths, batch_size, t.group_by_length, generator)
            bar = tqdm(batches, desc=f"Epoch {epoch}/{t.epochs}", unit="batch", disable=not model.progress)
            running, seen = 0.0, 0
            optimizer.zero_grad()
            for b, batch in enumerate(bar):
                with model._autocast():
                    if n_lower is None:
                        logits = model.network(*model._collate([ids[i] for i in batch]))
                    else:
                        with top_only(model.network.encoder, n_lower):
                            hidden, mask = pad_states([cached[i] for i in batch], model.device)
                            logits = model.network(_pooling_ids(model, ids, batch), mask, inputs_embeds=hidden)
                    loss = sum(
                        loss_weights[ls] * loss_fns[ls](logits[ls].float(), targets[ls][batch].to(model.device))
                        for ls in model.label_sets
                    )
                (loss / accumulate).backward()
                running += loss.item() * len(batch)
                seen += len(batch)
                if (b + 1) % accumulate == 0 or b + 1 == len(batches):
                    nn.utils.clip_grad_norm_(model.network.parameters(), t.max_grad_norm)
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
                if n_lower is None:
                    predicted = model.predict(val_texts, batch_size=t.eval_batch_size, contexts=val_contexts)
                else:
                    predicted = _predict_cached(model, val_cached, val_ids, n_lower, t.eval_batch_size)
                reports = evaluate(val_labels, predicted, model.label_sets)
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
                best_state = copy.deepcopy(model.network.state_dict())
                model._fitted = True
            else:
                stale += 1
                if t.early_stopping_patience and stale >= t.early_stopping_patience:
                    log.info("early stopping: no improvement for %d epoch(s)", stale)
                    break
            if step >= total_steps:
                break
    except KeyboardInterrupt:
        if best_state is not None:
            model.network.load_state_dict(best_state)
            log.warning("interrupted: restored the best checkpoint (epoch %d)", best_epoch)
        raise
    if best_state is not None:
        model.network.load_state_dict(best_state)
    model._fitted = True
    model.network.eval()
    return {
        "best_epoch": best_epoch,
        "best_validation_mean_macro_f1": best_score,
        "steps": step,
        "seconds": round(time.perf_counter() - started, 2),
        "device": model.device.type,
        "history": history,
    }


def training_batches(
    lengths: Sequence[int], batch_size: int, group_by_length: bool, generator: torch.Generator
) -> list[list[int]]:
    """One epoch's batches of row indices: every row once, in batches of ``batch_size`` (the last may be smaller).

    Args:
        lengths: tokens per sentence (the padding a batch needs is set by its longest sentence).
        batch_size: rows per batch.
        group_by_length: shuffle, then sort by length within mega-batches of up to 50 batches
            (``transformers.trainer_pt_utils.get_length_grouped_indices``, the order of the Trainer's
            ``group_by_length``), so each batch holds sentences of similar length; else a plain shuffle.
        generator: the seeded generator both orders draw from.
    """
    if group_by_length:
        from transformers.trainer_pt_utils import get_length_grouped_indices

        order = [int(i) for i in get_length_grouped_indices(list(lengths), batch_size, generator=generator)]
    else:
        order = torch.randperm(len(lengths), generator=generator).tolist()
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _cached_states(model: TransformerClassifier, ids: list[list[int]], n_lower: int, split: str) -> list[torch.Tensor]:
    """The frozen layers' output for every sentence of ``split``, with a progress bar and a log line."""
    from tqdm.auto import tqdm

    started = time.perf_counter()
    with tqdm(total=len(ids), desc=f"Frozen layers ({split})", unit="sent", disable=not model.progress) as bar:
        states = lower_states(
            model.network.encoder, ids, n_lower, model._collate, model.cfg.training.eval_batch_size, bar.update
        )
    log.info(
        "ran the embeddings and %d frozen layers once over %d %s sentences in %.0f s",
        n_lower,
        len(ids),
        split,
        time.perf_counter() - started,
    )
    return states


def _pooling_ids(model: TransformerClassifier, ids: list[list[int]], rows: Sequence[int]) -> torch.Tensor | None:
    """The padded token ids of ``rows`` when the pooling needs them (a pair pooled over its sentence), else None."""
    if model.network.pool_after_sep is None:
        return None
    return model._collate([ids[i] for i in rows])[0]


def _predict_cached(
    model: TransformerClassifier,
    states: list[torch.Tensor],
    ids: list[list[int]],
    n_lower: int,
    batch_size: int,
) -> dict[str, list[str]]:
    """Labels from cached lower states (``ids``: their token ids), decided exactly as ``model.predict`` decides them."""
    from samskaping.models.base import decode_predictions

    order = np.argsort([s.shape[0] for s in states], kind="stable")
    logits = {ls: np.zeros((len(states), len(LABEL_SETS[ls])), dtype=np.float32) for ls in model.label_sets}
    model.network.eval()
    with torch.no_grad(), model._autocast():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            with top_only(model.network.encoder, n_lower):
                hidden, mask = pad_states([states[i] for i in rows], model.device)
                out = model.network(_pooling_ids(model, ids, rows), mask, inputs_embeds=hidden)
            for ls in model.label_sets:
                logits[ls][rows] = out[ls].float().cpu().numpy()
    model.network.train()
    return decode_predictions({ls: model.probabilities(ls, z) for ls, z in logits.items()})[0]


__all__ = ["fit_network", "training_batches"]
