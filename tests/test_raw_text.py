"""The pipeline on plain text: entities from a token-classification pipeline (or the model's own detector), the
graph that `return_graph=True` gives for every input form, entities given by the user taking precedence, and the
error for a model that cannot find entities."""

from __future__ import annotations

import pytest

from documents_globalre import DocumentError, split_words
from tests.helpers import EXAMPLE_DOCUMENT, tiny_model_and_processor

TEXT = "Marie Curie was born in Warsaw. Curie studied in Paris, far from Warsaw."
# what transformers' token-classification pipeline gives with aggregation_strategy="simple"
NER_OUTPUT = [
    {"entity_group": "PERSON", "score": 0.99, "word": "Marie Curie", "start": 0, "end": 11},
    {"entity_group": "CITY", "score": 0.98, "word": "Warsaw", "start": 24, "end": 30},
    {"entity_group": "PERSON", "score": 0.97, "word": "Curie", "start": 32, "end": 37},
    {"entity_group": "CITY", "score": 0.96, "word": "Paris", "start": 49, "end": 54},
    {"entity_group": "CITY", "score": 0.95, "word": "Warsaw", "start": 65, "end": 71},
]
TYPE_MAP = {"PERSON": "PER", "CITY": "LOC"}


class FakeTokenClassifier:
    """A stand-in for a token-classification pipeline: returns fixed output and records the texts it read."""

    def __init__(self, output):
        self.output = output
        self.texts: list[str] = []

    def __call__(self, text):
        self.texts.append(text)
        return [dict(item) for item in self.output]


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    from pipeline_globalre import RelationExtractionPipeline

    model, processor = tiny_model_and_processor(tmp_path_factory.mktemp("raw-text"))
    return RelationExtractionPipeline(model=model, processor=processor, device="cpu")


def check_graph_of_text(graph: dict, text: str) -> None:
    """What holds for any graph of a text: ids are positions, every mention's text is the text at its span, spans
    are whole words in the sentence they name, and relations index the entities."""
    sentences, offsets = split_words(
        text, [(m["start"], m["end"]) for e in graph["entities"] for m in e["mentions"]]
    )
    word_starts = {start: sent_id for sent_id, spans in enumerate(offsets) for start, _ in spans}
    word_ends = {end: sent_id for sent_id, spans in enumerate(offsets) for _, end in spans}
    assert [entity["id"] for entity in graph["entities"]] == list(range(len(graph["entities"])))
    for entity in graph["entities"]:
        assert set(entity) == {"id", "name", "type", "mentions"} and entity["mentions"]
        for mention in entity["mentions"]:
            assert set(mention) == {"text", "start", "end", "sent_id"}
            assert text[mention["start"] : mention["end"]] == mention["text"]
            assert word_starts[mention["start"]] == mention["sent_id"]
            assert mention["end"] in word_ends
    for triple in graph["relations"]:
        assert 0 <= triple["head"] < len(graph["entities"]) and 0 <= triple["tail"] < len(graph["entities"])


def test_plain_text_through_a_token_classification_pipeline_gives_the_graph(extractor):
    detector = FakeTokenClassifier(NER_OUTPUT)
    graph = extractor(TEXT, entity_detector=detector, entity_type_map=TYPE_MAP, return_graph=True, top_k=1)
    assert detector.texts == [TEXT]
    check_graph_of_text(graph, TEXT)
    # every detected mention, with its type mapped; "Curie" may join "Marie Curie" (the name rule) or not
    assert {(m["start"], m["end"]): e["type"] for e in graph["entities"] for m in e["mentions"]} == {
        (0, 11): "PER",
        (24, 30): "LOC",
        (32, 37): "PER",
        (49, 54): "LOC",
        (65, 71): "LOC",
    }
    entities = {entity["name"]: entity for entity in graph["entities"]}
    warsaw = entities["Warsaw"]["mentions"]
    assert [(m["start"], m["end"], m["sent_id"]) for m in warsaw] == [(24, 30, 0), (65, 71, 1)]
    assert entities["Paris"]["mentions"] == [{"text": "Paris", "start": 49, "end": 54, "sent_id": 1}]
    # every ordered pair of entities scored once (top_k=1): the relations are the triples, indexing the entities
    n = len(graph["entities"])
    assert sorted((t["head"], t["tail"]) for t in graph["relations"]) == sorted(
        (h, t) for h in range(n) for t in range(n) if h != t
    )
    for triple in graph["relations"]:
        head = graph["entities"][triple["head"]]
        assert [[m["start"], m["end"]] for m in head["mentions"]] == [
            m["char_span"] for m in triple["head_mentions"]
        ]


def test_the_graph_relations_are_the_triples_of_the_same_entities_given_by_hand(extractor):
    detector = FakeTokenClassifier(NER_OUTPUT)
    graph = extractor({"text": TEXT}, entity_detector=detector, entity_type_map=TYPE_MAP, return_graph=True)
    given = [
        {
            "name": entity["name"],
            "type": entity["type"],
            "spans": [[m["start"], m["end"]] for m in entity["mentions"]],
            "mentions": [m["text"] for m in entity["mentions"]],
        }
        for entity in graph["entities"]
    ]
    assert extractor({"text": TEXT, "entities": given}) == graph["relations"]


def test_entities_given_by_the_user_take_precedence_over_the_detector(extractor):
    detector = FakeTokenClassifier(NER_OUTPUT)
    document = {
        "text": TEXT,
        "entities": [{"name": "Marie Curie", "mentions": ["Curie"], "type": "PER"}, "Paris"],
    }
    graph = extractor(document, entity_detector=detector, return_graph=True)
    assert detector.texts == []
    assert [(e["name"], e["type"]) for e in graph["entities"]] == [("Marie Curie", "PER"), ("Paris", "")]
    assert [(m["text"], m["start"], m["end"]) for m in graph["entities"][0]["mentions"]] == [
        ("Marie Curie", 0, 11),
        ("Curie", 32, 37),
    ]
    assert graph["relations"] == extractor(document)


def test_a_detector_given_to_the_constructor_is_every_calls_default(tmp_path):
    from pipeline_globalre import RelationExtractionPipeline

    model, processor = tiny_model_and_processor(tmp_path)
    detector = FakeTokenClassifier(NER_OUTPUT)
    extractor = RelationExtractionPipeline(
        model=model, processor=processor, device="cpu", entity_detector=detector, entity_type_map=TYPE_MAP
    )
    graphs = extractor([TEXT, {"text": TEXT, "id": "b"}], return_graph=True)
    assert len(graphs) == 2 and len(detector.texts) == 2
    assert {e["type"] for graph in graphs for e in graph["entities"]} == {"PER", "LOC"}


def test_docred_input_gives_a_graph_with_sentence_and_word_positions(extractor):
    graph = extractor(EXAMPLE_DOCUMENT, return_graph=True)
    assert [(e["id"], e["name"], e["type"]) for e in graph["entities"]] == [
        (0, "Paris", "LOC"),
        (1, "France", "LOC"),
        (2, "Marie Curie", "PER"),
        (3, "Warsaw", "LOC"),
        (4, "Poland", "LOC"),
    ]
    assert graph["entities"][2]["mentions"] == [{"text": "Marie Curie", "sent_id": 1, "pos": [0, 2]}]
    assert graph["relations"] == extractor(EXAMPLE_DOCUMENT)


def test_text_without_entities_needs_a_detector(extractor):
    with pytest.raises(DocumentError, match=r"no entity detector.*entity_detector=.*--entity_detection"):
        extractor(TEXT)
    # in a list, the error names the document by its position and id
    with pytest.raises(
        DocumentError, match=r"document #1 \(id 'second'\): the text comes without 'entities'"
    ):
        extractor([{"text": TEXT, "entities": ["Paris"]}, {"text": TEXT, "id": "second"}])
    with pytest.raises(ValueError, match="give entity_detector= with it"):
        extractor(TEXT, entity_type_map=TYPE_MAP)
    with pytest.raises(ValueError, match="pairs= indexes a document's entities"):
        extractor(TEXT, entity_detector=FakeTokenClassifier(NER_OUTPUT), pairs=[(0, 1)])
    with pytest.raises(DocumentError, match="'text' is empty"):
        extractor({"text": "  "}, entity_detector=FakeTokenClassifier([]))


def test_text_where_nothing_is_detected_gives_an_empty_graph(extractor):
    assert extractor("Nothing to see here.", entity_detector=FakeTokenClassifier([]), return_graph=True) == {
        "entities": [],
        "relations": [],
    }
    assert extractor("Nothing to see here.", entity_detector=FakeTokenClassifier([])) == []


def test_a_transformers_token_classification_pipeline_stands_in_for_the_detector(extractor, tmp_path):
    """A tiny random BertForTokenClassification: its entities fall anywhere, inside words and across sentences;
    whatever it finds, the graph's mentions are whole words with the text at their spans."""
    import torch
    from transformers import BertForTokenClassification, pipeline

    from tests.helpers import tiny_encoder_config, tiny_tokenizer

    tokenizer = tiny_tokenizer(tmp_path)
    config = tiny_encoder_config(tokenizer)
    config.id2label = {0: "O", 1: "B-PERSON", 2: "I-PERSON", 3: "B-CITY", 4: "I-CITY"}
    config.label2id = {label: index for index, label in config.id2label.items()}
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(tmp_path)
    ner = pipeline("token-classification", model=str(tmp_path), aggregation_strategy="simple", device="cpu")
    assert ner(TEXT), "the stand-in finds something to convert"
    graph = extractor(TEXT, entity_detector=ner, entity_type_map=TYPE_MAP, return_graph=True)
    assert graph["entities"]
    check_graph_of_text(graph, TEXT)
    assert {entity["type"] for entity in graph["entities"]} <= {"PER", "LOC"}


@pytest.fixture(scope="module")
def detecting_extractor(tmp_path_factory):
    """A tiny random model with the built-in entity detector (`config.entity_types`)."""
    from pipeline_globalre import RelationExtractionPipeline

    model, processor = tiny_model_and_processor(
        tmp_path_factory.mktemp("detector"), entity_types=["PER", "LOC"]
    )
    return RelationExtractionPipeline(model=model, processor=processor, device="cpu")


@pytest.mark.parametrize("coreference", ["names", "learned"])
def test_plain_text_through_the_models_own_detector(detecting_extractor, coreference):
    from entities_globalre import detect_entities

    model, processor = detecting_extractor.model, detecting_extractor.processor
    graph = detecting_extractor(TEXT, return_graph=True, coreference=coreference)
    assert graph["entities"], "the random detector tags something in this text"
    check_graph_of_text(graph, TEXT)
    detected = detect_entities(model, processor, [TEXT], coreference=coreference)[0]
    # the graph's entities are the detector's, in its order, with its names, types and spans
    assert [
        (e["name"], e["type"], [[m["start"], m["end"]] for m in e["mentions"]]) for e in graph["entities"]
    ] == [(e["name"], e["type"], sorted(e["spans"])) for e in detected]
    assert {e["type"] for e in graph["entities"]} <= {"PER", "LOC"}
    # entities given by the user: the detector does not run, the graph has exactly them
    given = detecting_extractor({"text": TEXT, "entities": ["Paris", "Warsaw"]}, return_graph=True)
    assert [e["name"] for e in given["entities"]] == ["Paris", "Warsaw"]
    # a token-classification pipeline given per call replaces the model's own detector
    replaced = detecting_extractor(
        TEXT, entity_detector=FakeTokenClassifier(NER_OUTPUT), entity_type_map=TYPE_MAP, return_graph=True
    )
    assert {(m["start"], m["end"]) for e in replaced["entities"] for m in e["mentions"]} == {
        (0, 11),
        (24, 30),
        (32, 37),
        (49, 54),
        (65, 71),
    }


def test_a_saved_model_with_a_detector_reads_plain_text_in_a_fresh_process(tmp_path):
    """The saved folder carries the detection and graph code: plain text in, the same graph out, in a process
    that has only transformers."""
    import json
    import textwrap

    from tests.helpers import make_tiny_model_dir, run_without_project

    model_dir = make_tiny_model_dir(tmp_path / "model", entity_types=["PER", "LOC"])
    for module in ("entities_globalre", "modeling_entities_globalre", "graph_globalre"):
        assert (tmp_path / "model" / f"{module}.py").is_file(), module
    from transformers import pipeline

    expected = pipeline("relation-extraction", model=model_dir, trust_remote_code=True, device="cpu")(
        TEXT, return_graph=True, top_k=1
    )
    assert expected["entities"]
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    script = textwrap.dedent(
        f"""
        import json
        from transformers import pipeline
        extractor = pipeline("relation-extraction", model={model_dir!r}, trust_remote_code=True, device="cpu")
        graph = extractor({TEXT!r}, return_graph=True, top_k=1)
        expected = json.load(open({str(tmp_path / "expected.json")!r}))
        assert graph["entities"] == expected["entities"], graph["entities"]
        assert [(t["head"], t["tail"], t["relation"]) for t in graph["relations"]] == [
            (t["head"], t["tail"], t["relation"]) for t in expected["relations"]
        ]
        print("FRESH-PROCESS-OK")
        """
    )
    result = run_without_project(script, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "FRESH-PROCESS-OK" in result.stdout


def test_types_the_model_does_not_know_from_an_entity_detector_are_named(extractor, caplog):
    config = extractor.model.config
    saved = config.relation_type_pairs
    config.relation_type_pairs = {label: [["PER", "LOC"]] for label in list(config.label2id)[:1]}
    try:
        with caplog.at_level("WARNING"):
            extractor(TEXT, entity_detector=FakeTokenClassifier(NER_OUTPUT))  # no map: PERSON, CITY as given
        assert "types the model does not know: CITY, PERSON" in caplog.text
        caplog.clear()
        with caplog.at_level("WARNING"):
            extractor(TEXT, entity_detector=FakeTokenClassifier(NER_OUTPUT), entity_type_map=TYPE_MAP)
        assert "does not know" not in caplog.text
    finally:
        config.relation_type_pairs = saved


def test_learned_coreference_with_an_entity_detector_is_refused(extractor):
    """An entity_detector's mentions are grouped by the name rule: asking for the learned scorer with it would be
    silently ignored, so it is an error; "names" is what it does anyway."""
    detector = FakeTokenClassifier(NER_OUTPUT)
    with pytest.raises(
        ValueError, match="coreference='learned' groups the mentions of the model's own detector"
    ):
        extractor(TEXT, entity_detector=detector, entity_type_map=TYPE_MAP, coreference="learned")
    with pytest.raises(ValueError, match="coreference must be one of names, learned; got 'bogus'"):
        extractor(TEXT, entity_detector=detector, entity_type_map=TYPE_MAP, coreference="bogus")
    named = extractor(TEXT, entity_detector=detector, entity_type_map=TYPE_MAP, coreference="names")
    assert named == extractor(TEXT, entity_detector=detector, entity_type_map=TYPE_MAP)
