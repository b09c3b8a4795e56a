"""Evaluation inputs that would otherwise score silently wrong: predictions that match no gold document or have
invalid fields (docred_metric.py, evaluate_model.py), directed relations with --pair_types (docred_data.orient_pairs)
and the `evaluate` module copied out of the checkout (metrics/docred_re).

tests/fixtures/eval-no-match.* are copies of the small invented fault cases of that name: a gold file of two
documents, its exact gold labels as predictions (the control, F1 100), the same with every title given a
trailing space, and the same with `h_idx` / `t_idx` written as strings.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import evaluate_model
from docred_data import default_undirected_relations, orient_pairs
from docred_metric import score_docred
from tests.helpers import REDOCRED_TEST, run_offline_script

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
NO_MATCH_GOLD = FIXTURES / "eval-no-match.gold.json"


def no_match_predictions(variant: str) -> list[dict]:
    return json.loads((FIXTURES / f"eval-no-match.predictions-{variant}.json").read_text())


# ---- predictions that match no document, or whose fields are invalid -------------------------------------------


@pytest.mark.parametrize(
    "variant, expected",
    [
        (
            "title-space",
            "8 of the 8 unique predictions match no gold document by title and are scored as wrong, "
            "e.g. title='Nordvik harbour ' (the gold title 'Nordvik harbour' differs from it only in whitespace "
            "or case): titles are compared exactly",
        ),
        (
            "string-index",
            "8 of the 8 unique predictions have entity indices that are not an entity pair of their document and "
            "are scored as wrong, e.g. title='Nordvik harbour', h_idx='0': a str, not an integer index",
        ),
    ],
)
def test_predictions_matching_no_document_are_warnings(tmp_path, capsys, variant, expected):
    out = tmp_path / "out"
    report = evaluate_model.main(
        [
            "--predictions",
            str(FIXTURES / f"eval-no-match.predictions-{variant}.json"),
            "--data",
            str(NO_MATCH_GOLD),
            "--output_dir",
            str(out),
        ]
    )
    assert report["f1"] == 0.0
    assert json.loads((out / "report.json").read_text())["warnings"] == [expected]
    assert f"WARNING: {expected}" in capsys.readouterr().out
    # never repaired: the near miss is named, the predictions stay wrong
    assert report["n_correct"] == 0


def test_exact_predictions_are_the_control(tmp_path):
    out = tmp_path / "out"
    report = evaluate_model.main(
        [
            "--predictions",
            str(FIXTURES / "eval-no-match.predictions-exact.json"),
            "--data",
            str(NO_MATCH_GOLD),
        ]
        + ["--output_dir", str(out)]
    )
    assert report["f1"] == 1.0 and report["warnings"] == []
    assert (report["n_pred_unknown_title"], report["n_pred_invalid_pair"]) == (0, 0)


def test_unknown_titles_are_not_set_aside_by_max_docs(tmp_path):
    # --max_docs sets aside predictions for the file's other documents, not those that match no document at all
    report = evaluate_model.main(
        ["--predictions", str(FIXTURES / "eval-no-match.predictions-title-space.json"), "--data"]
        + [str(NO_MATCH_GOLD), "--max_docs", "1", "--output_dir", str(tmp_path / "out")]
    )
    assert report["n_pred_outside_max_docs"] == 0 and report["n_pred_unknown_title"] == 8
    assert any("match no gold document by title" in warning for warning in report["warnings"])

    exact = FIXTURES / "eval-no-match.predictions-exact.json"
    report = evaluate_model.main(
        ["--predictions", str(exact), "--data", str(NO_MATCH_GOLD), "--max_docs", "1"]
        + ["--output_dir", str(tmp_path / "exact")]
    )
    assert (report["n_pred_outside_max_docs"], report["n_pred_unknown_title"], report["f1"]) == (4, 0, 1.0)
    assert not any("match no gold document" in warning for warning in report["warnings"])


@pytest.mark.parametrize(
    "change, warning",
    [
        ({"t_idx": 9}, "t_idx=9: outside vertexSet, which has 3 entities"),
        ({"t_idx": 0}, "t_idx=0: the head entity itself (h_idx == t_idx)"),
        ({"h_idx": True}, "h_idx=True: a bool, not an integer index"),
        ({"h_idx": 0.0}, "h_idx=0.0: a float, not an integer index"),
        (
            {"r": 19},
            "have a relation that is not a string and are scored as wrong, e.g. title='Nordvik harbour', "
            "r=19 (int)",
        ),
    ],
)
def test_invalid_prediction_fields_are_warnings(change, warning):
    gold = json.loads(NO_MATCH_GOLD.read_text())
    predictions = no_match_predictions("exact")
    predictions[0] = {**predictions[0], **change}
    result = score_docred(predictions, gold)
    assert result["n_correct"] == 7 and result["n_pred"] == 8
    assert len(result["warnings"]) == 1
    assert (
        result["warnings"][0].startswith("1 of the 8 unique predictions") and warning in result["warnings"][0]
    )
    assert "title='Nordvik harbour'" in result["warnings"][0]


def test_unhashable_prediction_fields_are_errors_naming_the_prediction():
    gold = json.loads(NO_MATCH_GOLD.read_text())
    predictions = no_match_predictions("exact")
    predictions[2] = {**predictions[2], "r": ["P17"]}
    with pytest.raises(ValueError, match=r"prediction 2: r=\['P17'\] is a list, expected a string"):
        score_docred(predictions, gold)


# ---- directions with --pair_types: only undirected relations are turned round --------------------------------


def _doc(labels: list[dict], types: tuple[str, ...]) -> dict:
    words = [f"w{i}" for i in range(len(types))]
    return {
        "title": "T",
        "sents": [words],
        "vertexSet": [
            [{"name": word, "sent_id": 0, "pos": [i, i + 1], "type": kind}]
            for i, (word, kind) in enumerate(zip(words, types, strict=True))
        ],
        "labels": labels,
    }


def test_orient_pairs_keeps_directed_relations_and_reports_them():
    # entity 0 a country, entity 1 a person: P35 "head of state" runs country -> person
    doc = _doc(
        [{"h": 0, "t": 1, "r": "P35", "evidence": []}, {"h": 1, "t": 0, "r": "P27", "evidence": []}],
        ("LOC", "PER"),
    )
    oriented, warnings = orient_pairs([doc], [("PER", "LOC")], source="gold.json")
    assert oriented[0]["labels"] == doc["labels"]
    assert warnings == [
        "gold.json: 1 labels of directed relations run against the candidate direction PER->LOC (P35 (1)), "
        "e.g. document 0 ('T') label 0: P35 from entity 0 (LOC) to entity 1 (PER): they are not turned round "
        "and stay outside the candidate pairs, where a model with these pair types predicts nothing (they "
        "count as missed). A relation that has no direction can be declared undirected (--undirected_relations)"
    ]
    # declared undirected, it is turned round
    oriented, warnings = orient_pairs([doc], [("PER", "LOC")], undirected_relations=["P35"])
    assert oriented[0]["labels"][0] == {"h": 1, "t": 0, "r": "P35", "evidence": []} and warnings == []


def test_cid_is_undirected_by_default_only_for_cdr_labels():
    cdr = _doc(
        [{"h": 1, "t": 0, "r": "CID", "evidence": []}, {"h": 1, "t": 0, "r": "NR", "evidence": []}],
        ("CHEM", "DISE"),
    )
    assert default_undirected_relations([cdr]) == ("CID",)
    oriented, warnings = orient_pairs([cdr], [("CHEM", "DISE")])
    assert [(label["h"], label["t"]) for label in oriented[0]["labels"]] == [(0, 1), (0, 1)] and not warnings
    # declared: nothing undirected, CID keeps its stored direction (no-relation labels are still turned)
    oriented, warnings = orient_pairs([cdr], [("CHEM", "DISE")], undirected_relations=[])
    assert [(label["h"], label["t"], label["r"]) for label in oriented[0]["labels"]] == [
        (1, 0, "CID"),
        (0, 1, "NR"),
    ]
    assert "1 labels of directed relations" in warnings[0]
    # another label set beside CID: nothing is undirected unless declared
    other = _doc(
        [{"h": 1, "t": 0, "r": "CID", "evidence": []}, {"h": 0, "t": 1, "r": "P1", "evidence": []}],
        ("CHEM", "DISE"),
    )
    assert default_undirected_relations([other]) == ()


def test_evaluate_model_never_reverses_directed_gold_labels(tmp_path, capsys):
    # the exact gold labels of the first 12 Re-DocRED test documents, with PER:LOC candidate pairs
    gold = json.loads(REDOCRED_TEST.read_text())
    predictions = [
        {"title": doc["title"], "h_idx": label["h"], "t_idx": label["t"], "r": label["r"]}
        for doc in gold
        for label in doc["labels"]
    ]
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions))
    report = evaluate_model.main(
        ["--predictions", str(path), "--data", str(REDOCRED_TEST), "--pair_types", "PER:LOC"]
        + ["--output_dir", str(tmp_path / "out")]
    )
    assert report["f1"] == 1.0
    (warning,) = [warning for warning in report["warnings"] if "directed relations" in warning]
    assert (
        "3 labels of directed relations run against the candidate direction PER->LOC (P35 (2), P6 (1))"
        in warning
    )
    assert "WARNING: " + warning in capsys.readouterr().out


# ---- the evaluate module, copied out of the checkout -----------------------------------------------------------


def test_evaluate_module_ships_the_scorer_itself():
    # The scorer's one home is the evaluate module's folder, so that a copy of that folder carries it; the
    # top-level docred_metric.py that the scripts import is a symbolic link to it (a wheel stores the file).
    shipped = REPO / "metrics" / "docred_re" / "docred_metric.py"
    assert not shipped.is_symlink(), "a symbolic link dangles once the module folder is copied elsewhere"
    assert (REPO / "docred_metric.py").resolve() == shipped.resolve()


def test_a_copy_of_the_evaluate_module_loads_and_computes(tmp_path):
    case = json.loads((FIXTURES / "metric-module-inputs.json").read_text())
    # as `cp -r metrics/docred_re DEST` copies it (symbolic links stay links), once under its own name and once
    # under another; `evaluate` looks for a script named after its folder, so the renamed copy is loaded by script
    shutil.copytree(REPO / "metrics" / "docred_re", tmp_path / "elsewhere" / "docred_re", symlinks=True)
    shutil.copytree(REPO / "metrics" / "docred_re", tmp_path / "x", symlinks=True)
    (tmp_path / "case.json").write_text(json.dumps(case))
    script = f"""
import json, evaluate
case = json.loads(open("case.json").read())
out = []
for location in ({str(tmp_path / "elsewhere" / "docred_re")!r}, {str(tmp_path / "x" / "docred_re.py")!r}):
    metric = evaluate.load(location)
    for index in (0, 1):
        result = metric.compute(predictions=case["predictions"][index:index + 1],
                                references=case["references"][index:index + 1])
        out.append([result["f1"], result["gold_labelled"]])
print(json.dumps(out))
"""
    out = run_offline_script(script, tmp_path)
    # the document without evidence: one of its two facts predicted; the one without labels: not scored
    assert out == [[pytest.approx(2 / 3), True], [None, False]] * 2
