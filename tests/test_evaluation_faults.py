"""Figures that mean nothing are n/a, never 0.00 (issue "Never silently wrong", kind 2), in the scorer
(docred_metric.py), evaluate_model.py and the `evaluate` module (metrics/docred_re).

The inputs are copies of the small fault cases (test-without-labels.json, ign-train-equals-eval.*,
metric-module-inputs.json), so the tests do not need them on disk.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import evaluate_model
from docred_metric import (
    gold_is_labelled,
    load_gold_documents,
    precision_recall_f1,
    score_docred,
    score_predictions_file,
)
from tests.helpers import run_offline_script

REPO = Path(__file__).resolve().parents[1]

SENTS = [
    ["Paris", "is", "the", "capital", "of", "France", "."],
    ["Marie", "Curie", "was", "born", "in", "Warsaw", ",", "Poland", "."],
]
VERTEX_SET = [
    [{"name": "Paris", "sent_id": 0, "pos": [0, 1], "type": "LOC"}],
    [{"name": "France", "sent_id": 0, "pos": [5, 6], "type": "LOC"}],
    [{"name": "Marie Curie", "sent_id": 1, "pos": [0, 2], "type": "PER"}],
    [{"name": "Warsaw", "sent_id": 1, "pos": [5, 6], "type": "LOC"}],
    [{"name": "Poland", "sent_id": 1, "pos": [7, 8], "type": "LOC"}],
]
# test-without-labels.json: two documents, neither with a `labels` key
UNLABELLED = [{"title": f"Unlabelled {i}", "sents": SENTS, "vertexSet": VERTEX_SET} for i in range(2)]
# ign-train-equals-eval.gold.json and .predictions.json: every gold fact predicted, both intra-sentence
EVAL_LABELS = [{"h": 0, "t": 1, "r": "P17", "evidence": [0]}, {"h": 3, "t": 4, "r": "P17", "evidence": [1]}]
EVAL = [
    {"title": f"Eval doc {i}", "sents": SENTS, "vertexSet": VERTEX_SET, "labels": EVAL_LABELS}
    for i in range(2)
]
EVAL_PREDICTIONS = [
    {"title": f"Eval doc {i}", "h_idx": h, "t_idx": t, "r": "P17"}
    for i in range(2)
    for h, t in ((0, 1), (3, 4))
]


def write_json(path: Path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


# ---- precision, recall and F1 that measure nothing ------------------------------------------------------------


def test_precision_recall_f1_rule():
    assert precision_recall_f1(0, 0, 0) == (None, None, None)  # nothing to find, nothing predicted
    assert precision_recall_f1(0, 3, 0) == (0.0, None, None)  # predictions but no gold: only precision
    assert precision_recall_f1(0, 0, 4) == (0.0, 0.0, 0.0)  # gold but nothing predicted: found nothing
    assert precision_recall_f1(2, 4, 2) == (0.5, 1.0, pytest.approx(2 / 3))


def test_breakdown_groups_without_gold_facts_are_na():
    # Every document is one sentence: no pair can be inter-sentence.
    one_sentence = {
        "title": "One sentence",
        "sents": [SENTS[0]],
        "vertexSet": VERTEX_SET[:2],
        "labels": [{"h": 0, "t": 1, "r": "P17", "evidence": [0]}],
    }

    class Labels:  # a label set with a relation that neither the gold nor the predictions use
        relations = ["P17", "P131", "P36"]

        def name(self, r):
            return r

    predictions = [
        {"title": "One sentence", "h_idx": 0, "t_idx": 1, "r": "P17"},
        {"title": "One sentence", "h_idx": 1, "t_idx": 0, "r": "P131"},
    ]
    result = score_docred(predictions, [one_sentence], label_set=Labels(), frequent=["P17"])
    inter = result["inter"]
    assert (inter["precision"], inter["recall"], inter["f1"], inter["n_gold"], inter["n_pred"]) == (
        None,
        None,
        None,
        0,
        0,
    )
    assert any("inter-sentence figures are n/a" in warning for warning in result["warnings"])
    assert result["intra"]["f1"] == pytest.approx(2 / 3)
    # P131: predicted, never gold -> precision 0 is real, recall and F1 are undefined
    p131 = result["per_relation"]["P131"]
    assert (p131["precision"], p131["recall"], p131["f1"]) == (0.0, None, None)
    assert result["long_tail"]["precision"] == 0.0 and result["long_tail"]["f1"] is None
    # P36: in the label set only -> nothing at all to measure
    p36 = result["per_relation"]["P36"]
    assert (p36["precision"], p36["recall"], p36["f1"], p36["support"]) == (None, None, None, 0)

    table = evaluate_model.format_report({**result, "n_documents": 1})
    inter_row = next(line for line in table.splitlines() if line.startswith("inter-sentence"))
    assert inter_row.split()[1:4] == ["n/a", "n/a", "n/a"] and "0.00" not in inter_row
    assert "n/a: nothing to measure" in table


def test_all_empty_labels_score_as_no_relation_documents():
    # `labels: []` is a labelled document without relations: predictions on it are wrong, and there is no recall.
    empty = [dict(doc, labels=[]) for doc in UNLABELLED]
    result = score_docred([dict(EVAL_PREDICTIONS[0], title="Unlabelled 0")], empty)
    assert result["gold_labelled"] is True
    assert (result["precision"], result["recall"], result["f1"], result["n_gold"]) == (0.0, None, None, 0)
    assert any("hold no relation fact" in warning for warning in result["warnings"])
    # beside a labelled document an empty one simply adds no facts
    mixed = score_docred(EVAL_PREDICTIONS, [*EVAL, dict(UNLABELLED[0], labels=[])])
    assert (mixed["precision"], mixed["recall"], mixed["f1"]) == (1.0, 1.0, 1.0)


# ---- gold without labels -------------------------------------------------------------------------------------


def test_unlabelled_gold_gives_no_scores():
    predictions = [{"title": "Unlabelled 0", "h_idx": 0, "t_idx": 1, "r": "P17"}]
    result = score_docred(predictions, UNLABELLED, EVAL, diagnostics=True)
    assert result["gold_labelled"] is False
    for key in ("precision", "recall", "f1", "ign_precision", "ign_f1", "n_gold", "n_correct"):
        assert result[key] is None, key
    for group in ("intra", "inter", "frequent", "long_tail"):
        assert result[group]["f1"] is None and result[group]["n_gold"] is None
    assert result["per_relation"]["P17"]["f1"] is None and result["per_relation"]["P17"]["n_pred"] == 1
    assert result["n_pred"] == 1 and result["diagnostics"] is None
    assert "have no labels" in result["warnings"][0]
    assert gold_is_labelled([dict(doc, labels=None) for doc in UNLABELLED]) is False  # null is no labels too


def test_partly_labelled_gold_is_refused():
    gold = [EVAL[0], UNLABELLED[0], EVAL[1], UNLABELLED[1]]
    with pytest.raises(
        ValueError, match=r"gold documents 1 \('Unlabelled 0'\), 3 \('Unlabelled 1'\) have no"
    ):
        score_docred([], gold)


def test_unlabelled_gold_file(tmp_path):
    gold = write_json(tmp_path / "test.json", UNLABELLED)
    docs = load_gold_documents(gold)
    assert [set(doc) for doc in docs] == [{"title", "sents", "vertexSet"}] * 2  # not "labels": []
    labelled = load_gold_documents(write_json(tmp_path / "eval.json", EVAL), max_docs=1)
    assert len(labelled) == 1 and labelled[0]["labels"][0]["r"] == "P17"
    predictions = write_json(
        tmp_path / "result.json", [{"title": "Unlabelled 1", "h_idx": 0, "t_idx": 1, "r": "P17"}]
    )
    result = score_predictions_file(predictions, gold)
    assert result["f1"] is None and result["gold_labelled"] is False


def test_evaluate_model_without_labels_writes_predictions_and_no_scores(tmp_path, capsys):
    from tests.helpers import make_tiny_model_dir

    data = write_json(tmp_path / "test-without-labels.json", UNLABELLED)
    model_dir = make_tiny_model_dir(tmp_path / "model")
    out = tmp_path / "out"
    report = evaluate_model.main(
        ["--model", model_dir, "--data", data, "--output_dir", str(out), "--device", "cpu", "--no_progress"]
    )
    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions and {p["title"] for p in predictions} <= {"Unlabelled 0", "Unlabelled 1"}
    assert report == json.loads((out / "report.json").read_text())
    assert report["gold_labelled"] is False and report["n_pred"] > 0
    assert all(report[key] is None for key in ("precision", "recall", "f1", "ign_f1"))
    assert report["label_coverage"]["n_gold_relations"] is None
    printed = capsys.readouterr().out
    assert "the gold file has no labels" in printed and "Official DocRED scores" not in printed

    # the same with a predictions file
    report = evaluate_model.main(
        ["--predictions", str(out / "predictions.json"), "--data", data, "--output_dir", str(tmp_path / "p")]
    )
    assert report["gold_labelled"] is False and report["f1"] is None
    assert "the gold file has no labels" in capsys.readouterr().out


def test_evaluate_model_refuses_partly_labelled_gold(tmp_path):
    data = write_json(tmp_path / "mixed.json", [EVAL[0], UNLABELLED[0]])
    predictions = write_json(tmp_path / "result.json", EVAL_PREDICTIONS)
    with pytest.raises(ValueError, match=r"gold documents 1 \('Unlabelled 0'\) have no 'labels'"):
        evaluate_model.main(
            ["--predictions", predictions, "--data", data, "--output_dir", str(tmp_path / "o")]
        )
    assert not (tmp_path / "o" / "report.json").exists()


# ---- Ign F1 against a training file that shares documents with the evaluated one ---------------------------


def test_ign_f1_is_na_when_training_shares_documents():
    result = score_docred(EVAL_PREDICTIONS, EVAL, EVAL)
    assert (result["precision"], result["recall"], result["f1"]) == (1.0, 1.0, 1.0)
    assert result["ign_f1"] is None and result["ign_precision"] is None  # not 0.00 beside F1 100
    assert result["n_train_documents_shared"] == 2
    assert result["train_documents_shared"] == ["Eval doc 0", "Eval doc 1"]
    assert "share 2 documents" in result["ign_note"]
    assert any(
        "Ign F1 is n/a" in warning and "share 2 documents" in warning for warning in result["warnings"]
    )

    # the same document under another title is shared too; another text with the same entity names is not
    lyon = ["Lyon", "is", "a", "city", "of", "France", "."]
    gold = [EVAL[0], dict(EVAL[1], title="Lyon doc", sents=[lyon, SENTS[1]])]
    result = score_docred([], gold, [dict(EVAL[0], title="Copy")])
    assert result["n_train_documents_shared"] == 1 and result["train_documents_shared"] == ["Eval doc 0"]
    assert result["ign_f1"] is None

    unrelated = [dict(EVAL[0], title="Train doc", sents=[lyon, SENTS[1]])]
    result = score_docred(EVAL_PREDICTIONS, EVAL, unrelated)
    assert result["n_train_documents_shared"] == 0
    # every prediction is a correct fact seen in training (by mention names): nothing unseen left to measure
    assert (
        result["ign_f1"] is None
        and result["ign_note"] == "every prediction is a correct fact seen in training"
    )
    partial = score_docred(
        [*EVAL_PREDICTIONS, {**EVAL_PREDICTIONS[0], "h_idx": 1, "t_idx": 0}], EVAL, unrelated
    )
    assert partial["ign_precision"] == 0.0 and partial["ign_f1"] == 0.0  # one unseen prediction, wrong
    assert partial["ign_note"] is None


def test_ign_f1_is_na_when_training_has_no_labels():
    train = [dict(doc, title="Other", sents=[["Other"], SENTS[1]], labels=[]) for doc in EVAL[:1]]
    result = score_docred(EVAL_PREDICTIONS, EVAL, train)
    assert result["ign_f1"] is None and "hold no relation label" in result["ign_note"]


def test_evaluate_model_ign_with_training_file_equal_to_data(tmp_path, capsys):
    data = write_json(tmp_path / "ign-train-equals-eval.gold.json", EVAL)
    predictions = write_json(tmp_path / "result.json", EVAL_PREDICTIONS)
    report = evaluate_model.main(
        [
            "--predictions",
            predictions,
            "--data",
            data,
            "--train_file",
            data,
            "--output_dir",
            str(tmp_path / "o"),
        ]
    )
    assert report["f1"] == 1.0 and report["ign_f1"] is None and report["n_train_documents_shared"] == 2
    assert any("share 2 documents" in warning for warning in report["warnings"])
    printed = capsys.readouterr().out
    ign_row = next(line for line in printed.splitlines() if line.startswith("Ign F1"))
    assert "n/a" in ign_row and "0.00" not in ign_row
    assert "WARNING: Ign F1 is n/a: the training documents share 2 documents" in printed


# ---- label sets that do not cover the data ------------------------------------------------------------------


def test_model_that_does_not_know_every_gold_relation(tmp_path, caplog):
    from tests.helpers import make_tiny_model_dir

    gold = copy.deepcopy(EVAL)
    gold[1]["labels"] = [*EVAL_LABELS, {"h": 0, "t": 4, "r": "P131", "evidence": []}]
    data = write_json(tmp_path / "gold.json", gold)
    model_dir = make_tiny_model_dir(tmp_path / "model", label_set_labels=["Na", "P17"])
    report = evaluate_model.main(
        ["--model", model_dir, "--data", data, "--output_dir", str(tmp_path / "o"), "--device", "cpu"]
        + ["--no_progress"]
    )
    coverage = report["label_coverage"]
    assert coverage["label_set"] == "model" and coverage["n_relations_known"] == 1
    assert (coverage["n_gold_relations"], coverage["n_gold_relations_known"]) == (2, 1)
    assert (coverage["n_gold_facts"], coverage["n_gold_facts_known"]) == (5, 4)
    assert coverage["gold_relations_unknown"] == {"P131": 1} and coverage["n_pred_relation_unknown"] == 0
    assert any("the model knows 1 of the 2 relations" in warning for warning in report["warnings"])
    assert "the model knows 1 of the 2 relations" in caplog.text


def test_predictions_outside_the_label_set(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    write_json(labels / "rel2id.json", {"Na": 0, "P17": 1})
    data = write_json(tmp_path / "gold.json", EVAL)
    predictions = [*EVAL_PREDICTIONS, {"title": "Eval doc 0", "h_idx": 0, "t_idx": 2, "r": "P999"}]
    report = evaluate_model.main(
        ["--predictions", write_json(tmp_path / "result.json", predictions), "--data", data]
        + ["--label_dir", str(labels), "--output_dir", str(tmp_path / "o")]
    )
    coverage = report["label_coverage"]
    assert coverage["n_pred_relation_unknown"] == 1 and coverage["pred_relations_unknown"] == {"P999": 1}
    assert coverage["gold_relations_unknown"] == {}
    assert any(
        "1 predictions have relations outside the label set" in warning for warning in report["warnings"]
    )
    # without a label set there is nothing to compare with
    report = evaluate_model.main(
        ["--predictions", write_json(tmp_path / "result.json", predictions), "--data", data]
        + ["--output_dir", str(tmp_path / "o2")]
    )
    assert report["label_coverage"] is None


# ---- the `evaluate` module -----------------------------------------------------------------------------------


def test_evaluate_module_accepts_what_the_loader_accepts(tmp_path):
    # metric-module-inputs.json: a reference without `evidence`, one without `labels`
    no_evidence = {
        "title": "no evidence key",
        "sents": SENTS,
        "vertexSet": VERTEX_SET,
        "labels": [{"h": 0, "t": 1, "r": "P17"}, {"h": 3, "t": 4, "r": "P17"}],
    }
    no_labels = {"title": "no labels key", "sents": SENTS, "vertexSet": VERTEX_SET}
    hub_style = {
        "title": "hub labels",
        "sents": SENTS,
        "vertexSet": VERTEX_SET,
        "labels": {"head": [0], "tail": [1], "relation_id": ["P17"], "relation_text": ["country"]},
    }
    inputs = {
        "no_evidence": [no_evidence],
        "no_labels": [no_labels],
        "mixed": [no_evidence, no_labels],
        "hub_style": [hub_style],
        "bad_label": [dict(no_evidence, labels=[{"h": 0, "r": "P17"}])],
        "bad_reference": [{"title": "no text"}],
    }
    script = f"""
import json, evaluate
metric = evaluate.load({str(REPO / "metrics" / "docred_re")!r})
out = {{}}
for name, references in json.loads(open("inputs.json").read()).items():
    predictions = [[{{"h_idx": 0, "t_idx": 1, "r": "P17"}}] for _ in references]
    try:
        result = metric.compute(predictions=predictions, references=references)
        out[name] = {{k: result[k] for k in ("f1", "recall", "n_gold", "n_pred", "gold_labelled")}}
    except ValueError as error:
        out[name] = {{"error": str(error)}}
print(json.dumps(out))
"""
    (tmp_path / "inputs.json").write_text(json.dumps(inputs))
    out = run_offline_script(script, tmp_path)
    assert out["no_evidence"] == {"f1": pytest.approx(2 / 3), "recall": 0.5, "n_gold": 2, "n_pred": 1,
                                  "gold_labelled": True}  # fmt: skip
    assert out["no_labels"] == {
        "f1": None,
        "recall": None,
        "n_gold": None,
        "n_pred": 1,
        "gold_labelled": False,
    }
    assert "gold documents 1 ('no labels key') have no 'labels'" in out["mixed"]["error"]
    assert out["hub_style"]["f1"] == 1.0
    assert (
        "reference 0 (title 'no evidence key'), label 0: expected a dict with h, t and r"
        in out["bad_label"]["error"]
    )
    assert out["bad_reference"]["error"] == "reference 0 (title 'no text'): missing 'sents', 'vertexSet'"
