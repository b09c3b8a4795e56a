# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""GlobalRE processor: from a document and its entities to one `[CLS] doc [SEP] head [SEP] tail [SEP]` sequence
per candidate entity pair, and from the model's logits back to relation triples."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import logging
import numbers
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers import BatchEncoding
from transformers.processing_utils import ProcessorMixin

logger = logging.getLogger(__name__)

try:  # Hub remote code resolves sibling files only through relative imports
    from .configuration_globalre import DEFAULT_MARKER_TOKENS, OPTION
except ImportError:  # the same file used from a source checkout or an installed package
    from configuration_globalre import DEFAULT_MARKER_TOKENS, OPTION

# Words are runs of letters, digits and underscores, or single punctuation marks; a sentence ends after ., ! or ?
# (and any closing quotes or brackets) followed by white space, and at every line break. Simple and deterministic,
# so character spans map to words predictably; text input and the REBEL conversion both split text this way.
WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
SENTENCE_END = re.compile(r"[.!?][\"'\u2019\u201d)\]]*(?=\s)|\n+")
# Marked document segments are built together for about this many (pair, document token) cells at a time, which
# bounds the builder's temporary arrays (~100 MB) for encoders with long position limits.
MARKED_CHUNK_TOKENS = 1 << 22


def entity_type(entity: list[dict]) -> str:
    """An entity's type: that of its first mention (the mentions of an entity almost always agree; when they
    do not, the first decides, everywhere in GlobalRE)."""
    return str(entity[0].get("type", "")) if entity else ""


def ordered_pairs(
    vertex_set: list[list[dict]], pair_types: Sequence[Sequence[str]] | None = None
) -> list[tuple[int, int]]:
    """Every ordered pair (h, t), h != t, whose (head type, tail type) is in `pair_types` (all when `None`)."""
    types = [entity_type(entity) for entity in vertex_set]
    allowed = {tuple(pair) for pair in pair_types} if pair_types else None
    return [
        (h, t)
        for h in range(len(types))
        for t in range(len(types))
        if h != t and (allowed is None or (types[h], types[t]) in allowed)
    ]


class DocumentError(ValueError):
    """A document or one of its entities cannot be encoded; the message names the document and the item."""


def document_label(document: dict, index: int | None = None) -> str:
    """How errors and reports name a document: its index and its title where it has them."""
    title = document.get("title") if isinstance(document, dict) else None
    parts = []
    if index is not None:
        parts.append(f"#{index}")
    if title:
        parts.append(repr(title))
    return "document " + " ".join(parts) if parts else "document"


# --------------------------------------------------------------------------------------------------------------
# Documents in text form -> DocRED form
# --------------------------------------------------------------------------------------------------------------


def split_words(
    text: str, protected: Sequence[tuple[int, int]] = ()
) -> tuple[list[list[str]], list[list[tuple[int, int]]]]:
    """Splits text into sentences of words (`WORD_PATTERN`, `SENTENCE_END`), with each word's character span
    `[start, end)`. A sentence end inside a `protected` span (an entity mention such as "U.S. Army" or
    "St. Louis") is not a sentence end."""
    breaks = [
        match.end()
        for match in SENTENCE_END.finditer(text)
        if not any(start < match.start() < end for start, end in protected)
    ]
    by_sentence: dict[int, tuple[list[str], list[tuple[int, int]]]] = {}
    for match in WORD_PATTERN.finditer(text):
        words, spans = by_sentence.setdefault(bisect.bisect_right(breaks, match.start()), ([], []))
        words.append(match.group())
        spans.append((match.start(), match.end()))
    sentences = [by_sentence[key][0] for key in sorted(by_sentence)]
    offsets = [by_sentence[key][1] for key in sorted(by_sentence)]
    return sentences, offsets


def _find_occurrences(text: str, name: str) -> tuple[list[tuple[int, int]], bool]:
    """Character spans of every whole-word occurrence of `name`, and whether they were found ignoring case
    (only when an exact search finds none)."""
    escaped = re.escape(name.strip())
    if not escaped:
        return [], False
    for flags in (0, re.IGNORECASE):
        pattern = re.compile(rf"(?<!\w){escaped}(?!\w)", flags)
        spans = [(m.start(), m.end()) for m in pattern.finditer(text)]
        if spans:
            return spans, bool(flags)
    return [], False


def _normalized(text: str) -> str:
    """A name as names are compared: white space collapsed, case folded."""
    return " ".join(text.split()).casefold()


def text_to_docred(document: dict, index: int | None = None) -> dict:
    """Converts `{"text": ..., "entities": [...]}` into DocRED form (`sents`, `vertexSet`).

    An entity is a name, or a dict with `name`, optional `type`, and either `spans` or optional `mentions`:
    - a name (and each of `mentions`) matches every whole-word occurrence in the text (`"Oslo"` matches in
      `"Oslo-based"`, whose hyphen is a word of its own, but not in `"Oslovian"`); exact case first, and only when
      the exact name never occurs, ignoring case, with a warning;
    - `spans` are character offsets `[start, end)` into `text`, each covering the entity's name or one of its
      `mentions` (white space and case aside); a span that starts or ends inside a word takes the whole word,
      with a warning.
    Errors (`DocumentError`, naming the document and the entity): a name that does not occur, a span outside the
    text or covering other text (token indices given by mistake), two entities with the same mentions.
    """
    label = document_label(document, index)
    text = document.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DocumentError(f"{label}: 'text' is empty; expected the document's text as a non-empty string.")
    entities = document.get("entities")
    if not isinstance(entities, list):
        raise DocumentError(f"{label}: 'entities' must be a list of names or of dicts with a 'name'.")
    # every entity's character spans first: sentences must not split a mention
    entity_spans: list[tuple[str, str, list[tuple[int, int]]]] = []
    for entity_index, entity in enumerate(entities):
        if isinstance(entity, str):
            entity = {"name": entity}
        if not isinstance(entity, dict) or not isinstance(entity.get("name"), str):
            raise DocumentError(
                f"{label}, entity {entity_index}: expected a name or a dict with 'name'; got {entity!r}."
            )
        entity_label = f"entity {entity_index} ({entity['name']!r})"
        mentions = entity.get("mentions", [])
        names = [entity["name"], *(mentions if isinstance(mentions, list) else [mentions])]
        if not isinstance(mentions, list) or not all(isinstance(name, str) for name in names):
            raise DocumentError(
                f"{label}, {entity_label}: 'mentions' must be a list of strings; got {names[1:]!r}."
            )
        if "spans" in entity and not (isinstance(entity["spans"], list) and entity["spans"]):
            raise DocumentError(
                f"{label}, {entity_label}: 'spans' must be a non-empty list of [start, end) character offsets."
            )
        if "spans" in entity:
            spans = []
            for span in entity["spans"]:
                if not (
                    isinstance(span, (list, tuple))
                    and len(span) == 2
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in span)
                ):
                    raise DocumentError(
                        f"{label}, {entity_label}: span {span!r} is not [start, end) of two integers."
                    )
                start, end = span
                if not 0 <= start < end <= len(text):
                    raise DocumentError(
                        f"{label}, {entity_label}: span [{start}, {end}) is outside the text "
                        f"(length {len(text)}); expected 0 <= start < end <= {len(text)}."
                    )
                if _normalized(text[start:end]) not in {_normalized(name) for name in names}:
                    raise DocumentError(
                        f"{label}, {entity_label}: span [{start}, {end}) covers {text[start:end]!r}, which is neither "
                        "the entity's name nor one of its 'mentions'; spans are character offsets [start, end) into "
                        "'text' (not token indices): give the offsets of the name, or list that text in 'mentions'."
                    )
                spans.append((start, end))
            spans = sorted(set(spans))
        else:
            found = set()
            for name in names:
                occurrences, ignoring_case = _find_occurrences(text, name)
                if ignoring_case:
                    logger.warning(
                        "%s, %s: %r does not occur as written; matched ignoring case: %s",
                        label,
                        entity_label,
                        name,
                        ", ".join(repr(text[a:b]) for a, b in occurrences[:3]),
                    )
                found.update(occurrences)
            # "Curie" inside "Marie Curie" is the same mention, not a second one
            spans = sorted(
                s for s in found if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in found)
            )
            if not spans:
                raise DocumentError(
                    f"{label}, {entity_label}: the name does not occur in the text; give character 'spans' "
                    "or a name that appears verbatim."
                )
        entity_spans.append((entity_label, str(entity.get("type", "")), spans))
    same = {}
    for entity_label, _, spans in entity_spans:
        if tuple(spans) in same:
            raise DocumentError(
                f"{label}: {same[tuple(spans)]} and {entity_label} have the same mentions ("
                + ", ".join(repr(text[a:b]) for a, b in spans[:3])
                + "); list an entity once, or give each its own spans."
            )
        same[tuple(spans)] = entity_label

    sentences, offsets = split_words(text, [span for _, _, spans in entity_spans for span in spans])
    word_starts = [
        (sent_id, pos, span) for sent_id, spans in enumerate(offsets) for pos, span in enumerate(spans)
    ]
    starts = [span[0] for _, _, span in word_starts]

    def words_of(char_start: int, char_end: int, entity_label: str) -> dict:
        first = max(bisect.bisect_right(starts, char_start) - 1, 0)
        covered = [w for w in word_starts[first:] if w[2][0] < char_end and w[2][1] > char_start]
        if not covered:
            raise DocumentError(f"{label}, {entity_label}: span [{char_start}, {char_end}) covers no word.")
        begin, finish = covered[0][2][0], covered[-1][2][1]
        if (begin, finish) != (char_start, char_end) and text[begin:finish].strip() != text[
            char_start:char_end
        ].strip():
            logger.warning(
                "%s, %s: span [%d, %d) %r starts or ends inside a word; it takes the whole word(s): %r",
                label,
                entity_label,
                char_start,
                char_end,
                text[char_start:char_end],
                text[begin:finish],
            )
        return {
            "name": text[begin:finish],
            "sent_id": covered[0][0],
            "pos": [covered[0][1], covered[-1][1] + 1],
            "char_span": [begin, finish],
        }

    vertex_set = [
        [{**words_of(start, end, entity_label), "type": entity_type} for start, end in spans]
        for entity_label, entity_type, spans in entity_spans
    ]
    return {"title": document.get("title", ""), "sents": sentences, "vertexSet": vertex_set}


def as_docred(document: Any, index: int | None = None) -> dict:
    """Returns the document in DocRED form, converting text form; raises `DocumentError` for anything else."""
    if not isinstance(document, dict):
        raise DocumentError(
            f"{document_label({}, index)}: expected a dict in DocRED form (sents, vertexSet) or text form "
            f"(text, entities); got {type(document).__name__}."
        )
    if "sents" in document and "vertexSet" in document:
        return document
    if "text" in document:
        return text_to_docred(document, index)
    raise DocumentError(
        f"{document_label(document, index)}: expected keys 'sents' and 'vertexSet' (DocRED form) or 'text' and "
        f"'entities' (text form); got {sorted(document)}."
    )


# --------------------------------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------------------------------


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
        as `GlobalReProcessor.pad` makes them."""
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


@dataclass(eq=False)
class PackedSequences:
    """The packed encoding's inputs: each document stored once, as one or more windows `[CLS] document [SEP]`, and
    each pair's own short segment `[CLS] head [SEP] tail [SEP]`, whose tokens take the position ids and token
    types they have in the pair's one-pair sequence (`[CLS]` position 0 and type 0; the head and tail after the
    document, type 1). The model encodes a document once and lets its pairs' segments attend to it
    (`GlobalReForRelationExtraction.packed_encoder`): a pair's vector depends on its document and its own segment
    only, never on which pairs share its batch.

    Batches (`pad`, `iter_batches`) hold some documents' windows and some of their pairs' segments; a document
    whose pairs do not fit one batch comes again with the rest of them.
    """

    # int32 (num_tokens,): the token ids of every window and every pair segment, with their position ids (int32)
    # and token types (int8)
    tokens: np.ndarray
    positions: np.ndarray
    types: np.ndarray
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
            and self._mention_lists() == other._mention_lists()
        )

    def _document_tokens(self, document: int) -> np.ndarray:
        first, count = self.documents[document]
        return np.concatenate(
            [self.tokens[start : start + length] for start, length in self.windows[first : first + count]]
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
        self, rows: Sequence[int] | np.ndarray, pad_token_id: int = 0, pad_to_multiple_of: int | None = None
    ) -> dict[str, torch.Tensor]:
        """One batch of the pairs `rows` with their documents; the model's outputs come in the order of `rows`."""
        return self._batch(np.asarray(rows, dtype=np.int64), pad_token_id, pad_to_multiple_of)

    def iter_batches(
        self,
        max_batch_tokens: int,
        max_batch_pairs: int | None = None,
        pad_token_id: int = 0,
        pad_to_multiple_of: int | None = None,
    ) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        """Yields `(rows, batch)` for every pair: documents in order with their pairs (`groups`), as many as fit
        `max_batch_tokens` padded tokens (windows x longest window + pairs x longest segment) and
        `max_batch_pairs` pairs; a document with more pairs than that comes in several batches. The batch's
        outputs are the pairs `rows`, in that order."""
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
                    yield rows.tolist(), self._batch(rows, pad_token_id, pad_to_multiple_of)
                    pending = []
                pending.append(piece)
        if pending:
            rows = np.concatenate(pending)
            yield rows.tolist(), self._batch(rows, pad_token_id, pad_to_multiple_of)

    def _batch(
        self, rows: np.ndarray, pad_token_id: int, pad_to_multiple_of: int | None
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
        return {
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


def is_encoder_sequences(value: Any) -> bool:
    """Whether `value` is a `PairSequences` or a `PackedSequences`. Checked by its fields, not its class: Hub remote
    code can load this file twice (once for the processor, once beside the pipeline), and the two copies' classes
    are not the same."""
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
    sequences: PairSequences | PackedSequences
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
class _TokenizedDocument:
    title: str
    label: str
    ids: list[int]
    sentence_bounds: list[tuple[int, int]]  # token [start, end) of each sentence
    mentions: list[list[tuple[int, int]]]  # token [start, end) of each mention, per entity
    entity_ids: list[list[int]]  # token ids of each entity segment
    entity_types: list[str]
    type_ids: dict[str, list[int]]


class GlobalReProcessor(ProcessorMixin):
    r"""
    Builds GlobalRE's inputs: for each candidate ordered entity pair of a document, the sequence
    `[CLS] document [SEP] head entity [SEP] tail entity [SEP]` with token_type_ids 0 for the document segment and 1
    for the entity segments, and turns the model's logits back into `{head, tail, relation, score}` triples.

    Documents come in DocRED form (`{"title", "sents", "vertexSet"}`) or text form (`{"text", "entities"}`, the
    entities as names whose every occurrence is a mention, or as dicts with character `spans`).

    Args:
        tokenizer (`PreTrainedTokenizerBase`):
            A fast BERT-family tokenizer (word alignment needs `word_ids()`).
        max_seq_length, encoding, pair_segment, entity_text, entity_separator, max_entity_tokens, entity_markers,
        marker_tokens, long_document_strategy, pair_types:
            The processor options (`configuration_globalre.PROCESSOR_OPTIONS`), documented with their defaults and
            choices in [`GlobalReConfig`]. `GlobalReProcessor.from_config(tokenizer, config)` takes them from a
            model's config, so the two always agree.
    """

    tokenizer_class = "AutoTokenizer"

    def __init__(
        self,
        tokenizer=None,
        max_seq_length: int = OPTION["max_seq_length"].default,
        encoding: str = OPTION["encoding"].default,
        pair_segment: str = OPTION["pair_segment"].default,
        entity_text: str = OPTION["entity_text"].default,
        entity_separator: str = OPTION["entity_separator"].default,
        max_entity_tokens: int = OPTION["max_entity_tokens"].default,
        entity_markers: str = OPTION["entity_markers"].default,
        marker_tokens: list[str] | None = None,
        long_document_strategy: str = OPTION["long_document_strategy"].default,
        pair_types: list[list[str]] | None = None,
        **kwargs,
    ):
        for name, value in (
            ("encoding", encoding),
            ("pair_segment", pair_segment),
            ("entity_text", entity_text),
            ("entity_markers", entity_markers),
            ("long_document_strategy", long_document_strategy),
        ):
            OPTION[name].check(value, owner="GlobalReProcessor")
        self.max_seq_length = max_seq_length
        self.encoding = encoding
        self.pair_segment = pair_segment
        self.entity_text = entity_text
        self.entity_separator = entity_separator
        self.max_entity_tokens = max_entity_tokens
        self.entity_markers = entity_markers
        self.marker_tokens = list(marker_tokens or DEFAULT_MARKER_TOKENS)
        self.long_document_strategy = long_document_strategy
        self.pair_types = [list(p) for p in pair_types] if pair_types else None
        super().__init__(tokenizer, **kwargs)
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(
                "GlobalReProcessor needs a fast tokenizer: mention positions are aligned with word_ids()."
            )
        self.marker_ids = self._marker_ids()

    @classmethod
    def from_config(cls, tokenizer, config) -> GlobalReProcessor:
        """A processor whose settings match a `GlobalReConfig`."""
        return cls(tokenizer, **config.processor_settings)

    def _marker_ids(self) -> list[int]:
        ids = self.tokenizer.convert_tokens_to_ids(self.marker_tokens)
        unknown = [
            tok for tok, i in zip(self.marker_tokens, ids) if i is None or i == self.tokenizer.unk_token_id
        ]
        if unknown and self.entity_markers != "none":
            raise ValueError(
                f"The marker tokens {unknown} are not in the tokenizer's vocabulary; add them with "
                "tokenizer.add_special_tokens and resize the encoder's embeddings, or choose tokens that exist."
            )
        return ids

    # ----------------------------------------------------------------------------------------------------------
    # Pairs
    # ----------------------------------------------------------------------------------------------------------

    def candidate_pairs(
        self, document: Any, pairs: Sequence[Sequence[int]] | None = None, index: int | None = None
    ) -> list[tuple[int, int]]:
        """The ordered (head, tail) pairs to score: the given `pairs` (checked), or all h != t allowed by
        `pair_types` (`ordered_pairs`)."""
        return self._candidate_pairs(as_docred(document, index), pairs, index)

    def _candidate_pairs(
        self, document: dict, pairs: Sequence[Sequence[int]] | None, index: int | None
    ) -> list[tuple[int, int]]:
        num_entities = len(document["vertexSet"])
        if pairs is not None:
            where = document_label(document, index)
            checked, seen = [], set()
            for pair in pairs:
                valid = isinstance(pair, (list, tuple)) and len(pair) == 2
                if not valid or not all(
                    isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in pair
                ):
                    raise DocumentError(
                        f"{where}: pair {pair!r} is not (head, tail) with two integer entity indices."
                    )
                head, tail = int(pair[0]), int(pair[1])
                if not (0 <= head < num_entities and 0 <= tail < num_entities):
                    raise DocumentError(
                        f"{where}: pair ({head}, {tail}) names an entity outside 0..{num_entities - 1}."
                    )
                if head == tail:
                    raise DocumentError(
                        f"{where}: pair ({head}, {tail}) relates an entity to itself; candidate pairs have "
                        "head != tail."
                    )
                if (head, tail) in seen:
                    raise DocumentError(f"{where}: pair ({head}, {tail}) is given twice.")
                seen.add((head, tail))
                checked.append((head, tail))
            return checked
        return ordered_pairs(document["vertexSet"], self.pair_types)

    # ----------------------------------------------------------------------------------------------------------
    # Tokenization
    # ----------------------------------------------------------------------------------------------------------

    def entity_names(self, document: Any) -> list[str]:
        """The text that stands for each entity in the model's input (its segment, `entity_text`): what triples
        show as `head_name` / `tail_name`."""
        document = as_docred(document)
        return [self._entity_text(entity, document["sents"]) for entity in document["vertexSet"]]

    def _entity_text(self, entity: list[dict], sentences: list[list[str]]) -> str:
        # a mention without a name is named by its words
        mentions = [
            m if "name" in m else {**m, "name": " ".join(sentences[m["sent_id"]][m["pos"][0] : m["pos"][1]])}
            for m in entity
        ]
        if not mentions:
            return ""
        names = [m["name"] for m in mentions]
        if self.entity_text == "first_mention":
            first = min(mentions, key=lambda m: (m["sent_id"], m["pos"][0]))
            return first["name"]
        if self.entity_text == "longest_mention":
            return max(names, key=len)
        return self.entity_separator.join(dict.fromkeys(names))

    def tokenize_document(self, document: Any, index: int | None = None) -> _TokenizedDocument:
        """Tokenizes a document once: its words, mention token spans, and entity segments."""
        return self._tokenize(as_docred(document, index), index)

    def _tokenize(self, document: dict, index: int | None) -> _TokenizedDocument:
        label = document_label(document, index)
        sentences = document["sents"]
        if not sentences or not any(len(s) for s in sentences):
            raise DocumentError(f"{label}: the document has no words; expected non-empty 'sents'.")
        words = [word for sentence in sentences for word in sentence]
        encoded = self.tokenizer(words, is_split_into_words=True, add_special_tokens=False, verbose=False)
        ids = encoded["input_ids"]
        word_ids = encoded.word_ids()
        # token start of each word, with one extra entry for the end of the document
        word_token_start = [len(ids)] * (len(words) + 1)
        for token_index in range(len(ids) - 1, -1, -1):
            word_token_start[word_ids[token_index]] = token_index
        for w in range(len(words) - 1, -1, -1):  # words without tokens start where the next word starts
            word_token_start[w] = min(word_token_start[w], word_token_start[w + 1])
        sentence_word_start = [0]
        for sentence in sentences:
            sentence_word_start.append(sentence_word_start[-1] + len(sentence))
        sentence_bounds = [
            (word_token_start[sentence_word_start[s]], word_token_start[sentence_word_start[s + 1]])
            for s in range(len(sentences))
        ]
        mentions, entity_texts, entity_types = [], [], []
        for entity_index, entity in enumerate(document["vertexSet"]):
            if not entity:
                raise DocumentError(f"{label}, entity {entity_index}: the entity has no mentions.")
            spans = []
            for mention_index, mention in enumerate(entity):
                sent_id, pos = mention.get("sent_id"), mention.get("pos")
                where = f"{label}, entity {entity_index} ({mention.get('name')!r}), mention {mention_index}"
                if not isinstance(sent_id, int) or not 0 <= sent_id < len(sentences):
                    raise DocumentError(f"{where}: sent_id {sent_id!r} is outside 0..{len(sentences) - 1}.")
                length = len(sentences[sent_id])
                if not (isinstance(pos, (list, tuple)) and len(pos) == 2 and 0 <= pos[0] < pos[1] <= length):
                    raise DocumentError(
                        f"{where}: pos {pos!r} is outside sentence {sent_id} ({length} words); expected "
                        f"[start, end) with 0 <= start < end <= {length}."
                    )
                first_word = sentence_word_start[sent_id] + pos[0]
                spans.append((word_token_start[first_word], word_token_start[first_word + pos[1] - pos[0]]))
            mentions.append(spans)
            entity_texts.append(self._entity_text(entity, sentences))
            entity_types.append(entity_type(entity))
        if entity_texts:
            entity_ids = self.tokenizer(entity_texts, add_special_tokens=False)["input_ids"]
        else:
            entity_ids = []
        first_with = {}
        for entity_index, spans in enumerate(mentions):
            key = tuple(sorted(spans))
            if key in first_with:  # DocRED data has a few: scored as two entities, so only a warning
                logger.warning(
                    "%s: entities %d and %d have the same mentions; they are scored as two entities",
                    label,
                    first_with[key],
                    entity_index,
                )
            first_with.setdefault(key, entity_index)
        for entity_index, (text, pieces, spans) in enumerate(zip(entity_texts, entity_ids, mentions)):
            # white space, zero-width or control characters only: the model sees nothing of this entity
            if not pieces or all(start == end for start, end in spans):
                logger.warning(
                    "%s, entity %d (%r): %s no word piece; the model sees nothing of it there",
                    label,
                    entity_index,
                    text,
                    "its text has" if not pieces else "its mentions cover",
                )
        type_ids: dict[str, list[int]] = {}
        if self.entity_markers == "typed":
            for type_name in set(entity_types):
                type_ids[type_name] = self.tokenizer(type_name.lower(), add_special_tokens=False)["input_ids"]
        return _TokenizedDocument(
            title=str(document.get("title", "")),
            label=label,
            ids=ids,
            sentence_bounds=sentence_bounds,
            mentions=mentions,
            entity_ids=entity_ids,
            entity_types=entity_types,
            type_ids=type_ids,
        )

    # ----------------------------------------------------------------------------------------------------------
    # Pair sequences
    # ----------------------------------------------------------------------------------------------------------

    def _markers(self, doc: _TokenizedDocument, entity: int, role: int) -> tuple[list[int], list[int]]:
        """The tokens that open and close each mention of `entity` as the head (role 0) or the tail (role 1): a
        marker, then with typed markers the entity type's tokens; a closing marker."""
        opening, closing = self.marker_ids[2 * role : 2 * role + 2]
        if self.entity_markers == "typed":
            return [opening, *doc.type_ids[doc.entity_types[entity]]], [closing]
        return [opening], [closing]

    def _marker_tokens_per_mention(self, doc: _TokenizedDocument, entity: int) -> int:
        """How many tokens the markers add around each mention of `entity` (the same in either role)."""
        opening_ids, closing_ids = self._markers(doc, entity, 0)
        return len(opening_ids) + len(closing_ids)

    def _marked_mentions(self, doc: _TokenizedDocument, head: int, tail: int) -> list[tuple[int, int, int]]:
        """The pair's mentions as `(start, end, marker tokens they add)`; empty without markers."""
        if self.entity_markers == "none":
            return []
        marked = []
        for entity in (head, tail):
            cost = self._marker_tokens_per_mention(doc, entity)
            marked += [(start, end, cost) for start, end in doc.mentions[entity]]
        return marked

    def _kept_intervals(
        self, doc: _TokenizedDocument, head: int, tail: int, budget: int
    ) -> list[tuple[int, int]]:
        """Token intervals of the document whose tokens, with the markers of the mentions they contain, fit
        `budget`, chosen by the long-document strategy."""
        total = len(doc.ids)
        marked = self._marked_mentions(doc, head, tail)

        def cost(intervals: list[tuple[int, int]]) -> int:
            inside = sum(c for a, b, c in marked if any(s <= a and b <= e for s, e in intervals))
            return _covered(intervals) + inside

        if total + sum(c for _, _, c in marked) <= budget:  # every mention lies inside the whole document
            return [(0, total)]
        if budget <= 0:
            return []
        if self.long_document_strategy == "truncate_tail":
            return [(0, _largest(lambda end: cost([(0, end)]) <= budget, total))]
        pair_spans = sorted(doc.mentions[head] + doc.mentions[tail])
        seeds = sorted(
            {s for s, (a, b) in enumerate(doc.sentence_bounds) for m in pair_spans if a <= m[0] < b}
        )
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

    def _document_segment(
        self, doc: _TokenizedDocument, head: int, tail: int, budget: int
    ) -> tuple[list[int], bool]:
        intervals = self._kept_intervals(doc, head, tail, budget)
        truncated = intervals != [(0, len(doc.ids))]
        if self.entity_markers == "none":
            if not truncated:
                return doc.ids, False
            return [token for start, end in intervals for token in doc.ids[start:end]], True
        # Insertions keyed by token position; closing markers sort before opening ones at the same position.
        inserts: list[tuple[int, int, list[int]]] = []
        for role, entity in enumerate((head, tail)):
            opening_ids, closing_ids = self._markers(doc, entity, role)
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

    def _marked_documents(
        self, doc: _TokenizedDocument, heads: np.ndarray, tails: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """`[CLS] document [SEP]` with the markers of every mention of the head and of the tail, for pairs whose whole
        document fits, built for all of them at once and stored back to back: the same tokens as
        `_document_segment` over the whole document, without a Python list per pair (with markers every pair has
        its own segment, and building them one by one was most of the host's work)."""
        document = np.asarray(doc.ids, dtype=np.int32)
        total = len(document)
        # Every (entity, role) gets a block of insertions, opening and closing marker of each mention in mention
        # order, head role first: the order in which `_document_segment` lists them before its stable sort.
        positions, kinds, piece_starts, piece_lengths, pieces = [], [], [], [], []
        # [role, entity] -> (first insertion, count)
        blocks = np.zeros((2, len(doc.mentions), 2), dtype=np.int64)
        for role in (0, 1):
            for entity, mentions in enumerate(doc.mentions):
                opening_ids, closing_ids = self._markers(doc, entity, role)
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
        out[bases] = self.tokenizer.cls_token_id
        out[bases + lengths - 1] = self.tokenizer.sep_token_id
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

    def encode_document(
        self, document: Any, pairs: Sequence[Sequence[int]] | None = None, index: int | None = None
    ) -> DocumentEncoding:
        """Encodes every candidate pair of one document (see `candidate_pairs`), without padding.

        Truncation is reported: a warning names the document and how many pairs lost document tokens, and
        `DocumentEncoding.truncated_pairs` lists them.
        """
        document = as_docred(document, index)  # a document in text form is converted once, here
        candidate = self._candidate_pairs(document, pairs, index)
        return self._encode_pairs(self._tokenize(document, index), candidate)

    def _entity_parts(self, doc: _TokenizedDocument, notes: list[str]) -> list[list[int]]:
        """Each entity's part of a pair sequence: its tokens (at most `max_entity_tokens`; a cut is noted) and a
        `[SEP]`."""
        parts = []
        for entity, ids in enumerate(doc.entity_ids):
            if len(ids) > self.max_entity_tokens:
                notes.append(
                    f"{doc.label}: entity {entity} segment cut from {len(ids)} to {self.max_entity_tokens} tokens"
                )
                ids = ids[: self.max_entity_tokens]
            parts.append([*ids, self.tokenizer.sep_token_id])
        return parts

    def _encode_pairs(self, doc: _TokenizedDocument, candidate: list[tuple[int, int]]) -> DocumentEncoding:
        """How pairs become encoder sequences (`encoding`): the packed encoding (`_encode_packed`), or the paper's
        one-pair encoding, `[CLS] document [SEP] head [SEP] tail [SEP]` for every candidate pair, the document cut
        to the budget where it must be (see `long_document_strategy`)."""
        if self.encoding == "packed":
            return self._encode_packed(doc, candidate)
        if not candidate:
            return DocumentEncoding(
                doc.title, [], PairSequences.concatenate([]), document_tokens=len(doc.ids)
            )
        notes = []
        tokenizer = self.tokenizer
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        entity_parts = self._entity_parts(doc, notes)
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
        if self.entity_markers == "none":
            own_segment = np.flatnonzero(len(whole) + entity_tokens > self.max_seq_length).tolist()
        else:
            marker_tokens = np.asarray(
                [
                    len(mentions) * self._marker_tokens_per_mention(doc, entity)
                    for entity, mentions in enumerate(doc.mentions)
                ],
                dtype=np.int64,
            )
            fits = (
                len(whole) + marker_tokens[pair_array[:, 0]] + marker_tokens[pair_array[:, 1]] + entity_tokens
                <= self.max_seq_length
            )
            marked_whole = np.flatnonzero(fits)
            own_segment = np.flatnonzero(~fits).tolist()
        truncated_pairs, segments = [], []
        next_start = len(whole) + int(entity_lengths.sum())
        for position in own_segment:
            head, tail = candidate[position]
            budget = self.max_seq_length - 2 - int(entity_tokens[position])
            segment, truncated = self._document_segment(doc, head, tail, budget)
            if truncated:
                truncated_pairs.append(position)
            segments.append((cls_id,))
            segments.append(segment)
            segments.append((sep_id,))
            spans[position, 0] = (next_start, len(segment) + 2)
            next_start += len(segment) + 2
        tokens = np.fromiter(
            itertools.chain(whole, *entity_parts, *segments), dtype=np.int32, count=next_start
        )
        # In chunks of pairs: the builder's temporaries are a few int64 arrays of pairs x document tokens.
        chunk = max(1, MARKED_CHUNK_TOKENS // (len(doc.ids) + 1))
        parts = [tokens]
        for first in range(0, len(marked_whole), chunk):
            rows = marked_whole[first : first + chunk]
            marked, lengths = self._marked_documents(doc, pair_array[rows, 0], pair_array[rows, 1])
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
                f"max_seq_length={self.max_seq_length}; {len(encoding.truncated_pairs)} of {len(candidate)} pairs "
                f"keep only part of the document (strategy {self.long_document_strategy!r})"
            )
            encoding.notes.append(message)
            logger.warning(message)
        return encoding

    def _encode_packed(self, doc: _TokenizedDocument, candidate: list[tuple[int, int]]) -> DocumentEncoding:
        """The packed encoding (`encoding="packed"`, see `PackedSequences`): the document part stored once, with
        the entity start/end markers (the first two marker tokens, the type after the start marker when typed)
        around every mention of every entity when `entity_markers` asks for them, and one segment per candidate pair:
        `[CLS] head [SEP] tail [SEP]`, or with `pair_segment="markers"` `[CLS] [H] [T]` (the last two marker tokens
        at the positions of the head's and the tail's first mentions). A document whose tokens, with the longest pair segment,
        exceed `max_seq_length` is split into windows at sentence ends (a longer sentence at a token), each at most
        that budget: every token is kept, and the windows are reported in `notes`."""
        notes: list[str] = []
        cls_id = self.tokenizer.cls_token_id
        entity_parts = [np.asarray(part, dtype=np.int32) for part in self._entity_parts(doc, notes)]
        part_lengths = np.asarray([len(part) for part in entity_parts], dtype=np.int64)
        pair_array = np.asarray(candidate, dtype=np.int64).reshape(-1, 2)
        # a pair segment is [CLS] + head part + tail part, after the document: the document must leave room for the
        # longest one; levitated markers take positions inside the document
        if self.pair_segment == "markers":
            longest_pair, budget = 3, self.max_seq_length - 2
        else:
            longest_pair = 1 + int(part_lengths[pair_array].sum(axis=1).max()) if len(candidate) else 1
            budget = self.max_seq_length - 1 - longest_pair
        if budget < 1:
            raise DocumentError(
                f"{doc.label}: a pair segment of {longest_pair} tokens leaves no room for the document within "
                f"max_seq_length={self.max_seq_length}; lower max_entity_tokens or raise max_seq_length."
            )
        sentences, mention_places = self._marked_sentences(doc)
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
        sep_id = self.tokenizer.sep_token_id
        window_lengths = np.asarray([len(window) + 2 for window in windows], dtype=np.int64)
        window_spans = np.stack([np.cumsum(window_lengths) - window_lengths, window_lengths], axis=1)
        document = [t for window in windows for t in (cls_id, *window, sep_id)]

        def mention_place(sentence: int, offset: int) -> tuple[int, int]:
            window, start = sentence_places[sentence]
            if start == 0 and len(sentences[sentence]) > budget:  # a sentence cut into pieces
                return window + offset // budget, 1 + offset % budget
            return window, 1 + start + offset

        places = [[mention_place(*place) for place in entity] for entity in mention_places]
        if self.pair_segment == "markers":
            # [CLS] at position 0 (type 0), the head and tail markers at their first mentions' positions (type 1)
            column = [min(entity)[1] for entity in places]
            segment_lengths = np.full(len(candidate), 3, dtype=np.int64)
            segments = [np.asarray([cls_id, *self.marker_ids[2:4]]) for _ in candidate]
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
        flat_places = np.asarray([place for entity in places for place in entity], dtype=np.int32).reshape(
            -1, 2
        )
        sequences = PackedSequences(
            tokens=np.concatenate([np.asarray(document, dtype=np.int32), *segments]).astype(np.int32),
            positions=np.concatenate(
                [np.arange(n) for n in window_lengths.tolist()] + segment_positions
            ).astype(np.int32),
            types=np.concatenate(
                [np.zeros(len(document))] + [np.r_[0, np.ones(n - 1)] for n in segment_lengths.tolist()]
            ).astype(np.int8),
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
                f"({longest_pair} tokens), exceed max_seq_length={self.max_seq_length}; encoded whole as "
                f"{len(windows)} windows of at most {budget} tokens (document tokens attend within their window, "
                "pair tokens to all of them)"
            )
            notes.append(message)
            logger.warning(message)
        return DocumentEncoding(
            title=doc.title,
            pairs=list(candidate),
            sequences=sequences,
            document_tokens=len(doc.ids),
            notes=notes,
            windows=len(windows),
        )

    def _marked_sentences(
        self, doc: _TokenizedDocument
    ) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
        """The document's sentences as token lists, with the entity start and end markers around every mention of
        every entity when `entity_markers` asks for them (closing markers before opening ones at one position, as
        the one-pair encoding orders them); and for each entity, the (sentence, offset) of each mention's first
        token there: its start marker, or its first word piece without markers."""
        starts = [start for start, _ in doc.sentence_bounds]
        inserts: list[list[tuple[int, int, int, list[int], tuple[int, int] | None]]] = [[] for _ in starts]
        places: list[list[tuple[int, int]]] = [[(0, 0)] * len(mentions) for mentions in doc.mentions]
        marked = self.entity_markers != "none"
        for entity, mentions in enumerate(doc.mentions):
            opening, closing = self._markers(doc, entity, 0) if marked else ([], [])
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

    # ----------------------------------------------------------------------------------------------------------
    # Batches
    # ----------------------------------------------------------------------------------------------------------

    @property
    def pad_token_id(self) -> int:
        """The id that pads batches (0 for a tokenizer without a pad token)."""
        return self.tokenizer.pad_token_id or 0

    def iter_batches(
        self,
        encoding: DocumentEncoding,
        max_batch_tokens: int = 16384,
        max_batch_pairs: int | None = None,
        pad_to_multiple_of: int | None = None,
    ) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        """Yields `(positions, batch)` for the pairs of `encoding` (see `PairSequences.iter_batches`): sorted by
        length and packed so that each padded batch holds at most `max_batch_tokens` tokens (and `max_batch_pairs`
        pairs), which keeps memory bounded and padding small."""
        yield from encoding.sequences.iter_batches(
            max_batch_tokens,
            max_batch_pairs=max_batch_pairs,
            pad_token_id=self.pad_token_id,
            pad_to_multiple_of=pad_to_multiple_of,
        )

    def __call__(
        self,
        documents: Any,
        pairs: Sequence[Sequence[int]] | None = None,
        return_tensors: str = "pt",
        **kwargs,
    ) -> BatchEncoding:
        """Encodes one document (or a list) into one padded batch with `pair_index` (document, head, tail) rows.

        For large documents prefer `encode_document` + `iter_batches`, which keep memory bounded.
        """
        if return_tensors != "pt":
            raise ValueError("GlobalReProcessor returns PyTorch tensors only (return_tensors='pt').")
        single = isinstance(documents, dict)
        if pairs is not None and not single:
            raise ValueError("pairs= names the pairs of one document; pass a single document with it.")
        documents = [documents] if single else list(documents)
        parts, index_rows = [], []
        for doc_index, document in enumerate(documents):
            encoding = self.encode_document(document, pairs if single else None, index=doc_index)
            parts.append(encoding.sequences)
            index_rows += [(doc_index, h, t) for h, t in encoding.pairs]
        sequences = type(parts[0]).concatenate(parts) if parts else PairSequences.concatenate([])
        if not len(sequences):
            empty = torch.zeros((0, 0), dtype=torch.long)
            data = {"input_ids": empty, "token_type_ids": empty, "attention_mask": empty}
        else:
            data = sequences.pad(range(len(sequences)), self.pad_token_id)
        data["pair_index"] = torch.tensor(index_rows, dtype=torch.long).reshape(-1, 3)
        return BatchEncoding(data)

    # ----------------------------------------------------------------------------------------------------------
    # Logits -> triples
    # ----------------------------------------------------------------------------------------------------------

    def post_process(
        self,
        logits: torch.Tensor,
        pairs: Sequence[tuple[int, int]],
        document: Any,
        config,
        threshold: float | None = None,
        relations: Sequence[str] | None = None,
        top_k: int | None = None,
        type_constraints: bool | None = None,
    ) -> list[dict]:
        """Turns the logits of a document's pairs into triples, best first:
        `{"head", "head_name", "head_mentions", "tail", "tail_name", "tail_mentions", "relation", "relation_name",
        "score", "evidence"}`.

        `head_name` / `tail_name` are the entity texts the model read (`entity_names`). `head_mentions` /
        `tail_mentions` list the entity's mentions as `{"name", "sent_id", "pos"}` (sentence and word positions,
        end exclusive) plus `"char_span": [start, end)` (character offsets) for text input. `evidence` is the
        sorted sentence ids that the document's own `labels` give for this fact, `None` when they give none (the
        model does not predict evidence).

        Args:
            logits: `(num_pairs, num_labels)` logits, row i for `pairs[i]`.
            config: the model's `GlobalReConfig` (label set, decision rule, thresholds, type constraints).
            threshold: overrides the stored thresholds (see `decide`).
            relations: only these relations, each a relation id (`"P17"`) or name (`"country"`, any case).
            top_k: instead of the relations the decision rule keeps, each pair's `top_k` highest-scoring relations
                whatever their score, each with `"kept"`: whether the decision rule keeps it (a large `top_k`
                gives every score of a pair).
            type_constraints: keep only relations whose (head type, tail type) was seen with the relation in
                training (`config.relation_type_pairs`); default `config.type_constraints`.

        Raises:
            ValueError: an unknown relation, a `top_k` that is not a positive integer, or type constraints on a
                model without recorded type pairs.
        """
        document = as_docred(document)
        scores, keep = decide(logits, config, threshold)
        allowed = torch.ones(keep.shape, dtype=torch.bool)
        if config.no_relation_label is not None:
            allowed[:, config.no_relation_id] = False
        if relations is not None:
            chosen = torch.zeros(keep.shape[1], dtype=torch.bool)
            chosen[relation_class_ids(relations, config)] = True
            allowed &= chosen
        if config.type_constraints if type_constraints is None else type_constraints:
            allowed &= self._type_mask(pairs, document, config)
        keep &= allowed
        if top_k is not None:
            if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer; got {top_k!r}.")
            masked = scores.masked_fill(~allowed, -1.0)
            best = masked.topk(min(top_k, masked.shape[1]), dim=-1).indices
            chosen = torch.zeros(keep.shape, dtype=torch.bool).scatter_(1, best, True) & allowed
        else:
            chosen = keep
        names = self.entity_names(document)
        mentions = [
            [_mention_position(m, document["sents"]) for m in entity] for entity in document["vertexSet"]
        ]
        labels = document.get("labels")
        # only DocRED-form labels (a list of {h, t, r, evidence}) give evidence; other forms give none
        evidence = {
            (label["h"], label["t"], label["r"]): sorted(label["evidence"])
            for label in (labels if isinstance(labels, list) else [])
            if isinstance(label, dict) and label.get("evidence") and {"h", "t", "r"} <= label.keys()
        }
        rows, columns = chosen.nonzero(as_tuple=True)
        triples = []
        for row, column in zip(rows.tolist(), columns.tolist()):
            head, tail = pairs[row]
            label = config.id2label[column]
            triple = {
                "head": head,
                "head_name": names[head],
                "head_mentions": mentions[head],
                "tail": tail,
                "tail_name": names[tail],
                "tail_mentions": mentions[tail],
                "relation": label,
                "relation_name": config.relation_name(label),
                "score": float(scores[row, column]),
                "evidence": evidence.get((head, tail, label)),
            }
            if top_k is not None:
                triple["kept"] = bool(keep[row, column])
            triples.append(triple)
        triples.sort(key=lambda triple: -triple["score"])
        return triples

    def _type_mask(self, pairs: Sequence[tuple[int, int]], document: dict, config) -> torch.Tensor:
        """`(num_pairs, num_labels)`: whether a relation was seen in training between the pair's entity types. A
        pair with an untyped entity keeps every relation (with a warning naming the entities)."""
        if not config.relation_type_pairs:
            raise ValueError(
                "type constraints need the entity-type pairs seen with each relation in training "
                "(config.relation_type_pairs, recorded by train.py); this model has none."
            )
        by_types: dict[tuple[str, str], torch.Tensor] = {}
        for label, type_pairs in config.relation_type_pairs.items():
            if label not in config.label2id:
                continue
            for head_type, tail_type in type_pairs:
                row = by_types.setdefault(
                    (head_type, tail_type), torch.zeros(len(config.id2label), dtype=torch.bool)
                )
                row[config.label2id[label]] = True
        types = [entity_type(entity) for entity in document["vertexSet"]]
        untyped = [index for index, kind in enumerate(types) if not kind]
        if untyped:
            logger.warning(
                "%s: entities %s have no type, so type constraints do not filter their pairs",
                document_label(document, None),
                untyped[:10],
            )
        nothing = torch.zeros(len(config.id2label), dtype=torch.bool)
        everything = torch.ones(len(config.id2label), dtype=torch.bool)
        return (
            torch.stack(
                [
                    by_types.get((types[h], types[t]), nothing) if types[h] and types[t] else everything
                    for h, t in pairs
                ]
            )
            if pairs
            else torch.zeros((0, len(config.id2label)), dtype=torch.bool)
        )


def _mention_position(mention: dict, sentences: list[list[str]]) -> dict:
    start, end = mention["pos"]
    name = mention["name"] if "name" in mention else " ".join(sentences[mention["sent_id"]][start:end])
    position = {"name": name, "sent_id": mention["sent_id"], "pos": [start, end]}
    if "char_span" in mention:
        position["char_span"] = list(mention["char_span"])
    return position


def relation_class_ids(relations: Sequence[str], config) -> list[int]:
    """Class ids of relations given by id (`"P17"`) or by name (`"country"`, compared ignoring case).

    Raises:
        ValueError: naming the relations that are neither an id nor a name of the model's label set, or a name
            that several relations share.
    """
    if isinstance(relations, str):
        relations = [relations]
    by_name: dict[str, list[str]] = {}
    for label in config.label2id:
        if label != config.no_relation_label:
            by_name.setdefault(config.relation_name(label).casefold(), []).append(label)
    ids, unknown = [], []
    for relation in relations:
        if relation in config.label2id and relation != config.no_relation_label:
            ids.append(config.label2id[relation])
        elif len(by_name.get(str(relation).casefold(), [])) == 1:
            ids.append(config.label2id[by_name[str(relation).casefold()][0]])
        elif str(relation).casefold() in by_name:
            raise ValueError(
                f"The relation name {relation!r} is shared by {by_name[str(relation).casefold()]}; give the id."
            )
        else:
            unknown.append(relation)
    if unknown:
        examples = [f"{label} ({config.relation_name(label)})" for label in list(config.label2id)[1:6]]
        raise ValueError(
            f"Unknown relation(s) {unknown}: give relation ids or names of this model's "
            f"{len(config.label2id)} labels, e.g. {', '.join(examples)}."
        )
    return ids


def decide(logits: torch.Tensor, config, threshold: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Applies the config's decision rule: returns `(scores, keep)`, both `(num_pairs, num_labels)`.

    `"threshold"`: score = sigmoid(logit), kept when above its relation's threshold (`relation_thresholds`, else
    `threshold`). `"adaptive"`: score = sigmoid(logit - no-relation logit), kept when above 0.5, i.e. when the logit
    beats the no-relation logit. A `threshold` given here replaces every stored threshold (the 0.5 of the adaptive
    rule included). The no-relation class is never kept; `max_relations_per_pair` keeps the best of a pair.
    """
    if threshold is not None and not (
        isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) and 0.0 <= threshold <= 1.0
    ):
        raise ValueError(f"threshold must be a probability between 0 and 1; got {threshold!r}.")
    logits = logits.detach().float().cpu()
    num_labels = logits.shape[-1]
    if config.decision_rule == "adaptive":
        scores = torch.sigmoid(logits - logits[:, config.no_relation_id : config.no_relation_id + 1])
        thresholds = torch.full((num_labels,), 0.5 if threshold is None else float(threshold))
    else:
        scores = torch.sigmoid(logits)
        thresholds = torch.full((num_labels,), float(config.threshold if threshold is None else threshold))
        if threshold is None:
            for label, value in (config.relation_thresholds or {}).items():
                if label in config.label2id:
                    thresholds[config.label2id[label]] = float(value)
    keep = scores > thresholds
    if config.no_relation_label is not None:
        keep[:, config.no_relation_id] = False
    top_k = config.max_relations_per_pair
    if top_k is not None and top_k < num_labels:
        masked = scores.masked_fill(~keep, -1.0)
        cutoff = masked.topk(top_k, dim=-1).values[:, -1:]
        keep &= masked >= cutoff
    return scores, keep


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


GlobalReProcessor.register_for_auto_class("AutoProcessor")

__all__ = [
    "GlobalReProcessor",
    "PackedSequences",
    "entity_type",
    "ordered_pairs",
    "DocumentEncoding",
    "DocumentError",
    "PairSequences",
    "as_docred",
    "decide",
    "length_sorted_batches",
    "relation_class_ids",
    "split_words",
]
