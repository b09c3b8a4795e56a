"""End-to-end tests of evaluate_model.py: scoring a predictions file, and running a tiny saved model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import evaluate_model
from tests.helpers import DOCRED_META as SLICE_META
from tests.helpers import REDOCRED_DEV as SLICE_TRAIN
from tests.helpers import REDOCRED_TEST as SLICE_TEST

# the committed slice: 12 test documents, and 48 dev documents that stand in for training documents
REDOCRED_TEST = str(SLICE_TEST)
REDOCRED_DEV = str(SLICE_TRAIN)
DOCRED_META = str(SLICE_META)


def read_json(path: Path):
    return json.loads(path.read_text())


def test_scores_a_predictions_file(tmp_path, capsys):
    gold = read_json(Path(REDOCRED_TEST))
    predictions = [
        {"title": doc["title"], "h_idx": x["h"], "t_idx": x["t"], "r": x["r"]}
        for doc in gold
        for x in doc["labels"]
    ]
    # One wrong prediction in the first document, one duplicate.
    predictions += [{"title": gold[0]["title"], "h_idx": 0, "t_idx": 1, "r": "P1376"}, predictions[0]]
    predictions_path = tmp_path / "result.json"
    predictions_path.write_text(json.dumps(predictions))
    out = tmp_path / "out"
    argv = ["--predictions", str(predictions_path), "--data", REDOCRED_TEST, "--train_file", REDOCRED_DEV]
    report = evaluate_model.main(
        [*argv, "--output_dir", str(out), "--label_dir", DOCRED_META, "--max_docs", "5"]
    )

    assert report == read_json(out / "report.json")
    n_gold = sum(len(doc["labels"]) for doc in gold[:5])
    # Predictions for the 7 documents of the slice beyond --max_docs are set aside, not counted as wrong.
    assert report["n_pred_outside_max_docs"] == len(predictions) - n_gold - 2
    counts = (report["n_gold"], report["n_pred"], report["n_correct"], report["n_pred_duplicates"])
    assert counts == (n_gold, n_gold + 1, n_gold, 1)
    assert report["precision"] == pytest.approx(n_gold / (n_gold + 1)) and report["recall"] == 1.0
    for key in ("precision", "recall", "f1", "ign_f1"):
        assert 0.0 <= report[key] <= 1.0
    for key in ("intra", "inter", "frequent", "long_tail", "per_relation"):
        assert key in report
    assert report["args"]["max_docs"] == 5 and report["command"][:2] == ["evaluate_model.py", "--predictions"]
    printed = capsys.readouterr().out
    assert "Official DocRED scores on 5 documents" in printed and "P17 country" in printed
    assert "NON-OFFICIAL" not in printed


def test_diagnostics_are_labelled(tmp_path, capsys):
    predictions_path = tmp_path / "result.json"
    predictions_path.write_text("[]")
    report = evaluate_model.main(
        ["--predictions", str(predictions_path), "--data", REDOCRED_TEST, "--max_docs", "2"]
        + ["--output_dir", str(tmp_path), "--diagnostics", "--frequent_relations", "redocred"]
    )
    assert (
        report["frequent_relations"][:2] == ["P17", "P131"] and report["frequent_relations_source"] == "given"
    )
    assert report["f1"] == 0.0 and report["ign_f1"] is None  # no --train_file
    assert report["diagnostics"]["note"].startswith("NOT the official DocRED metric")
    assert "NON-OFFICIAL DIAGNOSTICS" in capsys.readouterr().out


def test_runs_a_tiny_saved_model(tmp_path):
    # A random 2-layer, hidden-32 model over the 3 smallest test documents of the slice (12, 13 and 15 entities:
    # 498 pairs); a 4th, larger one is written to show that --max_docs keeps the first 3.
    from tests.helpers import make_tiny_model_dir

    gold = read_json(Path(REDOCRED_TEST))
    data = tmp_path / "subset.json"
    data.write_text(json.dumps([gold[6], gold[8], gold[0], gold[9]]))
    model_dir = make_tiny_model_dir(tmp_path / "model")
    out = tmp_path / "out"
    report = evaluate_model.main(
        ["--model", model_dir, "--data", str(data), "--train_file", REDOCRED_DEV, "--output_dir", str(out)]
        + ["--max_docs", "3", "--device", "cpu", "--batch_size", "16", "--no_progress", "--diagnostics"]
    )
    predictions = read_json(out / "predictions.json")
    titles = {doc["title"] for doc in (gold[6], gold[8], gold[0])}
    assert predictions and all(set(p) == {"title", "h_idx", "t_idx", "r", "score"} for p in predictions)
    assert {p["title"] for p in predictions} <= titles
    assert report == read_json(out / "report.json")
    assert report["n_pred"] == len({(p["title"], p["h_idx"], p["t_idx"], p["r"]) for p in predictions})
    assert (
        report["inference"]["n_documents"] == 3
        and report["inference"]["n_candidate_pairs"] == 132 + 156 + 210
    )
    assert report["n_gold"] == 20 + 13 + 11
    for key in ("precision", "recall", "f1", "ign_f1"):
        assert 0.0 <= report[key] <= 1.0
    assert report["inference"]["precision"] == "float32"  # fp32 by default on CPU
    assert "on cpu (float32)" in evaluate_model.format_report(report)

    # --bf16 opts in on CPU: the report says so, and the scores move only by bf16 rounding
    bf16 = evaluate_model.main(
        ["--model", model_dir, "--data", str(data), "--output_dir", str(tmp_path / "out-bf16"), "--bf16"]
        + ["--max_docs", "3", "--device", "cpu", "--no_progress"]
    )
    assert bf16["inference"]["precision"] == "bf16 autocast"
    assert "on cpu (bf16 autocast)" in evaluate_model.format_report(bf16)
    exact = {(p["title"], p["h_idx"], p["t_idx"], p["r"]): p["score"] for p in predictions}
    rounded = {
        (p["title"], p["h_idx"], p["t_idx"], p["r"]): p["score"]
        for p in read_json(tmp_path / "out-bf16" / "predictions.json")
    }
    shared = exact.keys() & rounded.keys()
    assert shared and max(abs(exact[k] - rounded[k]) for k in shared) < 0.02
    assert any(exact[k] != rounded[k] for k in shared)  # really ran in bf16


# ------------------------------------------------------------------------------------------------------------
# --end_to_end: plain text in, the model's own detector, graphs scored against the gold entities and facts
# ------------------------------------------------------------------------------------------------------------

ENTITY_TYPES = ["LOC", "MISC", "NUM", "ORG", "PER", "TIME"]


def test_end_to_end_with_a_perfect_detector_equals_the_gold_entity_scores(tmp_path, monkeypatch, capsys):
    # The detector stood in for by one that returns the gold entities: then every mention and entity is right and
    # the relations, predicted by the same model between the same entities, score as they do given the entities.
    import entities_globalre
    from documents_globalre import docred_to_text
    from tests.helpers import make_tiny_model_dir

    gold = read_json(Path(REDOCRED_TEST))[:2]
    data = tmp_path / "gold.json"
    data.write_text(json.dumps(gold))
    by_text = dict(docred_to_text(doc) for doc in gold)

    def gold_detector(model, processor, texts, coreference=None, max_batch_tokens=None):
        return [
            [{k: e[k] for k in ("name", "type", "spans", "mentions")} for e in by_text[text]]
            for text in texts
        ]

    monkeypatch.setattr(entities_globalre, "detect_entities", gold_detector)
    model_dir = make_tiny_model_dir(tmp_path / "model", entity_types=ENTITY_TYPES)
    out = tmp_path / "out"
    report = evaluate_model.main(
        ["--model", model_dir, "--data", str(data), "--output_dir", str(out), "--end_to_end", "--no_progress"]
    )
    scores = report["end_to_end"]
    assert report == read_json(out / "report.json")
    n_mentions = sum(len({(m["sent_id"], *m["pos"]) for e in doc["vertexSet"] for m in e}) for doc in gold)
    assert scores["mention_span"]["n_gold"] == n_mentions
    for figure in ("mention", "mention_span", "entity", "entity_untyped"):
        assert scores[figure]["f1"] == 1.0, figure
    assert (
        report["n_pred"] > 0
    )  # the random model predicts relations, so the comparison below means something
    for key in ("n_pred", "n_gold", "n_correct"):
        assert scores["relation_strict"][key] == scores["relation_relaxed"][key] == report[key], key
    assert scores["errors"]["missed_mentions"] == scores["errors"]["wrong_grouping"] == 0
    graphs = (out / "graphs.jsonl").read_text().splitlines()
    assert [json.loads(line)["title"] for line in graphs] == [doc["title"] for doc in gold]
    printed = capsys.readouterr().out
    assert "End to end from plain text (2 documents" in printed and "relations, gold entities" in printed


def test_end_to_end_with_the_built_in_detector_of_a_random_model(tmp_path):
    from tests.helpers import make_tiny_model_dir

    # packed: a random tagger marks many words, and the packed encoding scores their many pairs in seconds
    model_dir = make_tiny_model_dir(
        tmp_path / "model", entity_types=ENTITY_TYPES, encoding="packed", pair_segment="markers"
    )
    # the two shortest held-out documents: a random tagger marks many words, and every pair of them is scored
    documents = json.loads(Path(REDOCRED_TEST).read_text(encoding="utf-8"))
    documents.sort(key=lambda doc: sum(map(len, doc["sents"])))
    data = tmp_path / "short.json"
    data.write_text(json.dumps(documents[:2]), encoding="utf-8")
    report = evaluate_model.main(
        ["--model", model_dir, "--data", str(data), "--label_dir", DOCRED_META, "--output_dir", str(tmp_path / "out")]
        + ["--end_to_end", "--no_progress", "--threshold", "0.9"]  # a random head: fewer relations, a faster test
    )  # fmt: skip
    scores = report["end_to_end"]
    assert scores["n_documents"] == 2 and scores["coreference"] == "names"
    assert scores["mention"]["n_gold"] > 0 and scores["relation_strict"]["n_gold"] == report["n_gold"]
    # every gold fact the strict figure misses is given a cause
    missed = scores["relation_strict"]["n_gold"] - scores["relation_strict"]["n_correct"]
    assert sum(v for k, v in scores["errors"].items() if not k.startswith("spurious")) == missed
    assert len((tmp_path / "out" / "graphs.jsonl").read_text().splitlines()) == 2


def test_end_to_end_needs_a_model_with_a_detector(tmp_path, capsys):
    from tests.helpers import make_tiny_model_dir

    with pytest.raises(SystemExit):
        evaluate_model.main(["--predictions", "p.json", "--data", REDOCRED_TEST, "--end_to_end"])
    assert "--end_to_end needs --model" in capsys.readouterr().err
    model_dir = make_tiny_model_dir(tmp_path / "model")
    with pytest.raises(SystemExit, match="has no entity detector .*train.py --entity_detection"):
        evaluate_model.main(
            [
                "--model",
                model_dir,
                "--data",
                REDOCRED_TEST,
                "--max_docs",
                "1",
                "--output_dir",
                str(tmp_path / "o"),
            ]
            + ["--end_to_end", "--no_progress"]
        )
