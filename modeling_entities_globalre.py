# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The built-in entity detector of GlobalRE: a BIO mention tagger and a mention-pair coreference scorer over the
relation model's own encoder, reading the plain document (`[CLS] subword tokens [SEP]` windows, no markers).

The tagger is BERT's token classification (Devlin et al., 2019, section 5.3): dropout and a linear layer over the
last hidden states. The coreference scorer is a mention-pair classifier as in JEREX (Eberts and Ulges, 2021,
section 3.2: two mention representations and a name-similarity feature into a feed-forward network); here the
mentions' first and last subword states, their element-wise product and a few name features (`NAME_FEATURES`,
computed from the mention texts by `entities_globalre.name_features`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.utils import ModelOutput

# What the coreference scorer is told about the names of two mentions besides their states, in this order
# (`entities_globalre.name_features` computes them; each 0 or 1 except `word_overlap`, a fraction):
# - exact_name: the normalized names are equal (case, white space, quotes and dashes aside);
# - name_inside: one name is a whole-word part of the other ("Curie" in "Marie Curie");
# - same_last_word, same_first_word: the names end (begin) with the same word;
# - word_overlap: shared words over all distinct words of both names (Jaccard);
# - acronym: one name is the initials of the other's words ("UN", "United Nations").
NAME_FEATURES = ("exact_name", "name_inside", "same_last_word", "same_first_word", "word_overlap", "acronym")


@dataclass
class EntityDetectionOutput(ModelOutput):
    """
    Output of [`GlobalReForRelationExtraction.entity_detection`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `tag_labels` or `coreference_labels`
            are given):
            `tag_loss` plus `coreference_loss` (those of them that have labels).
        tag_logits (`torch.FloatTensor` of shape `(num_windows, seq_len, 1 + 2 * len(entity_types))`):
            BIO tag logits per subword token: class 0 is O, `1 + 2k` the B tag of `entity_types[k]`, `2 + 2k` its
            I tag.
        coreference_logits (`torch.FloatTensor` of shape `(num_pairs,)`, *optional*):
            One logit per mention pair in `coreference_pairs` (sigmoid: the probability that the two mentions are
            one entity); `None` without pairs.
        hidden_states (`torch.FloatTensor` of shape `(num_windows, seq_len, hidden_size)`):
            The encoder's last hidden states, so that inference can score coreference after decoding the tags
            (`score_coreference`) without a second encoder pass.
        tag_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Mean cross-entropy over the scored tokens (`tag_labels` other than -100).
        coreference_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Mean binary cross-entropy over the labelled pairs.
    """

    loss: torch.FloatTensor | None = None
    tag_logits: torch.FloatTensor | None = None
    coreference_logits: torch.FloatTensor | None = None
    hidden_states: torch.FloatTensor | None = None
    tag_loss: torch.FloatTensor | None = None
    coreference_loss: torch.FloatTensor | None = None


def mention_states(hidden_states: torch.Tensor, mention_tokens: torch.Tensor) -> torch.Tensor:
    """Each mention's representation: the states of its first and last subword tokens, concatenated.

    Args:
        hidden_states (`torch.FloatTensor` of shape `(num_windows, seq_len, hidden_size)`).
        mention_tokens (`torch.LongTensor` of shape `(num_mentions, 2)`): flat indices (window x seq_len +
            position) of each mention's first and last subword.

    Returns `(num_mentions, 2 x hidden_size)`. Raises `ValueError` for an index outside the windows.
    """
    flat = hidden_states.reshape(-1, hidden_states.shape[-1])
    if mention_tokens.numel() and (
        int(mention_tokens.min()) < 0 or int(mention_tokens.max()) >= flat.shape[0]
    ):
        raise ValueError(
            f"mention_tokens must be flat token indices in [0, {flat.shape[0]}) (window x seq_len + position); "
            f"got values from {int(mention_tokens.min())} to {int(mention_tokens.max())}."
        )
    return flat[mention_tokens.reshape(-1)].reshape(mention_tokens.shape[0], -1)


class EntityDetectionHead(nn.Module):
    """The detector's own layers; the encoder is the relation model's.

    - `tagger`: dropout (the encoder's `hidden_dropout_prob`) and a linear layer from each last hidden state to
      `1 + 2 * len(entity_types)` BIO tag logits.
    - `coreference_scorer`: for a mention pair with representations `a` and `b` (`mention_states`, `2 x hidden`
      each) and name features `f` (`NAME_FEATURES`), `Linear(6 x hidden + len(f), hidden)`, GELU, dropout,
      `Linear(hidden, 1)` over `[a; b; a * b; f]`: one logit per pair.
    """

    def __init__(self, hidden_size: int, num_entity_types: int, dropout: float):
        super().__init__()
        if num_entity_types < 1:
            raise ValueError("EntityDetectionHead needs at least one entity type.")
        self.num_tags = 1 + 2 * num_entity_types
        self.dropout = nn.Dropout(dropout)
        self.tagger = nn.Linear(hidden_size, self.num_tags)
        pair_size = 3 * 2 * hidden_size + len(NAME_FEATURES)
        self.coreference_scorer = nn.Sequential(
            nn.Linear(pair_size, hidden_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, 1),
        )

    def tag_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`(num_windows, seq_len, hidden)` -> `(num_windows, seq_len, num_tags)` BIO tag logits."""
        return self.tagger(self.dropout(hidden_states))

    def coreference_logits(
        self,
        hidden_states: torch.Tensor,
        mention_tokens: torch.Tensor,
        coreference_pairs: torch.Tensor,
        coreference_features: torch.Tensor,
        max_pairs_per_call: int = 8192,
    ) -> torch.Tensor:
        """One logit per pair of `coreference_pairs` (`(num_pairs, 2)` indices into the mentions of
        `mention_tokens`), with the pairs' name features `coreference_features` (`(num_pairs,
        len(NAME_FEATURES))`). Pairs are scored `max_pairs_per_call` at a time, so that a document with many
        mentions needs little memory. Returns `(num_pairs,)`."""
        if coreference_features is None or coreference_features.shape != (
            coreference_pairs.shape[0],
            len(NAME_FEATURES),
        ):
            got = None if coreference_features is None else tuple(coreference_features.shape)
            raise ValueError(
                f"coreference_features must have shape ({coreference_pairs.shape[0]}, {len(NAME_FEATURES)}) (one "
                f"row of {', '.join(NAME_FEATURES)} per pair; entities_globalre.name_features); got {got}."
            )
        if coreference_pairs.numel() and (
            int(coreference_pairs.min()) < 0 or int(coreference_pairs.max()) >= mention_tokens.shape[0]
        ):
            raise ValueError(
                f"coreference_pairs must index the {mention_tokens.shape[0]} mentions of mention_tokens; got "
                f"indices from {int(coreference_pairs.min())} to {int(coreference_pairs.max())}."
            )
        mentions = mention_states(hidden_states, mention_tokens)
        logits = []
        for start in range(0, coreference_pairs.shape[0], max_pairs_per_call):
            pairs = coreference_pairs[start : start + max_pairs_per_call]
            first, second = mentions[pairs[:, 0]], mentions[pairs[:, 1]]
            features = coreference_features[start : start + max_pairs_per_call].to(mentions.dtype)
            pair_input = torch.cat([first, second, first * second, features], dim=-1)
            logits.append(self.coreference_scorer(pair_input).squeeze(-1))
        if not logits:
            return mentions.new_zeros(0)
        return torch.cat(logits)


def tag_loss(tag_logits: torch.Tensor, tag_labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the BIO tags over the scored tokens (labels other than -100), in float32; 0 (with a
    gradient path) when no token is scored."""
    scored = tag_labels != -100
    if not bool(scored.any()):
        return tag_logits.float().sum() * 0.0
    return nn.functional.cross_entropy(tag_logits[scored].float(), tag_labels[scored])


def coreference_loss(coreference_logits: torch.Tensor, coreference_labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of the pair logits against 0/1 labels (same entity or not), in float32; 0 when
    there are no pairs."""
    if coreference_logits.numel() == 0:
        return coreference_logits.float().sum() * 0.0
    return nn.functional.binary_cross_entropy_with_logits(
        coreference_logits.float(), coreference_labels.to(coreference_logits.device).float()
    )


__all__ = [
    "NAME_FEATURES",
    "EntityDetectionHead",
    "EntityDetectionOutput",
    "coreference_loss",
    "mention_states",
    "tag_loss",
]
