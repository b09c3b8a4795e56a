# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The one-pair encoding (GlobalRE, the paper's input): for each candidate ordered entity pair, the sequence
`[CLS] document [SEP] head entity [SEP] tail entity [SEP]`, token type 0 for the document segment and 1 for the
entity parts, optionally with entity markers around the pair's mentions in the document.

`PairSequences` holds a document's sequences without a list per pair; `encode_one_pair` builds them from a
`TokenizedDocument`, cutting a document that does not fit to the intervals `kept_intervals` chooses."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

try:  # Hub remote code resolves sibling files only through relative imports
    from .sequences_globalre import (
        DocumentEncoding,
        EncodingSettings,
        TokenizedDocument,
        length_sorted_batches,
    )
except ImportError:  # the same file used from a source checkout or an installed package
    from sequences_globalre import (
        DocumentEncoding,
        EncodingSettings,
        TokenizedDocument,
        length_sorted_batches,
    )

# Marked document segments are built together for about this many (pair, document token) cells at a time, which
# bounds the builder's temporary arrays (~100 MB) for encoders with long position limits.
MARKED_CHUNK_TOKENS = 1 << 22


@dataclass(eq=False)
class PairSequences:
    """Pair sequences without a list per pair: sequence `i` is three spans of one flat token array,
    `tokens[document segment] + tokens[head part] + tokens[tail part]`.

    The document segment is `[CLS] document [SEP]` (token type 0); each entity part is the entity's tokens and a
    `[SEP]` (token type 1). Pairs whose sequence fits share the one whole-document segment, so a document of n
    entities stores its tokens and its n entity parts once instead of n (n - 1) copies; a pair whose document
    segment is its own (truncated, or with entity markers) has it stored once in the array. Batches are gathered
    from the spans with a few whole-array operations (`pad`), with no Python work per token or per pair: this is
    the host-side feed that a GPU scoring thousands of pairs a second waits on.
    """

    # int32 (num_tokens,): the token ids of every segment
    tokens: np.ndarray
    # int64 (num_pairs, 3, 2): (start, length) in `tokens` of each sequence's document segment, head and tail part
    spans: np.ndarray

    def __len__(self) -> int:
        return len(self.spans)

    def __eq__(self, other) -> bool:
        # equal when they spell out the same sequences, however the segments are shared in the token array
        if not isinstance(getattr(other, "spans", None), np.ndarray):
            return NotImplemented
        return (
            len(self) == len(other)
            and np.array_equal(self.segment_lengths, other.segment_lengths)
            and self.to_lists() == other.to_lists()
        )

    @property
    def lengths(self) -> np.ndarray:
        """The length of every sequence."""
        return self.spans[:, :, 1].sum(axis=1)

    @property
    def segment_lengths(self) -> np.ndarray:
        """The length of every sequence's first segment, `[CLS] document [SEP]` (token type 0)."""
        return self.spans[:, 0, 1]

    def row(self, index: int) -> np.ndarray:
        """Sequence `index` as an array of token ids."""
        return np.concatenate([self.tokens[start : start + length] for start, length in self.spans[index]])

    def to_lists(self) -> list[list[int]]:
        """Every sequence as a list of token ids (for reading; batching never needs them)."""
        return [self.row(index).tolist() for index in range(len(self))]

    def token_type_lists(self) -> list[list[int]]:
        """Every sequence's token types: 0 for its first segment, 1 after it."""
        lengths = zip(self.lengths.tolist(), self.segment_lengths.tolist(), strict=True)
        return [[0] * first + [1] * (length - first) for length, first in lengths]

    def encoder_tokens(self, rows: Sequence[int] | np.ndarray | None = None) -> int:
        """How many tokens the encoder reads for the sequences `rows` (all by default)."""
        lengths = self.lengths
        return int((lengths if rows is None else lengths[np.asarray(rows, dtype=np.int64)]).sum())

    def subset(self, rows: Sequence[int] | np.ndarray) -> PairSequences:
        """The sequences `rows`, in that order, sharing this token array."""
        return PairSequences(self.tokens, self.spans[np.asarray(rows, dtype=np.int64)])

    @classmethod
    def from_lists(cls, input_ids: Sequence[Sequence[int]], segment_lengths: Sequence[int]) -> PairSequences:
        """Sequences given as lists (or arrays) of ids, each with the length of its first segment."""
        if len(segment_lengths) != len(input_ids):
            raise ValueError(
                f"segment_lengths has {len(segment_lengths)} entries for {len(input_ids)} sequences"
            )
        lengths = np.fromiter(map(len, input_ids), dtype=np.int64, count=len(input_ids))
        starts = np.cumsum(lengths) - lengths
        first = np.asarray(segment_lengths, dtype=np.int64).reshape(-1)
        if np.any(first > lengths) or np.any(first < 0):
            raise ValueError("a segment length is negative or longer than its sequence")
        tokens = np.fromiter(
            itertools.chain.from_iterable(input_ids), dtype=np.int32, count=int(lengths.sum())
        )
        spans = np.zeros((len(input_ids), 3, 2), dtype=np.int64)
        spans[:, 0, 0], spans[:, 0, 1] = starts, first
        spans[:, 1, 0], spans[:, 1, 1] = starts + first, lengths - first
        spans[:, 2, 0] = starts + lengths  # the rest of the sequence is all in the "head" span; no tail span
        return cls(tokens, spans)

    @classmethod
    def concatenate(cls, parts: Sequence[PairSequences]) -> PairSequences:
        """The sequences of several parts, in order, in one token array."""
        if not parts:
            return cls(np.zeros(0, dtype=np.int32), np.zeros((0, 3, 2), dtype=np.int64))
        offsets = np.cumsum([0] + [len(part.tokens) for part in parts[:-1]])
        spans = []
        for part, offset in zip(parts, offsets):
            shifted = part.spans.copy()
            shifted[:, :, 0] += offset
            spans.append(shifted)
        return cls(np.concatenate([part.tokens for part in parts]), np.concatenate(spans))

    def pad(
        self, rows: Sequence[int] | np.ndarray, pad_token_id: int, pad_to_multiple_of: int | None = None
    ) -> dict[str, torch.Tensor]:
        """Sequences `rows` padded to the longest of them: `input_ids`, `token_type_ids` and `attention_mask`,
        int64 tensors of shape (rows, longest length, rounded up to `pad_to_multiple_of`)."""
        spans = self.spans[np.asarray(rows, dtype=np.int64)]
        starts, lengths = spans[:, :, 0], spans[:, :, 1]
        ends = np.cumsum(lengths, axis=1)  # where each span ends within its sequence
        length = int(ends[:, -1].max())
        if pad_to_multiple_of:
            length = -(-length // pad_to_multiple_of) * pad_to_multiple_of
        position = np.arange(length)
        # which span each position falls in: 0 segment, 1 head, 2 tail, 3 padding
        part = (position >= ends[:, 0:1]).astype(np.int64)
        part += position >= ends[:, 1:2]
        part += position >= ends[:, 2:3]
        # token array index = position + (span start - where the span begins in the sequence)
        shift = starts - np.concatenate([np.zeros((len(spans), 1), dtype=np.int64), ends[:, :2]], axis=1)
        shift = np.concatenate([shift, np.zeros((len(spans), 1), dtype=np.int64)], axis=1)
        source = position + np.take_along_axis(shift, part, axis=1)
        mask = part < 3
        batch_ids = np.full(mask.shape, pad_token_id, dtype=np.int64)
        batch_ids[mask] = self.tokens[source[mask]]
        return {
            "input_ids": torch.from_numpy(batch_ids),
            "token_type_ids": torch.from_numpy(((part > 0) & mask).astype(np.int64)),
            "attention_mask": torch.from_numpy(mask.astype(np.int64)),
        }

    def iter_batches(
        self,
        max_batch_tokens: int,
        max_batch_pairs: int | None = None,
        pad_token_id: int = 0,
        pad_to_multiple_of: int | None = None,
    ) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        """Yields `(rows, batch)`: the sequences sorted longest first and packed into padded batches of at most
        `max_batch_tokens` tokens (`length_sorted_batches`); `batch` pads `rows` (`pad`)."""
        for rows in length_sorted_batches(
            self.lengths, max_batch_tokens, max_batch_pairs, pad_to_multiple_of
        ):
            yield rows, self.pad(rows, pad_token_id, pad_to_multiple_of)


def _marked_mentions(
    doc: TokenizedDocument, head: int, tail: int, settings: EncodingSettings
) -> list[tuple[int, int, int]]:
    """The pair's mentions as `(start, end, marker tokens they add)`; empty without markers."""
    if settings.entity_markers == "none":
        return []
    marked = []
    for entity in (head, tail):
        cost = settings.marker_tokens_per_mention(doc, entity)
        marked += [(start, end, cost) for start, end in doc.mentions[entity]]
    return marked


def kept_intervals(
    doc: TokenizedDocument, head: int, tail: int, budget: int, settings: EncodingSettings
) -> list[tuple[int, int]]:
    """Token intervals `[start, end)` of `doc.ids` whose tokens, with the markers of the pair's mentions they
    contain, fit `budget` tokens, chosen by `long_document_strategy`: the whole document when it fits; else its
    first tokens (`truncate_tail`), or (`mention_windows`) the sentences of the pair's mentions and their nearest
    neighbours, then windows of equal radius around the mentions, then the mentions alone."""
    total = len(doc.ids)
    marked = _marked_mentions(doc, head, tail, settings)

    def cost(intervals: list[tuple[int, int]]) -> int:
        inside = sum(c for a, b, c in marked if any(s <= a and b <= e for s, e in intervals))
        return _covered(intervals) + inside

    if total + sum(c for _, _, c in marked) <= budget:  # every mention lies inside the whole document
        return [(0, total)]
    if budget <= 0:
        return []
    if settings.long_document_strategy == "truncate_tail":
        return [(0, _largest(lambda end: cost([(0, end)]) <= budget, total))]
    pair_spans = sorted(doc.mentions[head] + doc.mentions[tail])
    seeds = sorted({s for s, (a, b) in enumerate(doc.sentence_bounds) for m in pair_spans if a <= m[0] < b})
    sentence_costs = [cost([bounds]) for bounds in doc.sentence_bounds]
    if sum(sentence_costs[s] for s in seeds) <= budget:
        # mention sentences first, then their neighbours, nearest first
        # (no seed when every mention of the pair covers no token: then plain document order)
        order = sorted(
            range(len(sentence_costs)),
            key=lambda s: (min((abs(s - seed) for seed in seeds), default=0), s),
        )
        kept, used = [], 0
        for s in order:
            if used + sentence_costs[s] <= budget:
                kept.append(s)
                used += sentence_costs[s]
        return _merge([doc.sentence_bounds[s] for s in sorted(kept)])
    # Even the mention sentences are too long: keep a window of equal radius around every mention,
    # the widest that fits.
    radius = _largest(lambda r: cost(_windows(pair_spans, r, total)) <= budget, total)
    windows = _windows(pair_spans, radius, total)
    if cost(windows) <= budget:
        return windows

    # The mentions alone exceed the budget: keep the shortest mention of the head and of the tail, then the
    # others in document order, as long as they fit.
    def shortest(entity: int) -> tuple[int, int]:
        return min(doc.mentions[entity], key=lambda span: (span[1] - span[0], span[0]))

    kept: list[tuple[int, int]] = []
    for span in dict.fromkeys([shortest(head), shortest(tail), *pair_spans]):
        if cost(_merge([*kept, span])) <= budget:
            kept = _merge([*kept, span])
    return kept


def document_segment(
    doc: TokenizedDocument, head: int, tail: int, budget: int, settings: EncodingSettings
) -> tuple[list[int], bool]:
    """The document part of one pair's sequence, without `[CLS]` and `[SEP]`: the tokens `kept_intervals` keeps
    within `budget`, with the head's and the tail's markers around their mentions there; and whether it was cut."""
    intervals = kept_intervals(doc, head, tail, budget, settings)
    truncated = intervals != [(0, len(doc.ids))]
    if settings.entity_markers == "none":
        if not truncated:
            return doc.ids, False
        return [token for start, end in intervals for token in doc.ids[start:end]], True
    # Insertions keyed by token position; closing markers sort before opening ones at the same position.
    inserts: list[tuple[int, int, list[int]]] = []
    for role, entity in enumerate((head, tail)):
        opening_ids, closing_ids = settings.markers(doc, entity, role)
        for start, end in doc.mentions[entity]:
            if any(a <= start and end <= b for a, b in intervals):
                inserts.append((start, 1, opening_ids))
                inserts.append((end, 0, closing_ids))
    inserts.sort(key=lambda item: (item[0], item[1]))
    segment: list[int] = []
    for start, end in intervals:
        cursor = start
        for position, _, tokens in inserts:
            if start <= position <= end and position >= cursor:
                segment.extend(doc.ids[cursor:position])
                segment.extend(tokens)
                cursor = position
        segment.extend(doc.ids[cursor:end])
    return segment, truncated


def marked_documents(
    doc: TokenizedDocument, heads: np.ndarray, tails: np.ndarray, settings: EncodingSettings
) -> tuple[np.ndarray, np.ndarray]:
    """`[CLS] document [SEP]` with the markers of every mention of the head and of the tail, for pairs whose whole
    document fits, built for all of them at once and stored back to back: the same tokens as
    `document_segment` over the whole document, without a Python list per pair (with markers every pair has
    its own segment, and building them one by one was most of the host's work)."""
    document = np.asarray(doc.ids, dtype=np.int32)
    total = len(document)
    # Every (entity, role) gets a block of insertions, opening and closing marker of each mention in mention
    # order, head role first: the order in which `document_segment` lists them before its stable sort.
    positions, kinds, piece_starts, piece_lengths, pieces = [], [], [], [], []
    # [role, entity] -> (first insertion, count)
    blocks = np.zeros((2, len(doc.mentions), 2), dtype=np.int64)
    for role in (0, 1):
        for entity, mentions in enumerate(doc.mentions):
            opening_ids, closing_ids = settings.markers(doc, entity, role)
            blocks[role, entity] = (len(positions), 2 * len(mentions))
            for start, end in mentions:
                # closing markers (kind 0) sort before opening ones (kind 1) at the same position
                for position, kind, tokens in ((start, 1, opening_ids), (end, 0, closing_ids)):
                    positions.append(position)
                    kinds.append(kind)
                    piece_starts.append(len(pieces))
                    piece_lengths.append(len(tokens))
                    pieces.extend(tokens)
    positions, kinds = np.asarray(positions, dtype=np.int64), np.asarray(kinds, dtype=np.int64)
    piece_starts, piece_lengths = (
        np.asarray(piece_starts, dtype=np.int64),
        np.asarray(piece_lengths, np.int64),
    )
    pieces = np.asarray(pieces, dtype=np.int32)

    # each pair's insertions: its head's block, then its tail's
    head_first, head_count = blocks[0, heads, 0], blocks[0, heads, 1]
    tail_first, tail_count = blocks[1, tails, 0], blocks[1, tails, 1]
    counts = head_count + tail_count
    pair_of = np.repeat(np.arange(len(heads)), counts)
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    in_head = within < head_count[pair_of]
    insertion = np.where(
        in_head, head_first[pair_of] + within, tail_first[pair_of] + within - head_count[pair_of]
    )
    # sorted by pair, then position, then kind, keeping the listed order among equals (a stable sort)
    order = np.lexsort((within, kinds[insertion], positions[insertion], pair_of))
    insertion, pair_of = insertion[order], pair_of[order]
    inserted_lengths = piece_lengths[insertion]
    inserted_positions = positions[insertion]

    added = np.bincount(pair_of, weights=inserted_lengths, minlength=len(heads)).astype(np.int64)
    lengths = total + 2 + added
    bases = np.cumsum(lengths) - lengths  # where each pair's segment starts in the output
    out = np.empty(int(lengths.sum()), dtype=np.int32)
    out[bases] = settings.cls_token_id
    out[bases + lengths - 1] = settings.sep_token_id
    # document token j of a pair moves right by the tokens inserted at positions <= j
    inserted_at = np.bincount(
        pair_of * (total + 1) + inserted_positions,
        weights=inserted_lengths,
        minlength=len(heads) * (total + 1),
    ).reshape(len(heads), total + 1)
    shifts = np.cumsum(inserted_at, axis=1).astype(np.int64)[:, :total]
    out[bases[:, None] + 1 + np.arange(total)[None, :] + shifts] = document[None, :]
    # insertion k starts after the document tokens before its position and the insertions before it
    before = np.cumsum(inserted_lengths) - inserted_lengths
    before -= (np.cumsum(added) - added)[pair_of]
    starts = bases[pair_of] + 1 + inserted_positions + before
    token_count = int(inserted_lengths.sum())
    offsets = np.arange(token_count) - np.repeat(
        np.cumsum(inserted_lengths) - inserted_lengths, inserted_lengths
    )
    out[np.repeat(starts, inserted_lengths) + offsets] = pieces[
        np.repeat(piece_starts[insertion], inserted_lengths) + offsets
    ]
    return out, lengths


def encode_one_pair(
    doc: TokenizedDocument,
    candidate: list[tuple[int, int]],
    settings: EncodingSettings,
    log: logging.Logger,
) -> DocumentEncoding:
    """The paper's one-pair encoding (`encoding="pair"`): `[CLS] document [SEP] head [SEP] tail [SEP]` for
    every candidate (head, tail) pair of `doc`, as a `PairSequences`; with entity markers around every mention of
    the head and of the tail in the document. A document that does not fit `max_seq_length` with a pair's entity
    parts and markers is cut for that pair (`kept_intervals`, by `long_document_strategy`): the pair's position
    is listed in `truncated_pairs`, and a warning on `log` (the processor's logger) names the document."""
    if not candidate:
        return DocumentEncoding(doc.title, [], PairSequences.concatenate([]), document_tokens=len(doc.ids))
    notes = []
    cls_id, sep_id = settings.cls_token_id, settings.sep_token_id
    entity_parts = settings.entity_parts(doc, notes)
    # The token array: the whole document segment, every entity part, then the document segments of the
    # pairs that need their own (truncated, or with markers).
    whole = [cls_id, *doc.ids, sep_id]
    entity_lengths = np.fromiter(map(len, entity_parts), dtype=np.int64, count=len(entity_parts))
    entity_starts = len(whole) + np.cumsum(entity_lengths) - entity_lengths
    pair_array = np.asarray(candidate, dtype=np.int64).reshape(-1, 2)
    spans = np.zeros((len(candidate), 3, 2), dtype=np.int64)
    spans[:, 0, 1] = len(whole)
    for part, column in ((1, 0), (2, 1)):
        spans[:, part, 0] = entity_starts[pair_array[:, column]]
        spans[:, part, 1] = entity_lengths[pair_array[:, column]]
    # Without markers, a pair whose sequence fits shares the whole-document segment: the common case. With
    # markers, pairs whose whole document fits with all their markers get theirs built together; the others
    # (truncated) one by one.
    entity_tokens = spans[:, 1, 1] + spans[:, 2, 1]
    marked_whole = np.zeros(0, dtype=np.int64)
    if settings.entity_markers == "none":
        own_segment = np.flatnonzero(len(whole) + entity_tokens > settings.max_seq_length).tolist()
    else:
        marker_tokens = np.asarray(
            [
                len(mentions) * settings.marker_tokens_per_mention(doc, entity)
                for entity, mentions in enumerate(doc.mentions)
            ],
            dtype=np.int64,
        )
        fits = (
            len(whole) + marker_tokens[pair_array[:, 0]] + marker_tokens[pair_array[:, 1]] + entity_tokens
            <= settings.max_seq_length
        )
        marked_whole = np.flatnonzero(fits)
        own_segment = np.flatnonzero(~fits).tolist()
    truncated_pairs, segments = [], []
    next_start = len(whole) + int(entity_lengths.sum())
    for position in own_segment:
        head, tail = candidate[position]
        budget = settings.max_seq_length - 2 - int(entity_tokens[position])
        segment, truncated = document_segment(doc, head, tail, budget, settings)
        if truncated:
            truncated_pairs.append(position)
        segments.append((cls_id,))
        segments.append(segment)
        segments.append((sep_id,))
        spans[position, 0] = (next_start, len(segment) + 2)
        next_start += len(segment) + 2
    tokens = np.fromiter(itertools.chain(whole, *entity_parts, *segments), dtype=np.int32, count=next_start)
    # In chunks of pairs: the builder's temporaries are a few int64 arrays of pairs x document tokens.
    chunk = max(1, MARKED_CHUNK_TOKENS // (len(doc.ids) + 1))
    parts = [tokens]
    for first in range(0, len(marked_whole), chunk):
        rows = marked_whole[first : first + chunk]
        marked, lengths = marked_documents(doc, pair_array[rows, 0], pair_array[rows, 1], settings)
        spans[rows, 0, 0] = next_start + np.cumsum(lengths) - lengths
        spans[rows, 0, 1] = lengths
        next_start += len(marked)
        parts.append(marked)
    tokens = np.concatenate(parts) if len(parts) > 1 else tokens
    encoding = DocumentEncoding(
        title=doc.title,
        pairs=candidate,
        sequences=PairSequences(tokens, spans),
        truncated_pairs=truncated_pairs,
        document_tokens=len(doc.ids),
        notes=notes,
    )
    if encoding.truncated_pairs:
        message = (
            f"{doc.label}: its {len(doc.ids)} tokens, with the entity segments and markers, exceed "
            f"max_seq_length={settings.max_seq_length}; {len(encoding.truncated_pairs)} of {len(candidate)} pairs "
            f"keep only part of the document (strategy {settings.long_document_strategy!r})"
        )
        encoding.notes.append(message)
        log.warning(message)
    return encoding


def _largest(fits, high: int) -> int:
    """The largest value in 0..high for which the monotone predicate `fits` holds (0 when none does)."""
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _windows(spans: list[tuple[int, int]], radius: int, total: int) -> list[tuple[int, int]]:
    return _merge([(max(0, a - radius), min(total, b + radius)) for a, b in spans])


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _covered(intervals: list[tuple[int, int]]) -> int:
    return sum(end - start for start, end in intervals)


__all__ = [
    "MARKED_CHUNK_TOKENS",
    "PairSequences",
    "document_segment",
    "encode_one_pair",
    "kept_intervals",
    "marked_documents",
]
