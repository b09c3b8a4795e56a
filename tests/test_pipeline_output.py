"""What the pipeline's triples hold and the options users expect (issue 15): relations by id or name, top_k, the
mentions and evidence behind a triple, and type constraints recorded in training."""

import copy
import logging

import pytest
import torch

from docred_data import LabelSet, relation_type_pairs
from processing_globalre import relation_class_ids
from tests.helpers import EXAMPLE_DOCUMENT, TINY_DOCUMENT, tiny_model_and_processor

TEXT = {
    "text": "Marie Curie was born in Warsaw. Warsaw is a city in Poland. Curie studied in Paris.",
    "entities": [{"name": "Marie Curie", "mentions": ["Curie"], "type": "PER"}, "Warsaw", "Poland", "Paris"],
}


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    from pipeline_globalre import RelationExtractionPipeline

    model, processor = tiny_model_and_processor(tmp_path_factory.mktemp("pipeline-output"))
    return RelationExtractionPipeline(model=model, processor=processor, device="cpu")


def test_relations_by_id_or_name(extractor):
    config = extractor.model.config
    assert relation_class_ids(["country", "P131", "Place Of Birth"], config) == [
        config.label2id["P17"],
        config.label2id["P131"],
        config.label2id["P19"],
    ]
    with pytest.raises(ValueError, match=r"Unknown relation\(s\) \['capital city of', 'Na'\]"):
        relation_class_ids(["capital city of", "Na"], config)
    by_name = extractor(EXAMPLE_DOCUMENT, relations=["country"], top_k=3)
    by_id = extractor(EXAMPLE_DOCUMENT, relations=["P17"], top_k=3)
    assert by_name == by_id and {t["relation"] for t in by_name} == {"P17"}


def test_top_k_gives_each_pair_its_best_relations_whatever_their_score(extractor):
    pairs = [(0, 1), (3, 4)]
    triples = extractor(EXAMPLE_DOCUMENT, pairs=pairs, top_k=4)
    assert len(triples) == 8
    for pair in pairs:
        mine = [t for t in triples if (t["head"], t["tail"]) == pair]
        assert len(mine) == 4 and all(t["relation"] != "Na" for t in mine)
        assert min(t["score"] for t in mine) >= max(
            t["score"] for t in extractor(EXAMPLE_DOCUMENT, pairs=[pair], top_k=10_000)[4:]
        )
    # "kept" is what the decision rule keeps: a threshold between the 4 scores splits them
    scores = sorted(t["score"] for t in triples if (t["head"], t["tail"]) == (0, 1))
    cut = (scores[1] + scores[2]) / 2
    split = extractor(EXAMPLE_DOCUMENT, pairs=pairs, top_k=4, threshold=cut)
    kept = {
        (t["head"], t["tail"], t["relation"]) for t in extractor(EXAMPLE_DOCUMENT, pairs=pairs, threshold=cut)
    }
    assert any(t["kept"] for t in split) and not all(t["kept"] for t in split)
    assert {(t["head"], t["tail"], t["relation"]) for t in split if t["kept"]} == kept & {
        (t["head"], t["tail"], t["relation"]) for t in split
    }
    assert all(t["kept"] == (t["score"] > cut) for t in split)
    everything = extractor(EXAMPLE_DOCUMENT, pairs=[(0, 1)], top_k=10_000)
    assert len(everything) == len(extractor.model.config.id2label) - 1  # all but no-relation
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="top_k must be a positive integer"):
            extractor(EXAMPLE_DOCUMENT, top_k=bad)


def test_triples_give_mentions_with_character_offsets_for_text_input(extractor):
    triples = extractor(TEXT, top_k=1)
    assert len(triples) == 12  # 4 entities: 12 ordered pairs, one relation each
    expected = {
        0: [("Marie Curie", 0, [0, 11]), ("Curie", 2, [60, 65])],
        1: [("Warsaw", 0, [24, 30]), ("Warsaw", 1, [32, 38])],
        2: [("Poland", 1, [52, 58])],
        3: [("Paris", 2, [77, 82])],
    }
    for triple in triples:
        for side in ("head", "tail"):
            got = [(m["name"], m["sent_id"], m["char_span"]) for m in triple[f"{side}_mentions"]]
            assert got == expected[triple[side]]


def test_triples_give_word_positions_and_never_the_data_s_evidence_for_docred_input(extractor):
    """The document's labels give evidence for (0, 1, P17); a model trained without the evidence loss predicts
    none, and the labels' evidence is not copied in (a scorer would count it as predicted)."""
    triples = extractor(EXAMPLE_DOCUMENT, pairs=[(0, 1), (1, 0)], top_k=10_000)
    fact = next(t for t in triples if (t["head"], t["tail"], t["relation"]) == (0, 1, "P17"))
    assert {"h": 0, "t": 1, "r": "P17", "evidence": [0]} in EXAMPLE_DOCUMENT["labels"]
    assert fact["head_mentions"] == [{"name": "Paris", "sent_id": 0, "pos": [0, 1]}]
    assert all(t["evidence"] is None for t in triples)


def test_type_pairs_are_recorded_from_the_training_labels():
    label_set = LabelSet(labels=["Na", "P17", "P131", "P551"], no_relation="Na", negative_aliases=("NR",))
    assert relation_type_pairs([TINY_DOCUMENT, EXAMPLE_DOCUMENT], label_set) == {
        "P131": [["LOC", "LOC"]],
        "P17": [["LOC", "LOC"]],
        "P551": [["PER", "LOC"]],
    }


def test_type_constraints_keep_only_relations_seen_between_the_types(tmp_path, caplog):
    from pipeline_globalre import RelationExtractionPipeline

    seen = {"P17": [["LOC", "LOC"]], "P19": [["PER", "LOC"]]}
    model, processor = tiny_model_and_processor(tmp_path, relation_type_pairs=seen, type_constraints=True)
    extractor = RelationExtractionPipeline(model=model, processor=processor, device="cpu")
    triples = extractor(EXAMPLE_DOCUMENT, top_k=10_000)
    types = [entity[0]["type"] for entity in EXAMPLE_DOCUMENT["vertexSet"]]
    assert triples and all([types[t["head"]], types[t["tail"]]] in seen[t["relation"]] for t in triples)
    assert {t["relation"] for t in triples} == {"P17", "P19"}
    # the call overrides the stored setting
    assert len(extractor(EXAMPLE_DOCUMENT, top_k=10_000, type_constraints=False)) > len(triples)
    # an untyped entity's pairs are not filtered, with a warning naming it
    untyped = copy.deepcopy(EXAMPLE_DOCUMENT)
    del untyped["vertexSet"][2][0]["type"]
    with caplog.at_level(logging.WARNING):
        loose = extractor(untyped, pairs=[(2, 3)], top_k=10_000)
    assert len(loose) == len(model.config.id2label) - 1 and "entities [2] have no type" in caplog.text


def test_type_constraints_need_recorded_type_pairs(tmp_path, extractor):
    with pytest.raises(ValueError, match="type_constraints=True needs relation_type_pairs"):
        tiny_model_and_processor(tmp_path, type_constraints=True)
    with pytest.raises(ValueError, match="type constraints need the entity-type pairs"):
        extractor(EXAMPLE_DOCUMENT, type_constraints=True)


def test_scores_of_top_k_match_the_model_s_logits(extractor):
    # top_k reads the same scores as the decision rule: sigmoid of the logits (threshold rule)
    model, processor = extractor.model, extractor.processor
    encoding = processor.encode_document(EXAMPLE_DOCUMENT, [(0, 1)])
    with torch.no_grad():
        logits = model(**encoding.sequences.pad([0], processor.pad_token_id)).logits
    best = extractor(EXAMPLE_DOCUMENT, pairs=[(0, 1)], top_k=1)[0]
    probabilities = torch.sigmoid(logits[0])
    probabilities[model.config.no_relation_id] = -1
    assert best["relation"] == model.config.id2label[int(probabilities.argmax())]
    assert best["score"] == pytest.approx(float(probabilities.max()), abs=1e-5)
