# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""Entities from raw text: the inputs and labels of the built-in entity detector (`detection_features`,
`collate_detection`), decoding its BIO tags into mentions (`decode_tags`), grouping mentions into entities by
name (`group_mentions_by_name`) or by the learned pair scorer (`cluster_mentions`), the whole step on many texts
(`detect_entities`), and a transformers token-classification pipeline's output as entities
(`entities_from_token_classification`).

Raw text is split into sentences and words with `documents_globalre.split_words`, as the text form splits it, so
that the detected character spans are whole words of the sentences `text_to_docred` finds. The tagger scores the
first subword token of each word; a text longer than one window is read in overlapping windows of at most
`max_seq_length` tokens, and each word's tag is read from the window where its first token is most central.
Entities come out in the text form with character spans: `{"name", "type", "spans", "mentions"}`."""

from __future__ import annotations

import bisect
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

try:  # Hub remote code resolves sibling files only through relative imports
    from .documents_globalre import DocumentError, _comparable, _refuse_unsegmented_scripts, split_words
    from .inference_globalre import default_max_batch_tokens
    from .modeling_entities_globalre import NAME_FEATURES
except ImportError:  # the same file used from a source checkout or an installed package
    from documents_globalre import DocumentError, _comparable, _refuse_unsegmented_scripts, split_words
    from inference_globalre import default_max_batch_tokens
    from modeling_entities_globalre import NAME_FEATURES

logger = logging.getLogger(__name__)

#: Types whose shorter names may stand for a longer name's last words ("Curie" for "Marie Curie", "Motors" is rare
#: but "General Motors" is ORG): the surname rule of `group_mentions_by_name`.
SURNAME_TYPES = ("PER", "ORG", "PERSON", "ORGANIZATION")
COREFERENCE_MODES = ("names", "learned")
# Small words left out of an acronym's initials ("FBI": Federal Bureau of Investigation).
_ACRONYM_SKIPPED = frozenset({"of", "the", "and", "for", "de", "du", "la", "le", "von", "van", "&"})
_NAME_WORD = re.compile(r"\w+")


# --------------------------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------------------------


def name_words(name: str) -> list[str]:
    """The words of a name as names are compared: Unicode form, quotes, dashes, white space and case normalized
    (`documents_globalre._comparable`), then its runs of letters and digits ("U.S." -> `["u", "s"]`)."""
    return _NAME_WORD.findall(_comparable(name))


def name_features(first: str, second: str) -> list[float]:
    """The name features of a mention pair, in the order of `NAME_FEATURES` (see there): exact normalized name,
    one name a whole-word part of the other, same last word, same first word, word overlap (Jaccard), one an
    acronym of the other. The mention-pair scorer reads them beside the mentions' states."""
    a, b = name_words(first), name_words(second)
    if not a or not b:
        exact = float(_comparable(first) == _comparable(second))
        return [exact, exact, 0.0, 0.0, 0.0, 0.0]
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    inside = any(longer[i : i + len(shorter)] == shorter for i in range(len(longer) - len(shorter) + 1))
    union = set(a) | set(b)
    return [
        float(a == b),
        float(inside),
        float(a[-1] == b[-1]),
        float(a[0] == b[0]),
        len(set(a) & set(b)) / len(union),
        float(_is_acronym(a, b) or _is_acronym(b, a)),
    ]


def _is_acronym(shorter: list[str], longer: list[str]) -> bool:
    """Whether `shorter` (as letters: "UN", "U.N.") is the initials of `longer`'s words, small words left out."""
    letters = "".join(shorter)
    initials = "".join(word[0] for word in longer if word not in _ACRONYM_SKIPPED)
    return len(longer) >= 2 and len(letters) >= 2 and letters in {initials, "".join(w[0] for w in longer)}


class _Components:
    """Mentions joined into entities (union-find): `union` links two mentions, `groups` gives the entities."""

    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def groups(self) -> list[list[int]]:
        """Lists of mention indices, each ascending, ordered by their first mention."""
        groups: dict[int, list[int]] = {}
        for index in range(len(self.parent)):
            groups.setdefault(self.find(index), []).append(index)
        return sorted(groups.values(), key=lambda group: group[0])


def group_mentions_by_name(text: str, mentions: Sequence[tuple[int, int, str]]) -> list[list[int]]:
    """Groups the mentions of one text into entities by their names.

    The rule, exactly:
    1. two mentions of the same type whose names (`text[start:end]`) are equal once normalized (Unicode form,
       quotes, dashes and white space unified, case folded: `name_words`) are one entity;
    2. a mention whose type is in `SURNAME_TYPES` (PER, ORG) and whose name's words are the last word(s) of a
       longer name of a mention of the same type in the text ("Curie" and "Marie Curie") joins that mention's
       entity, when all such longer names are one entity after rule 1; when they are several ("Curie" beside
       "Marie Curie" and "Pierre Curie"), which one is meant is open and it stays on its own.
    Nothing else joins mentions: no pronouns, no acronyms, no partial names of other types.

    Args:
        text: the text the mentions are in.
        mentions: `(start, end, type)` character spans `[start, end)` into `text`.

    Returns the groups as lists of mention indices, each ascending, ordered by their first mention; every mention
    is in exactly one group. Raises `ValueError` for a span outside the text.
    """
    words = []
    for index, (start, end, _) in enumerate(mentions):
        if not 0 <= start < end <= len(text):
            raise ValueError(
                f"mention {index}: span [{start}, {end}) is outside the text (length {len(text)})."
            )
        words.append(tuple(name_words(text[start:end])) or (_comparable(text[start:end]),))
    components = _Components(len(mentions))
    by_name: dict[tuple[str, tuple[str, ...]], int] = {}
    for index, (_, _, type_) in enumerate(mentions):
        key = (type_, words[index])
        if key in by_name:
            components.union(by_name[key], index)
        else:
            by_name[key] = index
    by_last_word: dict[tuple[str, str], list[tuple[tuple[str, ...], int]]] = {}
    for (type_, name), index in by_name.items():
        by_last_word.setdefault((type_, name[-1]), []).append((name, index))
    joins = []
    for (type_, short), index in by_name.items():
        if type_ not in SURNAME_TYPES:
            continue
        owners = {
            components.find(other)
            for long, other in by_last_word[(type_, short[-1])]
            if len(long) > len(short) and long[-len(short) :] == short
        }
        if len(owners) == 1:
            joins.append((index, owners.pop()))
    for index, owner in joins:
        components.union(index, owner)
    return components.groups()


def cluster_mentions(
    types: Sequence[str],
    pairs: Sequence[tuple[int, int]],
    probabilities: Sequence[float],
    threshold: float,
) -> list[list[int]]:
    """Entities from the learned pair scorer: two mentions of the same type are linked when their pair's
    probability exceeds `threshold`, and the entities are the connected components of the links (a mention
    without links is an entity of its own). Returns groups of mention indices as `group_mentions_by_name` does."""
    components = _Components(len(types))
    for (i, j), probability in zip(pairs, probabilities):
        if probability > threshold and types[i] == types[j]:
            components.union(i, j)
    return components.groups()


def entities_from_groups(
    text: str, mentions: Sequence[tuple[int, int, str]], groups: Sequence[Sequence[int]]
) -> list[dict]:
    """Text-form entities `{"name", "type", "spans", "mentions"}` from grouped mentions: `spans` in text order,
    `name` the longest mention text (the earliest of equally long ones), `mentions` the other distinct mention
    texts, `type` the most frequent mention type (the earliest on a tie). Ordered by their first mention."""
    entities = []
    for group in groups:
        members = sorted((mentions[i] for i in group), key=lambda m: (m[0], m[1]))
        texts = [text[start:end] for start, end, _ in members]
        name = max(texts, key=len)  # max keeps the first of equally long ones
        counts = Counter(type_ for _, _, type_ in members)
        type_ = max(counts, key=lambda t: (counts[t], -[m[2] for m in members].index(t)))
        entities.append(
            {
                "name": name,
                "type": type_,
                "spans": [[start, end] for start, end, _ in members],
                "mentions": [t for t in dict.fromkeys(texts) if t != name],
            }
        )
    return sorted(entities, key=lambda entity: entity["spans"][0])


# --------------------------------------------------------------------------------------------------------------
# Features: words, subword tokens, windows, labels
# --------------------------------------------------------------------------------------------------------------


@dataclass
class DetectionFeatures:
    """One text as the entity detector reads it (`detection_features`).

    Attributes:
        text: the text.
        word_spans: `[start, end)` character span of each word (`split_words`, sentences one after another).
        word_sentence: the sentence of each word.
        word_tokens: `[first, end)` subword token range of each word in the text's token sequence (empty for a
            word the tokenizer gives no token, such as a lone zero-width joiner).
        windows: `[start, end)` token range of each window (overlapping when the text needs several).
        input_ids: each window's token ids, `[CLS] tokens [SEP]`.
        word_window: the window each word's tag is read from (where its first token is most central), -1 for a
            word without tokens.
        pad_token_id: the tokenizer's padding id (`collate_detection` pads with it).
        tag_labels: with gold entities, each window's BIO labels (the first token of each word whose window it
            is; -100 elsewhere).
        mentions: with gold entities, the mentions kept for training as `(first word, last word, type index)`.
        mention_entity: the gold entity of each kept mention.
        mention_tokens: each kept mention's `(window, first position, last position)` in that window (positions
            count the `[CLS]`).
        coreference_pairs, coreference_labels, coreference_features: every pair `(i, j)`, `i < j`, of kept
            mentions of the same type, 1.0 when they are one entity, and its `name_features`.
        dropped: gold mentions not trained on, by reason: `overlapping` (nested in or overlapping a longer
            mention; the longer is kept), `unknown_type` (a type not in `entity_types`), `no_tokens` (words the
            tokenizer gives no token), `crosses_sentence` (words in two sentences of `split_words`, which decoding
            never joins), `duplicate` (the same words as a mention kept already).
    """

    text: str
    word_spans: list[tuple[int, int]]
    word_sentence: list[int]
    word_tokens: list[tuple[int, int]]
    windows: list[tuple[int, int]]
    input_ids: list[list[int]]
    word_window: list[int]
    pad_token_id: int
    tag_labels: list[list[int]] | None = None
    mentions: list[tuple[int, int, int]] = field(default_factory=list)
    mention_entity: list[int] = field(default_factory=list)
    mention_tokens: list[tuple[int, int, int]] = field(default_factory=list)
    coreference_pairs: list[tuple[int, int]] = field(default_factory=list)
    coreference_labels: list[float] = field(default_factory=list)
    coreference_features: list[list[float]] = field(default_factory=list)
    dropped: dict[str, int] = field(
        default_factory=lambda: {
            "overlapping": 0,
            "unknown_type": 0,
            "no_tokens": 0,
            "crosses_sentence": 0,
            "duplicate": 0,
        }
    )

    def mention_window(self, first_word: int, last_word: int) -> tuple[int, int, int]:
        """`(window, first position, last position)` of the first token of `first_word` and the last token of
        `last_word` in the window that holds both with the most room on either side (positions count the
        `[CLS]`); a mention longer than any window is cut at the end of its first token's window."""
        first = self.word_tokens[first_word][0]
        last = self.word_tokens[last_word][1] - 1
        best, best_room = -1, -1
        for window, (start, end) in enumerate(self.windows):
            if start <= first and last < end:
                room = min(first - start, end - 1 - last)
                if room > best_room:
                    best, best_room = window, room
        if best < 0:
            best = self.word_window[first_word]
            last = self.windows[best][1] - 1
        start = self.windows[best][0]
        return best, first - start + 1, last - start + 1


def window_ranges(num_tokens: int, max_tokens: int) -> list[tuple[int, int]]:
    """`[start, end)` token ranges of windows of at most `max_tokens` tokens covering `num_tokens`: one window
    when the text fits, else windows overlapping by half (the last one ends at the text's end)."""
    if num_tokens <= max_tokens:
        return [(0, num_tokens)] if num_tokens else []
    stride = max(1, max_tokens // 2)
    ranges = []
    start = 0
    while True:
        if start + max_tokens >= num_tokens:
            ranges.append((num_tokens - max_tokens, num_tokens))
            return ranges
        ranges.append((start, start + max_tokens))
        start += stride


def _most_central(position: int, windows: Sequence[tuple[int, int]]) -> int:
    """The window in which token `position` is farthest from both edges (the earliest on a tie)."""
    best, best_room = -1, -1
    for window, (start, end) in enumerate(windows):
        if start <= position < end:
            room = min(position - start, end - 1 - position)
            if room > best_room:
                best, best_room = window, room
    return best


def detection_features(
    tokenizer,
    text: str,
    entity_types: Sequence[str],
    max_seq_length: int,
    entities: Sequence[dict] | None = None,
) -> DetectionFeatures:
    """One text's windows for the entity detector and, with gold `entities`, its training labels.

    Args:
        tokenizer: a fast tokenizer (`processor.tokenizer`); words become subword tokens with `word_ids`.
        text: the raw text (a training document's comes from `documents_globalre.docred_to_text`).
        entity_types: the detector's types (`config.entity_types`), in the order of the tag classes.
        max_seq_length: tokens per window, `[CLS]` and `[SEP]` included (`config.max_seq_length`).
        entities: gold entities in the text form with character spans, `{"spans": [[start, end], ...], "type"}`
            and optionally `mention_types` (one per span). Each span takes the words it overlaps. Overlapping
            or nested gold mentions: the longer (in words) is kept, the other counted in `dropped["overlapping"]`;
            mentions of a type not in `entity_types` are left untagged and counted in `dropped["unknown_type"]`.

    Returns a `DetectionFeatures`. Raises `ValueError` for a slow tokenizer, a too small `max_seq_length`, or a
    malformed gold entity (naming it).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            "The entity detector needs a fast tokenizer (it maps subword tokens to words); got "
            f"{type(tokenizer).__name__}. Load it with AutoTokenizer.from_pretrained(..., use_fast=True)."
        )
    if max_seq_length < 3:
        raise ValueError(
            f"max_seq_length must leave room for [CLS], a token and [SEP]; got {max_seq_length}."
        )
    sentences, offsets = split_words(text)
    word_spans = [span for spans in offsets for span in spans]
    word_sentence = [sent_id for sent_id, spans in enumerate(offsets) for _ in spans]
    words = [text[start:end] for start, end in word_spans]
    token_ids: list[int] = []
    word_tokens = [(0, 0)] * len(words)
    if words:
        encoded = tokenizer(words, is_split_into_words=True, add_special_tokens=False, verbose=False)
        token_ids = list(encoded["input_ids"])
        bounds: dict[int, list[int]] = {}
        for position, word in enumerate(encoded.word_ids()):
            if word is not None:
                bounds.setdefault(word, [position, position + 1])[1] = position + 1
        word_tokens = [tuple(bounds.get(w, (0, 0))) for w in range(len(words))]
    windows = window_ranges(len(token_ids), max_seq_length - 2)
    input_ids = [
        [tokenizer.cls_token_id, *token_ids[start:end], tokenizer.sep_token_id] for start, end in windows
    ]
    word_window = [_most_central(first, windows) if first < end else -1 for first, end in word_tokens]
    features = DetectionFeatures(
        text=text,
        word_spans=word_spans,
        word_sentence=word_sentence,
        word_tokens=word_tokens,
        windows=windows,
        input_ids=input_ids,
        word_window=word_window,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
    )
    if entities is not None:
        _add_gold(features, entities, list(entity_types))
    return features


def _add_gold(features: DetectionFeatures, entities: Sequence[dict], entity_types: list[str]) -> None:
    """Tag labels, kept mentions and coreference pairs of gold `entities` (see `detection_features`)."""
    type_index = {type_: k for k, type_ in enumerate(entity_types)}
    starts = [start for start, _ in features.word_spans]
    candidates = []  # (first word, last word, type index, entity)
    for entity_index, entity in enumerate(entities):
        spans = entity.get("spans") if isinstance(entity, dict) else None
        if not isinstance(spans, list) or not spans:
            raise ValueError(
                f"entity {entity_index}: expected a dict with 'spans' ([start, end) character spans)."
            )
        types = entity.get("mention_types") or [entity.get("type", "")] * len(spans)
        if len(types) != len(spans):
            raise ValueError(
                f"entity {entity_index}: 'mention_types' has {len(types)} types for {len(spans)} spans."
            )
        for (start, end), type_ in zip(spans, types):
            if type_ not in type_index:
                features.dropped["unknown_type"] += 1
                continue
            first = max(bisect.bisect_right(starts, start) - 1, 0)
            covered = [
                w
                for w in range(first, bisect.bisect_left(starts, end))
                if features.word_spans[w][1] > start
                and features.word_tokens[w][0] < features.word_tokens[w][1]
            ]
            if not covered:
                features.dropped["no_tokens"] += 1
                continue
            if features.word_sentence[covered[0]] != features.word_sentence[covered[-1]]:
                # decoding never continues a mention past a sentence end: labels across one teach what the
                # detector cannot output
                features.dropped["crosses_sentence"] += 1
                continue
            candidates.append((covered[0], covered[-1], type_index[type_], entity_index))
    taken = [False] * len(features.word_spans)
    kept = []
    seen = set()
    for mention in sorted(candidates, key=lambda m: (m[0] - m[1], m[0])):
        if (mention[0], mention[1]) in seen:
            features.dropped["duplicate"] += 1
            continue
        seen.add((mention[0], mention[1]))
        if any(taken[m] for m in range(mention[0], mention[1] + 1)):
            features.dropped["overlapping"] += 1
            continue
        for w in range(mention[0], mention[1] + 1):
            taken[w] = True
        kept.append(mention)
    kept.sort()
    word_labels = [0] * len(features.word_spans)
    for first, last, k, _ in kept:
        word_labels[first] = 1 + 2 * k
        for w in range(first + 1, last + 1):
            word_labels[w] = 2 + 2 * k
    features.tag_labels = [[-100] * len(ids) for ids in features.input_ids]
    for w, (token, end) in enumerate(features.word_tokens):
        if token < end:
            window = features.word_window[w]
            features.tag_labels[window][token - features.windows[window][0] + 1] = word_labels[w]
    features.mentions = [(first, last, k) for first, last, k, _ in kept]
    features.mention_entity = [entity for *_, entity in kept]
    features.mention_tokens = [features.mention_window(first, last) for first, last, _ in features.mentions]
    names = [
        features.text[features.word_spans[first][0] : features.word_spans[last][1]]
        for first, last, _ in features.mentions
    ]
    for i in range(len(kept)):
        for j in range(i + 1, len(kept)):
            if kept[i][2] == kept[j][2]:
                features.coreference_pairs.append((i, j))
                features.coreference_labels.append(float(kept[i][3] == kept[j][3]))
                features.coreference_features.append(name_features(names[i], names[j]))


def collate_detection(features: Sequence[DetectionFeatures]) -> dict[str, torch.Tensor]:
    """The keyword inputs of `model.entity_detection` for a batch of texts: `input_ids`, `attention_mask`
    (`(num_windows, seq_len)`, padded to the longest window) and `window_document` (`(num_windows,)`); with gold
    labels also `tag_labels`, `mention_tokens` (`(num_mentions, 2)`, flat indices window x seq_len + position),
    `mention_document`, `coreference_pairs` (`(num_pairs, 2)`, indices into the batch's mentions),
    `coreference_labels` and `coreference_features`. Raises `ValueError` when some texts have labels and others
    not, or when the batch has no window (only empty texts)."""
    windows = [(d, ids) for d, feature in enumerate(features) for ids in feature.input_ids]
    if not windows:
        raise ValueError("collate_detection: the texts of this batch have no words (no window to encode).")
    labelled = {feature.tag_labels is not None for feature in features}
    if len(labelled) > 1:
        raise ValueError("collate_detection: some texts have gold entities and others not; batch them apart.")
    seq_len = max(len(ids) for _, ids in windows)
    pad = features[0].pad_token_id
    input_ids = torch.full((len(windows), seq_len), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(windows), seq_len), dtype=torch.long)
    for row, (_, ids) in enumerate(windows):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "window_document": torch.tensor([d for d, _ in windows], dtype=torch.long),
    }
    if labelled != {True}:
        return batch
    tag_labels = torch.full((len(windows), seq_len), -100, dtype=torch.long)
    mention_tokens, mention_document, pairs, labels, pair_features = [], [], [], [], []
    window_offset = mention_offset = row = 0
    for d, feature in enumerate(features):
        for labels_of_window in feature.tag_labels:
            tag_labels[row, : len(labels_of_window)] = torch.tensor(labels_of_window, dtype=torch.long)
            row += 1
        for window, first, last in feature.mention_tokens:
            base = (window_offset + window) * seq_len
            mention_tokens.append((base + first, base + last))
            mention_document.append(d)
        pairs.extend((i + mention_offset, j + mention_offset) for i, j in feature.coreference_pairs)
        labels.extend(feature.coreference_labels)
        pair_features.extend(feature.coreference_features)
        window_offset += len(feature.input_ids)
        mention_offset += len(feature.mention_tokens)
    batch.update(
        tag_labels=tag_labels,
        mention_tokens=torch.tensor(mention_tokens, dtype=torch.long).reshape(-1, 2),
        mention_document=torch.tensor(mention_document, dtype=torch.long),
        coreference_pairs=torch.tensor(pairs, dtype=torch.long).reshape(-1, 2),
        coreference_labels=torch.tensor(labels, dtype=torch.float),
        coreference_features=torch.tensor(pair_features, dtype=torch.float).reshape(-1, len(NAME_FEATURES)),
    )
    return batch


# --------------------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------------------


def word_tags(features: DetectionFeatures, window_tags: Sequence[Sequence[int]]) -> list[int | None]:
    """Each word's tag, read at its first token in the window where that token is most central
    (`features.word_window`); `window_tags[w][p]` is the tag at position `p` (counting `[CLS]`) of window `w`.
    `None` for a word without tokens."""
    tags: list[int | None] = []
    for (token, end), window in zip(features.word_tokens, features.word_window):
        if token >= end:
            tags.append(None)
        else:
            tags.append(int(window_tags[window][token - features.windows[window][0] + 1]))
    return tags


def decode_tags(tags: Sequence[int | None], sentences: Sequence[int]) -> list[tuple[int, int, int]]:
    """BIO tags of words into mentions `(first word, last word, type index)`.

    A B tag (`1 + 2k`) starts a mention; an I tag (`2 + 2k`) continues the open mention, or starts one when none
    is open (an I without B); O (0) closes it, and so does a new sentence (`sentences[i]`, the sentence of word
    `i`): a mention never crosses a sentence end. A word tagged `None` (no tokens) neither continues nor closes.
    A mention's type is the most frequent type of its words' tags, the first word's (its B tag's) on a tie."""
    mentions: list[tuple[int, int, int]] = []
    current: list[int] | None = None  # [first, last, sentence]
    current_types: list[int] = []

    def close() -> None:
        nonlocal current
        if current is not None:
            counts = Counter(current_types)
            best = max(counts.values())
            type_ = next(k for k in current_types if counts[k] == best)
            mentions.append((current[0], current[1], type_))
        current = None

    for word, tag in enumerate(tags):
        if tag is None:
            continue
        if current is not None and sentences[word] != current[2]:
            close()
        if tag == 0:
            close()
        elif tag % 2 == 1 or current is None:
            close()
            current = [word, word, sentences[word]]
            current_types = [(tag - 1) // 2]
        else:
            current[1] = word
            current_types.append((tag - 1) // 2)
    close()
    return mentions


# --------------------------------------------------------------------------------------------------------------
# Detection on texts
# --------------------------------------------------------------------------------------------------------------


def detect_entities(
    model,
    processor,
    texts: Sequence[str],
    coreference: str | None = None,
    max_batch_tokens: int | None = None,
) -> list[list[dict]]:
    """The entities of each text, found by the model's built-in detector.

    The texts' windows are encoded in batches of at most `max_batch_tokens` padded tokens (default: the relation
    inference's, `inference_globalre.default_max_batch_tokens`) on the model's device, under `torch.inference_mode`
    and in eval mode; each text's tags are decoded into mentions (`decode_tags`), grouped into entities by
    `coreference` (`None`: `config.coreference`; `"names"`: `group_mentions_by_name`; `"learned"`: the pair
    scorer, `cluster_mentions` at `config.coreference_threshold`).

    Returns, per text, its entities in the text form with character spans, ordered by their first mention:
    `{"name", "type", "spans": [[start, end], ...], "mentions": [other mention texts]}`; `text_to_docred` accepts
    them as they are. Raises `ValueError` when the model has no detector (naming what to do instead) or
    `coreference` is unknown, and `DocumentError` (naming the text's position) for a text that is not a non-empty
    string or is in a script without word separators.
    """
    if getattr(model, "entity_detector", None) is None:
        raise ValueError(
            "This model has no entity detector (config.entity_types is empty), so it cannot find entities in "
            "plain text: give the entities with each text ({'text': ..., 'entities': [...]}), use a "
            "token-classification pipeline for them (entities_from_token_classification), or train a model with "
            "train.py --entity_detection."
        )
    config = model.config
    coreference = config.coreference if coreference is None else coreference
    if coreference not in COREFERENCE_MODES:
        raise ValueError(f"coreference must be one of {', '.join(COREFERENCE_MODES)}; got {coreference!r}.")
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise DocumentError(f"text #{index}: expected the text as a non-empty string; got {text!r:.80}.")
        _refuse_unsegmented_scripts(text, f"text #{index}")
    device = next(model.parameters()).device
    if max_batch_tokens is None:
        max_batch_tokens = default_max_batch_tokens(device)
    tokenizer = getattr(processor, "tokenizer", processor)
    max_seq_length = getattr(processor, "max_seq_length", config.max_seq_length)
    was_training = model.training
    model.eval()
    results: list[list[dict]] = [[] for _ in texts]
    try:
        with torch.inference_mode():
            pending: list[tuple[int, DetectionFeatures]] = []
            pending_tokens = 0
            for index, text in enumerate(texts):
                features = detection_features(tokenizer, text, config.entity_types, max_seq_length)
                tokens = sum(len(ids) for ids in features.input_ids)
                if pending and pending_tokens + tokens > max_batch_tokens:
                    _detect_group(model, pending, coreference, max_batch_tokens, device, results)
                    pending, pending_tokens = [], 0
                pending.append((index, features))
                pending_tokens += tokens
            if pending:
                _detect_group(model, pending, coreference, max_batch_tokens, device, results)
    finally:
        model.train(was_training)
    return results


def _detect_group(
    model,
    group: list[tuple[int, DetectionFeatures]],
    coreference: str,
    max_batch_tokens: int,
    device: torch.device,
    results: list[list[dict]],
) -> None:
    """Encodes the windows of a few texts (in batches of at most `max_batch_tokens` padded tokens), decodes their
    tags and groups their mentions; writes each text's entities into `results`."""
    windows = [(t, w) for t, (_, features) in enumerate(group) for w in range(len(features.input_ids))]
    tags: dict[tuple[int, int], list[int]] = {}
    states: dict[tuple[int, int], torch.Tensor] = {}
    batch: list[tuple[int, int]] = []
    longest = 0

    def run(batch: list[tuple[int, int]]) -> None:
        seq_len = max(len(group[t][1].input_ids[w]) for t, w in batch)
        input_ids = torch.full((len(batch), seq_len), group[0][1].pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, (t, w) in enumerate(batch):
            ids = group[t][1].input_ids[w]
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention_mask[row, : len(ids)] = 1
        output = model.entity_detection(input_ids.to(device), attention_mask.to(device))
        predicted = output.tag_logits.argmax(dim=-1).cpu().tolist()
        for row, key in enumerate(batch):
            tags[key] = predicted[row]
            if coreference == "learned":
                states[key] = output.hidden_states[row]

    for key in windows:
        length = len(group[key[0]][1].input_ids[key[1]])
        if batch and max(longest, length) * (len(batch) + 1) > max_batch_tokens:
            run(batch)
            batch, longest = [], 0
        batch.append(key)
        longest = max(longest, length)
    if batch:
        run(batch)
    for t, (index, features) in enumerate(group):
        if not features.windows:
            continue
        spans = decode_tags(
            word_tags(features, [tags[(t, w)] for w in range(len(features.windows))]), features.word_sentence
        )
        mentions = [
            (features.word_spans[first][0], features.word_spans[last][1], model.config.entity_types[k])
            for first, last, k in spans
        ]
        if coreference == "names":
            groups = group_mentions_by_name(features.text, mentions)
        else:
            window_states = [states.pop((t, w)) for w in range(len(features.windows))]
            groups = _learned_groups(model, features, spans, mentions, window_states)
        results[index] = entities_from_groups(features.text, mentions, groups)


def _learned_groups(
    model,
    features: DetectionFeatures,
    spans: list[tuple[int, int, int]],
    mentions: list[tuple[int, int, str]],
    window_states: list[torch.Tensor],
) -> list[list[int]]:
    """Groups by the model's pair scorer: every pair of same-type mentions scored, `cluster_mentions` at
    `config.coreference_threshold`."""
    pairs = [
        (i, j)
        for i in range(len(mentions))
        for j in range(i + 1, len(mentions))
        if mentions[i][2] == mentions[j][2]
    ]
    if not pairs:
        return [[i] for i in range(len(mentions))]
    hidden = torch.nn.utils.rnn.pad_sequence(window_states, batch_first=True)
    seq_len = hidden.shape[1]
    mention_tokens = []
    for first, last, _ in spans:
        window, first_position, last_position = features.mention_window(first, last)
        mention_tokens.append((window * seq_len + first_position, window * seq_len + last_position))
    names = [features.text[start:end] for start, end, _ in mentions]
    device = hidden.device
    logits = model.score_coreference(
        hidden,
        torch.tensor(mention_tokens, dtype=torch.long, device=device),
        torch.tensor(pairs, dtype=torch.long, device=device),
        torch.tensor([name_features(names[i], names[j]) for i, j in pairs], dtype=torch.float, device=device),
    )
    probabilities = torch.sigmoid(logits.float()).cpu().tolist()
    return cluster_mentions(
        [type_ for _, _, type_ in mentions], pairs, probabilities, model.config.coreference_threshold
    )


# --------------------------------------------------------------------------------------------------------------
# A token-classification pipeline in place of the built-in detector
# --------------------------------------------------------------------------------------------------------------

_TAG_PREFIX = re.compile(r"^([BIES])[-_](.+)$")


def entities_from_token_classification(
    text: str, ner_output: Sequence[dict], type_map: dict[str, str] | None = None
) -> list[dict]:
    """Text-form entities from a transformers token-classification pipeline's output for `text`.

    `ner_output` is what `pipeline("token-classification", ...)(text)` returns: aggregated entities (`entity_group`,
    `start`, `end`, with any `aggregation_strategy` other than `"none"`) or single tokens (`entity` such as
    `"B-PER"`, `start`, `end`). Labels lose their `B-`/`I-`/`E-`/`S-` prefix; tokens are joined into one mention
    while they continue it (an `I-` tag, or the same label without prefix, of the same type with only white space
    or nothing between them); `O` is skipped. Each mention is widened to the whole words it touches
    (`split_words`), and mentions whose words overlap are merged when of one type (the earlier kept otherwise,
    with a warning). The types go through `type_map` (label -> the model's type); labels the map leaves out are
    not entities, and a warning names them with their counts. The mentions are grouped into entities by
    `group_mentions_by_name`.

    Returns `[{"name", "type", "spans", "mentions"}]` as `detect_entities` does. Raises `ValueError` for an item
    without `start`/`end` offsets (a pipeline with a slow tokenizer gives none) or without a label.
    """
    pieces: list[tuple[int, int, str, str]] = []  # (start, end, prefix, type)
    unmapped: Counter = Counter()
    aggregated = any(isinstance(item, dict) and "entity_group" in item for item in ner_output)
    for position, item in enumerate(ner_output):
        label = item.get("entity_group", item.get("entity")) if isinstance(item, dict) else None
        start = item.get("start") if isinstance(item, dict) else None
        end = item.get("end") if isinstance(item, dict) else None
        if not isinstance(label, str):
            raise ValueError(
                f"token-classification item {position}: no 'entity_group' or 'entity' label: {item!r}."
            )
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
            raise ValueError(
                f"token-classification item {position} ({label!r}): needs character offsets 'start' < 'end' within "
                f"the text (length {len(text)}); got {start!r}, {end!r}. Offsets come from a fast tokenizer."
            )
        match = _TAG_PREFIX.match(label)
        prefix, base = (match.group(1), match.group(2)) if match else ("", label)
        if base == "O":
            continue
        if type_map is not None:
            if base not in type_map:
                unmapped[base] += 1
                continue
            base = type_map[base]
        pieces.append((start, end, prefix, base))
    if unmapped:
        logger.warning(
            "token-classification labels not in type_map are not entities: %s",
            ", ".join(f"{label} ({count})" for label, count in sorted(unmapped.items())),
        )
    joined: list[list] = []
    for start, end, prefix, type_ in sorted(pieces, key=lambda p: (p[0], p[1])):
        previous = joined[-1] if joined else None
        continues = (
            previous is not None
            and prefix in ("I", "E", "")
            and previous[2] == type_
            and not text[previous[1] : start].strip()
            and not aggregated  # aggregated entities are whole mentions already
        )
        if continues:
            previous[1] = max(previous[1], end)
        else:
            joined.append([start, end, type_])
    _, offsets = split_words(text)
    word_spans = [span for spans in offsets for span in spans]
    starts = [start for start, _ in word_spans]
    mentions: list[list] = []
    for start, end, type_ in joined:
        first = max(bisect.bisect_right(starts, start) - 1, 0)
        covered = [w for w in range(first, bisect.bisect_left(starts, end)) if word_spans[w][1] > start]
        if not covered:
            logger.warning(
                "token-classification mention %r (%s) at [%d, %d) covers no word; it is not an entity",
                text[start:end],
                type_,
                start,
                end,
            )
            continue
        start, end = word_spans[covered[0]][0], word_spans[covered[-1]][1]
        if mentions and start < mentions[-1][1]:
            if mentions[-1][2] == type_:
                mentions[-1][1] = max(mentions[-1][1], end)
            else:
                logger.warning(
                    "token-classification mentions %r (%s) and %r (%s) share words; kept the first",
                    text[mentions[-1][0] : mentions[-1][1]],
                    mentions[-1][2],
                    text[start:end],
                    type_,
                )
            continue
        mentions.append([start, end, type_])
    as_tuples = [(start, end, type_) for start, end, type_ in mentions]
    return entities_from_groups(text, as_tuples, group_mentions_by_name(text, as_tuples))


__all__ = [
    "COREFERENCE_MODES",
    "SURNAME_TYPES",
    "DetectionFeatures",
    "cluster_mentions",
    "collate_detection",
    "decode_tags",
    "detect_entities",
    "detection_features",
    "entities_from_groups",
    "entities_from_token_classification",
    "group_mentions_by_name",
    "name_features",
    "name_words",
    "window_ranges",
    "word_tags",
]
