# Copyright 2025 The GlobalRE Authors.
#
# Licensed under the MIT License.
"""The official DocRED / Re-DocRED relation extraction scorer, reimplemented.

The algorithm follows `code/evaluation.py` of thunlp/DocRED (the CodaLab scorer) and `official_evaluate` /
`official_evaluate_benchmark` of tonytan48/Re-DocRED `evaluation.py`:

- Predictions are `{"title", "h_idx", "t_idx", "r"}` dicts (the submission format; an optional `"evidence"` is
  scored as below, other keys are ignored).
  They are de-duplicated on `(title, h_idx, t_idx, r)` first, as the Re-DocRED / ATLOP adaptation does (the
  CodaLab script counts a repeated prediction again).
- Gold facts are the unique `(title, h_idx, t_idx, r)` of the gold labels.
- precision = correct / unique predictions; recall = correct / gold facts. A prediction for a title that is
  not in the gold file is wrong (the official loop skips it, but it stays in the precision denominator); so is
  one whose entity indices are not an entity pair of its document (not integers, outside `vertexSet`, or
  h == t) or whose relation is not a string. Such predictions are counted and are warnings naming one example:
  they are never repaired (a title that differs from a gold title only in whitespace stays unmatched).
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

- Evidence (Evi P, R, F1; `evidence_scores`), as the official scorer, when the predictions carry `"evidence"`
  (a list of sentence ids): the predicted evidence sentences are counted over the unique predictions of gold
  titles; those of a correct prediction that are among its gold fact's evidence are correct; the gold count is
  every evidence sentence of every gold label. A gold label without evidence (most of Re-DocRED's added labels)
  adds nothing to the gold count, so evidence recall is over the labels that give evidence.

Labels in `no_relation_labels` ("Na", and CDR's explicit negatives "NR") are never relations: they are removed
from the gold facts, the training facts and the predictions (the count of such predictions is reported).

A figure that measures nothing is `None` (printed "n/a"), never 0. For the whole file and for every breakdown
group (intra, inter, frequent, long_tail, each per-relation row, the diagnostics):

- recall and F1 are `None` when the group has no gold facts: there was nothing to find (e.g. the inter-sentence
  group of a corpus whose documents are single sentences, or a relation of the label set absent from the data);
- precision is `None` only when the group has neither gold facts nor predictions. With predictions but no gold
  facts it is 0 (every prediction is wrong); with gold facts but no predictions it is 0 and F1 is 0 (the model
  found nothing), as every DocRED scorer reports a model that predicts nothing;
- Ign F1 (`ign_precision`, `ign_f1`) is `None`, and `ign_note` says why, without training documents, when the
  training documents hold no relation label, when they share documents with the gold file (the same title, the
  official key, or the same sentences and entities under another title: facts seen in training are then the
  gold facts themselves), or when every prediction is a correct fact seen in training (nothing is left to measure).

Gold documents without a `labels` key (or with `labels: null`) are unlabelled, e.g. DocRED's test split; an
empty list is a labelled document without relations. When no gold document has labels the file is unlabelled:
every score, gold count and breakdown figure is `None` and `gold_labelled` is False (the predictions are still
counted). Some documents labelled and others not is an error naming the unlabelled ones (`gold_is_labelled`).
Whatever makes a figure `None`, or otherwise limits what the scores mean, is also a sentence in `warnings`
(and is logged).

This module depends on the standard library only, because the `evaluate` module in `metrics/docred_re` loads
it from beside its script: this file lives in that folder, so a copy of the folder (`cp -r`, an upload to the
Hub) carries it, and the top-level `docred_metric.py` that the project's scripts import is a symbolic link to
it (a wheel stores the file itself).
"""

from __future__ import annotations

import json
import logging
import numbers
import os
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
#: How many titles a warning or a report field names before "and N more".
MAX_NAMED = 10


def name_some(names: Sequence[str]) -> str:
    """`names` joined by commas, the first `MAX_NAMED` of them, then "and N more": how warnings and report fields
    name documents, titles and relations."""
    named = ", ".join(names[:MAX_NAMED])
    return named + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")


logger = logging.getLogger(__name__)


@dataclass
class _Counts:
    n_pred: int = 0
    n_gold: int = 0
    n_correct: int = 0

    def as_dict(self, labelled: bool = True) -> dict[str, float | int | None]:
        """Figures and counts; with `labelled=False` (unlabelled gold) only the prediction count is known."""
        if not labelled:
            return {
                "precision": None,
                "recall": None,
                "f1": None,
                "n_pred": self.n_pred,
                "n_gold": None,
                "n_correct": None,
            }
        precision, recall, f1 = precision_recall_f1(self.n_correct, self.n_pred, self.n_gold)
        return {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "n_pred": self.n_pred,
            "n_gold": self.n_gold,
            "n_correct": self.n_correct,
        }


def precision_recall_f1(n_correct: int, n_pred: int, n_gold: int) -> tuple[float | None, ...]:
    """Precision, recall and F1 as fractions, `None` where they measure nothing (the rule of the module docstring):
    recall and F1 without gold facts, precision without gold facts and predictions. Without predictions but
    with gold facts precision is 0, as F1 is."""
    recall = n_correct / n_gold if n_gold else None
    if n_pred:
        precision = n_correct / n_pred
    else:
        precision = 0.0 if n_gold else None
    return precision, recall, f1_score(precision, recall)


def f1_score(precision: float | None, recall: float | None) -> float | None:
    """Harmonic mean; `None` when either figure is `None` (see `precision_recall_f1`), 0 when both are 0."""
    if precision is None or recall is None:
        return None
    return 2.0 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def gold_is_labelled(gold_docs: Sequence[dict]) -> bool:
    """Whether the gold documents are labelled: True when every document has a `labels` list (an empty one is a
    document without relations), False when none has one (missing or null: an unlabelled split such as DocRED's
    test set). A `ValueError` naming the documents when only some have labels: their facts would silently count
    as absent."""
    missing = [(index, doc.get("title")) for index, doc in enumerate(gold_docs) if doc.get("labels") is None]
    if not missing:
        return True
    if len(missing) == len(gold_docs):
        return False
    raise ValueError(
        f"gold documents {_name_documents(missing)} have no 'labels' while the other "
        f"{len(gold_docs) - len(missing)} documents have them: give a document without relations "
        "'labels': [], or score a wholly unlabelled file (no scores)"
    )


def _name_documents(documents: Sequence[tuple[int, Any]]) -> str:
    return name_some([f"{index} ({title!r})" for index, title in documents])


def _content_key(doc: dict) -> str:
    # the words and the entities: a shared template text (as in hand-built tests) with other entities differs
    return json.dumps([doc["sents"], doc["vertexSet"]], sort_keys=True)


def shared_documents(gold_docs: Iterable[dict], train_docs: Iterable[dict]) -> list[str]:
    """Titles of the gold documents that are also training documents: the same title (the official key of a
    document) or the same sentences and entities (`sents` and `vertexSet`) under another title. Facts seen in
    training are then the gold facts themselves, so Ign F1 no longer says anything about unseen facts."""
    train_titles, train_contents = set(), set()
    for doc in train_docs:
        train_titles.add(doc["title"])
        train_contents.add(_content_key(doc))
    return [
        doc["title"]
        for doc in gold_docs
        if doc["title"] in train_titles or _content_key(doc) in train_contents
    ]


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

    def pair_problem(self, title: str, h: Any, t: Any) -> tuple[str, Any, str] | None:
        """Why `(h, t)` is not an entity pair of the gold document `title`, as (field, value, reason), or `None`
        when it is one."""
        n_entities = len(self.docs[title]["vertexSet"])
        for field, value in (("h_idx", h), ("t_idx", t)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                return field, value, f"a {type(value).__name__}, not an integer index"
            if not _is_index(value, n_entities):
                return field, value, f"outside vertexSet, which has {n_entities} entities"
        if h == t:
            return "t_idx", t, "the head entity itself (h_idx == t_idx)"
        return None

    def title_near_miss(self, title: Any) -> str | None:
        """A gold title that differs from `title` only in surrounding whitespace or letter case, or `None`: named
        in a warning, never used in its place (titles are compared exactly, as the official scorer does)."""
        if not isinstance(title, str):
            return None
        key = title.strip().casefold()
        return next((gold for gold in self.docs if gold.strip().casefold() == key), None)

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
        for key in ("title", "h_idx", "t_idx", "r"):
            try:
                hash(prediction[key])
            except TypeError:
                raise ValueError(
                    f"prediction {index}: {key}={prediction[key]!r} is a {type(prediction[key]).__name__}, "
                    f"expected {'an integer' if key.endswith('_idx') else 'a string'}"
                ) from None
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


def evidence_scores(
    predictions: Sequence[dict],
    gold_docs: Sequence[dict],
    no_relation_labels: Sequence[str] = DEFAULT_NO_RELATION_LABELS,
) -> dict[str, float | int | None] | None:
    """Evidence precision, recall and F1 (the official scorer's Evi P, R, F1; see the module docstring), counted in
    sentences: `{"precision", "recall", "f1", "n_pred", "n_gold", "n_correct"}`, `None` when no prediction carries
    `"evidence"`. A repeated prediction counts once, with its first evidence; a prediction for a title that is not
    in the gold file counts no evidence (as in the official loop); gold evidence ids that are not integers (CDR
    stores `[None]`) are not evidence.

    Raises:
        ValueError: a prediction's `"evidence"` that is not a list of integer sentence ids.
    """
    if not any(isinstance(p, dict) and p.get("evidence") is not None for p in predictions):
        return None
    gold: dict[Fact, set[int]] = {}
    n_gold = 0
    titles = set()
    for doc in gold_docs:
        titles.add(doc["title"])
        for label in doc.get("labels") or []:
            if label["r"] in no_relation_labels:
                continue
            sentences = {s for s in label.get("evidence") or [] if _is_index(s, len(doc["sents"]))}
            gold[(doc["title"], label["h"], label["t"], label["r"])] = sentences
            n_gold += len(sentences)
    counts = _Counts(n_gold=n_gold)
    seen: set[Fact] = set()
    for index, prediction in enumerate(predictions):
        evidence = prediction.get("evidence")
        if evidence is not None and (
            not isinstance(evidence, (list, tuple))
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in evidence)
        ):
            raise ValueError(
                f"prediction {index}: evidence={evidence!r} must be a list of sentence ids (integers)"
            )
        fact = (prediction["title"], prediction["h_idx"], prediction["t_idx"], prediction["r"])
        if fact in seen or fact[3] in no_relation_labels or fact[0] not in titles:
            continue
        seen.add(fact)
        predicted = set(evidence or [])
        counts.n_pred += len(predicted)
        counts.n_correct += len(predicted & gold.get(fact, set()))
    return counts.as_dict()


def to_submission(docs: Sequence[dict], triples_per_doc: Sequence[Sequence[dict]]) -> list[dict]:
    """Relation triples of each document (`{"head", "tail", "relation", "score", ...}`, as the pipeline and the
    processor's `post_process` give them) in the official submission format `{"title", "h_idx", "t_idx", "r",
    "score"}`, documents in order, with `"evidence"` where the triple has predicted evidence."""
    if len(docs) != len(triples_per_doc):
        raise ValueError(f"got predictions for {len(triples_per_doc)} documents but {len(docs)} documents")
    return [
        {
            "title": doc["title"],
            "h_idx": triple["head"],
            "t_idx": triple["tail"],
            "r": triple["relation"],
            "score": triple["score"],
            **({"evidence": triple["evidence"]} if triple.get("evidence") is not None else {}),
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
        predictions: `[{"title", "h_idx", "t_idx", "r"}, ...]`, each with an optional `"evidence"` (sentence ids,
            scored by `evidence_scores`); other keys (e.g. `"score"`) are ignored.
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
        A dict of fractions in [0, 1] or `None` where they measure nothing (see the module docstring:
        `precision`, `recall`, `f1`, `ign_precision`, `ign_f1`, and `ign_note` saying why Ign F1 is `None`),
        counts (`n_pred`, `n_gold`, `n_correct`, `n_correct_in_train`, and the predictions set aside as
        duplicates, "no relation", unknown titles, invalid entity indices or relations that are not strings),
        `gold_labelled`,
        `n_train_documents_shared` and `train_documents_shared` (up to `MAX_NAMED` titles; `None` without
        training documents), the breakdowns `intra`, `inter`, `frequent`, `long_tail` and `per_relation`,
        `evidence` (`evidence_scores`; `None` when no prediction carries evidence or the gold is unlabelled), with
        `diagnostics=True` a `diagnostics` dict (`None` for unlabelled gold), and `warnings` (sentences).

    Raises:
        ValueError: duplicate gold titles, a malformed prediction, or gold documents of which only some have
            labels (see `gold_is_labelled`).
    """
    labelled = gold_is_labelled(gold_docs)
    gold = _GoldIndex(gold_docs, no_relation_labels)
    unique, input_counts = unique_predictions(predictions, no_relation_labels)
    warnings: list[str] = []
    if not labelled:
        warnings.append(
            f"the gold documents ({len(gold_docs)}) have no labels: nothing is scored (every figure is n/a)"
        )
    elif not gold.facts:
        warnings.append(
            f"the gold documents ({len(gold_docs)}) hold no relation fact: recall and F1 are n/a"
            + (" and precision is 0 (every prediction is wrong)" if unique else "")
            + "; if this is an unlabelled split stored with empty labels, no figure means anything"
        )
    in_train = train_facts(train_docs, no_relation_labels) if train_docs is not None else None
    shared = shared_documents(gold_docs, train_docs) if train_docs is not None else None
    ign_note = _ign_unavailable(train_docs, in_train, shared)
    if ign_note is not None and train_docs is not None:
        warnings.append(f"Ign F1 is n/a: {ign_note}")
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
    n_correct_in_train = n_unknown_title = n_invalid_pair = n_invalid_relation = 0
    # the first prediction of each kind that can never be correct, for the warnings
    unknown_title_example = invalid_pair_example = invalid_relation_example = None

    for title, h, t, r in gold.facts:
        overall.n_gold += 1
        (intra if gold.is_intra(title, h, t) else inter).n_gold += 1
        (freq if r in frequent_set else tail).n_gold += 1
        per_relation.setdefault(r, _Counts()).n_gold += 1

    for fact in unique:
        title, h, t, r = fact
        problem = gold.pair_problem(title, h, t) if title in gold.docs else None
        # 1.0 or True equal the index 1 in Python: such a prediction matches a gold fact, but it names no entity
        correct = fact in gold.facts and problem is None
        overall.n_pred += 1
        overall.n_correct += correct
        if not isinstance(r, str):
            # wrong, as in the official code; kept out of the relation groups, whose names are strings
            n_invalid_relation += 1
            invalid_relation_example = invalid_relation_example or (title, r)
            continue
        group = freq if r in frequent_set else tail
        group.n_pred += 1
        group.n_correct += correct
        relation = per_relation.setdefault(r, _Counts())
        relation.n_pred += 1
        relation.n_correct += correct
        if title not in gold.docs:
            n_unknown_title += 1
            unknown_title_example = unknown_title_example or (title,)
            continue
        if problem is not None:
            # Wrong, as in the official code; it has no sentence category, so it is in neither intra nor inter.
            n_invalid_pair += 1
            invalid_pair_example = invalid_pair_example or (title, *problem)
            continue
        sentence_group = intra if gold.is_intra(title, h, t) else inter
        sentence_group.n_pred += 1
        sentence_group.n_correct += correct
        if correct and in_train is not None and _is_in_train(gold.docs[title], h, t, r, in_train):
            n_correct_in_train += 1

    result: dict[str, Any] = overall.as_dict(labelled)
    result["gold_labelled"] = labelled
    result["n_correct_in_train"] = n_correct_in_train if in_train is not None and labelled else None
    if labelled:
        ign = _ign_scores(overall, n_correct_in_train, result["precision"], result["recall"], ign_note)
        if ign_note is None and ign["ign_note"] is not None:
            warnings.append(f"Ign F1 is n/a: {ign['ign_note']}")
    else:
        ign = {"ign_precision": None, "ign_f1": None, "ign_note": "the gold documents have no labels"}
    result.update(ign)
    result["n_train_documents_shared"] = len(shared) if shared is not None else None
    result["train_documents_shared"] = shared[:MAX_NAMED] if shared is not None else None
    result.update(input_counts)
    result["n_pred_unknown_title"] = n_unknown_title
    result["n_pred_invalid_pair"] = n_invalid_pair
    result["n_pred_invalid_relation"] = n_invalid_relation
    warnings += _prediction_warnings(
        len(unique),
        (n_unknown_title, unknown_title_example),
        (n_invalid_pair, invalid_pair_example),
        (n_invalid_relation, invalid_relation_example),
        gold,
        labelled,
    )
    result["intra"] = intra.as_dict(labelled)
    result["inter"] = inter.as_dict(labelled)
    if labelled and gold.facts and not inter.n_gold and not inter.n_pred:
        # e.g. a corpus of single sentences: "inter-sentence F1 0.00" would read as a model failure
        warnings.append(
            "no gold fact and no prediction is inter-sentence: the inter-sentence figures are n/a"
        )
    result["frequent"] = freq.as_dict(labelled)
    result["long_tail"] = tail.as_dict(labelled)
    result["frequent_relations"] = frequent
    result["frequent_relations_source"] = frequent_source
    result["per_relation"] = _per_relation_table(per_relation, label_set, labelled)
    result["evidence"] = evidence_scores(predictions, gold_docs, no_relation_labels) if labelled else None
    if diagnostics:
        result["diagnostics"] = non_official_diagnostics(unique, gold, candidate_pairs) if labelled else None
    result["warnings"] = warnings
    for warning in warnings:
        logger.warning("%s", warning)
    return result


def _prediction_warnings(
    n_unique: int,
    unknown_title: tuple[int, tuple | None],
    invalid_pair: tuple[int, tuple | None],
    invalid_relation: tuple[int, tuple | None],
    gold: _GoldIndex,
    labelled: bool,
) -> list[str]:
    """Sentences for the predictions that can never be correct (they are scored as wrong, as the official scorer
    does): how many match no gold document by title, have entity indices that are not a pair of their document,
    or a relation that is not a string, each with its first example (title, field, value). Nothing is repaired:
    a near miss of a title is named, never used."""
    wrong = " and are scored as wrong" if labelled else ""
    warnings = []
    count, example = unknown_title
    if count:
        (title,) = example
        near = gold.title_near_miss(title)
        warnings.append(
            f"{count} of the {n_unique} unique predictions match no gold document by title{wrong}, "
            f"e.g. title={title!r}"
            + (
                f" (the gold title {near!r} differs from it only in whitespace or case)"
                if near is not None
                else ""
            )
            + ": titles are compared exactly"
        )
    count, example = invalid_pair
    if count:
        title, field, value, reason = example
        warnings.append(
            f"{count} of the {n_unique} unique predictions have entity indices that are not an entity pair of "
            f"their document{wrong}, e.g. title={title!r}, {field}={value!r}: {reason}"
        )
    count, example = invalid_relation
    if count:
        title, value = example
        warnings.append(
            f"{count} of the {n_unique} unique predictions have a relation that is not a string{wrong}, "
            f"e.g. title={title!r}, r={value!r} ({type(value).__name__})"
        )
    return warnings


def _is_in_train(doc: dict, h: int, t: int, r: str, in_train: set) -> bool:
    entities = doc["vertexSet"]
    return any(
        (head_mention["name"], tail_mention["name"], r) in in_train
        for head_mention in entities[h]
        for tail_mention in entities[t]
    )


def _ign_unavailable(
    train_docs: list[dict] | None, in_train: set | None, shared: list[str] | None
) -> str | None:
    """Why Ign F1 cannot be computed from the training documents at all, or `None` when it can."""
    if train_docs is None:
        return "no training documents"
    if shared:
        return (
            f"the training documents share {len(shared)} document{'s' if len(shared) > 1 else ''} with the "
            "evaluated ones (same title, or "
            f"same sentences and entities: {name_some([repr(title) for title in shared])}), "
            "so the facts 'seen in training' are gold facts themselves"
        )
    if not in_train:
        return f"the {len(train_docs)} training documents hold no relation label"
    return None


def _ign_scores(
    overall: _Counts,
    n_correct_in_train: int,
    precision: float | None,
    recall: float | None,
    unavailable: str | None,
) -> dict:
    if unavailable is not None:
        return {"ign_precision": None, "ign_f1": None, "ign_note": unavailable}
    denominator = overall.n_pred - n_correct_in_train
    if denominator:
        ign_precision = (overall.n_correct - n_correct_in_train) / denominator
    elif not overall.n_pred:
        ign_precision = precision  # nothing predicted: as precision (0 with gold facts, else None)
    else:
        # every prediction is a correct fact seen in training: no unseen prediction is left to measure
        return {
            "ign_precision": None,
            "ign_f1": None,
            "ign_note": "every prediction is a correct fact seen in training",
        }
    return {"ign_precision": ign_precision, "ign_f1": f1_score(ign_precision, recall), "ign_note": None}


def _per_relation_table(per_relation: dict[str, _Counts], label_set: Any, labelled: bool) -> dict[str, dict]:
    relations = list(label_set.relations) if label_set is not None else []
    relations += sorted(r for r in per_relation if r not in set(relations))
    table = {}
    for r in relations:
        # a relation of the label set with no gold fact and no prediction gets n/a figures, not 0.00
        counts = per_relation.get(r, _Counts())
        row = counts.as_dict(labelled)
        row["support"] = counts.n_gold if labelled else None
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


def load_gold_documents(path: str, *, max_docs: int | None = None) -> list[dict]:
    """Gold documents read and validated as `docred_data.load_documents` does, except that a document whose
    `labels` is missing or null in the file keeps no `labels` key. The loader makes such labels `[]`, which the
    scorer could not tell from a document without relations: an unlabelled file would score 0 instead of n/a
    (see `gold_is_labelled`). Hub sources are left to the loader: a Hub dataset has a labels column in every
    row, and an `hf://` file whose documents lack labels then scores as a file without relation facts (recall
    and F1 n/a, with a warning)."""
    # Imported here so that this module stays standard-library only for the `evaluate` module's copy.
    from docred_data import load_documents, read_documents, validate_documents

    if not os.path.isfile(path):
        return load_documents(path, max_docs=max_docs)
    raw_docs = read_documents(path)
    docs, _ = validate_documents(raw_docs, path, max_docs=max_docs)
    # validation raises on the first bad document, so the first len(docs) raw documents are the validated ones
    return [
        doc
        if raw_doc.get("labels") is not None
        else {key: value for key, value in doc.items() if key != "labels"}
        for raw_doc, doc in zip(raw_docs[: len(docs)], docs, strict=True)
    ]


def score_predictions_file(
    pred_path: str, gold_path: str, train_path: str | None = None, **kwargs: Any
) -> dict:
    """Score an official submission file (a JSON list of `{title, h_idx, t_idx, r}`) against a gold file.

    The gold file is read with `load_gold_documents` (an unlabelled gold file gives n/a scores) and the training
    file with `docred_data.load_documents`; `kwargs` go to `score_docred`.
    """
    # Imported here so that this module stays standard-library only for the `evaluate` module's copy.
    from docred_data import load_documents

    predictions = _read_json_list(pred_path, "predictions")
    gold_docs = load_gold_documents(gold_path)
    train_docs = load_documents(train_path) if train_path is not None else None
    return score_docred(predictions, gold_docs, train_docs, **kwargs)
