"""Tests of the end-to-end metric (metrics/docred_end_to_end): every figure on small invented documents whose
values are worked out by hand in the comments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from end_to_end_metric import score_end_to_end
from tests.helpers import run_offline_script

REPO = Path(__file__).resolve().parents[1]


def gold_entity(entity_type: str, *spans: tuple[int, int], mention_types: list[str] | None = None) -> dict:
    entity = {"name": "x", "type": entity_type, "spans": [list(span) for span in spans]}
    if mention_types is not None:
        entity["mention_types"] = mention_types
    return entity


def predicted_entity(entity_type: str, *spans: tuple[int, int]) -> dict:
    return {
        "name": "x",
        "type": entity_type,
        "mentions": [{"text": "x", "start": start, "end": end, "sent_id": 0} for start, end in spans],
    }


def label(h: int, t: int, r: str) -> dict:
    return {"h": h, "t": t, "r": r, "evidence": []}


def relation(head: int, tail: int, r: str) -> dict:
    return {"head": head, "tail": tail, "relation": r, "score": 0.9}


# Document A. Gold: G0 PER {0-5, 20-25}, G1 LOC {10-15}, G2 ORG {30-35, 40-45}, G3 LOC {50-55};
# facts (G0,G1,P19) (G2,G3,P17) (G0,G2,P108) (G3,G1,P131) (G0,G3,P551).
GOLD_A = {
    "title": "A",
    "entities": [
        gold_entity("PER", (0, 5), (20, 25)),
        gold_entity("LOC", (10, 15)),
        gold_entity("ORG", (30, 35), (40, 45)),
        gold_entity("LOC", (50, 55)),
    ],
    "labels": [
        label(0, 1, "P19"),
        label(2, 3, "P17"),
        label(0, 2, "P108"),
        label(3, 1, "P131"),
        label(0, 3, "P551"),
    ],
}
# Predicted: P0 = G0 exactly; P1 has G1's span but type ORG; P2 and P3 split G2 in two; P4 = G3 exactly;
# P5 PER {60-65} is no gold mention.
PRED_A = {
    "id": "a",
    "entities": [
        predicted_entity("PER", (0, 5), (20, 25)),
        predicted_entity("ORG", (10, 15)),
        predicted_entity("ORG", (30, 35)),
        predicted_entity("ORG", (40, 45)),
        predicted_entity("LOC", (50, 55)),
        predicted_entity("PER", (60, 65)),
    ],
    "relations": [
        relation(0, 1, "P19"),  # relaxed = (G0,G1,P19); strict wrong: P1's type
        relation(2, 4, "P17"),  # relaxed = (G2,G3,P17); strict wrong: P2 is half of G2
        relation(3, 4, "P17"),  # relaxed could also be (G2,G3,P17), which P2's triple already took
        relation(0, 4, "P27"),  # both entities right, relation not gold
        relation(0, 4, "P551"),  # the one strictly right triple
        relation(5, 0, "P3"),  # spurious head entity
    ],
}

# Document B. Gold: G0 PER {0-4}, G1 LOC {10-14, 30-34}, G2 ORG {20-24}, G3 MISC {40-44};
# facts (G0,G1,P19) (G0,G2,P108) (G3,G0,P50).
GOLD_B = {
    "title": "B",
    "entities": [
        gold_entity("PER", (0, 4)),
        gold_entity("LOC", (10, 14), (30, 34)),
        gold_entity("ORG", (20, 24)),
        gold_entity("MISC", (40, 44)),
    ],
    "labels": [label(0, 1, "P19"), label(0, 2, "P108"), label(3, 0, "P50")],
}
# Predicted: every entity right except G1, whose mention 30-34 was missed; one triple, (G0,G2) with a wrong relation.
PRED_B = {
    "entities": [
        predicted_entity("PER", (0, 4)),
        predicted_entity("LOC", (10, 14)),
        predicted_entity("ORG", (20, 24)),
        predicted_entity("MISC", (40, 44)),
    ],
    "relations": [relation(0, 2, "P27")],
}


def figures(scores: dict, figure: str) -> tuple:
    s = scores[figure]
    return (s["n_pred"], s["n_gold"], s["n_correct"], s["precision"], s["recall"], s["f1"])


def test_mention_figures_with_and_without_type():
    scores = score_end_to_end([PRED_A], [GOLD_A])
    # typed: predicted (0-5 PER)(20-25 PER)(10-15 ORG)(30-35 ORG)(40-45 ORG)(50-55 LOC)(60-65 PER) = 7, gold 6;
    # right: all but 10-15 (gold says LOC) and 60-65 = 5. P 5/7, R 5/6, F1 2*5/(7+6) = 10/13
    assert figures(scores, "mention") == pytest.approx((7, 6, 5, 5 / 7, 5 / 6, 10 / 13))
    # span only: 10-15 is now right: 6 of 7 predicted, all 6 gold found. P 6/7, R 1, F1 12/13
    assert figures(scores, "mention_span") == pytest.approx((7, 6, 6, 6 / 7, 1.0, 12 / 13))


def test_a_mention_type_of_its_own_is_scored_before_the_entity_type():
    # gold entity PER whose second mention is typed MISC; the prediction types both mentions PER
    gold = {"entities": [gold_entity("PER", (0, 3), (5, 8), mention_types=["PER", "MISC"])], "labels": []}
    pred = {"entities": [predicted_entity("PER", (0, 3), (5, 8))], "relations": []}
    scores = score_end_to_end([pred], [gold])
    assert figures(scores, "mention") == pytest.approx((2, 2, 1, 0.5, 0.5, 0.5))
    # the entity is right: same spans, same entity type
    assert figures(scores, "entity") == pytest.approx((1, 1, 1, 1.0, 1.0, 1.0))


def test_entity_figures_need_the_exact_mention_set():
    scores = score_end_to_end([PRED_A], [GOLD_A])
    # typed: 6 predicted, 4 gold; right: P0 (=G0) and P4 (=G3). P 2/6, R 2/4, F1 2*2/(6+4) = 0.4
    assert figures(scores, "entity") == pytest.approx((6, 4, 2, 1 / 3, 0.5, 0.4))
    # untyped: P1's span set {10-15} is G1's: 3 right. P 3/6, R 3/4, F1 2*3/(6+4) = 0.6
    assert figures(scores, "entity_untyped") == pytest.approx((6, 4, 3, 0.5, 0.75, 0.6))


def test_relation_strict_needs_both_entities_exactly_right():
    scores = score_end_to_end([PRED_A], [GOLD_A])
    # 6 distinct predicted triples, 5 gold facts, only (P0,P4,P551) = (G0,G3,P551) right.
    # P 1/6, R 1/5, F1 2*1/(6+5) = 2/11
    assert figures(scores, "relation_strict") == pytest.approx((6, 5, 1, 1 / 6, 1 / 5, 2 / 11))


def test_relation_relaxed_matches_each_gold_fact_once():
    scores = score_end_to_end([PRED_A], [GOLD_A])
    # (P0,P1,P19) -> (G0,G1,P19); (P2,P4,P17) or (P3,P4,P17) -> (G2,G3,P17), only one of them;
    # (P0,P4,P551) -> (G0,G3,P551): 3 right of 6, 3 of 5 found. P 1/2, R 3/5, F1 2*3/(6+5) = 6/11
    assert figures(scores, "relation_relaxed") == pytest.approx((6, 5, 3, 0.5, 0.6, 6 / 11))


def test_relation_relaxed_is_a_maximum_matching_whatever_the_order():
    # gold facts X = (G0,G1,r) and Y = (G0,G2,r). Predicted P1 merges G1 and G2, so (P0,P1,r) could stand for X
    # or Y; (P0,P2,r) only for X. Taking X for the first would leave the second unmatched (1 right); the best
    # assignment gives both: 2 of 2.
    gold = {
        "entities": [gold_entity("PER", (0, 2)), gold_entity("LOC", (10, 12)), gold_entity("LOC", (20, 22))],
        "labels": [label(0, 1, "r"), label(0, 2, "r")],
    }
    entities = [predicted_entity("PER", (0, 2)), predicted_entity("LOC", (10, 12), (20, 22))]
    entities.append(predicted_entity("LOC", (10, 12)))
    for order in ([relation(0, 1, "r"), relation(0, 2, "r")], [relation(0, 2, "r"), relation(0, 1, "r")]):
        scores = score_end_to_end([{"entities": entities, "relations": order}], [gold])
        assert figures(scores, "relation_relaxed") == pytest.approx((2, 2, 2, 1.0, 1.0, 1.0))
        # strict: P1 is no gold entity, P2 = G1 and P0 = G0: (P0,P2,r) = X is right. P 1/2, R 1/2
        assert figures(scores, "relation_strict") == pytest.approx((2, 2, 1, 0.5, 0.5, 0.5))


def test_repeated_predictions_count_once():
    pred = {**PRED_A, "relations": PRED_A["relations"] + [relation(0, 4, "P551")]}
    scores = score_end_to_end([pred], [GOLD_A])
    assert scores["relation_strict"]["n_pred"] == 6
    assert scores["relation_relaxed"]["n_pred"] == 6


def test_a_repeated_entity_counts_once_in_both_relation_figures():
    # the prediction lists the same entity twice (P1 = P2, both G1) and the fact from each copy
    gold = {
        "entities": [gold_entity("PER", (0, 2)), gold_entity("LOC", (10, 12))],
        "labels": [label(0, 1, "r")],
    }
    entities = [
        predicted_entity("PER", (0, 2)),
        predicted_entity("LOC", (10, 12)),
        predicted_entity("LOC", (10, 12)),
    ]
    pred = {"entities": entities, "relations": [relation(0, 1, "r"), relation(0, 2, "r")]}
    scores = score_end_to_end([pred], [gold])
    # one distinct triple (G0, G1, r), right: P 1, R 1 in both
    assert figures(scores, "relation_strict") == pytest.approx((1, 1, 1, 1.0, 1.0, 1.0))
    assert figures(scores, "relation_relaxed") == pytest.approx((1, 1, 1, 1.0, 1.0, 1.0))


def test_figures_are_micro_averaged_over_documents():
    scores = score_end_to_end([PRED_A, PRED_B], [GOLD_A, GOLD_B])
    assert scores["n_documents"] == 2 and scores["gold_labelled"]
    # B: gold mentions 0-4, 10-14, 30-34, 20-24, 40-44 (5), predicted 4, all right.
    # typed: (7+4) predicted, (6+5) gold, (5+4) right: 9/11 each
    assert figures(scores, "mention") == pytest.approx((11, 11, 9, 9 / 11, 9 / 11, 9 / 11))
    # span: (6+4) right: 10/11
    assert figures(scores, "mention_span") == pytest.approx((11, 11, 10, 10 / 11, 10 / 11, 10 / 11))
    # B: G0, G2, G3 right, G1 not (a mention missed): entity (6+4) predicted, (4+4) gold, (2+3) right.
    # P 5/10, R 5/8, F1 2*5/(10+8) = 5/9
    assert figures(scores, "entity") == pytest.approx((10, 8, 5, 0.5, 5 / 8, 5 / 9))
    # untyped (3+3) right: P 6/10, R 6/8, F1 12/18
    assert figures(scores, "entity_untyped") == pytest.approx((10, 8, 6, 0.6, 0.75, 2 / 3))
    # B adds 1 predicted triple (wrong) and 3 gold facts: strict 1 of (6+1), 1 of (5+3). F1 2/(7+8) = 2/15
    assert figures(scores, "relation_strict") == pytest.approx((7, 8, 1, 1 / 7, 1 / 8, 2 / 15))
    # relaxed: B's triple shares spans with (G0,G2) but not its relation: 3 right. F1 2*3/15 = 0.4
    assert figures(scores, "relation_relaxed") == pytest.approx((7, 8, 3, 3 / 7, 3 / 8, 0.4))


def test_error_breakdown_says_where_each_missed_fact_is_lost():
    scores = score_end_to_end([PRED_A, PRED_B], [GOLD_A, GOLD_B])
    # A, missed facts: (G0,G1,P19): G1's span set is P1's, its type is not -> wrong_type; (G3,G1,P131) too.
    #    (G2,G3,P17) and (G0,G2,P108): G2's mentions were all found, but split over P2 and P3 -> wrong_grouping.
    # B: (G0,G1,P19): 30-34 was never detected -> missed_mentions; (G0,G2,P108): the pair has P27 only ->
    #    wrong_relation; (G3,G0,P50): nothing predicted from G3 to G0 -> missed_relation.
    # 7 causes = 8 gold facts - 1 found.
    # Wrong predictions: A's (P0,P1,P19), (P2,P4,P17), (P3,P4,P17), (P5,P0,P3) have an entity that is no gold
    # entity; A's (P0,P4,P27) and B's (P0,P2,P27) are between gold entities: 4 + 2 = 7 predicted - 1 right.
    assert scores["errors"] == {
        "missed_mentions": 1,
        "wrong_grouping": 2,
        "wrong_type": 2,
        "missed_relation": 1,
        "wrong_relation": 1,
        "spurious_entities": 4,
        "spurious_relation": 2,
    }


def test_detected_entities_with_spans_score_like_the_graph():
    # detect_entities' form: "spans" instead of "mentions"
    as_spans = [
        {"name": "x", "type": e["type"], "spans": [[m["start"], m["end"]] for m in e["mentions"]]}
        for e in PRED_A["entities"]
    ]
    assert score_end_to_end([{**PRED_A, "entities": as_spans}], [GOLD_A]) == score_end_to_end(
        [PRED_A], [GOLD_A]
    )


def test_what_measures_nothing_is_none():
    gold = {"entities": [gold_entity("PER", (0, 2))], "labels": []}
    scores = score_end_to_end([{"entities": [], "relations": []}], [gold])
    # a gold mention, no prediction: P 0, R 0, F1 0 (the model found nothing)
    assert figures(scores, "mention") == (0, 1, 0, 0.0, 0.0, 0.0)
    # no gold fact and no predicted triple: nothing to measure
    assert figures(scores, "relation_strict") == (0, 0, 0, None, None, None)
    # unlabelled gold documents: relation figures None, the predictions still counted
    unlabelled = {"title": "U", "entities": [gold_entity("PER", (0, 2)), gold_entity("LOC", (3, 4))]}
    pred = {"entities": [predicted_entity("PER", (0, 2)), predicted_entity("LOC", (3, 4))]}
    pred["relations"] = [relation(0, 1, "P17")]
    scores = score_end_to_end([pred], [unlabelled])
    assert not scores["gold_labelled"] and scores["errors"] is None
    assert figures(scores, "relation_strict") == (1, None, None, None, None, None)
    assert scores["entity"]["f1"] == 1.0


@pytest.mark.parametrize(
    ("prediction", "reference", "message"),
    [
        (PRED_A, {**GOLD_A, "entities": None}, r"gold document 0 \(title 'A'\): 'entities' must be a list"),
        (
            PRED_A,
            {**GOLD_A, "entities": [gold_entity("PER", (5, 5))]},
            r"gold document 0 \(title 'A'\), entity 0 span 0: expected integer offsets with 0 <= start < end",
        ),
        (
            PRED_A,
            {**GOLD_A, "entities": [gold_entity("PER", (0, 5), mention_types=["PER", "PER"])], "labels": []},
            r"gold document 0 \(title 'A'\), entity 0: 'mention_types' must be a list with one type per span",
        ),
        (
            PRED_A,
            {**GOLD_A, "labels": [label(0, 9, "P17")]},
            r"gold document 0 \(title 'A'\), label 0: t=9 is not an entity index \(the document has 4 entities\)",
        ),
        (
            {**PRED_A, "relations": [relation(0, 6, "P17")]},
            GOLD_A,
            r"prediction 0 \(id 'a'\), relation 0: tail=6 is not an entity index \(the document has 6 entities\)",
        ),
        (
            {**PRED_A, "entities": [{"type": "PER", "mentions": [{"start": 3}]}], "relations": []},
            GOLD_A,
            r"prediction 0 \(id 'a'\), entity 0 mention 0: expected a mention with 'start' and 'end'",
        ),
        (
            {**PRED_A, "entities": [{"type": None, "mentions": [{"start": 3, "end": 4}]}]},
            GOLD_A,
            r"prediction 0 \(id 'a'\), entity 0 'type': expected a type \(a string\), found None",
        ),
        ([], GOLD_A, r"prediction 0: expected a graph, a dict with 'entities' and 'relations', found list"),
    ],
)
def test_malformed_input_names_the_document_and_the_field(prediction, reference, message):
    with pytest.raises(ValueError, match=message):
        score_end_to_end([prediction], [reference])


def test_labels_in_some_documents_only_and_misaligned_lists_are_errors():
    unlabelled = {key: value for key, value in GOLD_B.items() if key != "labels"}
    with pytest.raises(
        ValueError, match=r"some gold documents have 'labels' and others not \(gold document 1 "
    ):
        score_end_to_end([PRED_A, PRED_B], [GOLD_A, unlabelled])
    with pytest.raises(ValueError, match="1 predictions for 2 gold documents"):
        score_end_to_end([PRED_A], [GOLD_A, GOLD_B])


def test_evaluate_module_loads_from_another_directory_and_agrees(tmp_path):
    # A fresh interpreter outside the repository, the repository not importable: the module brings its scorer.
    script = f"""
import json, evaluate
metric = evaluate.load({str(REPO / "metrics" / "docred_end_to_end")!r})
data = json.loads(open("data.json").read())
result = metric.compute(predictions=data["predictions"], references=data["references"])
try:
    metric.compute(predictions=data["predictions"][:1], references=[{{"title": "Z", "entities": 3}}])
except ValueError as error:
    result["error"] = str(error)
print(json.dumps(result))
"""
    (tmp_path / "data.json").write_text(
        json.dumps({"predictions": [PRED_A, PRED_B], "references": [GOLD_A, GOLD_B]})
    )
    result = run_offline_script(script, tmp_path)
    expected = score_end_to_end([PRED_A, PRED_B], [GOLD_A, GOLD_B])
    assert result.pop("error").startswith("gold document 0 (title 'Z'): 'entities' must be a list")
    assert result.keys() == expected.keys()
    for key, value in expected.items():
        assert result[key] == (pytest.approx(value) if isinstance(value, dict) else value), key
