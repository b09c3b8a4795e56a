"""GlobalReProcessor: sequence layout, document forms, candidate pairs, long documents, markers, errors,
post-processing, and the pipeline's batching."""

from __future__ import annotations

import copy
import json
import logging

import pytest
import torch

from documents_globalre import DocumentError, text_to_docred
from pair_encoding_globalre import document_segment
from processing_globalre import GlobalReProcessor, decide
from tests.helpers import (
    EXAMPLE_DOCUMENT,
    FULL_REDOCRED_TEST,
    REDOCRED_TEST,
    needs_shared_data,
    tiny_model_and_processor,
    tiny_tokenizer,
)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return tiny_tokenizer(tmp_path_factory.mktemp("vocab"))


def test_sequence_layout_and_token_types(tokenizer):
    processor = GlobalReProcessor(tokenizer)
    encoding = processor.encode_document(EXAMPLE_DOCUMENT)
    assert len(encoding) == 5 * 4
    position = encoding.pairs.index((0, 1))
    ids, types = encoding.input_ids[position], encoding.token_type_ids[position]
    text = tokenizer.decode(ids)
    assert text.startswith("[CLS] paris is the capital of france.")
    assert text.endswith("[SEP] paris [SEP] france [SEP]")
    first_sep = ids.index(tokenizer.sep_token_id)
    assert types[: first_sep + 1] == [0] * (first_sep + 1)
    assert types[first_sep + 1 :] == [1] * (len(ids) - first_sep - 1)
    assert ids.count(tokenizer.sep_token_id) == 3
    assert encoding.truncated_pairs == []


def test_whole_document_fast_path_matches_the_budgeted_path_at_the_boundary(tokenizer):
    # Pairs that fit reuse one whole-document segment; one token less of budget must send them through the
    # truncating path, and a pair that fits exactly must come out the same either way.
    full = GlobalReProcessor(tokenizer).encode_document(EXAMPLE_DOCUMENT)
    position = full.pairs.index((0, 1))
    length = len(full.input_ids[position])
    exact = GlobalReProcessor(tokenizer, max_seq_length=length).encode_document(EXAMPLE_DOCUMENT, [(0, 1)])
    assert exact.input_ids == [full.input_ids[position]] and exact.truncated_pairs == []
    short = GlobalReProcessor(tokenizer, max_seq_length=length - 1).encode_document(
        EXAMPLE_DOCUMENT, [(0, 1)]
    )
    assert short.truncated_pairs == [0] and len(short.input_ids[0]) <= length - 1
    # the budgeted path, given exactly the document's tokens as budget, keeps the whole document too
    first = full.segment_lengths[position]
    tokens = GlobalReProcessor(tokenizer).tokenize_document(EXAMPLE_DOCUMENT)
    segment, truncated = document_segment(
        tokens, 0, 1, first - 2, GlobalReProcessor(tokenizer).encoding_settings()
    )
    assert not truncated and full.input_ids[position][1 : first - 1] == segment


@pytest.mark.parametrize("markers", ["plain", "typed"])
def test_markers_that_push_a_fitting_document_over_the_budget_truncate_it(tokenizer, markers):
    # The unmarked sequence fits exactly; its marker tokens do not, so the pair must be cut and reported.
    unmarked = GlobalReProcessor(tokenizer).encode_document(EXAMPLE_DOCUMENT, [(0, 1)])
    length = len(unmarked.input_ids[0])
    fits = GlobalReProcessor(tokenizer, entity_markers=markers, max_seq_length=length + 64)
    marked = fits.encode_document(EXAMPLE_DOCUMENT, [(0, 1)])
    assert marked.truncated_pairs == [] and len(marked.input_ids[0]) > length
    short = GlobalReProcessor(tokenizer, entity_markers=markers, max_seq_length=length)
    encoding = short.encode_document(EXAMPLE_DOCUMENT, [(0, 1)])
    assert encoding.truncated_pairs == [0] and len(encoding.input_ids[0]) <= length


@pytest.mark.parametrize("markers", ["plain", "typed"])
def test_marked_pairs_that_fit_exactly_stay_whole_and_one_token_less_truncates(tokenizer, markers):
    # Whether a marked pair's whole document fits is decided before its segment is built (typed markers' type
    # tokens included): at its exact length the pair is whole; one token less, it is cut and reported.
    roomy = GlobalReProcessor(tokenizer, entity_markers=markers).encode_document(
        EXAMPLE_DOCUMENT, [(0, 1), (3, 2)]
    )
    for position, pair in enumerate(roomy.pairs):
        length = len(roomy.input_ids[position])
        exact = GlobalReProcessor(tokenizer, entity_markers=markers, max_seq_length=length)
        encoding = exact.encode_document(EXAMPLE_DOCUMENT, [pair])
        assert encoding.truncated_pairs == [] and encoding.input_ids == [roomy.input_ids[position]]
        short = GlobalReProcessor(tokenizer, entity_markers=markers, max_seq_length=length - 1)
        encoding = short.encode_document(EXAMPLE_DOCUMENT, [pair])
        assert encoding.truncated_pairs == [0] and len(encoding.input_ids[0]) <= length - 1


def test_marked_segments_built_in_chunks_equal_one_chunk(tokenizer, monkeypatch):
    import pair_encoding_globalre

    processor = GlobalReProcessor(tokenizer, entity_markers="typed")
    whole = processor.encode_document(EXAMPLE_DOCUMENT)
    chunks = []
    build = pair_encoding_globalre.marked_documents
    monkeypatch.setattr(
        pair_encoding_globalre, "marked_documents", lambda *a: chunks.append(len(a[1])) or build(*a)
    )
    tokens = len(processor.tokenize_document(EXAMPLE_DOCUMENT).ids)
    monkeypatch.setattr(
        pair_encoding_globalre, "MARKED_CHUNK_TOKENS", 3 * (tokens + 1)
    )  # three pairs a chunk
    chunked = processor.encode_document(EXAMPLE_DOCUMENT)
    assert chunks == [3] * 6 + [2]  # 20 pairs
    assert chunked == whole and chunked.input_ids == whole.input_ids


def test_pair_whose_mentions_cover_no_token_is_truncated_in_document_order(tokenizer):
    # Every mention of the pair sits on a word that tokenizes to nothing, after the last sentence with tokens:
    # no sentence holds a mention, so the kept sentences follow document order (this once raised ValueError).
    document = {
        "title": "Empty mention",
        "sents": [["Paris", "is", "the"], ["capital", "of", "France"], ["\u200b", "\ufeff"]],
        "vertexSet": [
            [{"name": "\u200b", "sent_id": 2, "pos": [0, 1], "type": "MISC"}],
            [{"name": "\ufeff", "sent_id": 2, "pos": [1, 2], "type": "MISC"}],
        ],
    }
    # entity parts: no tokens and a [SEP] each; the budget left, 8 tokens, holds either the first sentence (7
    # tokens) or the second (8), not both
    processor = GlobalReProcessor(tokenizer, max_seq_length=2 + 2 + 8)
    encoding = processor.encode_document(document, [(0, 1)])
    assert encoding.truncated_pairs == [0]
    assert tokenizer.decode(encoding.input_ids[0]) == "[CLS] paris is the [SEP] [SEP] [SEP]"


def test_entity_text_options(tokenizer):
    document = copy.deepcopy(EXAMPLE_DOCUMENT)
    document["vertexSet"][0].insert(0, {"name": "the capital", "sent_id": 0, "pos": [2, 4], "type": "LOC"})
    segments = {}
    for option in ("first_mention", "all_mentions", "longest_mention"):
        encoding = GlobalReProcessor(tokenizer, entity_text=option).encode_document(document, pairs=[(0, 1)])
        segments[option] = tokenizer.decode(encoding.input_ids[0]).split("[SEP]")[1].strip()
    # "Paris" (pos 0) comes before "the capital" (pos 2) in the document
    assert segments == {
        "first_mention": "paris",
        "all_mentions": "the capital ; paris",
        "longest_mention": "the capital",
    }


def test_text_form_with_names_spans_and_aliases():
    document = {
        "title": "Curie",
        "text": "Marie Curie was born in Warsaw. Warsaw is the capital of Poland. Curie moved to Paris.",
        "entities": [
            {"name": "Marie Curie", "type": "PER", "mentions": ["Curie"]},
            "Warsaw",
            {"name": "Poland", "type": "LOC", "spans": [[57, 63]]},
            "paris",
        ],
    }
    converted = text_to_docred(document)
    assert converted["sents"][1] == ["Warsaw", "is", "the", "capital", "of", "Poland", "."]
    curie = converted["vertexSet"][0]
    # "Curie" inside "Marie Curie" is not a second mention; the later "Curie" is
    assert [(m["name"], m["sent_id"], m["pos"]) for m in curie] == [
        ("Marie Curie", 0, [0, 2]),
        ("Curie", 2, [0, 1]),
    ]
    assert [m["pos"] for m in converted["vertexSet"][1]] == [[5, 6], [0, 1]]
    assert converted["vertexSet"][2] == [
        {"name": "Poland", "sent_id": 1, "pos": [5, 6], "char_span": [57, 63], "type": "LOC"}
    ]
    # case-insensitive only as a fallback
    assert converted["vertexSet"][3][0]["name"] == "Paris"


def test_candidate_pairs_all_given_and_type_constrained(tokenizer):
    processor = GlobalReProcessor(tokenizer)
    assert len(processor.candidate_pairs(EXAMPLE_DOCUMENT)) == 20
    assert processor.candidate_pairs(EXAMPLE_DOCUMENT, pairs=[[2, 3]]) == [(2, 3)]
    constrained = GlobalReProcessor(tokenizer, pair_types=[["PER", "LOC"]])
    assert constrained.candidate_pairs(EXAMPLE_DOCUMENT) == [(2, 0), (2, 1), (2, 3), (2, 4)]
    with pytest.raises(DocumentError, match=r"pair \(2, 9\) names an entity outside 0\.\.4"):
        processor.candidate_pairs(EXAMPLE_DOCUMENT, pairs=[(2, 9)])


def _long_document() -> dict:
    """Twelve sentences of filler with the head in sentence 1 and the tail in sentence 10."""
    sentences = [["the", "river", "of", "the", "city", "was", "a", "river", "."] for _ in range(12)]
    sentences[1] = ["paris", "is", "a", "city", "."]
    sentences[10] = ["france", "is", "a", "country", "."]
    return {
        "title": "Long",
        "sents": sentences,
        "vertexSet": [
            [{"name": "paris", "sent_id": 1, "pos": [0, 1], "type": "LOC"}],
            [{"name": "france", "sent_id": 10, "pos": [0, 1], "type": "LOC"}],
        ],
    }


def test_mention_windows_keeps_mention_sentences_and_reports(tokenizer, caplog):
    processor = GlobalReProcessor(tokenizer, max_seq_length=40)
    with caplog.at_level(logging.WARNING):
        encoding = processor.encode_document(_long_document())
    assert encoding.truncated_pairs == [0, 1]
    assert "document #" not in encoding.notes[0] and "'Long'" in encoding.notes[0]
    assert "2 of 2 pairs keep only part of the document" in caplog.text
    for ids in encoding.input_ids:
        assert len(ids) <= 40
        text = tokenizer.decode(ids)
        document_part, head, tail = text.split("[SEP]")[:3]
        # both entity segments whole, and both mention sentences kept in the document segment
        assert {head.strip(), tail.strip()} == {"paris", "france"}
        assert "paris is a city." in document_part and "france is a country." in document_part


def test_truncate_tail_is_available_and_reported(tokenizer):
    processor = GlobalReProcessor(tokenizer, max_seq_length=40, long_document_strategy="truncate_tail")
    encoding = processor.encode_document(_long_document())
    assert encoding.truncated_pairs == [0, 1]
    document_part = tokenizer.decode(encoding.input_ids[0]).split("[SEP]")[0]
    assert "paris is a city." in document_part and "france" not in document_part


def test_windows_when_mention_sentences_alone_do_not_fit(tokenizer):
    document = _long_document()
    document["sents"][1] = ["the"] * 30 + ["paris"] + ["the"] * 30
    document["vertexSet"][0][0]["pos"] = [30, 31]
    encoding = GlobalReProcessor(tokenizer, max_seq_length=48).encode_document(document, pairs=[(0, 1)])
    text = tokenizer.decode(encoding.input_ids[0])
    assert len(encoding.input_ids[0]) <= 48
    assert "the paris the" in text.split("[SEP]")[0] and "france" in text.split("[SEP]")[0]


@pytest.mark.parametrize("markers", ["plain", "typed"])
def test_entity_markers_wrap_every_mention_of_the_pair(tokenizer, markers):
    document = copy.deepcopy(EXAMPLE_DOCUMENT)
    document["vertexSet"][3].append({"name": "Warsaw", "sent_id": 0, "pos": [2, 3], "type": "LOC"})
    processor = GlobalReProcessor(tokenizer, entity_markers=markers)
    head_start, head_end, tail_start, tail_end = processor.marker_ids
    encoding = processor.encode_document(document, pairs=[(3, 2)])
    ids = encoding.input_ids[0]
    assert ids.count(head_start) == ids.count(head_end) == 2  # both mentions of entity 3
    assert ids.count(tail_start) == ids.count(tail_end) == 1
    text = tokenizer.decode(ids)
    if markers == "typed":
        assert "[unused0] loc warsaw [unused1]" in text and "[unused2] per marie curie [unused3]" in text
    else:
        assert "[unused0] warsaw [unused1]" in text and "[unused2] marie curie [unused3]" in text


@pytest.mark.parametrize("markers", ["plain", "typed"])
def test_marked_documents_built_together_equal_the_one_pair_builder(tokenizer, markers):
    # Awkward layouts: nested and identical mentions of different entities, a mention at the first and at the last
    # word, an entity with several mentions, a word without tokens inside a mention, and a pair of an entity with
    # itself. Every pair fits, so encode_document builds them all at once; each must equal the segment that
    # document_segment builds for that pair alone.
    document = copy.deepcopy(EXAMPLE_DOCUMENT)
    document["sents"][1][6] = "\u200b"  # tokenizes to nothing
    document["vertexSet"] += [
        [{"name": "Paris is", "sent_id": 0, "pos": [0, 2], "type": "MISC"}],  # starts with entity 0
        [{"name": "Paris", "sent_id": 0, "pos": [0, 1], "type": "LOC"}],  # the same span as entity 0
        [
            {"name": ". ", "sent_id": 1, "pos": [8, 9], "type": "MISC"},  # the last word
            {"name": "Warsaw ,", "sent_id": 1, "pos": [5, 7], "type": "MISC"},  # ends on the empty word
            {"name": "capital of", "sent_id": 0, "pos": [3, 5], "type": "MISC"},
        ],
    ]
    processor = GlobalReProcessor(tokenizer, entity_markers=markers)
    n = len(document["vertexSet"])
    # (e, e) pairs are refused since candidate pairs have h != t; nested and identical mentions of two entities put
    # both roles' markers around one span
    pairs = [(h, t) for h in range(n) for t in range(n) if h != t]
    encoding = processor.encode_document(document, pairs=pairs)
    assert encoding.truncated_pairs == []
    tokens = processor.tokenize_document(document)
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    for position, (head, tail) in enumerate(pairs):
        segment, truncated = document_segment(
            tokens, head, tail, processor.max_seq_length, processor.encoding_settings()
        )
        first = encoding.segment_lengths[position]
        assert encoding.input_ids[position][:first] == [cls_id, *segment, sep_id], (head, tail)
        assert not truncated


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"title": "Empty", "sents": [], "vertexSet": []}, r"document #7 'Empty': the document has no words"),
        ({"text": "  ", "entities": []}, r"document #7: 'text' is empty"),
        (
            {
                "title": "Out",
                "sents": [["a", "b"]],
                "vertexSet": [[{"name": "a", "sent_id": 0, "pos": [1, 5]}]],
            },
            r"document #7 'Out', entity 0 \('a'\), mention 0: pos \[1, 5\] is outside sentence 0 \(2 words\)",
        ),
        (
            {
                "title": "Sent",
                "sents": [["a", "b"]],
                "vertexSet": [[{"name": "a", "sent_id": 3, "pos": [0, 1]}]],
            },
            r"document #7 'Sent', entity 0 \('a'\), mention 0: sent_id 3 is outside 0\.\.0",
        ),
        (
            {"text": "Paris is nice.", "entities": ["Paris", "Rome"]},
            r"entity 1 \('Rome'\): the name does not occur",
        ),
        (
            {"text": "Paris is nice.", "entities": [{"name": "P", "spans": [[4, 99]]}]},
            r"entity 0 \('P'\): span \[4, 99\) is outside the text \(length 14\)",
        ),
        (
            {"title": "NoMentions", "sents": [["a"]], "vertexSet": [[]]},
            r"entity 0: the entity has no mentions",
        ),
        ("just a string", r"expected a dict in DocRED form"),
    ],
)
def test_bad_input_names_document_and_item(tokenizer, document, message):
    with pytest.raises(DocumentError, match=message):
        GlobalReProcessor(tokenizer).encode_document(document, index=7)


def test_fewer_than_two_entities_gives_no_pairs(tokenizer, tmp_path):
    model, processor = tiny_model_and_processor(tmp_path)
    document = {"text": "Paris is nice.", "entities": ["Paris"]}
    assert len(processor.encode_document(document)) == 0
    from inference_globalre import predict_documents

    assert predict_documents(model, processor, [document]) == [[]]


def test_post_process_threshold_rules_and_relation_filter(tmp_path):
    model, processor = tiny_model_and_processor(tmp_path)
    config = model.config
    logits = torch.full((2, config.num_labels), -5.0)
    p17, p131 = config.label2id["P17"], config.label2id["P131"]
    logits[0, p17] = 2.0  # sigmoid 0.88
    logits[0, p131] = 0.0  # sigmoid 0.5: not above 0.5
    logits[1, config.no_relation_id] = 5.0  # never a prediction
    triples = processor.post_process(logits, [(0, 1), (1, 0)], EXAMPLE_DOCUMENT, config)
    assert [(t["head"], t["tail"], t["relation"]) for t in triples] == [(0, 1, "P17")]
    assert triples[0]["relation_name"] == "country" and triples[0]["head_name"] == "Paris"
    assert triples[0]["score"] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())
    lower = processor.post_process(logits, [(0, 1), (1, 0)], EXAMPLE_DOCUMENT, config, threshold=0.4)
    assert [t["relation"] for t in lower] == ["P17", "P131"]
    config.relation_thresholds = {"P17": 0.95}
    assert processor.post_process(logits, [(0, 1), (1, 0)], EXAMPLE_DOCUMENT, config) == []
    config.relation_thresholds = {}
    only = processor.post_process(
        logits, [(0, 1), (1, 0)], EXAMPLE_DOCUMENT, config, threshold=0.4, relations=["P131"]
    )
    assert [t["relation"] for t in only] == ["P131"]
    with pytest.raises(ValueError, match=r"Unknown relation\(s\) \['P999999'\]"):
        processor.post_process(logits, [(0, 1), (1, 0)], EXAMPLE_DOCUMENT, config, relations=["P999999"])


def test_adaptive_rule_and_top_k(tmp_path):
    model, _ = tiny_model_and_processor(tmp_path, loss="adaptive_threshold", decision_rule="adaptive")
    config = model.config
    logits = torch.zeros((1, config.num_labels))
    logits[0, config.no_relation_id] = 1.0
    logits[0, 1], logits[0, 2], logits[0, 3] = 3.0, 2.0, 1.5
    scores, keep = decide(logits, config)
    assert keep[0].nonzero().flatten().tolist() == [1, 2, 3]
    config.max_relations_per_pair = 2
    scores, keep = decide(logits, config)
    assert keep[0].nonzero().flatten().tolist() == [1, 2]
    assert scores[0, 1] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())


def test_processor_batch_call_returns_pair_index(tokenizer):
    processor = GlobalReProcessor(tokenizer)
    batch = processor([EXAMPLE_DOCUMENT, {"text": "Paris is in France.", "entities": ["Paris", "France"]}])
    assert batch["input_ids"].shape[0] == 22 == batch["pair_index"].shape[0]
    assert batch["pair_index"][-1].tolist() == [1, 1, 0]
    assert batch["attention_mask"].sum(dim=1).tolist()[:1] == [
        len(processor.encode_document(EXAMPLE_DOCUMENT).input_ids[0])
    ]


@needs_shared_data
def test_pipeline_batches_a_42_entity_document_with_bounded_memory(tmp_path):
    """The largest Re-DocRED test document (42 entities, 1,722 pairs) runs in token-bounded batches."""
    from pipeline_globalre import RelationExtractionPipeline

    documents = json.loads(FULL_REDOCRED_TEST.read_text())
    largest = max(documents, key=lambda d: len(d["vertexSet"]))
    assert len(largest["vertexSet"]) == 42
    model, processor = tiny_model_and_processor(tmp_path)
    seen = []
    original_encode = model.pair_representation

    def recording_encode(**batch):
        seen.append(tuple(batch["input_ids"].shape))
        return original_encode(**batch)

    model.pair_representation = recording_encode
    extractor = RelationExtractionPipeline(model=model, processor=processor, device="cpu")
    triples = extractor(largest, max_batch_tokens=32768, batch_size=64, threshold=0.0, relations=["P17"])
    assert len(triples) == 42 * 41
    assert sum(rows for rows, _ in seen) == 42 * 41
    assert all(rows <= 64 and rows * length <= 32768 for rows, length in seen)
    lengths = [length for _, length in seen]
    assert lengths == sorted(lengths, reverse=True)  # length-sorted batches, no padding to a fixed size


def test_pipeline_task_is_registered_in_process(tmp_path):
    from transformers import pipeline

    import pipeline_globalre  # noqa: F401  (registers the task)

    model, processor = tiny_model_and_processor(tmp_path)
    extractor = pipeline("relation-extraction", model=model, processor=processor, device="cpu")
    assert type(extractor).__name__ == "RelationExtractionPipeline"
    text_document = {"text": "Paris is the capital of France.", "entities": ["Paris", "France"]}
    results = extractor([EXAMPLE_DOCUMENT, text_document], threshold=0.0, relations=["P17", "P36"])
    assert [len(triples) for triples in results] == [20 * 2, 2 * 2]
    assert {(t["head_name"], t["tail_name"]) for t in results[1]} == {
        ("Paris", "France"),
        ("France", "Paris"),
    }
    # bf16=True reaches the encoder (scores move by bf16 rounding only), bf16=False is the CPU default
    exact = extractor(EXAMPLE_DOCUMENT, threshold=0.0)
    assert extractor(EXAMPLE_DOCUMENT, threshold=0.0, bf16=False) == exact
    rounded = extractor(EXAMPLE_DOCUMENT, threshold=0.0, bf16=True)
    key = lambda t: (t["head"], t["tail"], t["relation"])  # noqa: E731
    exact_scores = {key(t): t["score"] for t in exact}
    assert rounded != exact and {key(t) for t in rounded} == exact_scores.keys()
    assert all(abs(t["score"] - exact_scores[key(t)]) < 2e-2 for t in rounded)


def test_sentences_never_split_a_mention():
    converted = text_to_docred(
        {"text": "Dr. Smith joined the U.S. Army in 1990. He left.", "entities": ["Dr. Smith", "U.S. Army"]}
    )
    assert [m["name"] for entity in converted["vertexSet"] for m in entity] == ["Dr. Smith", "U.S. Army"]
    assert len(converted["sents"]) == 2 and converted["sents"][1] == ["He", "left", "."]


def test_a_call_threshold_replaces_the_adaptive_cut_and_stored_thresholds(tmp_path):
    model, _ = tiny_model_and_processor(tmp_path, loss="adaptive_threshold", decision_rule="adaptive")
    logits = torch.zeros((1, model.config.num_labels))
    logits[0, 1] = 0.5  # sigmoid(0.5 - 0) = 0.62
    assert decide(logits, model.config)[1][0, 1]
    assert not decide(logits, model.config, threshold=0.7)[1][0, 1]
    bce, _ = tiny_model_and_processor(tmp_path, relation_thresholds={"P17": 0.9})
    logits = torch.zeros((1, bce.config.num_labels))
    logits[0, bce.config.label2id["P17"]] = 1.0  # sigmoid 0.73
    assert not decide(logits, bce.config)[1][0, bce.config.label2id["P17"]]
    assert decide(logits, bce.config, threshold=0.6)[1][0, bce.config.label2id["P17"]]


@pytest.mark.parametrize("markers", ["plain", "typed"])
@pytest.mark.parametrize("strategy", ["mention_windows", "truncate_tail"])
def test_markers_stay_balanced_and_within_budget_under_truncation(tokenizer, markers, strategy):
    document = json.loads(REDOCRED_TEST.read_text())[0]
    for budget in (40, 64, 128):
        processor = GlobalReProcessor(
            tokenizer, entity_markers=markers, long_document_strategy=strategy, max_seq_length=budget
        )
        head_start, head_end, tail_start, tail_end = processor.marker_ids
        encoding = processor.encode_document(document)
        assert encoding.truncated_pairs
        for ids in encoding.input_ids:
            assert len(ids) <= budget
            assert ids.count(head_start) == ids.count(head_end)
            assert ids.count(tail_start) == ids.count(tail_end)
            if strategy == "mention_windows" and budget >= 64:  # (at 40 some mention pairs cannot fit at all)
                assert ids.count(head_start) >= 1 and ids.count(tail_start) >= 1


def test_pipeline_refuses_a_processor_that_disagrees_with_the_model(tmp_path):
    from pipeline_globalre import RelationExtractionPipeline

    model, _ = tiny_model_and_processor(tmp_path, pair_types=[["PER", "LOC"]])
    with pytest.raises(ValueError, match=r"processor's pair_types=None differs from the model's"):
        RelationExtractionPipeline(model=model, processor=GlobalReProcessor(tiny_tokenizer()), device="cpu")


def test_pairs_belong_to_one_document(tokenizer):
    with pytest.raises(ValueError, match="pairs= names the pairs of one document"):
        GlobalReProcessor(tokenizer)([EXAMPLE_DOCUMENT, EXAMPLE_DOCUMENT], pairs=[(0, 1)])
