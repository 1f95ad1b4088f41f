"""Fine-tuning only the top layers of an encoder, with the frozen layers below run once per sentence.

With ``model.transformer.train_top_layers: N`` the embeddings and the lower ``L - N`` layers of an
``L``-layer encoder stay fixed. Their output for a sentence then never changes during training, so it
is computed once, in eval mode (no dropout below the trained layers), and kept in memory: a tensor of
``tokens x hidden`` fp32 values per sentence (e5-small: 384 x 4 B = 1.5 kB a token, about 60 kB for a
40-token sentence). Every training step runs only the top ``N`` layers, the pooling and the heads,
forward and backward, so after the one pass over the data an epoch costs about ``N / L`` of a full
one. Freezing the lower layers of a pretrained transformer keeps most of full fine-tuning's quality
(Lee, Tang and Lin 2019, "What Would Elsa Do? Freezing Layers During Transformer Fine-Tuning",
arXiv:1911.03090); caching their output is what turns the freeze into a saving on a CPU.

The trained model is an ordinary transformer model: prediction, ONNX export, int8 and bf16 run the
whole encoder as usual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from samskaping.errors import ConfigError


class _PassThrough(nn.Module):
    """Stands in for the embeddings: the cached states go in as ``inputs_embeds`` and come out unchanged."""

    def forward(self, input_ids: object = None, inputs_embeds: torch.Tensor | None = None, **kwargs: object) -> object:
        return inputs_embeds


def _parts(encoder: nn.Module, name: str) -> tuple[nn.ModuleList, nn.Module]:
    """The encoder's layer list and embeddings.

    Raises:
        ConfigError: the encoder is not BERT-shaped (``encoder.encoder.layer`` and ``encoder.embeddings``).
    """
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    embeddings = getattr(encoder, "embeddings", None)
    if not isinstance(layers, nn.ModuleList) or embeddings is None:
        raise ConfigError(
            f"model.transformer.train_top_layers: the encoder {name} has no BERT-style layer list "
            "(encoder.layer) and embeddings; remove the setting to fine-tune the whole encoder"
        )
    return layers, embeddings


def check_top_layers(encoder: nn.Module, n_top: int, name: str) -> int:
    """The number of layers below the trained ones (``L - n_top``).

    Raises:
        ConfigError: ``n_top`` is not between 1 and the encoder's layer count, or the encoder is not BERT-shaped.
    """
    layers, _ = _parts(encoder, name)
    if not 1 <= n_top <= len(layers):
        raise ConfigError(
            f"model.transformer.train_top_layers: {n_top} is not between 1 and the {len(layers)} layers of {name}"
        )
    return len(layers) - n_top


def freeze_lower(encoder: nn.Module, n_lower: int) -> None:
    """Stop gradients in the embeddings and the lowest ``n_lower`` layers."""
    layers, embeddings = _parts(encoder, "the encoder")
    for module in (embeddings, *list(layers)[:n_lower]):
        module.requires_grad_(False)


@contextlib.contextmanager
def _layers(encoder: nn.Module, keep: slice, pass_through: bool) -> Iterator[None]:
    """Run ``encoder`` with only ``layers[keep]`` (and the embeddings replaced when ``pass_through``)."""
    layers, embeddings = _parts(encoder, "the encoder")
    encoder.encoder.layer = nn.ModuleList(list(layers)[keep])
    if pass_through:
        encoder.embeddings = _PassThrough()
    try:
        yield
    finally:
        encoder.encoder.layer = layers
        encoder.embeddings = embeddings


def lower_states(
    encoder: nn.Module,
    ids: Sequence[Sequence[int]],
    n_lower: int,
    collate: Callable[[Sequence[Sequence[int]]], tuple[torch.Tensor, torch.Tensor]],
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> list[torch.Tensor]:
    """The output of the embeddings and the lowest ``n_lower`` layers for every sentence, computed once.

    Args:
        encoder: a BERT-shaped encoder (its training mode is restored afterwards).
        ids: token ids per sentence.
        n_lower: layers to run above the embeddings.
        collate: pads a batch of ids to ``(input_ids, attention_mask)`` on the encoder's device.
        batch_size: sentences per forward pass (sorted by length, so padding stays small).
        progress: called with the number of sentences done after each batch.

    Returns:
        One ``[tokens, hidden]`` fp32 tensor per sentence, in the order of ``ids``, on the CPU.
    """
    states: list[torch.Tensor | None] = [None] * len(ids)
    order = np.argsort([len(x) for x in ids], kind="stable")
    was_training = encoder.training
    encoder.eval()
    with _layers(encoder, slice(0, n_lower), pass_through=False), torch.no_grad():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            input_ids, mask = collate([ids[i] for i in rows])
            hidden = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state.float().cpu()
            for j, row in enumerate(rows):
                states[row] = hidden[j, : len(ids[row])].clone()
            if progress is not None:
                progress(len(rows))
    encoder.train(was_training)
    return states  # type: ignore[return-value]


def pad_states(states: Sequence[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad cached states to ``[batch, longest, hidden]`` with their attention mask ``[batch, longest]``."""
    width = max(s.shape[0] for s in states)
    hidden = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width, dtype=torch.long)
    for row, s in enumerate(states):
        hidden[row, : s.shape[0]] = s
        mask[row, : s.shape[0]] = 1
    return hidden.to(device), mask.to(device)


@contextlib.contextmanager
def top_only(encoder: nn.Module, n_lower: int) -> Iterator[None]:
    """Inside, ``encoder(inputs_embeds=states, attention_mask=mask)`` runs only the layers above ``n_lower``."""
    with _layers(encoder, slice(n_lower, None), pass_through=True):
        yield


__all__ = ["check_top_layers", "freeze_lower", "lower_states", "pad_states", "top_only"]
