# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""End-to-end document-level relation extraction scores: mentions, entities and relations found from raw text.

Gold documents are in the text form with character spans that `documents_globalre.docred_to_text` gives a
DocRED document (its text, then its entities and labels)::

    {"title": "...",                     # optional, names the document in errors
     "entities": [{"name": "Marie Curie", "type": "PER", "spans": [[0, 11], [40, 45]],
                   "mention_types": ["PER", "PER"]}],   # optional: each mention's own type (default the entity's)
     "labels": [{"h": 0, "t": 1, "r": "P19"}]}          # optional: without it the document is unlabelled

Predictions are the graph the pipeline returns for the same text (`return_graph=True`, one line of extract.py)::

    {"entities": [{"id": 0, "name": "Marie Curie", "type": "PER",
                   "mentions": [{"text": "Marie Curie", "start": 0, "end": 11, "sent_id": 0}]}],
     "relations": [{"head": 0, "tail": 1, "relation": "P19", ...}]}   # head and tail index `entities`

(an entity may give `"spans": [[start, end], ...]` instead of `mentions`, as `detect_entities` returns them; a
mention may carry its own `"type"`, otherwise the entity's counts).

The figures (micro-averaged over all documents; each precision, recall and F1 a fraction in [0, 1]), after JEREX
(Eberts & Ulges, EACL 2021, section 4.2, "end-to-end" evaluation) with its relaxed variant:

- `mention`: a predicted mention is right when a gold mention has the same character span and type;
  `mention_span`: the same span whatever the type.
- `entity`: a predicted entity is right when a gold entity has exactly its set of mention spans and its type;
  `entity_untyped`: the same mention span set whatever the type. This is also the coreference figure: mentions
  found but grouped wrongly make both entities wrong.
- `relation_strict`: a predicted (head, tail, relation) is right when head and tail are right as in `entity`
  (span set and type) and the gold document holds the relation between those gold entities (JEREX's strict
  measure).
- `relation_relaxed`: a predicted triple is right when its head shares at least one mention span with the gold
  head, its tail one with the gold tail, and the relation is the same; each gold fact is matched at most once and
  each prediction at most once (a maximum matching, so the figure does not depend on the prediction order).

Repeated items (the same mention, entity or triple twice) count once. `errors` says where the gold facts that
`relation_strict` misses are lost, each counted once under the first cause that applies:
`missed_mentions` (a mention span of the gold head or tail was not detected), `wrong_grouping` (every mention was
found but no predicted entity has exactly the gold head's or tail's mention set), `wrong_type` (the mention sets
are right but a predicted type is not), `missed_relation` (both entities exactly right, no relation predicted from
head to tail), `wrong_relation` (both entities right, only other relations predicted). The wrong predictions are
split into `spurious_entities` (head or tail is no gold entity) and `spurious_relation` (both are, the relation is
not gold).

A figure that measures nothing is `None`, never 0: recall and F1 without gold items, precision without gold items
and without predictions (with gold items and no prediction, precision, recall and F1 are 0). Relation figures
need labelled gold documents: when none has `labels` they are `None`; some labelled and others not is an error.
Malformed input raises a `ValueError` naming the document (position and title or id) and the field.

Standard library only, so the `evaluate` module beside this file carries it, and the project's scripts import it
as `metrics.docred_end_to_end.end_to_end_metric` (`score_end_to_end`).
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

Span = tuple[int, int]

ERROR_CAUSES: tuple[str, ...] = (
    "missed_mentions",
    "wrong_grouping",
    "wrong_type",
    "missed_relation",
    "wrong_relation",
)
FIGURES: tuple[str, ...] = (
    "mention",
    "mention_span",
    "entity",
    "entity_untyped",
    "relation_strict",
    "relation_relaxed",
)


def prf(n_pred: int, n_gold: int, n_correct: int) -> dict[str, float | int | None]:
    """Precision, recall and F1 (fractions) with their counts; `None` where a figure measures nothing."""
    precision = n_correct / n_pred if n_pred else (0.0 if n_gold else None)
    recall = n_correct / n_gold if n_gold else None
    if recall is None:
        f1 = None
    elif precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    else:
        f1 = 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "n_pred": n_pred,
        "n_gold": n_gold,
        "n_correct": n_correct,
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _name(kind: str, index: int | None, document: Any, key: str) -> str:
    where = kind if index is None else f"{kind} {index}"
    if isinstance(document, dict) and document.get(key) not in (None, ""):
        where += f" ({key} {document[key]!r})"
    return where


def _span(value: Any, where: str) -> list[int]:
    if isinstance(value, dict):
        if "start" not in value or "end" not in value:
            raise ValueError(f"{where}: expected a mention with 'start' and 'end', found {value!r}")
        start, end = value["start"], value["end"]
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        start, end = value
    else:
        raise ValueError(f"{where}: expected a character span [start, end], found {value!r}")
    if not (_is_int(start) and _is_int(end) and 0 <= start < end):
        raise ValueError(f"{where}: expected integer offsets with 0 <= start < end, found {start!r}, {end!r}")
    return [int(start), int(end)]


def _type(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a type (a string), found {value!r}")
    return value


def _triples(items: Any, n_entities: int, where: str, keys: tuple[str, str, str]) -> list[dict]:
    """Gold labels (`h`, `t`, `r`) or predicted relations (`head`, `tail`, `relation`) reduced to those keys,
    checked against the document's entity count."""
    if not isinstance(items, list):
        raise ValueError(f"{where}s: expected a list, found {items!r}")
    triples = []
    for k, item in enumerate(items):
        if not isinstance(item, dict) or not set(keys) <= item.keys():
            raise ValueError(f"{where} {k}: expected a dict with {', '.join(keys)}, found {item!r}")
        for key in keys[:2]:
            value = item[key]
            if not _is_int(value) or not 0 <= value < n_entities:
                raise ValueError(
                    f"{where} {k}: {key}={value!r} is not an entity index (the document has {n_entities} entities)"
                )
        if not isinstance(item[keys[2]], str):
            raise ValueError(
                f"{where} {k}: {keys[2]} must be a relation id (a string), found {item[keys[2]]!r}"
            )
        triples.append({keys[0]: int(item[keys[0]]), keys[1]: int(item[keys[1]]), keys[2]: item[keys[2]]})
    return triples


def gold_document(reference: Any, index: int | None = None) -> dict:
    """A gold document checked and reduced to what is scored: `{"title", "entities": [{"type", "spans",
    "mention_types"}], "labels"}` (`labels` None when it has none). Raises a `ValueError` naming the document
    (position and title) and the field."""
    name = _name("gold document", index, reference, "title")
    if not isinstance(reference, dict):
        raise ValueError(
            f"{name}: expected a dict with 'entities' (and 'labels'), found {type(reference).__name__}"
        )
    entities = reference.get("entities")
    if not isinstance(entities, list):
        raise ValueError(
            f"{name}: 'entities' must be a list of entities with 'type' and 'spans', found {entities!r}"
        )
    parsed = []
    for e, entity in enumerate(entities):
        where = f"{name}, entity {e}"
        if not isinstance(entity, dict) or not isinstance(entity.get("spans"), list) or not entity["spans"]:
            raise ValueError(
                f"{where}: expected a dict with 'type' and a non-empty 'spans' list, found {entity!r}"
            )
        entity_type = _type(entity.get("type"), f"{where} 'type'")
        spans = [_span(span, f"{where} span {m}") for m, span in enumerate(entity["spans"])]
        types = entity.get("mention_types")
        if types is None:
            types = [entity_type] * len(spans)
        elif not isinstance(types, list) or len(types) != len(spans):
            raise ValueError(
                f"{where}: 'mention_types' must be a list with one type per span ({len(spans)}), found {types!r}"
            )
        types = [_type(t, f"{where} mention_types[{m}]") for m, t in enumerate(types)]
        parsed.append({"type": entity_type, "spans": spans, "mention_types": types})
    labels = reference.get("labels")
    if labels is not None:
        labels = _triples(labels, len(parsed), f"{name}, label", ("h", "t", "r"))
    return {"title": str(reference.get("title") or ""), "entities": parsed, "labels": labels}


def predicted_graph(prediction: Any, index: int | None = None) -> dict:
    """A predicted graph checked and reduced to what is scored: `{"id", "entities": [{"type", "mentions":
    [{"start", "end", "type"}]}], "relations": [{"head", "tail", "relation"}]}`. Raises a `ValueError` naming the
    document (position and id) and the field."""
    name = _name("prediction", index, prediction, "id")
    if not isinstance(prediction, dict):
        raise ValueError(
            f"{name}: expected a graph, a dict with 'entities' and 'relations', found {type(prediction).__name__}"
        )
    entities = prediction.get("entities")
    if not isinstance(entities, list):
        raise ValueError(f"{name}: 'entities' must be a list of entities, found {entities!r}")
    parsed = []
    for e, entity in enumerate(entities):
        where = f"{name}, entity {e}"
        if not isinstance(entity, dict):
            raise ValueError(f"{where}: expected a dict with 'type' and 'mentions', found {entity!r}")
        entity_type = _type(entity.get("type"), f"{where} 'type'")
        mentions = entity.get("mentions") if "mentions" in entity else entity.get("spans")
        if not isinstance(mentions, list) or not mentions:
            raise ValueError(
                f"{where}: expected a non-empty 'mentions' list of {{'start', 'end'}} (or 'spans' of "
                f"[start, end]), found {mentions!r}"
            )
        parsed_mentions = []
        for m, mention in enumerate(mentions):
            start, end = _span(mention, f"{where} mention {m}")
            own = mention.get("type") if isinstance(mention, dict) else None
            mention_type = entity_type if own is None else _type(own, f"{where} mention {m} 'type'")
            parsed_mentions.append({"start": start, "end": end, "type": mention_type})
        parsed.append({"type": entity_type, "mentions": parsed_mentions})
    relations = _triples(
        prediction.get("relations", []), len(parsed), f"{name}, relation", ("head", "tail", "relation")
    )
    return {"id": str(prediction.get("id") or ""), "entities": parsed, "relations": relations}


class _Entity:
    """One entity of a document as scored: its set of mention spans, each mention's type, its own type, and its
    `key` (spans and type: what makes two entities the same)."""

    __slots__ = ("spans", "mention_types", "type", "key")

    def __init__(self, spans: list[list[int]], mention_types: list[str], entity_type: str):
        pairs = [(tuple(span), mention_type) for span, mention_type in zip(spans, mention_types, strict=True)]
        self.spans: frozenset[Span] = frozenset(span for span, _ in pairs)
        self.mention_types = dict(pairs)
        self.type = entity_type
        self.key: tuple[frozenset[Span], str] = (self.spans, entity_type)


def _max_matching(candidates: dict[Hashable, list[Hashable]]) -> int:
    """The size of a maximum matching of a bipartite graph given as left node -> right nodes (Kuhn's augmenting
    paths; documents hold tens of facts, so the simple algorithm is enough)."""
    owner: dict[Hashable, Hashable] = {}

    def augment(left: Hashable, seen: set) -> bool:
        for right in candidates[left]:
            if right in seen:
                continue
            seen.add(right)
            if right not in owner or augment(owner[right], seen):
                owner[right] = left
                return True
        return False

    return sum(augment(left, set()) for left in candidates)


class _Tally:
    def __init__(self) -> None:
        self.counts = {figure: [0, 0, 0] for figure in FIGURES}  # predicted, gold, correct
        self.errors: Counter[str] = Counter({cause: 0 for cause in ERROR_CAUSES})
        self.spurious: Counter[str] = Counter({"spurious_entities": 0, "spurious_relation": 0})

    def add(self, figure: str, predicted: int, gold: int, correct: int) -> None:
        counts = self.counts[figure]
        counts[0] += predicted
        counts[1] += gold
        counts[2] += correct


def _count_set(tally: _Tally, figure: str, predicted: set, gold: set) -> None:
    tally.add(figure, len(predicted), len(gold), len(predicted & gold))


def _score_document(tally: _Tally, gold_doc: dict, graph: dict) -> None:
    gold = [_Entity(e["spans"], e["mention_types"], e["type"]) for e in gold_doc["entities"]]
    pred = [
        _Entity(
            [[m["start"], m["end"]] for m in e["mentions"]], [m["type"] for m in e["mentions"]], e["type"]
        )
        for e in graph["entities"]
    ]
    gold_mentions = {(s, e.mention_types[s]) for e in gold for s in e.spans}
    pred_mentions = {(s, e.mention_types[s]) for e in pred for s in e.spans}
    _count_set(tally, "mention", pred_mentions, gold_mentions)
    _count_set(tally, "mention_span", {s for s, _ in pred_mentions}, {s for s, _ in gold_mentions})
    _count_set(tally, "entity", {e.key for e in pred}, {e.key for e in gold})
    _count_set(tally, "entity_untyped", {e.spans for e in pred}, {e.spans for e in gold})
    if gold_doc["labels"] is None:
        return

    labels = {(label["h"], label["t"], label["r"]) for label in gold_doc["labels"]}
    relations = {(rel["head"], rel["tail"], rel["relation"]) for rel in graph["relations"]}
    gold_keys, pred_keys = {e.key for e in gold}, {e.key for e in pred}
    gold_facts = {(gold[h].key, gold[t].key, r) for h, t, r in labels}
    pred_facts = {(pred[h].key, pred[t].key, r) for h, t, r in relations}
    _count_set(tally, "relation_strict", pred_facts, gold_facts)
    for head, tail, _ in pred_facts - gold_facts:
        spurious = "spurious_relation" if head in gold_keys and tail in gold_keys else "spurious_entities"
        tally.spurious[spurious] += 1

    # relaxed: a prediction may stand for a gold fact when each side shares a mention span with the gold side
    # (repeated entities count once, as in the strict figure: triples keyed by their entities' keys)
    unique_relations = {
        (pred[h].key, pred[t].key, r): (h, t, r) for h, t, r in sorted(relations, reverse=True)
    }
    unique_labels = {(gold[h].key, gold[t].key, r): (h, t, r) for h, t, r in sorted(labels, reverse=True)}
    labels_of_relation: dict[str, list] = {}
    for gold_key, (gh, gt, gr) in unique_labels.items():
        labels_of_relation.setdefault(gr, []).append((gold_key, gh, gt))
    candidates = {
        key: [
            gold_key
            for gold_key, gh, gt in labels_of_relation.get(r, ())
            if pred[h].spans & gold[gh].spans and pred[t].spans & gold[gt].spans
        ]
        for key, (h, t, r) in unique_relations.items()
    }
    tally.add("relation_relaxed", len(unique_relations), len(unique_labels), _max_matching(candidates))

    # where the gold facts that strict scoring misses are lost
    found_spans = {s for e in pred for s in e.spans}
    pred_span_sets = {e.spans for e in pred}
    predicted_pairs = {(head, tail) for head, tail, _ in pred_facts}
    for head, tail, _ in gold_facts - pred_facts:
        if not (head[0] | tail[0]) <= found_spans:
            cause = "missed_mentions"
        elif head[0] not in pred_span_sets or tail[0] not in pred_span_sets:
            cause = "wrong_grouping"
        elif head not in pred_keys or tail not in pred_keys:
            cause = "wrong_type"
        elif (head, tail) in predicted_pairs:
            cause = "wrong_relation"
        else:
            cause = "missed_relation"
        tally.errors[cause] += 1


def score_end_to_end(predictions: Sequence[Any], references: Sequence[Any]) -> dict[str, Any]:
    """Mention, entity and relation precision, recall and F1 of predicted graphs against gold documents (see the
    module docstring for the formats and the definitions).

    Args:
        predictions: one graph per document, `{"entities": [...], "relations": [...]}`.
        references: the gold documents in the text form with spans, aligned with `predictions`.
    Returns:
        `{figure: {"precision", "recall", "f1", "n_pred", "n_gold", "n_correct"}}` for each of `FIGURES`, plus
        `errors` (the gold facts strict scoring misses, by cause, with `spurious_entities` and
        `spurious_relation` for the wrong predictions; None when unlabelled), `n_documents` and `gold_labelled`.
    Raises:
        ValueError: the lengths differ, or a document is malformed (the message names the document and the
            field), or some gold documents have labels and others not.
    """
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predictions for {len(references)} gold documents: give one prediction per "
            "gold document, in the same order"
        )
    golds = [gold_document(reference, index) for index, reference in enumerate(references)]
    graphs = [predicted_graph(prediction, index) for index, prediction in enumerate(predictions)]
    unlabelled = [
        _name("gold document", index, gold, "title")
        for index, gold in enumerate(golds)
        if gold["labels"] is None
    ]
    labelled = len(unlabelled) < len(golds)
    if labelled and unlabelled:
        shown = ", ".join(unlabelled[:10]) + (
            f" and {len(unlabelled) - 10} more" if len(unlabelled) > 10 else ""
        )
        raise ValueError(
            f"some gold documents have 'labels' and others not ({shown}): relation scores need labels in every "
            "document or in none"
        )
    tally = _Tally()
    for gold, graph in zip(golds, graphs, strict=True):
        _score_document(tally, gold, graph)
    result: dict[str, Any] = {}
    for figure in FIGURES:
        if figure.startswith("relation") and not labelled:
            n_pred = sum(len({(r["head"], r["tail"], r["relation"]) for r in g["relations"]}) for g in graphs)
            result[figure] = {
                **dict.fromkeys(("precision", "recall", "f1", "n_gold", "n_correct")),
                "n_pred": n_pred,
            }
        else:
            result[figure] = prf(*tally.counts[figure])
    result["errors"] = {**tally.errors, **tally.spurious} if labelled else None
    result["n_documents"] = len(golds)
    result["gold_labelled"] = labelled
    return result


def summary_line(scores: dict[str, Any]) -> str:
    """One line of F1 figures in percent, e.g. for a log: `mention 91.20 | entity 80.05 | relation strict ...`."""

    def percent(figure: str) -> str:
        f1 = scores[figure]["f1"]
        return "n/a" if f1 is None else f"{100 * f1:.2f}"

    return (
        f"mention F1 {percent('mention')} (span {percent('mention_span')}) | entity F1 {percent('entity')} "
        f"(untyped {percent('entity_untyped')}) | relation F1 strict {percent('relation_strict')}, "
        f"relaxed {percent('relation_relaxed')}"
    )
