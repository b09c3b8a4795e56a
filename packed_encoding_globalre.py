# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The packed encoding (`encoding="packed"`): each document encoded once, as one or more windows
`[CLS] document [SEP]`, and each candidate pair a short segment of its own, `[CLS] head [SEP] tail [SEP]`
(`pair_segment="names"`) or `[CLS] [H] [T]` (`pair_segment="markers"`, levitated markers), whose tokens take the
position ids they have in the pair's one-pair sequence (`pair_encoding_globalre.py`).

`PackedSequences` holds the documents' windows and the pairs' segments; `encode_packed` builds them from a
`TokenizedDocument`; the model's packed encoder (`modeling_packed_globalre.GlobalRePackedEncoder`) lets each pair's
segment attend to its document."""

from __future__ import annotations

import bisect
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

try:  # Hub remote code resolves sibling files only through relative imports
    from .documents_globalre import DocumentError
    from .sequences_globalre import DocumentEncoding, EncodingSettings, TokenizedDocument
except ImportError:  # the same file used from a source checkout or an installed package
    from documents_globalre import DocumentError
    from sequences_globalre import DocumentEncoding, EncodingSettings, TokenizedDocument


@dataclass(eq=False)
class PackedSequences:
    """The packed encoding's inputs: each document stored once, as one or more windows `[CLS] document [SEP]`, and
    each pair's own short segment `[CLS] head [SEP] tail [SEP]`, whose tokens take the position ids and token
    types they have in the pair's one-pair sequence (`[CLS]` position 0 and type 0; the head and tail after the
    document, type 1). The model encodes a document once and lets its pairs' segments attend to it
    (`modeling_packed_globalre.GlobalRePackedEncoder`): a pair's vector depends on its document and its own segment
    only, never on which pairs share its batch.

    Batches (`pad`, `iter_batches`) hold some documents' windows and some of their pairs' segments; a document
    whose pairs do not fit one batch comes again with the rest of them.
    """

    # int32 (num_tokens,): the token ids of every window and every pair segment, with their position ids (int32)
    # and token types (int8)
    tokens: np.ndarray
    positions: np.ndarray
    types: np.ndarray
    # int32 (num_tokens,): the sentence (of its document) each window token belongs to, -1 for [CLS], [SEP] and
    # the pair segments' tokens: what maps a pair's context weights onto its evidence sentences
    sentences: np.ndarray
    # int64 (num_windows, 2): (start, length) of each window in `tokens`; (num_documents, 2): (first window,
    # number of windows) of each document
    windows: np.ndarray
    documents: np.ndarray
    # int64 (num_pairs, 2): (start, length) of each pair segment in `tokens`; (num_pairs,): the document of each
    # pair; (num_pairs, 2): the head's and the tail's row in `entities`
    pairs: np.ndarray
    pair_doc: np.ndarray
    pair_entities: np.ndarray
    # int64 (num_entities, 2): (start, count) of each entity's mentions in `mention_windows` / `mention_columns`,
    # the window (within its document) and column of each mention's first token: its start marker with entity
    # markers, its first word piece without
    entities: np.ndarray
    mention_windows: np.ndarray
    mention_columns: np.ndarray

    def __len__(self) -> int:
        return len(self.pairs)

    def __eq__(self, other) -> bool:
        if not isinstance(getattr(other, "pair_entities", None), np.ndarray):
            return NotImplemented
        return (
            len(self) == len(other)
            and self.to_lists() == other.to_lists()
            and self.token_type_lists() == other.token_type_lists()
            and self._sentence_lists() == other._sentence_lists()
            and self._mention_lists() == other._mention_lists()
        )

    def _document_tokens(self, document: int, values: np.ndarray | None = None) -> np.ndarray:
        """`values` (the token ids by default, or another per-token array) of the document's windows, in order."""
        values = self.tokens if values is None else values
        first, count = self.documents[document]
        return np.concatenate(
            [values[start : start + length] for start, length in self.windows[first : first + count]]
        )

    @property
    def document_lengths(self) -> np.ndarray:
        """The number of tokens of every document (all its windows)."""
        lengths = np.concatenate([[0], np.cumsum(self.windows[:, 1])])
        first, count = self.documents[:, 0], self.documents[:, 1]
        return lengths[first + count] - lengths[first]

    @property
    def lengths(self) -> np.ndarray:
        """The length of every pair's input on its own: its document and its segment."""
        return self.document_lengths[self.pair_doc] + self.pairs[:, 1]

    @property
    def segment_lengths(self) -> np.ndarray:
        """The length of every pair's document part (all its windows)."""
        return self.document_lengths[self.pair_doc]

    def row(self, index: int) -> np.ndarray:
        """Pair `index`'s tokens as the encoder reads them: its document's windows, then its own segment."""
        start, length = self.pairs[index]
        return np.concatenate(
            [self._document_tokens(self.pair_doc[index]), self.tokens[start : start + length]]
        )

    def to_lists(self) -> list[list[int]]:
        return [self.row(index).tolist() for index in range(len(self))]

    def token_type_lists(self) -> list[list[int]]:
        lengths = self.segment_lengths.tolist()
        return [
            [0] * first + self.types[start : start + length].tolist()
            for first, (start, length) in zip(lengths, self.pairs.tolist(), strict=True)
        ]

    def _sentence_lists(self) -> list[list[int]]:
        return [
            self._document_tokens(document, self.sentences).tolist() for document in self.pair_doc.tolist()
        ]

    def _mention_lists(self) -> list[list[tuple[int, int]]]:
        def mentions(entity: int) -> list[tuple[int, int]]:
            start, count = self.entities[entity]
            return list(
                zip(
                    self.mention_windows[start : start + count].tolist(),
                    self.mention_columns[start : start + count].tolist(),
                )
            )

        return [mentions(entity) for entity in self.pair_entities.ravel().tolist()]

    def subset(self, rows: Sequence[int] | np.ndarray) -> PackedSequences:
        """The pairs `rows`, in that order, sharing the documents and the token arrays."""
        rows = np.asarray(rows, dtype=np.int64)
        return dataclasses.replace(
            self, pairs=self.pairs[rows], pair_doc=self.pair_doc[rows], pair_entities=self.pair_entities[rows]
        )

    @classmethod
    def concatenate(cls, parts: Sequence[PackedSequences]) -> PackedSequences:
        """The pairs of several parts, in order, over one set of arrays."""
        if not parts:
            raise ValueError("PackedSequences.concatenate needs at least one part")

        def offsets(sizes: list[int]) -> np.ndarray:
            return np.cumsum([0] + sizes[:-1])

        tokens = offsets([len(part.tokens) for part in parts])
        windows = offsets([len(part.windows) for part in parts])
        documents = offsets([len(part.documents) for part in parts])
        entities = offsets([len(part.entities) for part in parts])
        mentions = offsets([len(part.mention_windows) for part in parts])

        def shifted(array: np.ndarray, offset: int) -> np.ndarray:
            array = array.copy()
            array[:, 0] += offset
            return array

        return cls(
            tokens=np.concatenate([part.tokens for part in parts]),
            positions=np.concatenate([part.positions for part in parts]),
            types=np.concatenate([part.types for part in parts]),
            sentences=np.concatenate([part.sentences for part in parts]),
            windows=np.concatenate([shifted(p.windows, o) for p, o in zip(parts, tokens)]),
            documents=np.concatenate([shifted(p.documents, o) for p, o in zip(parts, windows)]),
            pairs=np.concatenate([shifted(p.pairs, o) for p, o in zip(parts, tokens)]),
            pair_doc=np.concatenate([p.pair_doc + o for p, o in zip(parts, documents)]),
            pair_entities=np.concatenate([p.pair_entities + o for p, o in zip(parts, entities)]),
            entities=np.concatenate([shifted(p.entities, o) for p, o in zip(parts, mentions)]),
            mention_windows=np.concatenate([part.mention_windows for part in parts]),
            mention_columns=np.concatenate([part.mention_columns for part in parts]),
        )

    def groups(
        self, rows: Sequence[int] | np.ndarray | None = None, max_tokens: int | None = None
    ) -> list[np.ndarray]:
        """The pairs `rows` (all by default) grouped by document, documents in the order they first appear, a
        document's pairs by segment length (so that a batch pads little); with `max_tokens`, a document's pairs are
        cut into groups whose document tokens and segment tokens stay within it (at least one pair each)."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return []
        docs = self.pair_doc[rows]
        _, first = np.unique(docs, return_index=True)
        rank = np.empty(int(docs.max()) + 1, dtype=np.int64)
        rank[docs[np.sort(first)]] = np.arange(len(first))
        rows = rows[np.lexsort((self.pairs[rows, 1], rank[docs]))]
        docs, lengths = self.pair_doc[rows], self.pairs[rows, 1].tolist()
        doc_lengths = self.document_lengths[docs].tolist()
        groups, start, used = [], 0, 0
        for index in range(len(rows)):
            new_doc = index == 0 or docs[index] != docs[index - 1]
            if new_doc or (max_tokens is not None and used + lengths[index] > max_tokens):
                if index > start:
                    groups.append(rows[start:index])
                start, used = index, doc_lengths[index]
            used += lengths[index]
        groups.append(rows[start:])
        return groups

    def encoder_tokens(
        self, rows: Sequence[int] | np.ndarray | None = None, max_batch_tokens: int | None = None
    ) -> int:
        """How many tokens the encoder reads for the pairs `rows` (all by default): each document once per group
        of its pairs (`groups`, cut by `max_batch_tokens`), and every pair segment."""
        return int(sum(self._group_tokens(group) for group in self.groups(rows, max_batch_tokens)))

    def _group_tokens(self, group: np.ndarray) -> int:
        return int(self.document_lengths[self.pair_doc[group[0]]] + self.pairs[group, 1].sum())

    def pad(
        self,
        rows: Sequence[int] | np.ndarray,
        pad_token_id: int = 0,
        pad_to_multiple_of: int | None = None,
        token_sentences: bool = False,
    ) -> dict[str, torch.Tensor]:
        """One batch of the pairs `rows` with their documents; the model's outputs come in the order of `rows`.
        With `token_sentences`, the batch also holds each window token's sentence (`token_sentences`, what the
        evidence loss reads in training and evidence prediction reads)."""
        return self._batch(
            np.asarray(rows, dtype=np.int64), pad_token_id, pad_to_multiple_of, token_sentences
        )

    def iter_batches(
        self,
        max_batch_tokens: int,
        max_batch_pairs: int | None = None,
        pad_token_id: int = 0,
        pad_to_multiple_of: int | None = None,
        token_sentences: bool = False,
    ) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        """Yields `(rows, batch)` for every pair: documents in order with their pairs (`groups`), as many as fit
        `max_batch_tokens` padded tokens (windows x longest window + pairs x longest segment) and
        `max_batch_pairs` pairs; a document with more pairs than that comes in several batches. The batch's
        outputs are the pairs `rows`, in that order. `token_sentences`: as in `pad`."""
        pending: list[np.ndarray] = []

        def padded_size(groups: list[np.ndarray]) -> int:
            rows = np.concatenate(groups)
            docs = np.unique(self.pair_doc[rows])
            first, count = self.documents[docs, 0], self.documents[docs, 1]
            window_rows = np.concatenate([np.arange(f, f + c) for f, c in zip(first, count)])
            windows = len(window_rows) * int(self.windows[window_rows, 1].max())
            return windows + len(rows) * int(self.pairs[rows, 1].max())

        for group in self.groups(None, max_batch_tokens):
            pieces = (
                [group]
                if max_batch_pairs is None
                else np.split(group, range(max_batch_pairs, len(group), max_batch_pairs))
            )
            for piece in pieces:
                too_many_pairs = (
                    max_batch_pairs is not None and sum(map(len, pending)) + len(piece) > max_batch_pairs
                )
                if pending and (too_many_pairs or padded_size([*pending, piece]) > max_batch_tokens):
                    rows = np.concatenate(pending)
                    yield rows.tolist(), self._batch(rows, pad_token_id, pad_to_multiple_of, token_sentences)
                    pending = []
                pending.append(piece)
        if pending:
            rows = np.concatenate(pending)
            yield rows.tolist(), self._batch(rows, pad_token_id, pad_to_multiple_of, token_sentences)

    def _batch(
        self,
        rows: np.ndarray,
        pad_token_id: int,
        pad_to_multiple_of: int | None,
        token_sentences: bool = False,
    ) -> dict[str, torch.Tensor]:
        """The tensors of one batch: the windows of the documents of the pairs `rows` (in document order), and the
        pairs' segments in the order of `rows` (`GlobalReForRelationExtraction.forward` says what each holds)."""
        multiple = pad_to_multiple_of or 1
        docs, pair_document = np.unique(self.pair_doc[rows], return_inverse=True)
        first, count = self.documents[docs, 0], self.documents[docs, 1]
        window_rows = np.concatenate([np.arange(f, f + c) for f, c in zip(first, count)])
        window_document = np.repeat(np.arange(len(docs)), count)
        first_row = np.cumsum(count) - count  # the batch row of each document's first window

        def gather(spans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            starts, lengths = spans[:, 0], spans[:, 1]
            width = -(-int(lengths.max()) // multiple) * multiple
            columns = np.arange(width)
            keep = columns[None, :] < lengths[:, None]
            index = np.where(keep, starts[:, None] + columns[None, :], 0)
            return index, keep

        index, keep = gather(self.windows[window_rows])
        width = index.shape[1]
        input_ids = np.where(keep, self.tokens[index], pad_token_id)
        pair_index, pair_keep = gather(self.pairs[rows])
        entities = self.entities[
            self.pair_entities[rows]
        ]  # (pairs, 2, 2): start, count of head and tail mentions
        most = int(entities[..., 1].max())
        mention = entities[..., :1] + np.arange(most)
        valid = np.arange(most) < entities[..., 1:]
        mention = np.where(valid, mention, 0)
        base = first_row[pair_document][:, None, None]
        flat = (base + self.mention_windows[mention]) * width + self.mention_columns[mention]
        flat = np.where(valid, flat, -1)
        batch = {
            "input_ids": torch.from_numpy(input_ids.astype(np.int64)),
            "attention_mask": torch.from_numpy(keep.astype(np.int64)),
            "token_type_ids": torch.from_numpy(np.where(keep, self.types[index], 0).astype(np.int64)),
            "position_ids": torch.from_numpy(np.where(keep, self.positions[index], 0).astype(np.int64)),
            "window_document": torch.from_numpy(window_document.astype(np.int64)),
            "pair_input_ids": torch.from_numpy(
                np.where(pair_keep, self.tokens[pair_index], pad_token_id).astype(np.int64)
            ),
            "pair_attention_mask": torch.from_numpy(pair_keep.astype(np.int64)),
            "pair_token_type_ids": torch.from_numpy(
                np.where(pair_keep, self.types[pair_index], 0).astype(np.int64)
            ),
            "pair_position_ids": torch.from_numpy(
                np.where(pair_keep, self.positions[pair_index], 0).astype(np.int64)
            ),
            "pair_document": torch.from_numpy(pair_document.astype(np.int64)),
            "head_mentions": torch.from_numpy(flat[:, 0].astype(np.int64)),
            "tail_mentions": torch.from_numpy(flat[:, 1].astype(np.int64)),
        }
        if token_sentences:
            batch["token_sentences"] = torch.from_numpy(
                np.where(keep, self.sentences[index], -1).astype(np.int64)
            )
        return batch


def encode_packed(
    doc: TokenizedDocument,
    candidate: list[tuple[int, int]],
    settings: EncodingSettings,
    log: logging.Logger,
) -> DocumentEncoding:
    """The packed encoding (`encoding="packed"`, see `PackedSequences`): the document part stored once, with
    the entity start/end markers (the first two marker tokens, the type after the start marker when typed)
    around every mention of every entity when `entity_markers` asks for them, and one segment per candidate pair:
    `[CLS] head [SEP] tail [SEP]`, or with `pair_segment="markers"` `[CLS] [H] [T]` (the last two marker tokens
    at the positions of the head's and the tail's first mentions). A document whose tokens, with the longest pair
    segment, exceed `max_seq_length` is split into windows at sentence ends (a longer sentence at a token), each at
    most that budget: every token is kept, and the windows are reported in `notes` and as a warning on `log` (the
    processor's logger).

    Raises:
        DocumentError: a pair segment so long that no document token fits `max_seq_length` beside it."""
    notes: list[str] = []
    cls_id = settings.cls_token_id
    entity_parts = [np.asarray(part, dtype=np.int32) for part in settings.entity_parts(doc, notes)]
    part_lengths = np.asarray([len(part) for part in entity_parts], dtype=np.int64)
    pair_array = np.asarray(candidate, dtype=np.int64).reshape(-1, 2)
    # a pair segment is [CLS] + head part + tail part, after the document: the document must leave room for the
    # longest one; levitated markers take positions inside the document
    if settings.pair_segment == "markers":
        longest_pair, budget = 3, settings.max_seq_length - 2
    else:
        longest_pair = 1 + int(part_lengths[pair_array].sum(axis=1).max()) if len(candidate) else 1
        budget = settings.max_seq_length - 1 - longest_pair
    if budget < 1:
        raise DocumentError(
            f"{doc.label}: a pair segment of {longest_pair} tokens leaves no room for the document within "
            f"max_seq_length={settings.max_seq_length}; lower max_entity_tokens or raise max_seq_length."
        )
    sentences, mention_places = marked_sentences(doc, settings)
    # windows: sentences in order, as many as fit; a sentence longer than the budget in pieces of its own
    windows: list[list[int]] = [[]]
    sentence_places = []  # (window, offset) of each sentence's first token; pieces follow window by window
    for tokens in sentences:
        if len(tokens) > budget:
            if windows[-1]:
                windows.append([])
            sentence_places.append((len(windows) - 1, 0))
            for start in range(0, len(tokens), budget):
                if start:
                    windows.append([])
                windows[-1].extend(tokens[start : start + budget])
            continue
        if len(windows[-1]) + len(tokens) > budget:
            windows.append([])
        sentence_places.append((len(windows) - 1, len(windows[-1])))
        windows[-1].extend(tokens)
    # the token array: every window as [CLS] window [SEP] (positions from 0), then every pair segment
    sep_id = settings.sep_token_id
    window_lengths = np.asarray([len(window) + 2 for window in windows], dtype=np.int64)
    window_spans = np.stack([np.cumsum(window_lengths) - window_lengths, window_lengths], axis=1)
    document = [t for window in windows for t in (cls_id, *window, sep_id)]
    # the windows hold the sentences' tokens in order: each token's sentence, -1 at every window's [CLS] and [SEP]
    inside = np.ones(len(document), dtype=bool)
    inside[window_spans[:, 0]] = inside[window_spans.sum(axis=1) - 1] = False
    document_sentences = np.full(len(document), -1, dtype=np.int32)
    document_sentences[inside] = np.repeat(np.arange(len(sentences)), [len(tokens) for tokens in sentences])

    def mention_place(sentence: int, offset: int) -> tuple[int, int]:
        window, start = sentence_places[sentence]
        if start == 0 and len(sentences[sentence]) > budget:  # a sentence cut into pieces
            return window + offset // budget, 1 + offset % budget
        return window, 1 + start + offset

    places = [[mention_place(*place) for place in entity] for entity in mention_places]
    if settings.pair_segment == "markers":
        # [CLS] at position 0 (type 0), the head and tail markers at their first mentions' positions (type 1)
        column = [min(entity)[1] for entity in places]
        segment_lengths = np.full(len(candidate), 3, dtype=np.int64)
        segments = [np.asarray([cls_id, *settings.levitated_markers]) for _ in candidate]
        segment_positions = [np.asarray([0, column[h], column[t]]) for h, t in candidate]
    else:
        # [CLS] at position 0 (type 0), the head and tail parts after the longest window (type 1), where a
        # one-pair sequence has them
        pair_start = int(window_lengths.max())
        segment_lengths = 1 + part_lengths[pair_array].sum(axis=1)
        segments = [np.concatenate(([cls_id], entity_parts[h], entity_parts[t])) for h, t in candidate]
        segment_positions = [np.r_[0, pair_start : pair_start + n - 1] for n in segment_lengths.tolist()]
    pair_starts = len(document) + np.cumsum(segment_lengths) - segment_lengths
    counts = np.asarray([len(entity) for entity in places], dtype=np.int64)
    flat_places = np.asarray([place for entity in places for place in entity], dtype=np.int32).reshape(-1, 2)
    sequences = PackedSequences(
        tokens=np.concatenate([np.asarray(document, dtype=np.int32), *segments]).astype(np.int32),
        positions=np.concatenate([np.arange(n) for n in window_lengths.tolist()] + segment_positions).astype(
            np.int32
        ),
        types=np.concatenate(
            [np.zeros(len(document))] + [np.r_[0, np.ones(n - 1)] for n in segment_lengths.tolist()]
        ).astype(np.int8),
        sentences=np.concatenate([document_sentences, np.full(int(segment_lengths.sum()), -1, np.int32)]),
        windows=window_spans,
        documents=np.asarray([[0, len(windows)]], dtype=np.int64),
        pairs=np.stack([pair_starts, segment_lengths], axis=1).astype(np.int64).reshape(-1, 2),
        pair_doc=np.zeros(len(candidate), dtype=np.int64),
        pair_entities=pair_array,
        entities=np.stack([np.cumsum(counts) - counts, counts], axis=1).reshape(-1, 2),
        mention_windows=flat_places[:, 0].copy(),
        mention_columns=flat_places[:, 1].copy(),
    )
    if len(windows) > 1:
        message = (
            f"{doc.label}: its {sum(map(len, sentences))} tokens, with the longest pair segment "
            f"({longest_pair} tokens), exceed max_seq_length={settings.max_seq_length}; encoded whole as "
            f"{len(windows)} windows of at most {budget} tokens (document tokens attend within their window, "
            "pair tokens to all of them)"
        )
        notes.append(message)
        log.warning(message)
    return DocumentEncoding(
        title=doc.title,
        pairs=list(candidate),
        sequences=sequences,
        document_tokens=len(doc.ids),
        notes=notes,
        windows=len(windows),
    )


def marked_sentences(
    doc: TokenizedDocument, settings: EncodingSettings
) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
    """The document's sentences as token lists, with the entity start and end markers around every mention of
    every entity when `entity_markers` asks for them (closing markers before opening ones at one position, as
    the one-pair encoding orders them); and for each entity, the (sentence, offset) of each mention's first
    token there: its start marker, or its first word piece without markers."""
    starts = [start for start, _ in doc.sentence_bounds]
    inserts: list[list[tuple[int, int, int, list[int], tuple[int, int] | None]]] = [[] for _ in starts]
    places: list[list[tuple[int, int]]] = [[(0, 0)] * len(mentions) for mentions in doc.mentions]
    marked = settings.entity_markers != "none"
    for entity, mentions in enumerate(doc.mentions):
        opening, closing = settings.markers(doc, entity, 0) if marked else ([], [])
        for index, (start, end) in enumerate(mentions):
            sentence = max(bisect.bisect_right(starts, start) - 1, 0)
            inserts[sentence].append((start, 1, len(inserts[sentence]), opening, (entity, index)))
            inserts[sentence].append((end, 0, len(inserts[sentence]), closing, None))
    sentences = []
    for sentence, (start, end) in enumerate(doc.sentence_bounds):
        tokens, cursor = [], start
        for position, _, _, pieces, mention in sorted(inserts[sentence]):
            tokens.extend(doc.ids[cursor:position])
            cursor = max(cursor, position)
            if mention is not None:
                entity, index = mention
                places[entity][index] = (sentence, len(tokens))
            tokens.extend(pieces)
        tokens.extend(doc.ids[cursor:end])
        sentences.append(tokens)
    # a mention that covers no word piece at the end of its sentence points at the sentence's last token
    return sentences, [
        [(sentence, min(offset, max(len(sentences[sentence]) - 1, 0))) for sentence, offset in entity]
        for entity in places
    ]


__all__ = ["PackedSequences", "encode_packed", "marked_sentences"]
