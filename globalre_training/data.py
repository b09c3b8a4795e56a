# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The documents of a split and their candidate pairs: loading and slicing, gold relation class ids, the pair
examples of an epoch (all pairs, or related pairs plus resampled unrelated ones), multi-hot label and evidence
rows, and the check that a model's (or a checkpoint's) label set is the data's.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from globalre_training import TrainingError
from globalre_training.arguments import parse_slice


def load_split(
    path: str,
    docs_slice: str | None,
    label_set,
    max_docs: int | None = None,
    pair_types: list[list[str]] | None = None,
    undirected_relations: list[str] | None = None,
) -> tuple[list[dict], list[str]]:
    """The documents of a split (`docs_slice` of the file, at most `max_docs`), with labels of undirected
    relations turned to the candidate direction of `pair_types` (`docred_data.orient_pairs`), and the warnings
    about labels of directed relations that run against it (never turned; they belong in the run's report)."""
    from docred_data import load_documents, orient_pairs

    docs, warnings = load_documents(path, label_set=label_set), []
    if pair_types:
        docs, warnings = orient_pairs(
            docs, pair_types, source=path, undirected_relations=undirected_relations
        )
    if docs_slice:
        docs = docs[parse_slice(docs_slice)]
    if max_docs is not None:
        docs = docs[:max_docs]
    if not docs:
        raise TrainingError(f"{path}{f'[{docs_slice}]' if docs_slice else ''}: no documents")
    titles = [doc["title"] for doc in docs]
    if len(set(titles)) != len(titles):
        raise TrainingError(f"{path}: document titles must be unique (the official metric matches by title)")
    return docs, warnings


@dataclass
class Split:
    """The candidate pairs of a set of documents, with their gold relation class ids: the pair examples of
    training (`epoch_examples`, `multi_hot`) and what dev and test are scored on."""

    docs: list[dict]
    pairs: list[tuple[int, int]] = field(default_factory=list)  # (head, tail) of each pair
    pair_doc: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # first pair of each document, with one extra entry at the end
    doc_offsets: list[int] = field(default_factory=list)
    label_ids: list[tuple[int, ...]] = field(default_factory=list)  # gold relation classes of each pair
    # the evidence sentences of each pair's relations (their union), when asked for (`build_split(evidence=True)`)
    evidence: list[tuple[int, ...]] | None = None
    n_gold_facts: int = 0  # gold facts including pairs outside the candidate set (recall denominator)
    n_related_outside: int = 0  # related pairs that are not candidate pairs (pair_types): never trained on
    sequences: Any = None  # every pair's encoder sequences (`DocumentEncoding.sequences`), row i for pairs[i]
    n_truncated: int = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def doc_rows(self, doc_index: int) -> slice:
        return slice(self.doc_offsets[doc_index], self.doc_offsets[doc_index + 1])

    def is_positive(self) -> np.ndarray:
        return np.array([bool(ids) for ids in self.label_ids], dtype=bool)


def gold_relations(doc: dict, doc_index: int, label_set) -> dict[tuple[int, int], set[int]]:
    """Class ids of the relations of each related pair (see `docred_data.pair_relations`)."""
    from docred_data import pair_relations

    return {
        pair: {label_set.label2id[relation] for relation in relations}
        for pair, relations in pair_relations(doc, doc_index, label_set).items()
    }


def gold_evidence(doc: dict, label_set) -> dict[tuple[int, int], set[int]]:
    """The evidence sentences of each related pair: the union of its labels' `evidence` (sentence ids, as DocRED
    and Re-DocRED give them, which loading checked against the document's sentences; CDR's `null` counts as
    none). Labels that mean "no relation" are left out."""
    evidence: dict[tuple[int, int], set[int]] = {}
    for label in doc.get("labels") or []:
        if label_set.is_no_relation(label["r"]):
            continue
        ids = {sentence for sentence in label.get("evidence") or [] if sentence is not None}
        evidence.setdefault((label["h"], label["t"]), set()).update(ids)
    return evidence


def evidence_rows(split: Split, rows: Sequence[int]) -> torch.Tensor:
    """The evidence of the pairs `rows` of `split` as rows of 1 (an evidence sentence) and 0, as wide as the most
    sentences among their documents: `(len(rows), sentences)` float32. Needs `split.evidence`."""
    if split.evidence is None:
        raise ValueError("this split was built without evidence (build_split(..., evidence=True))")
    width = max(len(split.docs[doc].get("sents") or []) for doc in split.pair_doc[list(rows)].tolist())
    evidence = torch.zeros((len(rows), max(width, 1)), dtype=torch.float32)
    for row, pair in enumerate(rows):
        evidence[row, list(split.evidence[pair])] = 1.0
    return evidence


@contextlib.contextmanager
def truncation_notes_muted():
    """Silences the processor's per-document truncation warnings: train.py reports truncation once per split
    (`Split.n_truncated`), which for thousands of documents is the readable form."""
    processing_logger = logging.getLogger("processing_globalre")
    level = processing_logger.level
    processing_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        processing_logger.setLevel(level)


def build_split(docs: list[dict], processor, label_set, encode: bool, evidence: bool = False) -> Split:
    """Candidate pairs (in the processor's order) with labels and the count of truncated pairs; with `encode`,
    also every pair's tokens (without, the documents are encoded again when scored, and their tokens are not
    held for the whole run); with `evidence`, every pair's evidence sentences (`gold_evidence`)."""
    split = Split(docs=docs, evidence=[] if evidence else None)
    parts = []
    with truncation_notes_muted():  # summed up per split (Split.n_truncated), not reported per document
        for doc_index, doc in enumerate(docs):
            split.doc_offsets.append(len(split.pairs))
            relations = gold_relations(doc, doc_index, label_set)
            split.n_gold_facts += sum(len(r) for r in relations.values())
            encoding = processor.encode_document(doc, index=doc_index)
            pairs = encoding.pairs
            split.n_related_outside += len(relations.keys() - set(pairs))
            split.n_truncated += len(encoding.truncated_pairs)
            if encode:
                parts.append(encoding.sequences)
            split.pairs.extend(pairs)
            split.label_ids.extend(tuple(sorted(relations.get(pair, ()))) for pair in pairs)
            if evidence:
                sentences = gold_evidence(doc, label_set)
                split.evidence.extend(tuple(sorted(sentences.get(pair, ()))) for pair in pairs)
    split.doc_offsets.append(len(split.pairs))
    split.pair_doc = np.repeat(np.arange(len(docs)), np.diff(split.doc_offsets))
    if encode and parts:
        split.sequences = type(parts[0]).concatenate(parts)
    return split


def epoch_examples(
    split: Split, negative_ratio: float | None, seed: int, epoch: int, by_document: bool = False
) -> list[int]:
    """The pair indices of one epoch, shuffled: all pairs, or all related pairs plus about `negative_ratio`
    unrelated pairs per related pair of each document, sampled afresh each epoch (deterministic in seed, epoch;
    a string seed is hashed with SHA-512 by `random`, so the sample is stable across runs and Python versions).
    `by_document` keeps a document's pairs together (documents shuffled, then each one's pairs): the packed
    encoding encodes a document once per batch, so a batch should hold few documents."""
    if negative_ratio is None or math.isinf(negative_ratio):
        chosen = np.arange(len(split))
    else:
        positive = split.is_positive()
        chosen_parts = []
        for doc_index in range(len(split.docs)):
            rows = np.arange(split.doc_offsets[doc_index], split.doc_offsets[doc_index + 1])
            doc_positive = rows[positive[rows]]
            doc_negative = rows[~positive[rows]].tolist()
            keep = min(len(doc_negative), round(negative_ratio * len(doc_positive)))
            rng = random.Random(f"{seed}:{epoch}:{doc_index}")
            chosen_parts += [doc_positive, np.asarray(sorted(rng.sample(doc_negative, keep)), dtype=np.int64)]
        chosen = np.concatenate(chosen_parts) if chosen_parts else np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng([seed, epoch])
    chosen = chosen[rng.permutation(len(chosen))]
    if by_document:
        document_order = rng.permutation(len(split.docs))
        chosen = chosen[np.argsort(np.argsort(document_order)[split.pair_doc[chosen]], kind="stable")]
    return chosen.tolist()


def document_batches(split: Split, examples: list[int], documents_per_batch: int) -> list[list[int]]:
    """Cuts an epoch's pair indices (`epoch_examples(..., by_document=True)`: each document's pairs together) into
    batches of all the pairs of `documents_per_batch` documents, in order; the last batch may hold fewer
    documents. Returns each batch's positions in `examples` (a `DataLoader` batch sampler over them). With the
    packed encoding each document is then encoded once an epoch."""
    batches: list[list[int]] = []
    documents, previous = 0, None
    for position, row in enumerate(examples):
        document = int(split.pair_doc[row])
        if document != previous:
            if documents % documents_per_batch == 0:
                batches.append([])
            documents, previous = documents + 1, document
        batches[-1].append(position)
    return batches


def shard_batches(batches: list[list[int]], num_processes: int, process_index: int) -> list[list[int]]:
    """This process's share of `batches` (every `num_processes`-th from `process_index`), after repeating the
    first batches so that every process gets as many (as accelerate evens its shards): batches of whole
    documents have no fixed size, which accelerate's own sharding of a batch list does not accept in every
    release."""
    padding = -len(batches) % num_processes
    padded = batches + batches[:padding]
    return padded[process_index::num_processes]


def multi_hot(
    label_ids: Sequence[Sequence[int]], num_labels: int, no_relation_id: int | None
) -> torch.Tensor:
    """Multi-hot label rows; a pair without a relation has its no-relation class set (labels that mean "no
    relation", such as CDR's `NR`, set nothing else)."""
    labels = torch.zeros((len(label_ids), num_labels), dtype=torch.float32)
    for row, ids in enumerate(label_ids):
        if ids:
            labels[row, list(ids)] = 1.0
        elif no_relation_id is not None:
            labels[row, no_relation_id] = 1.0
    return labels


def check_label_set(model_labels: list[str], label_set, where: str) -> None:
    """Raises `TrainingError` when the labels of `where` (a saved model, a checkpoint) are not the data's label
    set in the same order: class ids would mean other relations."""
    if list(model_labels) != list(label_set.labels):
        only_model = sorted(set(model_labels) - set(label_set.labels))[:8]
        only_data = sorted(set(label_set.labels) - set(model_labels))[:8]
        raise TrainingError(
            f"the label set of {where} ({len(model_labels)} labels) disagrees with the data's "
            f"({len(label_set.labels)} labels): only in the model {only_model}, only in the data {only_data}"
            + ("" if only_model or only_data else ", same labels in another order")
            + ". Use the same --label_dir as when the model was made."
        )
