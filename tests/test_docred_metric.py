"""Tests of the official DocRED scorer (docred_metric.py) and its `evaluate` module (metrics/docred_re)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from docred_data import LabelSet, load_documents
from docred_metric import score_docred, score_predictions_file
from tests.helpers import (
    DOCRED_META,
    FULL_REDOCRED_DEV,
    FULL_REDOCRED_TEST,
    needs_shared_data,
    run_offline_script,
)

REPO = Path(__file__).resolve().parents[1]


def mention(name: str, sent_id: int) -> dict:
    return {"name": name, "sent_id": sent_id, "pos": [0, 1], "type": "X"}


def label(h: int, t: int, r: str) -> dict:
    return {"h": h, "t": t, "r": r, "evidence": []}


SENTS = [["w"], ["w"], ["w"]]
GOLD = [
    {
        "title": "A",
        "sents": SENTS,
        "vertexSet": [
            [mention("Paris", 0)],
            [mention("France", 0), mention("French Republic", 1)],
            [mention("Seine", 2)],
        ],
        # (0, 1) is intra-sentence (both in sentence 0); (2, 1) and (0, 2) are inter-sentence.
        "labels": [label(0, 1, "P17"), label(2, 1, "P17"), label(0, 2, "P206")],
    },
    {
        "title": "B",
        "sents": SENTS,
        "vertexSet": [[mention("Curie", 0)], [mention("Warsaw", 1)]],
        "labels": [label(0, 1, "P19"), label(1, 0, "NR")],  # "NR" is an explicit negative, not a relation
    },
]
TRAIN = [
    {
        "title": "T1",
        "sents": SENTS,
        "vertexSet": [
            [mention("Paris", 0)],
            [mention("France", 0)],
            [mention("Curie", 1)],
            [mention("Warsaw", 1)],
        ],
        "labels": [label(0, 1, "P17"), label(2, 3, "P27")],
    },
    {
        "title": "T2",
        "sents": SENTS,
        "vertexSet": [[mention("Seine", 0)], [mention("French Republic", 0)]],
        "labels": [label(0, 1, "P17")],
    },
]
PREDICTIONS = [
    {"title": "A", "h_idx": 0, "t_idx": 1, "r": "P17"},  # 1 correct; in train via (Paris, France, P17)
    {"title": "A", "h_idx": 0, "t_idx": 1, "r": "P17"},  # duplicate of 1: counted once
    {"title": "A", "h_idx": 2, "t_idx": 1, "r": "P17"},  # 2 correct; in train via its 2nd tail mention name
    {"title": "A", "h_idx": 0, "t_idx": 2, "r": "P17"},  # 3 wrong relation
    # 4 correct, not in train: (Curie, Warsaw) is in train with P27 only.
    {"title": "B", "h_idx": 0, "t_idx": 1, "r": "P19"},
    {"title": "C", "h_idx": 0, "t_idx": 1, "r": "P17"},  # 5 wrong: title not in gold
    {"title": "B", "h_idx": 1, "t_idx": 0, "r": "NR"},  # "no relation": set aside
    {"title": "A", "h_idx": 0, "t_idx": 1, "r": "P17", "score": 0.9},  # duplicate of 1 with an extra key
]


def test_hand_built_predictions():
    result = score_docred(PREDICTIONS, GOLD, TRAIN, n_frequent=1)
    # 5 unique predictions (1-5), 4 gold facts, 3 correct (1, 2, 4).
    assert (result["n_pred"], result["n_gold"], result["n_correct"]) == (5, 4, 3)
    set_aside = (result["n_pred_input"], result["n_pred_duplicates"], result["n_pred_no_relation_ignored"])
    assert set_aside == (8, 2, 1)
    assert result["n_pred_unknown_title"] == 1
    assert result["precision"] == pytest.approx(3 / 5)
    assert result["recall"] == pytest.approx(3 / 4)
    assert result["f1"] == pytest.approx(2 / 3)  # 2 * 0.6 * 0.75 / 1.35
    # Ign: 2 correct predictions are in train -> (3 - 2) / (5 - 2) = 1/3; recall stays 3/4;
    # ign_f1 = 2 * 1/3 * 3/4 / (1/3 + 3/4) = (1/2) / (13/12) = 6/13.
    assert result["n_correct_in_train"] == 2
    assert result["ign_precision"] == pytest.approx(1 / 3)
    assert result["ign_f1"] == pytest.approx(6 / 13)
    # Intra: gold {A(0,1)}, predicted {1}. Inter: gold {A(2,1), A(0,2), B(0,1)}, predicted {2, 3, 4}, 2 correct.
    # Prediction 5 (unknown title) has no sentence category.
    assert (result["intra"]["n_pred"], result["intra"]["n_gold"], result["intra"]["n_correct"]) == (1, 1, 1)
    assert (result["inter"]["n_pred"], result["inter"]["n_gold"], result["inter"]["n_correct"]) == (3, 3, 2)
    assert result["inter"]["f1"] == pytest.approx(2 / 3)
    # Frequent = the top-1 training relation, P17 (2 labels against 1 for P27): predictions 1, 2, 3, 5.
    assert result["frequent_relations"] == ["P17"] and result["frequent_relations_source"] == "train"
    assert (result["frequent"]["precision"], result["frequent"]["recall"]) == (0.5, 1.0)
    long_tail, p17 = result["long_tail"], result["per_relation"]["P17"]
    assert (long_tail["n_pred"], long_tail["n_gold"], long_tail["n_correct"]) == (1, 2, 1)
    assert (p17["n_pred"], p17["support"], p17["n_correct"]) == (4, 2, 2)
    per_relation = result["per_relation"]
    assert per_relation["P206"]["recall"] == 0.0 and per_relation["P19"]["f1"] == 1.0


def test_hand_built_diagnostics():
    diagnostics = score_docred(PREDICTIONS, GOLD, TRAIN, diagnostics=True)["diagnostics"]
    assert diagnostics["note"].startswith("NOT the official")
    # 8 candidate pairs (6 in A, 2 in B); 4 hold relations and 4 are "no relation" in gold and prediction.
    # Gold decisions 8; predicted 8 + 1 for the unknown title; correct 3 relations + 4 no-relation pairs.
    with_class = diagnostics["micro_with_no_relation_class"]
    assert (with_class["n_pred"], with_class["n_gold"], with_class["n_correct"]) == (9, 8, 7)
    assert with_class["precision"] == pytest.approx(7 / 9)
    related = diagnostics["related_pairs_only"]
    assert (related["n_pred"], related["n_gold"], related["n_correct"]) == (4, 4, 3)


def test_without_train_docs():
    result = score_docred(PREDICTIONS, GOLD, n_frequent=1)
    assert result["ign_f1"] is None and result["n_correct_in_train"] is None
    # Without training documents the frequent relations come from the gold labels (P17 twice).
    assert result["frequent_relations"] == ["P17"] and result["frequent_relations_source"] == "gold"


def test_given_frequent_relations():
    result = score_docred(PREDICTIONS, GOLD, TRAIN, frequent=["P19", "P206"])
    assert result["frequent_relations_source"] == "given"
    assert (result["frequent"]["n_pred"], result["frequent"]["n_gold"], result["frequent"]["n_correct"]) == (
        1,
        2,
        1,
    )


def test_edge_cases():
    assert score_docred([], GOLD)["f1"] == 0.0
    invalid = score_docred([{"title": "A", "h_idx": 9, "t_idx": 1, "r": "P17"}], GOLD)
    assert invalid["n_pred_invalid_pair"] == 1 and invalid["precision"] == 0.0
    with pytest.raises(ValueError, match="prediction 0: expected a dict with title"):
        score_docred([{"title": "A", "h_idx": 0}], GOLD)
    with pytest.raises(ValueError, match=r"gold document 1 \(title 'A'\): duplicate title"):
        score_docred([], [GOLD[0], GOLD[0]])


@pytest.fixture(scope="module")
def redocred():
    label_set = LabelSet.from_dir(str(DOCRED_META))
    test = load_documents(str(FULL_REDOCRED_TEST))
    dev = load_documents(str(FULL_REDOCRED_DEV))
    return test, dev, label_set


def gold_as_predictions(docs: list[dict]) -> list[dict]:
    return [
        {"title": d["title"], "h_idx": x["h"], "t_idx": x["t"], "r": x["r"]}
        for d in docs
        for x in d["labels"]
    ]


@needs_shared_data
def test_gold_against_itself_on_redocred_test(redocred):
    test, dev, label_set = redocred
    # The dev file stands in for the training file, which is not available offline.
    result = score_docred(gold_as_predictions(test), test, dev, label_set=label_set)
    assert (result["precision"], result["recall"], result["f1"], result["ign_f1"]) == (1.0, 1.0, 1.0, 1.0)
    assert result["n_gold"] == 17448
    assert result["intra"]["n_gold"] + result["inter"]["n_gold"] == 17448
    assert result["intra"]["f1"] == result["inter"]["f1"] == result["long_tail"]["f1"] == 1.0
    assert len(result["per_relation"]) == 96


def official_like_scores(submission: list[dict], truth: list[dict], train: list[dict]) -> tuple[float, ...]:
    """A direct transcription of the published algorithm: sort, drop adjacent duplicates, then one loop."""
    fact_in_train = set()
    for doc in train:
        for x in doc["labels"]:
            for n1 in doc["vertexSet"][x["h"]]:
                for n2 in doc["vertexSet"][x["t"]]:
                    fact_in_train.add((n1["name"], n2["name"], x["r"]))
    std, title2vertex = {}, {}
    for doc in truth:
        title2vertex[doc["title"]] = doc["vertexSet"]
        for x in doc["labels"]:
            std[(doc["title"], x["r"], x["h"], x["t"])] = True
    key = lambda x: (x["title"], x["h_idx"], x["t_idx"], x["r"])  # noqa: E731
    ordered = sorted(submission, key=key)
    answers = [x for i, x in enumerate(ordered) if i == 0 or key(x) != key(ordered[i - 1])]
    correct = correct_in_train = 0
    for x in answers:
        if x["title"] not in title2vertex:
            continue
        vertex_set = title2vertex[x["title"]]
        if (x["title"], x["r"], x["h_idx"], x["t_idx"]) in std:
            correct += 1
            if any(
                (n1["name"], n2["name"], x["r"]) in fact_in_train
                for n1 in vertex_set[x["h_idx"]]
                for n2 in vertex_set[x["t_idx"]]
            ):
                correct_in_train += 1
    p = correct / len(answers)
    r = correct / len(std)
    f1 = 2 * p * r / (p + r)
    ign_p = (correct - correct_in_train) / (len(answers) - correct_in_train)
    return p, r, f1, 2 * ign_p * r / (ign_p + r)


@needs_shared_data
def test_matches_a_direct_transcription_on_perturbed_gold(redocred):
    test, dev, label_set = redocred
    rng = random.Random(0)
    relations = label_set.relations
    predictions = []
    for x in gold_as_predictions(test):
        if rng.random() < 0.25:
            continue  # a missed fact
        predictions.append(x)
        if rng.random() < 0.1:
            predictions.append(dict(x, score=0.5))  # a duplicate
        if rng.random() < 0.2:
            predictions.append(dict(x, r=rng.choice(relations)))  # a wrong (or, by chance, right) relation
    for doc in rng.sample(test, 50):
        n = len(doc["vertexSet"])
        for _ in range(10):
            h, t = rng.sample(range(n), 2)
            predictions.append({"title": doc["title"], "h_idx": h, "t_idx": t, "r": rng.choice(relations)})
    predictions += [{"title": "no such title", "h_idx": 0, "t_idx": 1, "r": "P17"}] * 3
    rng.shuffle(predictions)
    result = score_docred(predictions, test, dev)
    expected = official_like_scores(predictions, test, dev)
    assert (result["precision"], result["recall"], result["f1"], result["ign_f1"]) == pytest.approx(
        expected, abs=1e-12
    )
    assert 0.6 < result["f1"] < 0.95 and result["n_correct_in_train"] > 0


def test_score_predictions_file(tmp_path):
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps(GOLD))
    train = tmp_path / "train.json"
    train.write_text(json.dumps(TRAIN))
    predictions = tmp_path / "result.json"
    predictions.write_text(json.dumps(PREDICTIONS))
    result = score_predictions_file(str(predictions), str(gold), str(train))
    assert result["f1"] == pytest.approx(2 / 3) and result["ign_f1"] == pytest.approx(6 / 13)
    predictions.write_text("{}")
    with pytest.raises(ValueError, match=r"result\.json: expected a JSON list of predictions"):
        score_predictions_file(str(predictions), str(gold))


def test_evaluate_module_loads_from_another_directory(tmp_path):
    # A fresh interpreter outside the repository, with the repository not importable: the module must bring
    # its own copy of the scorer. `evaluate` only reads local files here (the Hub is unreachable).
    script = f"""
import json, evaluate
metric = evaluate.load({str(REPO / "metrics" / "docred_re")!r})
gold = json.loads(open("gold.json").read())
train = json.loads(open("train.json").read())
by_title = {{doc["title"]: [] for doc in gold}}
for x in json.loads(open("predictions.json").read()):
    if x["title"] in by_title:
        by_title[x["title"]].append({{"h_idx": x["h_idx"], "t_idx": x["t_idx"], "r": x["r"]}})
result = metric.compute(predictions=[by_title[d["title"]] for d in gold], references=gold, train_docs=train)
print(json.dumps({{k: result[k] for k in ("n_pred", "n_gold", "n_correct", "f1", "ign_f1")}}))
"""
    (tmp_path / "gold.json").write_text(json.dumps(GOLD))
    (tmp_path / "train.json").write_text(json.dumps(TRAIN))
    (tmp_path / "predictions.json").write_text(json.dumps(PREDICTIONS))
    result = run_offline_script(script, tmp_path)
    # The prediction for the unknown title "C" cannot be given to the module (it has no reference document).
    assert (result["n_pred"], result["n_gold"], result["n_correct"]) == (4, 4, 3)
    assert result["f1"] == pytest.approx(2 * 0.75 * 0.75 / 1.5)
    assert result["ign_f1"] == pytest.approx(2 * 0.5 * 0.75 / 1.25)  # (3 - 2) / (4 - 2) = 0.5
