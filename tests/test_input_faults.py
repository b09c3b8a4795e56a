"""Input that cannot mean what it says is refused or warned about, naming the document and the item (the kinds of
../shared/cases: pairs, character spans, entities listed twice, empty input, unknown options, thresholds, names that
match loosely, entities the model cannot see). Tiny random models: seconds on CPU."""

from __future__ import annotations

import copy
import logging

import pytest

from documents_globalre import DocumentError, text_to_docred
from tests.helpers import EXAMPLE_DOCUMENT, tiny_model_and_processor


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model_and_processor(tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def extractor(tiny):
    from transformers import pipeline

    import pipeline_globalre  # noqa: F401 - registers the task

    model, processor = tiny
    return pipeline("relation-extraction", model=model, processor=processor, device="cpu")


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([(1, 1)], r"pair \(1, 1\) relates an entity to itself"),
        ([(0, 1), (0, 1)], r"pair \(0, 1\) is given twice"),
        ([(0.0, 1)], r"pair \(0.0, 1\) is not \(head, tail\) with two integer entity indices"),
        ([(True, 1)], r"pair \(True, 1\) is not \(head, tail\)"),
        ([("0", "1")], r"pair \('0', '1'\) is not \(head, tail\)"),
        ([(0, 1, 2)], r"pair \(0, 1, 2\) is not \(head, tail\)"),
        ([(0, 9)], r"pair \(0, 9\) names an entity outside 0..4"),
    ],
)
def test_pairs_that_cannot_be_candidate_pairs_are_refused(tiny, extractor, pairs, message):
    _, processor = tiny
    with pytest.raises(DocumentError, match=r"document 'Tiny example': " + message):
        processor.encode_document(EXAMPLE_DOCUMENT, pairs=pairs)
    with pytest.raises(DocumentError, match=message):
        extractor(EXAMPLE_DOCUMENT, pairs=pairs)
    for encoding in ("pair", "packed"):  # the same check in both encodings: it is the candidate pairs'
        other = copy.copy(processor)  # the fixture's processor stays as it was, whatever happens here
        other.encoding = encoding
        with pytest.raises(DocumentError, match=message):
            other.encode_document(EXAMPLE_DOCUMENT, pairs=pairs)


TEXT = "Halvard Brune founded Nordvik Shipping in Bergen."


def test_spans_given_as_token_indices_are_refused_naming_the_entity():
    document = {
        "title": "spans as token indices",
        "text": TEXT,
        "entities": [
            {"name": "Halvard Brune", "spans": [[0, 2]]},
            {"name": "Nordvik Shipping", "spans": [[3, 5]]},
            {"name": "Bergen", "spans": [[6, 7]]},
        ],
    }
    with pytest.raises(
        DocumentError,
        match=r"document 'spans as token indices', entity 0 \('Halvard Brune'\): span \[0, 2\) covers 'Ha', which is "
        r"neither the entity's name nor one of its 'mentions'; spans are character offsets",
    ):
        text_to_docred(document)
    # character offsets of the name (or of a mention listed with it) are what spans mean
    document["entities"] = [
        {"name": "Halvard Brune", "spans": [[0, 13]]},
        {"name": "Nordvik Shipping", "mentions": ["the firm"], "spans": [[22, 38]]},
        {"name": "bergen", "spans": [[42, 48]]},  # case and white space aside
    ]
    converted = text_to_docred(document)
    assert [entity[0]["name"] for entity in converted["vertexSet"]] == [
        "Halvard Brune",
        "Nordvik Shipping",
        "Bergen",
    ]
    for bad, message in (
        ([[0.0, 13]], "is not \\[start, end\\) of two integers"),
        ([[40, 60]], "is outside the text"),
    ):
        document["entities"][0]["spans"] = bad
        with pytest.raises(DocumentError, match=message):
            text_to_docred(document)


@pytest.mark.parametrize(
    "entities, message",
    [
        (["Oslo", "Oslo"], r"entity 0 \('Oslo'\) and entity 1 \('Oslo'\) have the same mentions"),
        (
            ["Oslo", {"name": "the capital", "spans": [[0, 4]]}],
            r"span \[0, 4\) covers 'Oslo', which is neither",
        ),
        (["Oslo", {"name": "OSLO"}], r"entity 0 \('Oslo'\) and entity 1 \('OSLO'\) have the same mentions"),
    ],
)
def test_an_entity_listed_twice_is_refused(entities, message):
    with pytest.raises(DocumentError, match=message):
        text_to_docred(
            {"title": "twice", "text": "Oslo is a city. Oslo-based firms grew.", "entities": entities}
        )


def test_names_match_whole_words_and_say_when_they_match_loosely(caplog):
    text = "Oslo-based Kvarne hired Ada. The oslovian press wrote about ADA."
    converted = text_to_docred({"text": text, "entities": ["Oslo", "Kvarne", "Ada"]})
    oslo, _, ada = converted["vertexSet"]
    # the hyphen is a word of its own: "Oslo" is found as written, never stretched to "Oslo-based" or "oslovian"
    assert [m["name"] for m in oslo] == ["Oslo"]
    assert [m["name"] for m in ada] == ["Ada"]  # exact case first: "ADA" is not taken
    with caplog.at_level(logging.WARNING):
        converted = text_to_docred({"text": text, "entities": ["oslo", "Kvarne"]})
    assert [m["name"] for m in converted["vertexSet"][0]] == ["Oslo"]
    assert "'oslo' does not occur as written; matched ignoring case: 'Oslo'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        text_to_docred(
            {"text": text, "entities": [{"name": "Kvarn", "mentions": ["Kvarne"], "spans": [[11, 16]]}]}
        )
    assert "starts or ends inside a word; it takes the whole word(s): 'Kvarne'" in caplog.text


def test_empty_input_unknown_options_and_bad_thresholds(extractor):
    assert extractor([]) == []
    for options, error, message in (
        (
            {"top_kk": 3},
            TypeError,
            r"unknown option\(s\) \['top_kk'\]; the options are batch_size, threshold",
        ),
        ({"threshold": 1.5}, ValueError, "threshold must be a probability between 0 and 1; got 1.5"),
        ({"threshold": -0.1}, ValueError, "threshold must be a probability"),
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer; got 0"),
        ({"max_batch_tokens": 2.5}, ValueError, "max_batch_tokens must be a positive integer"),
    ):
        with pytest.raises(error, match=message):
            extractor(EXAMPLE_DOCUMENT, **options)


def test_unknown_constructor_option_is_an_error(tiny):
    from transformers import pipeline

    import pipeline_globalre  # noqa: F401 - registers the task

    model, processor = tiny
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['treshold'\]; the options are batch_size"):
        pipeline("relation-extraction", model=model, processor=processor, device="cpu", treshold=0.3)
    # a known option given to the constructor is the call's default
    plain = pipeline("relation-extraction", model=model, processor=processor, device="cpu")
    low = pipeline(
        "relation-extraction",
        model=model,
        processor=processor,
        device="cpu",
        threshold=0.0,
        local_files_only=True,
    )
    expected = plain(EXAMPLE_DOCUMENT, threshold=0.0)
    assert expected and low(EXAMPLE_DOCUMENT) == expected
    assert len(plain(EXAMPLE_DOCUMENT)) < len(expected)


def test_the_name_shown_is_the_text_the_model_encoded(tiny):
    model, processor = tiny
    document = {
        "title": "mention order",
        "sents": [
            ["Ingrid", "Moss", "was", "born", "in", "Falkby", "."],
            ["The", "chemist", "later", "moved", "."],
        ],
        "vertexSet": [
            [
                {"name": "chemist", "sent_id": 1, "pos": [1, 2], "type": "PER"},
                {"name": "Ingrid Moss", "sent_id": 0, "pos": [0, 2], "type": "PER"},
            ],
            [{"name": "Falkby", "sent_id": 0, "pos": [5, 6], "type": "LOC"}],
        ],
    }
    import torch

    triples = processor.post_process(
        torch.zeros(2, model.config.num_labels), [(0, 1), (1, 0)], document, model.config, threshold=0.4
    )
    # entity_text="first_mention": the earliest mention in the text, which is what the head segment holds
    assert {t["head_name"] for t in triples if t["head"] == 0} == {"Ingrid Moss"}
    assert processor.entity_names(document) == ["Ingrid Moss", "Falkby"]
    longest = copy.copy(processor)
    longest.entity_text = "longest_mention"
    assert longest.entity_names(document) == ["Ingrid Moss", "Falkby"]


def test_entities_the_model_cannot_see_are_named(tiny, caplog):
    _, processor = tiny
    document = {
        "title": "odd tokens",
        "sents": [["Teodor", "\u00a0", "Varga", "lived", "in", "\u200b", "Belmora", "."]],
        "vertexSet": [
            [{"name": "Teodor Varga", "sent_id": 0, "pos": [0, 3], "type": "PER"}],
            [{"name": "Belmora", "sent_id": 0, "pos": [6, 7], "type": "LOC"}],
            [{"name": "\u200b", "sent_id": 0, "pos": [5, 6], "type": "MISC"}],
        ],
    }
    with caplog.at_level(logging.WARNING):
        processor.encode_document(document)
    assert "document 'odd tokens', entity 2 ('\\u200b'): its text has no word piece" in caplog.text
    assert "entity 0" not in caplog.text and "entity 1" not in caplog.text
    caplog.clear()
    twice = copy.deepcopy(EXAMPLE_DOCUMENT)
    twice["vertexSet"].append(copy.deepcopy(twice["vertexSet"][0]))
    with caplog.at_level(logging.WARNING):
        processor.encode_document(twice)  # DocRED data has such entities: scored as two, with a warning
    assert "entities 0 and 5 have the same mentions" in caplog.text


def test_call_options_are_declared_once_and_batch_size_is_max_batch_pairs(tiny, extractor):
    import inspect

    from pipeline_globalre import CALL_OPTIONS, RelationExtractionPipeline

    stages = {"preprocess": "preprocess", "forward": "_forward", "postprocess": "postprocess"}
    for option in CALL_OPTIONS:  # each declared option is a keyword of the stage that takes it
        assert (
            option.name
            in inspect.signature(getattr(RelationExtractionPipeline, stages[option.stage])).parameters
        )
    # the same batches (3 pairs per model call) whichever name sets them
    expected = extractor(EXAMPLE_DOCUMENT, threshold=0.0, batch_size=3)
    assert len(expected) == 20 * 96
    assert extractor(EXAMPLE_DOCUMENT, threshold=0.0, max_batch_pairs=3) == expected
    with pytest.raises(ValueError, match="batch_size and max_batch_pairs name the same option"):
        extractor(EXAMPLE_DOCUMENT, batch_size=3, max_batch_pairs=3)
    with pytest.raises(ValueError, match="max_batch_pairs must be a positive integer; got 0"):
        extractor(EXAMPLE_DOCUMENT, max_batch_pairs=0)
    from transformers import pipeline

    model, processor = tiny
    # given to the constructor, either name sets every call's default
    for options in ({"batch_size": 3}, {"max_batch_pairs": 3}):
        constructed = pipeline(
            "relation-extraction", model=model, processor=processor, device="cpu", **options
        )
        assert constructed._forward_params == {"max_batch_pairs": 3}
        assert constructed(EXAMPLE_DOCUMENT, threshold=0.0) == expected
