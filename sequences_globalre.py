# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""What GlobalRE's two encodings share: the interface of their encoder sequences (`EncoderSequences`), one
document's encoding (`DocumentEncoding`), the tokenized document both builders start from (`TokenizedDocument`),
the processor settings they read with the helpers both use (`EncodingSettings`: the markers around a mention, an
entity's part), and length-sorted batching.

The encodings themselves: the one-pair encoding (`[CLS] document [SEP] head [SEP] tail [SEP]` per pair) in
`pair_encoding_globalre.py`, the packed encoding (each document once, each pair a short segment) in
`packed_encoding_globalre.py`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch


class EncoderSequences(Protocol):
    """The encoder sequences of some candidate pairs, one per pair, without a list per pair: what
    `PairSequences` (the one-pair encoding) and `PackedSequences` (the packed encoding) both offer, and all that
    batching, training and the pipeline read of them.

    Row `i` is pair `i`'s input as the encoder reads it: its document part (token type 0), then its pair part.
    """

    # int32 (num_tokens,): the token ids every sequence is gathered from
    tokens: np.ndarray

    def __len__(self) -> int:
        """The number of pairs."""

    @property
    def lengths(self) -> np.ndarray:
        """int64 (num_pairs,): the number of tokens of each pair's input on its own."""

    @property
    def segment_lengths(self) -> np.ndarray:
        """int64 (num_pairs,): the number of tokens of each pair's document part (`[CLS] document [SEP]`, or all
        the windows of its document)."""

    def row(self, index: int) -> np.ndarray:
        """Pair `index`'s input as an array of token ids, `(lengths[index],)`."""

    def to_lists(self) -> list[list[int]]:
        """Every pair's input as a list of token ids (for reading; batching never needs them)."""

    def token_type_lists(self) -> list[list[int]]:
        """Every pair's token types, aligned with `to_lists`."""

    def encoder_tokens(self, rows: Sequence[int] | np.ndarray | None = None) -> int:
        """How many tokens the encoder reads for the pairs `rows` (all by default)."""

    def subset(self, rows: Sequence[int] | np.ndarray) -> EncoderSequences:
        """The pairs `rows`, in that order, sharing this container's arrays."""

    @classmethod
    def concatenate(cls, parts: Sequence[EncoderSequences]) -> EncoderSequences:
        """The pairs of several parts (of one class), in order, in one container."""

    def pad(
        self, rows: Sequence[int] | np.ndarray, pad_token_id: int, pad_to_multiple_of: int | None = None
    ) -> dict[str, torch.Tensor]:
        """One padded batch of the pairs `rows`: int64 tensors the model's `forward` takes, its outputs in the
        order of `rows`. At least `input_ids`, `attention_mask` and `token_type_ids` (batch rows x padded length,
        the length rounded up to `pad_to_multiple_of`)."""

    def iter_batches(
        self,
        max_batch_tokens: int,
        max_batch_pairs: int | None = None,
        pad_token_id: int = 0,
        pad_to_multiple_of: int | None = None,
    ) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        """Yields `(rows, batch)` covering every pair once: batches (`pad`) of at most `max_batch_tokens` padded
        tokens (a pair that alone exceeds it gets a batch of its own) and `max_batch_pairs` pairs."""


def is_encoder_sequences(value: Any) -> bool:
    """Whether `value` is a `PairSequences` or a `PackedSequences` (an `EncoderSequences`). Checked by its fields,
    not its class: Hub remote code can load the encoding files twice (once for the processor, once beside the
    pipeline), and the two copies' classes are not the same."""
    return isinstance(getattr(value, "tokens", None), np.ndarray) and callable(
        getattr(value, "iter_batches", None)
    )


@dataclass
class DocumentEncoding:
    """The encoder sequences of one document's candidate pairs.

    `pairs[i]` is the ordered (head, tail) entity pair encoded as pair `i` of `sequences`: a `PairSequences` (the
    one-pair encoding: one flat token array, no list per pair) or a `PackedSequences` (the packed encoding).
    `input_ids`, `segment_lengths` (the length of the document part, `[CLS] document [SEP]`) and `token_type_ids`
    spell out what the encoder reads for each pair, as lists built anew on each access; batching reads `sequences`
    directly. `truncated_pairs` lists the positions `i` whose document segment was shortened to fit the budget;
    `windows` is how many windows the packed encoding split the document into (1 when it fits).
    """

    title: str
    pairs: list[tuple[int, int]]
    sequences: EncoderSequences
    truncated_pairs: list[int] = field(default_factory=list)
    document_tokens: int = 0
    notes: list[str] = field(default_factory=list)
    windows: int = 1

    def __post_init__(self):
        if not is_encoder_sequences(self.sequences):
            raise TypeError(
                "DocumentEncoding.sequences is a PairSequences or a PackedSequences; build one from lists of ids "
                "with PairSequences.from_lists(input_ids, segment_lengths) (token types are derived, not passed in)."
            )
        if len(self.sequences) != len(self.pairs):
            raise ValueError(f"{len(self.sequences)} sequences for {len(self.pairs)} pairs")

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def num_tokens(self) -> int:
        """How many tokens the encoder reads for all the pairs."""
        return self.sequences.encoder_tokens()

    @property
    def input_ids(self) -> list[list[int]]:
        return self.sequences.to_lists()

    @property
    def segment_lengths(self) -> list[int]:
        return self.sequences.segment_lengths.tolist()

    @property
    def token_type_ids(self) -> list[list[int]]:
        return self.sequences.token_type_lists()


@dataclass
class TokenizedDocument:
    """A document tokenized once (`GlobalReProcessor.tokenize_document`), what both encodings are built from.
    Token positions index `ids`, the document's word pieces without special tokens."""

    title: str
    label: str
    ids: list[int]
    sentence_bounds: list[tuple[int, int]]  # token [start, end) of each sentence
    mentions: list[list[tuple[int, int]]]  # token [start, end) of each mention, per entity
    entity_ids: list[list[int]]  # token ids of each entity segment
    entity_types: list[str]
    type_ids: dict[str, list[int]]


@dataclass(frozen=True)
class EncodingSettings:
    """The processor settings the encoding builders read (`GlobalReProcessor.encoding_settings()`; the options
    are documented in `GlobalReConfig`), and the helpers both builders use: the marker tokens around a mention
    (`markers`) and an entity's part of a pair's input (`entity_parts`)."""

    max_seq_length: int
    max_entity_tokens: int
    entity_markers: str  # "none", "plain" or "typed"
    # the marker token ids: head start, head end, tail start, tail end
    marker_ids: tuple[int, ...]
    long_document_strategy: str
    pair_segment: str
    cls_token_id: int
    sep_token_id: int

    @property
    def levitated_markers(self) -> tuple[int, int]:
        """The packed `markers` pair segment's head and tail markers: the last two marker tokens (the first two,
        with entity markers, mark every mention in the shared document)."""
        return self.marker_ids[2], self.marker_ids[3]

    def markers(self, doc: TokenizedDocument, entity: int, role: int) -> tuple[list[int], list[int]]:
        """The tokens that open and close each mention of `entity` as the head (role 0) or the tail (role 1): a
        marker, then with typed markers the entity type's tokens; a closing marker."""
        opening, closing = self.marker_ids[2 * role : 2 * role + 2]
        if self.entity_markers == "typed":
            return [opening, *doc.type_ids[doc.entity_types[entity]]], [closing]
        return [opening], [closing]

    def marker_tokens_per_mention(self, doc: TokenizedDocument, entity: int) -> int:
        """How many tokens the markers add around each mention of `entity` (the same in either role)."""
        opening_ids, closing_ids = self.markers(doc, entity, 0)
        return len(opening_ids) + len(closing_ids)

    def entity_parts(self, doc: TokenizedDocument, notes: list[str]) -> list[list[int]]:
        """Each entity's part of a pair sequence: its tokens (at most `max_entity_tokens`; a cut is noted) and a
        `[SEP]`."""
        parts = []
        for entity, ids in enumerate(doc.entity_ids):
            if len(ids) > self.max_entity_tokens:
                notes.append(
                    f"{doc.label}: entity {entity} segment cut from {len(ids)} to {self.max_entity_tokens} tokens"
                )
                ids = ids[: self.max_entity_tokens]
            parts.append([*ids, self.sep_token_id])
        return parts


def length_sorted_batches(
    lengths: np.ndarray,
    max_batch_tokens: int,
    max_batch_rows: int | None = None,
    pad_to_multiple_of: int | None = None,
) -> Iterator[list[int]]:
    """Rows sorted longest first (ties in input order) and packed greedily into batches whose padded size, rows x
    (longest length rounded up to `pad_to_multiple_of`), stays within `max_batch_tokens` (and `max_batch_rows`
    rows). Every batch of one padded length then has the same number of rows: few distinct shapes. A row longer
    than the budget gets a batch of its own."""
    multiple = pad_to_multiple_of or 1
    order = np.argsort(-np.asarray(lengths), kind="stable").tolist()
    padded_lengths = (-(-np.asarray(lengths) // multiple) * multiple).tolist()
    batch: list[int] = []
    for position in order:
        if batch:  # its first row is its longest
            too_many_tokens = (len(batch) + 1) * padded_lengths[batch[0]] > max_batch_tokens
            too_many_rows = max_batch_rows is not None and len(batch) >= max_batch_rows
            if too_many_tokens or too_many_rows:
                yield batch
                batch = []
        batch.append(position)
    if batch:
        yield batch


__all__ = [
    "DocumentEncoding",
    "EncoderSequences",
    "EncodingSettings",
    "TokenizedDocument",
    "is_encoder_sequences",
    "length_sorted_batches",
]
