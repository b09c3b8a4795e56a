# Copyright 2025 The GlobalRE Authors.
#
# Licensed under the MIT License.
"""The official DocRED / Re-DocRED relation extraction scorer, reimplemented.

The algorithm follows `code/evaluation.py` of thunlp/DocRED (the CodaLab scorer) and `official_evaluate` /
`official_evaluate_benchmark` of tonytan48/Re-DocRED `evaluation.py`:

- Predictions are `{"title", "h_idx", "t_idx", "r"}` dicts (the submission format; other keys are ignored).
  They are de-duplicated on `(title, h_idx, t_idx, r)` first, as the Re-DocRED / ATLOP adaptation does (the
  CodaLab script counts a repeated prediction again).
- Gold facts are the unique `(title, h_idx, t_idx, r)` of the gold labels.
- precision = correct / unique predictions; recall = correct / gold facts. A prediction for a title that is
  not in the gold file is wrong (the official loop skips it, but it stays in the precision denominator).
- Ign F1: a correct prediction is "in train" when some (head mention name, tail mention name, r), over all
  mention pairs of the predicted head and tail, is among the training facts, which hold every
  (head mention name, tail mention name, r) of every training label. Then
  ign_precision = (correct - correct_in_train) / (predictions - correct_in_train), recall is unchanged and
  ign_f1 = 2 ign_precision recall / (ign_precision + recall).
- Breakdowns as in Re-DocRED's `official_evaluate_benchmark`: a pair is intra-sentence when some head mention
  and some tail mention share a sentence (the smallest sentence distance is 0) and inter-sentence otherwise; the
  frequent relations are the 10 most frequent in the training labels, or in the gold labels when no training
  documents are given, and every other relation is long-tail. Re-DocRED's script hard-codes its list instead;
  pass `frequent=REDOCRED_FREQUENT_RELATIONS` to use exactly that one. Each breakdown scores the predictions and the
  gold facts of its subset.

Labels in `no_relation_labels` ("Na", and CDR's explicit negatives "NR") are never relations: they are removed
from the gold facts, the training facts and the predictions (the count of such predictions is reported).

This module depends on the standard library only, because the `evaluate` module in `metrics/docred_re`
ships a copy of it.
"""

from __future__ import annotations

import json
import numbers
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_NO_RELATION_LABELS: tuple[str, ...] = ("Na", "NR")
#: The frequent relations listed in Re-DocRED's `official_evaluate_benchmark`.
REDOCRED_FREQUENT_RELATIONS: tuple[str, ...] = (
    "P17",
    "P131",
    "P27",
    "P150",
    "P175",
    "P577",
    "P463",
    "P527",
    "P495",
    "P361",
)
DIAGNOSTICS_NOTE = (
    "NOT the official DocRED metric. Diagnostics only, to show what other protocols would report: "
    "'micro_with_no_relation_class' scores every candidate pair with 'no relation' counted as a class; "
    "'related_pairs_only' scores only the pairs that hold a gold relation."
)

Fact = tuple[str, int, int, str]


@dataclass
class _Counts:
    n_pred: int = 0
    n_gold: int = 0
    n_correct: int = 0

    def as_dict(self) -> dict[str, float | int]:
        precision, recall, f1 = precision_recall_f1(self.n_correct, self.n_pred, self.n_gold)
        return {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "n_pred": self.n_pred,
            "n_gold": self.n_gold,
            "n_correct": self.n_correct,
        }


def precision_recall_f1(n_correct: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 as fractions; an empty denominator gives 0 rather than an error."""
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    return precision, recall, f1_score(precision, recall)


def f1_score(precision: float, recall: float) -> float:
    return 2.0 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


class _GoldIndex:
    """Gold documents by title, their facts and the sentence category of their pairs."""

    def __init__(self, gold_docs: Iterable[dict], no_relation_labels: Sequence[str]):
        self.docs: dict[str, dict] = {}
        self.facts: set[Fact] = set()
        for doc_index, doc in enumerate(gold_docs):
            title = doc["title"]
            if title in self.docs:
                # The official scorer identifies documents by title; a repeated title would merge two documents.
                raise ValueError(f"gold document {doc_index} (title {title!r}): duplicate title")
            self.docs[title] = doc
            for label in doc.get("labels") or []:
                if label["r"] not in no_relation_labels:
                    self.facts.add((title, label["h"], label["t"], label["r"]))
        self.related_pairs = {(title, h, t) for title, h, t, _ in self.facts}

    def has_pair(self, title: str, h: Any, t: Any) -> bool:
        doc = self.docs.get(title)
        return (
            doc is not None
            and _is_index(h, len(doc["vertexSet"]))
            and _is_index(t, len(doc["vertexSet"]))
            and h != t
        )

    def is_intra(self, title: str, h: int, t: int) -> bool:
        entities = self.docs[title]["vertexSet"]
        head_sentences = {mention["sent_id"] for mention in entities[h]}
        return any(mention["sent_id"] in head_sentences for mention in entities[t])


def _is_index(value: Any, size: int) -> bool:
    # numpy integers count as indices too (predictions often come from arrays); booleans do not
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value < size


def train_facts(
    train_docs: Iterable[dict], no_relation_labels: Sequence[str] = DEFAULT_NO_RELATION_LABELS
) -> set:
    """Every (head mention name, tail mention name, r) of every training label, as the official `gen_train_facts`."""
    facts = set()
    for doc in train_docs:
        entities = doc["vertexSet"]
        for label in doc.get("labels") or []:
            if label["r"] in no_relation_labels:
                continue
            for head_mention in entities[label["h"]]:
                for tail_mention in entities[label["t"]]:
                    facts.add((head_mention["name"], tail_mention["name"], label["r"]))
    return facts


def frequent_relations(
    docs: Iterable[dict], n: int = 10, no_relation_labels: Sequence[str] = DEFAULT_NO_RELATION_LABELS
) -> list[str]:
    """The `n` relations with the most labels in `docs`; ties go to the smaller relation name."""
    counts = Counter(
        label["r"]
        for doc in docs
        for label in doc.get("labels") or []
        if label["r"] not in no_relation_labels
    )
    return [relation for relation, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]]


def unique_predictions(
    predictions: Iterable[dict], no_relation_labels: Sequence[str]
) -> tuple[list[Fact], dict]:
    """The distinct `(title, h_idx, t_idx, r)` of the predictions, in first-seen order, and what was set aside."""
    seen: dict[Fact, None] = {}
    n_in = n_no_relation = 0
    for index, prediction in enumerate(predictions):
        n_in += 1
        if not isinstance(prediction, dict) or not {"title", "h_idx", "t_idx", "r"} <= prediction.keys():
            raise ValueError(
                f"prediction {index}: expected a dict with title, h_idx, t_idx and r, found {prediction!r}"
            )
        if prediction["r"] in no_relation_labels:
            n_no_relation += 1
            continue
        seen.setdefault(
            (prediction["title"], prediction["h_idx"], prediction["t_idx"], prediction["r"]), None
        )
    unique = list(seen)
    return unique, {
        "n_pred_input": n_in,
        "n_pred_no_relation_ignored": n_no_relation,
        "n_pred_duplicates": n_in - n_no_relation - len(unique),
    }


def to_submission(docs: Sequence[dict], triples_per_doc: Sequence[Sequence[dict]]) -> list[dict]:
    """Relation triples of each document (`{"head", "tail", "relation", "score", ...}`, as the pipeline and the
    processor's `post_process` give them) in the official submission format `{"title", "h_idx", "t_idx", "r",
    "score"}`, documents in order."""
    if len(docs) != len(triples_per_doc):
        raise ValueError(f"got predictions for {len(triples_per_doc)} documents but {len(docs)} documents")
    return [
        {
            "title": doc["title"],
            "h_idx": triple["head"],
            "t_idx": triple["tail"],
            "r": triple["relation"],
            "score": triple["score"],
        }
        for doc, triples in zip(docs, triples_per_doc, strict=True)
        for triple in triples
    ]


def score_docred(
    predictions: list[dict],
    gold_docs: list[dict],
    train_docs: list[dict] | None = None,
    *,
    label_set: Any = None,
    no_relation_labels: Sequence[str] = DEFAULT_NO_RELATION_LABELS,
    n_frequent: int = 10,
    frequent: Sequence[str] | None = None,
    diagnostics: bool = False,
    candidate_pairs: Callable[[dict], Iterable[tuple[int, int]]] | None = None,
) -> dict:
    """Score submission-format predictions against gold DocRED-format documents (see the module docstring).

    Args:
        predictions: `[{"title", "h_idx", "t_idx", "r"}, ...]`; extra keys (e.g. `"score"`) are ignored.
        gold_docs: the gold documents (titles must be unique).
        train_docs: the training documents, needed for Ign F1 and for the frequent / long-tail split. Without
            them `ign_precision` and `ign_f1` are `None` and the frequent relations come from the gold labels.
        label_set: optional `docred_data.LabelSet` (anything with `relations` and `name(label)`): lists every
            relation in the per-relation table and gives readable names.
        no_relation_labels: labels that mean "no relation" and are never scored as relations.
        n_frequent: size of the frequent-relation group.
        frequent: the frequent relations, overriding the computed ones (e.g. `REDOCRED_FREQUENT_RELATIONS`).
        diagnostics: also compute the non-official diagnostics (see `DIAGNOSTICS_NOTE`).
        candidate_pairs: `doc -> (h, t) pairs`, the candidate pairs of the diagnostics: the model's own
            (`processing_globalre.ordered_pairs`, e.g. CDR's chemical -> disease pairs). Default: every ordered
            pair h != t. The official figures never use it.

    Returns:
        A dict of fractions in [0, 1] (`precision`, `recall`, `f1`, `ign_precision`, `ign_f1`), counts
        (`n_pred`, `n_gold`, `n_correct`, `n_correct_in_train`, and the predictions set aside as duplicates,
        "no relation", unknown titles or invalid entity indices), the breakdowns `intra`, `inter`, `frequent`,
        `long_tail` and `per_relation`, and with `diagnostics=True` a `diagnostics` dict.
    """
    gold = _GoldIndex(gold_docs, no_relation_labels)
    unique, input_counts = unique_predictions(predictions, no_relation_labels)
    in_train = train_facts(train_docs, no_relation_labels) if train_docs is not None else None
    if frequent is not None:
        frequent, frequent_source = list(frequent), "given"
    else:
        frequent_docs, frequent_source = (
            (train_docs, "train") if train_docs is not None else (gold_docs, "gold")
        )
        frequent = frequent_relations(frequent_docs, n_frequent, no_relation_labels)
    frequent_set = set(frequent)

    overall, intra, inter, freq, tail = _Counts(), _Counts(), _Counts(), _Counts(), _Counts()
    per_relation: dict[str, _Counts] = {}
    n_correct_in_train = n_unknown_title = n_invalid_pair = 0

    for title, h, t, r in gold.facts:
        overall.n_gold += 1
        (intra if gold.is_intra(title, h, t) else inter).n_gold += 1
        (freq if r in frequent_set else tail).n_gold += 1
        per_relation.setdefault(r, _Counts()).n_gold += 1

    for fact in unique:
        title, h, t, r = fact
        correct = fact in gold.facts
        overall.n_pred += 1
        overall.n_correct += correct
        group = freq if r in frequent_set else tail
        group.n_pred += 1
        group.n_correct += correct
        relation = per_relation.setdefault(r, _Counts())
        relation.n_pred += 1
        relation.n_correct += correct
        if title not in gold.docs:
            n_unknown_title += 1
            continue
        if not gold.has_pair(title, h, t):
            # Wrong, as in the official code; it has no sentence category, so it is in neither intra nor inter.
            n_invalid_pair += 1
            continue
        sentence_group = intra if gold.is_intra(title, h, t) else inter
        sentence_group.n_pred += 1
        sentence_group.n_correct += correct
        if correct and in_train is not None and _is_in_train(gold.docs[title], h, t, r, in_train):
            n_correct_in_train += 1

    result: dict[str, Any] = overall.as_dict()
    result["n_correct_in_train"] = n_correct_in_train if in_train is not None else None
    result.update(_ign_scores(overall, n_correct_in_train, result["recall"], in_train is not None))
    result.update(input_counts)
    result["n_pred_unknown_title"] = n_unknown_title
    result["n_pred_invalid_pair"] = n_invalid_pair
    result["intra"] = intra.as_dict()
    result["inter"] = inter.as_dict()
    result["frequent"] = freq.as_dict()
    result["long_tail"] = tail.as_dict()
    result["frequent_relations"] = frequent
    result["frequent_relations_source"] = frequent_source
    result["per_relation"] = _per_relation_table(per_relation, label_set)
    if diagnostics:
        result["diagnostics"] = non_official_diagnostics(unique, gold, candidate_pairs)
    return result


def _is_in_train(doc: dict, h: int, t: int, r: str, in_train: set) -> bool:
    entities = doc["vertexSet"]
    return any(
        (head_mention["name"], tail_mention["name"], r) in in_train
        for head_mention in entities[h]
        for tail_mention in entities[t]
    )


def _ign_scores(overall: _Counts, n_correct_in_train: int, recall: float, available: bool) -> dict:
    if not available:
        return {"ign_precision": None, "ign_f1": None}
    denominator = overall.n_pred - n_correct_in_train
    ign_precision = (overall.n_correct - n_correct_in_train) / denominator if denominator else 0.0
    return {"ign_precision": ign_precision, "ign_f1": f1_score(ign_precision, recall)}


def _per_relation_table(per_relation: dict[str, _Counts], label_set: Any) -> dict[str, dict]:
    relations = list(label_set.relations) if label_set is not None else []
    relations += sorted(r for r in per_relation if r not in set(relations))
    table = {}
    for r in relations:
        counts = per_relation.get(r, _Counts())
        row = counts.as_dict()
        row["support"] = counts.n_gold
        row["name"] = label_set.name(r) if label_set is not None else r
        table[r] = row
    return table


def non_official_diagnostics(
    unique: list[Fact],
    gold: _GoldIndex,
    candidate_pairs: Callable[[dict], Iterable[tuple[int, int]]] | None = None,
) -> dict:
    """Two non-official protocols that give much higher numbers than the official metric (see `DIAGNOSTICS_NOTE`).

    - `micro_with_no_relation_class`: every candidate pair (`candidate_pairs(doc)` of each gold document; all
      ordered h != t by default) has a gold label set (its relations, or {no relation}) and a predicted one (the
      predicted relations, or {no relation}); micro precision / recall / F1 over these (pair, label) decisions.
      Predictions outside the candidate pairs count as wrong predicted decisions.
    - `related_pairs_only`: precision / recall / F1 over the predictions for pairs that hold a gold relation.
    """
    predicted: dict[tuple[str, int, int], set[str]] = {}
    for title, h, t, r in unique:
        predicted.setdefault((title, h, t), set()).add(r)
    gold_relations: dict[tuple[str, int, int], set[str]] = {}
    for title, h, t, r in gold.facts:
        gold_relations.setdefault((title, h, t), set()).add(r)

    with_class = _Counts()
    candidates = set()
    for title, doc in gold.docs.items():
        n = len(doc["vertexSet"])
        # this module stays standard-library only (see above), so the default is spelled out here
        pairs = (
            candidate_pairs(doc)
            if candidate_pairs
            else ((h, t) for h in range(n) for t in range(n) if h != t)
        )
        for h, t in pairs:
            candidates.add((title, h, t))
            gold_set = gold_relations.get((title, h, t)) or {None}
            pred_set = predicted.get((title, h, t)) or {None}
            with_class.n_gold += len(gold_set)
            with_class.n_pred += len(pred_set)
            with_class.n_correct += len(gold_set & pred_set)
    with_class.n_pred += sum(len(rels) for pair, rels in predicted.items() if pair not in candidates)
    with_class.n_gold += sum(len(rels) for pair, rels in gold_relations.items() if pair not in candidates)

    related = _Counts(n_gold=len(gold.facts))
    for fact in unique:
        if fact[:3] in gold.related_pairs:
            related.n_pred += 1
            related.n_correct += fact in gold.facts
    return {
        "note": DIAGNOSTICS_NOTE,
        "micro_with_no_relation_class": with_class.as_dict(),
        "related_pairs_only": related.as_dict(),
    }


def _read_json_list(path: str, what: str) -> list:
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}: {what} file is not valid JSON ({error.msg} at line {error.lineno})"
            ) from error
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of {what}, found {type(data).__name__}")
    return data


def score_predictions_file(
    pred_path: str, gold_path: str, train_path: str | None = None, **kwargs: Any
) -> dict:
    """Score an official submission file (a JSON list of `{title, h_idx, t_idx, r}`) against a gold file.

    The gold and training files are read and validated with `docred_data.load_documents`; `kwargs` go to
    `score_docred`.
    """
    # Imported here so that this module stays standard-library only for the `evaluate` module's copy.
    from docred_data import load_documents

    predictions = _read_json_list(pred_path, "predictions")
    gold_docs = load_documents(gold_path)
    train_docs = load_documents(train_path) if train_path is not None else None
    return score_docred(predictions, gold_docs, train_docs, **kwargs)
