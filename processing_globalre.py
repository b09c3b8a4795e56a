# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""GlobalRE processor: from a document and its entities to the encoder inputs of every candidate entity pair, and
from the model's logits back to relation triples.

Two encodings (the `encoding` option):
- one-pair (`"pair"`, the paper's): one sequence per ordered (head, tail) pair,
  `[CLS] document [SEP] head [SEP] tail [SEP]`, token type 0 for the document segment and 1 for the entity parts;
  a document too long for `max_seq_length` is cut for that pair. Built in `pair_encoding_globalre.py`
  (`PairSequences`, `encode_one_pair`).
- packed (`"packed"`): each document once, as one or more windows `[CLS] document [SEP]`, and each pair a short
  segment, `[CLS] head [SEP] tail [SEP]` or `[CLS] [H] [T]` (`pair_segment`), with the position ids it has in its
  one-pair sequence. Built in `packed_encoding_globalre.py` (`PackedSequences`, `encode_packed`).

What both share (the sequences' interface, `DocumentEncoding`, batching) is in `sequences_globalre.py`; text form
to DocRED form in `documents_globalre.py`."""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from transformers import BatchEncoding
from transformers.processing_utils import ProcessorMixin

logger = logging.getLogger(__name__)

try:  # Hub remote code resolves sibling files only through relative imports
    from .configuration_globalre import (
        DEFAULT_MARKER_TOKENS,
        OPTION,
        GlobalReConfig,
        check_four_markers,
        marker_slots_in_inputs,
    )
    from .documents_globalre import DocumentError, as_docred, document_label, entity_type
    from .packed_encoding_globalre import encode_packed
    from .pair_encoding_globalre import PairSequences, encode_one_pair
    from .sequences_globalre import DocumentEncoding, EncodingSettings, TokenizedDocument
except ImportError:  # the same file used from a source checkout or an installed package
    from configuration_globalre import (
        DEFAULT_MARKER_TOKENS,
        OPTION,
        GlobalReConfig,
        check_four_markers,
        marker_slots_in_inputs,
    )
    from documents_globalre import DocumentError, as_docred, document_label, entity_type
    from packed_encoding_globalre import encode_packed
    from pair_encoding_globalre import PairSequences, encode_one_pair
    from sequences_globalre import DocumentEncoding, EncodingSettings, TokenizedDocument


# A tokenizer that knows fewer tokens than this share of its encoder's embedding rows is not the encoder's own: the
# rows past a real tokenizer's last id are padding (vocab_size rounded up to a multiple of 8 or 64, a few reserved
# ids) and never amount to half the matrix, while a tokenizer that lost its vocabulary file knows only its
# special tokens (5 of BERT's 30,522).
MIN_TOKENIZER_COVERAGE = 0.5
# the files a saved tokenizer's vocabulary lives in, one of which a model folder needs
TOKENIZER_VOCABULARY_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
)


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


class GlobalReProcessor(ProcessorMixin):
    r"""
    Builds GlobalRE's inputs for every candidate ordered entity pair of a document, in one of two encodings
    (`encoding`), and turns the model's logits back into `{head, tail, relation, score}` triples.

    - `"pair"` (one-pair, the paper's): the sequence `[CLS] document [SEP] head entity [SEP] tail entity [SEP]` per
      pair, token_type_ids 0 for the document segment and 1 for the entity segments
      (`pair_encoding_globalre.encode_one_pair`, a `PairSequences`).
    - `"packed"`: the document once, as one or more windows `[CLS] document [SEP]`, and per pair a segment
      `[CLS] head [SEP] tail [SEP]` or `[CLS] [H] [T]` with the position ids of its one-pair sequence
      (`packed_encoding_globalre.encode_packed`, a `PackedSequences`).

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
        check_four_markers("GlobalReProcessor.marker_tokens", self.marker_tokens, "tokens")
        self.long_document_strategy = long_document_strategy
        self.pair_types = [list(p) for p in pair_types] if pair_types else None
        super().__init__(tokenizer, **kwargs)
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError(
                "GlobalReProcessor needs a fast tokenizer: mention positions are aligned with word_ids()."
            )
        # which of the four marker tokens the inputs hold (see `marker_slots_in_inputs`)
        self.marker_slots = marker_slots_in_inputs(self.encoding, self.entity_markers, self.pair_segment)
        self.marker_ids = self._marker_ids()

    @classmethod
    def from_config(cls, tokenizer, config) -> GlobalReProcessor:
        """A processor whose settings match a `GlobalReConfig`, over a tokenizer that fits the config's encoder.

        Raises:
            ValueError: the tokenizer does not fit the encoder's vocabulary (`check_fits_encoder`).
        """
        processor = cls(tokenizer, **config.processor_settings)
        processor.check_fits_encoder(
            config.encoder_config.vocab_size, config.marker_token_ids, source="the tokenizer given"
        )
        return processor

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> GlobalReProcessor:
        """Loads a saved processor (`processor_config.json` and its tokenizer's files). When the folder (or Hub
        repository) also holds a GlobalRE model's `config.json`, the tokenizer is checked against that model's
        encoder (`check_fits_encoder`): a folder whose `tokenizer.json` is missing loads an almost empty tokenizer,
        which is refused here.

        Raises:
            ValueError: the tokenizer does not fit the model's encoder in the same folder.
        """
        processor = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        hub_options = ("cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder")
        try:
            config, _ = GlobalReConfig.get_config_dict(
                pretrained_model_name_or_path, **{k: kwargs[k] for k in hub_options if k in kwargs}
            )
        except OSError:  # a processor saved on its own: there is no encoder to check it against
            return processor
        encoder = config.get("encoder_config") or {}
        if config.get("model_type") == GlobalReConfig.model_type and encoder.get("vocab_size"):
            processor.check_fits_encoder(
                encoder["vocab_size"],
                config.get("marker_token_ids"),
                source=str(pretrained_model_name_or_path),
            )
        return processor

    def check_fits_model(self, model, source: str | None = None) -> None:
        """`check_fits_encoder` against a model: its encoder's embedding rows and the marker ids in its config.

        Raises:
            ValueError: see `check_fits_encoder`.
        """
        self.check_fits_encoder(
            model.get_input_embeddings().num_embeddings, model.config.marker_token_ids, source=source
        )

    def check_fits_encoder(
        self, vocab_size: int, marker_token_ids: Sequence[int] | None = None, source: str | None = None
    ) -> None:
        """Checks that this processor's tokenizer is the encoder's own, so that its ids index the encoder's
        embeddings and mean the words they were trained as:

        - every id fits: `len(tokenizer) <= vocab_size`, and the special and marker token ids are below it;
        - the tokenizer covers the vocabulary: `len(tokenizer) >= MIN_TOKENIZER_COVERAGE * vocab_size` (real
          models leave only a few padding rows past the tokenizer's last id; a tokenizer that lost its vocabulary
          file knows only its special tokens and reads every word as the unknown token);
        - the marker tokens have the ids the model pools (`marker_token_ids`, when the model has them and the
          processor inserts markers).

        Args:
            vocab_size: the encoder's embedding rows (`encoder_config.vocab_size`).
            marker_token_ids: the marker ids stored in the model's config, or `None`.
            source: where the tokenizer came from (a folder or Hub name), for the message.

        Raises:
            ValueError: what does not fit, with both sizes, the folder's missing vocabulary file when that is the
                cause, and how to fix it.
        """
        size = len(self.tokenizer)
        problems = []
        if size > vocab_size:
            problems.append(
                f"the tokenizer has {size} tokens but the encoder only {vocab_size} embedding rows "
                "(encoder_config.vocab_size): ids past them cannot be encoded"
            )
        elif size < MIN_TOKENIZER_COVERAGE * vocab_size:
            problems.append(
                f"the tokenizer has {size} tokens against the encoder's {vocab_size} (encoder_config.vocab_size): "
                f"it is not the encoder's tokenizer (it covers under {MIN_TOKENIZER_COVERAGE:.0%} of the "
                "vocabulary) and would read most words as the unknown token"
            )
        special = {
            name: getattr(self.tokenizer, f"{name}_token_id", None) for name in ("cls", "sep", "pad", "unk")
        }
        special.update((self.marker_tokens[slot], self.marker_ids[slot]) for slot in self.marker_slots)
        beyond = {name: i for name, i in special.items() if i is not None and i >= vocab_size}
        if beyond and size <= vocab_size:
            problems.append(f"token ids {beyond} are beyond the encoder's {vocab_size} embedding rows")
        if marker_token_ids and len(marker_token_ids) != 4:
            problems.append(f"the model's config lists {len(marker_token_ids)} marker_token_ids, not four")
        elif (
            not problems
            and marker_token_ids
            and [marker_token_ids[slot] for slot in self.marker_slots]
            != [self.marker_ids[slot] for slot in self.marker_slots]
        ):
            problems.append(
                f"the marker tokens {self.marker_tokens} have ids {list(self.marker_ids)} in this tokenizer but "
                f"{list(marker_token_ids)} in the model's config (marker_token_ids)"
            )
        if not problems:
            return
        where = f" ({source})" if source else ""
        missing = ""
        if source and os.path.isdir(source):
            if not any(os.path.isfile(os.path.join(source, name)) for name in TOKENIZER_VOCABULARY_FILES):
                missing = (
                    f"; {source} has no vocabulary file ({', '.join(TOKENIZER_VOCABULARY_FILES[:2])}, ...), so "
                    "only the special tokens of tokenizer_config.json were loaded"
                )
        raise ValueError(
            f"GlobalReProcessor: the tokenizer{where} does not match the model's encoder: {'; '.join(problems)}"
            f"{missing}. Use the tokenizer the encoder was trained with: save it beside the model "
            "(processor.save_pretrained(model_dir)), or build the processor with "
            "GlobalReProcessor.from_config(AutoTokenizer.from_pretrained(encoder_name_or_path), model.config)."
        )

    def marker_ids_in_inputs(self) -> list[int]:
        """The marker token ids this processor's inputs hold, sorted (`marker_slots`)."""
        return sorted({self.marker_ids[slot] for slot in self.marker_slots})

    def _marker_ids(self) -> list[int]:
        ids = self.tokenizer.convert_tokens_to_ids(self.marker_tokens)
        unknown = [
            self.marker_tokens[slot]
            for slot in self.marker_slots
            if ids[slot] is None or ids[slot] == self.tokenizer.unk_token_id
        ]
        if unknown:
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

    def tokenize_document(self, document: Any, index: int | None = None) -> TokenizedDocument:
        """Tokenizes a document once: its words, mention token spans, and entity segments."""
        return self._tokenize(as_docred(document, index), index)

    def _tokenize(self, document: dict, index: int | None) -> TokenizedDocument:
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
        return TokenizedDocument(
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
    # Encodings
    # ----------------------------------------------------------------------------------------------------------

    def encoding_settings(self) -> EncodingSettings:
        """The settings the encoding builders read, as this processor has them now."""
        return EncodingSettings(
            max_seq_length=self.max_seq_length,
            max_entity_tokens=self.max_entity_tokens,
            entity_markers=self.entity_markers,
            marker_ids=tuple(self.marker_ids),
            long_document_strategy=self.long_document_strategy,
            pair_segment=self.pair_segment,
            cls_token_id=self.tokenizer.cls_token_id,
            sep_token_id=self.tokenizer.sep_token_id,
        )

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

    def _encode_pairs(self, doc: TokenizedDocument, candidate: list[tuple[int, int]]) -> DocumentEncoding:
        """The encoder sequences of `candidate` in the encoding `encoding` names. The builders warn of truncation
        and windows on this module's logger, so that muting the processor's logger mutes them too."""
        build = encode_packed if self.encoding == "packed" else encode_one_pair
        return build(doc, candidate, self.encoding_settings(), logger)

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
        """Yields `(positions, batch)` for the pairs of `encoding` (`PairSequences.iter_batches`,
        `PackedSequences.iter_batches`): sorted by length and packed so that each padded batch holds at most
        `max_batch_tokens` tokens (and `max_batch_pairs` pairs), which keeps memory bounded and padding small."""
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
        evidence_weights: torch.Tensor | None = None,
        evidence_threshold: float | None = None,
    ) -> list[dict]:
        """Turns the logits of a document's pairs into triples, best first:
        `{"head", "head_name", "head_mentions", "tail", "tail_name", "tail_mentions", "relation", "relation_name",
        "score", "evidence"}`.

        `head_name` / `tail_name` are the entity texts the model read (`entity_names`). `head_mentions` /
        `tail_mentions` list the entity's mentions as `{"name", "sent_id", "pos"}` (sentence and word positions,
        end exclusive) plus `"char_span": [start, end)` (character offsets) for text input. `evidence` is the
        sorted ids of the sentences the model predicts as the pair's evidence (those whose share of the pair's
        localized-context weight is above the evidence threshold, DREEAM's inference, Ma et al., EACL 2023;
        the same for every relation of the pair, and possibly empty), `None` without `evidence_weights` (a model
        trained without the evidence loss). The document's own `labels` are never read.

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
            evidence_weights: `(num_pairs, width)`, row i for `pairs[i]`: each pair's localized-context weight
                per sentence (`RelationExtractionOutput.evidence_weights`; see `predicted_evidence`).
            evidence_threshold: overrides `config.evidence_threshold`, the share of the weight above which a
                sentence is evidence.

        Raises:
            ValueError: an unknown relation, a `top_k` that is not a positive integer, type constraints on a
                model without recorded type pairs, an evidence threshold outside (0, 1] or given to a model
                that does not predict evidence, or `evidence_weights` without a row per pair.
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
        evidence = predicted_evidence(
            evidence_weights, len(pairs), len(document["sents"]), config, evidence_threshold
        )
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
                "evidence": evidence[row] if evidence is not None else None,
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


def predicted_evidence(
    evidence_weights: torch.Tensor | None,
    num_pairs: int,
    num_sentences: int,
    config,
    evidence_threshold: float | None = None,
) -> list[list[int]] | None:
    """Each pair's predicted evidence: the sorted ids of the sentences whose share of the pair's localized-context
    weight is above `evidence_threshold` (default `config.evidence_threshold`), as DREEAM predicts evidence at
    inference (Ma et al., EACL 2023). `None` when `evidence_weights` is `None`.

    Args:
        evidence_weights: `(num_pairs, width)` weights (`RelationExtractionOutput.evidence_weights`): a sentence
            beyond `width` has weight 0 (no token of it in the pairs' windows, e.g. an empty last sentence);
            columns from `num_sentences` on are ignored.
        num_pairs, num_sentences: the document's scored pairs and its sentences.

    Raises:
        ValueError: a threshold outside (0, 1], a threshold given without weights, or weights without a row per
            pair.
    """
    if evidence_weights is None:  # the config is not read: a model without evidence may predate the field
        if evidence_threshold is not None:
            raise ValueError(
                "evidence_threshold was given, but this model does not predict evidence (it predicts it when "
                "trained with the evidence loss: train.py --evidence_loss_weight, with the packed preset)."
            )
        return None
    cut = config.evidence_threshold if evidence_threshold is None else evidence_threshold
    if isinstance(cut, bool) or not isinstance(cut, numbers.Real) or not 0.0 < cut <= 1.0:
        raise ValueError(f"evidence_threshold must be a share of weight in (0, 1]; got {cut!r}.")
    if evidence_weights.dim() != 2 or len(evidence_weights) != num_pairs:
        raise ValueError(
            f"evidence_weights must be (pairs x sentences) with a row for each of the document's {num_pairs} "
            f"pairs; got {tuple(evidence_weights.shape)}."
        )
    # columns beyond the weights' width are sentences no window token of these pairs belongs to: weight 0
    chosen = evidence_weights.detach().float().cpu()[:, :num_sentences] > cut
    return [row.nonzero().flatten().tolist() for row in chosen]


GlobalReProcessor.register_for_auto_class("AutoProcessor")

__all__ = [
    "MIN_TOKENIZER_COVERAGE",
    "GlobalReProcessor",
    "decide",
    "ordered_pairs",
    "predicted_evidence",
    "relation_class_ids",
]
