"""The network of a transformer classifier: encoder, pooling and one linear head per label set.

One encoder pass serves every label set; the heads are linear layers on the pooled sentence vector,
trained jointly on the weighted sum of their cross-entropy losses (:func:`class_weights` balances them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from samskaping.labels import LABEL_SETS


def sentence_mask(input_ids: torch.Tensor, attention_mask: torch.Tensor, sep_id: int) -> torch.Tensor:
    """The tokens of each row's second segment (the sentence of a ``context, sentence`` pair).

    A pair is ``[CLS] context [SEP] sentence [SEP]`` (BERT) or ``<s> context </s></s> sentence </s>``
    (XLM-R, e5): the sentence's tokens are the non-separator tokens after the first separator. A row
    that is a sentence alone has none there and keeps its whole ``attention_mask``.

    Args:
        input_ids, attention_mask: ``[batch, tokens]``.
        sep_id: the tokenizer's separator id.

    Returns:
        A ``[batch, tokens]`` mask of ``attention_mask``'s dtype.
    """
    # integer arithmetic only: ONNX Runtime has no Where over booleans, and the export must run there
    is_sep = (input_ids == sep_id).long()
    mask = attention_mask.long()
    second = (is_sep.cumsum(1) >= 1).long() * (1 - is_sep) * mask
    pair = (second.sum(1, keepdim=True) > 0).long()
    return (pair * second + (1 - pair) * mask).to(attention_mask.dtype)


class MultiHeadModel(nn.Module):
    """Encoder + dropout + one linear head per label set.

    With ``pool_after_sep`` (a separator token id) mean pooling averages only the second segment of a
    sentence pair (:func:`sentence_mask`): the sentence's own tokens, which have read the context
    through attention, so the vector stays the sentence's (``model.transformer.context_pooling``).
    """

    def __init__(
        self,
        encoder: nn.Module,
        label_sets: Sequence[str],
        dropout: float,
        pooling: str,
        pool_after_sep: int | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.pool_after_sep = pool_after_sep
        self.dropout = nn.Dropout(dropout)
        hidden = encoder.config.hidden_size
        self.heads = nn.ModuleDict({ls: nn.Linear(hidden, len(LABEL_SETS[ls])) for ls in label_sets})

    def pool(
        self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, inputs_embeds: torch.Tensor | None = None
    ) -> torch.Tensor:
        if inputs_embeds is None:
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        else:  # cached states of frozen lower layers (samskaping.models.transformer_top); input_ids for pooling
            states = self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            return states[:, 0]
        if self.pool_after_sep is not None and input_ids is not None:
            attention_mask = sentence_mask(input_ids, attention_mask, self.pool_after_sep)
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def forward(
        self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, inputs_embeds: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        pooled = self.dropout(self.pool(input_ids, attention_mask, inputs_embeds))
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


__all__ = ["MultiHeadModel", "class_weights", "load_encoder", "sentence_mask"]
