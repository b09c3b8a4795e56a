"""Tests of the DocRED-format data layer (docred_data.py) on the real files in ../shared/data and small cases."""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from docred_data import (
    DOCRED_FEATURES,
    DocredFormatError,
    LabelSet,
    convert_rebel,
    docred_statistics,
    load_docred,
    parse_pair_types,
    resolve_label_set,
    validate_documents,
)
from tests.helpers import DOCRED_META, FULL_REDOCRED_DEV, FULL_REDOCRED_TEST, REPO, needs_shared_data
from tests.helpers import SHARED_DATA as DATA
from tests.helpers import TINY_DOCUMENT as DOC

REDOCRED_TEST = FULL_REDOCRED_TEST
REDOCRED_DEV = FULL_REDOCRED_DEV

TINY_LABELS = LabelSet(labels=["Na", "P17", "P131", "P551"], no_relation="Na", negative_aliases=("NR",))


def write_json(path: Path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


@needs_shared_data
@pytest.mark.parametrize(
    "path, expected",
    [
        # The counts stated in ../shared/data/SOURCES.md.
        (
            REDOCRED_TEST,
            {
                "documents": 500,
                "triples": 17448,
                "ordered_pairs": 198670,
                "related_pairs": 13627,
                "max_entities": 42,
            },
        ),
        (REDOCRED_DEV, {"documents": 500, "triples": 17284, "ordered_pairs": 193232, "related_pairs": 13362}),
    ],
)
def test_redocred_counts_match_sources_md(path, expected):
    dataset = load_docred(str(path), label_set=LabelSet.from_dir(str(DOCRED_META)))
    assert dataset.features == DOCRED_FEATURES
    stats = docred_statistics(dataset)
    assert {key: stats[key] for key in expected} == expected
    share = {REDOCRED_TEST: 0.266, REDOCRED_DEV: 0.273}[path]
    assert round(stats["multi_relation_share"], 3) == share  # 26.6% and 27.3% in SOURCES.md


def test_split_without_labels_keeps_the_schema(tmp_path):
    unlabelled = [{k: v for k, v in DOC.items() if k != "labels"}, {**DOC, "title": "Other", "labels": []}]
    dataset = load_docred(write_json(tmp_path / "test.json", unlabelled))
    assert dataset.features == DOCRED_FEATURES
    assert dataset[0]["labels"] == [] and dataset[1]["vertexSet"][0][1]["pos"] == [3, 4]


def test_json_lines_and_json_list_give_the_same_rows(tmp_path):
    other = {**DOC, "title": "Other"}
    as_list = load_docred(write_json(tmp_path / "a.json", [DOC, other]))
    lines = tmp_path / "a.jsonl"
    lines.write_text(json.dumps(DOC) + "\n\n" + json.dumps(other) + "\n")
    assert load_docred(str(lines)).to_list() == as_list.to_list()
    assert len(load_docred(str(lines), max_docs=1)) == 1


@needs_shared_data
def test_cdr_null_evidence_loads():
    label_set = LabelSet.from_dir(str(DATA / "cdr"))
    dataset = load_docred(str(DATA / "cdr" / "dev.json"), label_set=label_set)
    assert len(dataset) == 500 and dataset[0]["labels"][0]["evidence"] == [None]


def _broken(mutate) -> list[dict]:
    docs = [copy.deepcopy(DOC), copy.deepcopy(DOC)]
    docs[1]["title"] = "Broken doc"
    mutate(docs[1])
    return docs


@pytest.mark.parametrize(
    "mutate, item, reason",
    [
        (lambda d: d["labels"][1].update(h=7), "label 1", "h=7 is outside vertexSet, which has 3 entities"),
        (lambda d: d["labels"][0].update(t=-1), "label 0", "t=-1 is outside vertexSet"),
        (lambda d: d["labels"][2].update(r="P999"), "label 2", "relation 'P999' is not in the label set"),
        (
            lambda d: d["vertexSet"][1][0].update(pos=[3, 6]),
            "entity 1 mention 0",
            "pos [3, 6] is outside sentence 0",
        ),
        (lambda d: d["vertexSet"][2][0].update(sent_id=5), "entity 2 mention 0", "sent_id 5 is outside"),
        (lambda d: d["labels"][0].update(t=0), "label 0", "h and t are the same entity"),
    ],
)
def test_malformed_document_error_names_file_document_and_item(tmp_path, mutate, item, reason):
    path = write_json(tmp_path / "bad.json", _broken(mutate))
    with pytest.raises(DocredFormatError) as raised:
        load_docred(path, label_set=TINY_LABELS)
    message = str(raised.value)
    assert message.startswith(f"{path}: document 1 (title 'Broken doc'): {item}: ")
    assert reason in message


def test_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "truncated.json"
    path.write_text(json.dumps([DOC])[:-20])
    with pytest.raises(DocredFormatError, match=r"truncated\.json: not valid JSON"):
        load_docred(str(path))
    lines = tmp_path / "bad.jsonl"
    lines.write_text(json.dumps(DOC) + "\n{oops\n")
    with pytest.raises(DocredFormatError, match=r"bad\.jsonl: line 2 is not valid JSON"):
        load_docred(str(lines))


def test_skip_invalid_reports_count_and_reasons(tmp_path, caplog):
    docs = _broken(lambda d: d["labels"][1].update(h=7)) + [copy.deepcopy(DOC)]  # the third repeats a title
    path = write_json(tmp_path / "bad.json", docs)
    with caplog.at_level(logging.WARNING):
        dataset = load_docred(path, skip_invalid=True)
    report = dataset.validation_report
    assert (len(dataset), report.n_documents_in, report.n_skipped) == (1, 3, 2)
    assert "document 1 (title 'Broken doc'): label 1: h=7" in report.reasons()[0]
    assert "document 2 (title 'Tiny'): duplicate title" in report.reasons()[1]
    assert "skipped 2 of 3 documents" in caplog.text


@needs_shared_data
def test_label_sets_from_files_and_documents():
    docred = LabelSet.from_dir(str(DOCRED_META))
    assert len(docred) == 97 and docred.id2label[0] == "Na" and docred.no_relation == "Na"
    assert docred.name("P17") == "country" and docred.label2id["P1376"] == 79
    # CDR's rel2id.json is {"Na": 0, "CID": 1, "NR": 2}: "NR" is the no-relation class, "Na" an alias.
    cdr = LabelSet.from_dir(str(DATA / "cdr"))
    assert (cdr.labels, cdr.no_relation, cdr.negative_aliases) == (["NR", "CID"], "NR", ("Na",))
    assert cdr.is_no_relation("Na") and cdr.relations == ["CID"]
    from_docs = LabelSet.from_documents([DOC])
    assert (from_docs.labels, from_docs.no_relation) == (["NR", "P131", "P17", "P551"], "NR")


@needs_shared_data
def test_candidate_pairs_of_cdr_are_chemical_to_disease():
    from docred_data import orient_pairs, pair_relations
    from processing_globalre import ordered_pairs

    label_set = LabelSet.from_dir(str(DATA / "cdr"))
    docs = load_docred(str(DATA / "cdr" / "train.json"), label_set=label_set)
    pairs = [ordered_pairs(doc["vertexSet"], [["CHEM", "DISE"]]) for doc in docs]
    # Measured on the shipped file: 5,348 chemical -> disease pairs, 725 of them CID. The file also has CID labels
    # written disease -> chemical (297 pairs), which orient_pairs turns to the candidate direction.
    cid = [pair_relations(doc, i, label_set) for i, doc in enumerate(docs)]
    assert sum(map(len, pairs)) == 5348
    assert sum(len(set(p) & cid[i].keys()) for i, p in enumerate(pairs)) == 725
    assert sum(len(cid[i].keys() - set(p)) for i, p in enumerate(pairs)) == 297
    oriented, _ = orient_pairs(list(docs), parse_pair_types(["CHEM:DISE"]))
    turned = [pair_relations(doc, i, label_set) for i, doc in enumerate(oriented)]
    assert sum(len(turned[i].keys() - set(p)) for i, p in enumerate(pairs)) == 0


def test_pair_types_are_parsed_in_one_place():
    assert parse_pair_types(["CHEM:DISE", "PER:LOC"]) == [["CHEM", "DISE"], ["PER", "LOC"]]
    assert parse_pair_types(None) is None
    for bad in ("CHEM", "CHEM:", ":DISE", "A:B:C"):
        with pytest.raises(ValueError, match=f"pair type '{bad}': expected HEAD:TAIL"):
            parse_pair_types([bad])


@needs_shared_data
def test_label_set_is_resolved_from_the_folder_then_beside_the_data_then_from_documents(tmp_path, caplog):
    assert resolve_label_set(str(DOCRED_META)).labels[:2] == ["Na", "P17"]
    assert resolve_label_set(None, str(DATA / "cdr" / "dev.json")).relations == ["CID"]
    with pytest.raises(FileNotFoundError, match="no rel2id.json"):
        resolve_label_set(str(tmp_path))
    path = write_json(tmp_path / "docs.json", [DOC])
    assert resolve_label_set(None, path) is None
    with caplog.at_level(logging.WARNING):
        from_docs = resolve_label_set(None, path, [path, None])
    assert from_docs.labels == ["NR", "P131", "P17", "P551"] and "read from the documents" in caplog.text


@needs_shared_data
def test_convert_rebel_sample():
    docs, report = convert_rebel(str(DATA / "rebel" / "sample.jsonl"))
    counts = {key: value for key, value in report.items() if key not in ("dropped", "relation_names")}
    assert counts == {
        "documents_in": 1000,
        "documents_out": 1000,
        "documents_without_triples": 80,
        "entities_in": 10269,
        "entities_out": 10269,
        "mentions_in": 10977,
        "mentions_out": 10977,
        "mentions_realigned": 1711,
        "triples_in": 2868,
        "triples_out": 2794,
    }
    # Every dropped item has a reason, and the reasons account for all the losses.
    assert report["dropped"] == {"triples/duplicate": 74}
    assert report["triples_in"] - report["triples_out"] == sum(
        count for reason, count in report["dropped"].items() if reason.startswith("triples/")
    )
    assert report["relation_names"]["P123"] == "publisher" and len(report["relation_names"]) == 186
    kept, validation = validate_documents(docs, "rebel")
    assert validation.n_skipped == 0 and len(kept) == 1000
    first = docs[0]
    journal = next(entity for entity in first["vertexSet"] if entity[0]["name"] == "Transportation Journal")
    mention = journal[0]
    assert first["sents"][mention["sent_id"]][mention["pos"][0] : mention["pos"][1]] == [
        "Transportation",
        "Journal",
    ]


def test_convert_rebel_drops_have_reasons(tmp_path):
    record = {
        "docid": "1",
        "title": "T",
        "text": "Alpha met Beta. Gamma left St. Louis.",
        "entities": [
            {"uri": "Q1", "boundaries": [0, 5], "surfaceform": "Alpha"},
            {"uri": "Q2", "boundaries": [10, 14], "surfaceform": "Beta"},
            {"uri": "Q3", "boundaries": [90, 95], "surfaceform": "Delta"},
            {"uri": "Q4", "boundaries": [27, 36], "surfaceform": "St. Louis"},
        ],
        "triples": [
            {
                "subject": {"uri": "Q1"},
                "predicate": {"uri": "P1", "surfaceform": "p one"},
                "object": {"uri": "Q2"},
            },
            {"subject": {"uri": "Q1"}, "predicate": {"uri": "P1"}, "object": {"uri": "Q3"}},
            {"subject": {"uri": "Q1"}, "predicate": {"uri": "P1"}, "object": {"uri": "Q1"}},
        ],
    }
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record) + "\n")
    docs, report = convert_rebel(str(path))
    assert report["dropped"] == {
        "entities/no_mention_left": 1,
        "mentions/surfaceform_not_near_boundaries": 1,
        "triples/entity_without_mention": 1,
        "triples/self_relation": 1,
    }
    # "St." does not end the sentence inside the mention "St. Louis": the two pieces are merged back.
    assert docs[0]["sents"][1] == ["Gamma", "left", "St", ".", "Louis", "."]
    assert docs[0]["labels"] == [{"h": 0, "t": 1, "r": "P1", "evidence": []}]


@needs_shared_data
def test_orient_pairs_turns_cdr_labels_to_chemical_disease():
    from docred_data import orient_pairs

    cdr = json.loads((DATA / "cdr" / "train.json").read_text())
    oriented, _ = orient_pairs(cdr, [("CHEM", "DISE")], source="train.json")
    directions = Counter(
        (doc["vertexSet"][label["h"]][0]["type"], doc["vertexSet"][label["t"]][0]["type"], label["r"])
        for doc in oriented
        for label in doc["labels"]
    )
    assert directions[("DISE", "CHEM", "CID")] == 0 and directions[("DISE", "CHEM", "NR")] == 0
    # 735 stored chemical -> disease, 303 turned around, less 16 labels the source file repeats verbatim
    assert directions[("CHEM", "DISE", "CID")] == 735 + 303 - 16
    assert cdr[0]["labels"] is not oriented[0]["labels"]  # inputs untouched


def test_loading_data_imports_neither_torch_nor_transformers():
    # reading, checking and converting data (docred_data, documents_globalre) is host work that must not pay for
    # torch and transformers; a fresh interpreter, since this one has imported both
    script = (
        "import sys, docred_data, documents_globalre\n"
        "print(sorted(name for name in ('torch', 'transformers') if name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip() == "[]", result.stdout


def test_mention_names_that_are_not_their_words_are_counted_and_warned_about_not_refused(caplog):
    wrong = copy.deepcopy(DOC)
    wrong["vertexSet"][1][0]["name"] = "Germany"  # the words at its pos are "France"
    spaced = {**copy.deepcopy(DOC), "title": "Spaced"}
    spaced["vertexSet"][2][0]["name"] = " CURIE "  # case and white space aside, the same words: not counted
    with caplog.at_level(logging.WARNING):
        kept, report = validate_documents([wrong, spaced], "names.json")
    assert len(kept) == 2
    assert report.name_disagreements == [
        "document 0 (title 'Tiny'): entity 1 mention 0: name 'Germany' but words 'France'"
    ]
    assert report.to_dict()["n_name_disagreements"] == 1
    assert "names.json: 1 mention(s) whose 'name' is not the words at their 'pos'" in caplog.text
    assert "document 0 (title 'Tiny'): entity 1 mention 0: name 'Germany' but words 'France'" in caplog.text


@needs_shared_data
@pytest.mark.parametrize(
    "path, titles",
    [
        (REDOCRED_DEV, ["Loopline Bridge", "The Swingle Singers", "Stars and Stripes Forever (film)"]),
        (REDOCRED_TEST, ["Live in New York (Laurie Anderson album)", "Angry Candy", "Edmund Hlawka"]),
    ],
)
def test_redocred_has_three_mention_names_that_are_not_their_words(path, titles):
    # about 300 more differ only in spacing ("People's" over "People 's", "15%" over "15 %"): not counted
    _, report = validate_documents(json.loads(Path(path).read_text()), str(path))
    assert [line.split("'")[1] for line in report.name_disagreements] == titles
