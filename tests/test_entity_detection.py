"""The built-in entity detector: DocRED documents as raw text (`docred_to_text`), BIO labels and windows
(`detection_features`), decoding, the name rule and learned clustering, the model's detection head (shapes, loss,
gradients, that it can learn), saving and loading it, and a token-classification pipeline's output as entities."""

from __future__ import annotations

import json
import logging
import textwrap

import pytest
import torch

from configuration_globalre import GlobalReConfig
from documents_globalre import DocumentError, docred_to_text, text_to_docred
from entities_globalre import (
    cluster_mentions,
    collate_detection,
    decode_tags,
    detect_entities,
    detection_features,
    entities_from_token_classification,
    group_mentions_by_name,
    name_features,
    window_ranges,
    word_tags,
)
from modeling_entities_globalre import NAME_FEATURES
from modeling_globalre import GlobalReForRelationExtraction
from tests.helpers import (
    EXAMPLE_DOCUMENT,
    REDOCRED_DEV,
    TINY_DOCUMENT,
    make_tiny_model_dir,
    run_without_project,
    tiny_config,
    tiny_model_and_processor,
    tiny_tokenizer,
)

TYPES = ["LOC", "PER", "ORG"]
OUT, B_LOC, I_LOC, B_PER, I_PER, B_ORG, I_ORG = range(7)


# --------------------------------------------------------------------------------------------------------------
# docred_to_text and the config fields
# --------------------------------------------------------------------------------------------------------------


def _slice_documents(count: int = 6) -> list[dict]:
    return json.loads(REDOCRED_DEV.read_text())[:count]


@pytest.mark.parametrize("source", ["example", "tiny", "slice"])
def test_docred_to_text_spans_cut_exactly_the_mention_words(source):
    documents = {"example": [EXAMPLE_DOCUMENT], "tiny": [TINY_DOCUMENT], "slice": _slice_documents()}[source]
    for document in documents:
        text, entities = docred_to_text(document)
        assert text == " ".join(word for sentence in document["sents"] for word in sentence)
        assert len(entities) == len(document["vertexSet"])
        for entity, gold in zip(entities, document["vertexSet"]):
            assert len(entity["spans"]) == len(gold) == len(entity["mention_types"])
            for (start, end), mention, type_ in zip(entity["spans"], gold, entity["mention_types"]):
                words = document["sents"][mention["sent_id"]][mention["pos"][0] : mention["pos"][1]]
                assert text[start:end] == " ".join(words)
                assert type_ == mention["type"]
            assert entity["type"] == gold[0]["type"]
            assert entity["name"] == text[entity["spans"][0][0] : entity["spans"][0][1]]
        # the text form reads it back: the same entities with the same mention words
        converted = text_to_docred({"text": text, "entities": entities})
        for entity, gold in zip(converted["vertexSet"], document["vertexSet"]):
            positions = {(m["sent_id"], *m["pos"]) for m in gold}  # a mention listed twice is one mention
            words = [" ".join(document["sents"][sent_id][start:end]) for sent_id, start, end in positions]
            assert sorted(m["name"] for m in entity) == sorted(words)


def test_docred_to_text_names_the_document_and_mention_with_bad_positions():
    document = json.loads(json.dumps(EXAMPLE_DOCUMENT))
    document["vertexSet"][2][0]["pos"] = [7, 12]
    with pytest.raises(
        DocumentError, match=r"#3 'Tiny example', entity 2 mention 0: 'sent_id' 1 and 'pos' \[7, 12\]"
    ):
        docred_to_text(document, 3)


def test_config_fields_are_declared_and_checked():
    tokenizer = tiny_tokenizer()
    config = tiny_config(tokenizer)
    assert config.entity_types == [] and config.coreference == "names" and config.coreference_threshold == 0.5
    assert tiny_config(tokenizer, entity_types=("PER", "LOC")).entity_types == ["PER", "LOC"]
    for bad, message in [
        ({"entity_types": ["PER", "PER"]}, "must not repeat"),
        ({"entity_types": ["PER", " "]}, "non-empty type names"),
        ({"entity_types": "PER"}, "non-empty type names"),
        ({"coreference": "pronouns"}, "coreference must be one of names, learned"),
        ({"coreference_threshold": 1.5}, "between 0 and 1"),
    ]:
        with pytest.raises(ValueError, match=message):
            tiny_config(tokenizer, **bad)
    round_trip = GlobalReConfig.from_dict(
        tiny_config(tokenizer, entity_types=["PER"], coreference="learned").to_dict()
    )
    assert round_trip.entity_types == ["PER"] and round_trip.coreference == "learned"


# --------------------------------------------------------------------------------------------------------------
# Labels, windows, decoding
# --------------------------------------------------------------------------------------------------------------


def test_gold_mentions_across_a_sentence_end_or_repeated_are_counted_not_trained():
    # "Yahoo ! Japan": the text form ends a sentence at "!", and decoding never continues a mention past one, so
    # a B-I-I label across it would teach what the detector cannot output
    tokenizer = tiny_tokenizer()
    text = "Yahoo ! Japan was founded in Tokyo ."
    entities = [
        {"spans": [[0, 13]], "type": "ORG"},  # Yahoo ! Japan
        {"spans": [[29, 34], [29, 34]], "type": "LOC"},  # Tokyo, its span listed twice
    ]
    features = detection_features(tokenizer, text, TYPES, 512, entities)
    assert features.dropped["crosses_sentence"] == 1 and features.dropped["duplicate"] == 1
    assert [
        features.text[features.word_spans[a][0] : features.word_spans[b][1]] for a, b, _ in features.mentions
    ] == ["Tokyo"]
    assert all(label in (-100, OUT, B_LOC) for label in features.tag_labels[0])


def test_bio_labels_on_a_hand_made_document():
    tokenizer = tiny_tokenizer()
    text = "Marie Curie studied in New York City . Curie met the Acme Corp board ."
    entities = [
        {"spans": [[0, 11], [39, 44]], "type": "PER"},  # Marie Curie, Curie
        {"spans": [[23, 36]], "type": "LOC"},  # New York City
        {"spans": [[27, 31]], "type": "LOC"},  # York: nested in New York City, dropped
        {"spans": [[53, 62]], "type": "ORG"},  # Acme Corp
        {"spans": [[63, 68]], "type": "MISC"},  # board: a type the detector does not tag
    ]
    features = detection_features(tokenizer, text, TYPES, 512, entities)
    words = [text[a:b] for a, b in features.word_spans]
    assert words[:3] == ["Marie", "Curie", "studied"]
    expected = {
        "Marie": B_PER, "Curie": I_PER, "studied": OUT, "in": OUT, "New": B_LOC, "York": I_LOC, "City": I_LOC,
        ".": OUT, "met": OUT, "the": OUT, "Acme": B_ORG, "Corp": I_ORG, "board": OUT,
    }  # fmt: skip
    labels = features.tag_labels[0]
    for w, word in enumerate(words):
        first, end = features.word_tokens[w]
        assert labels[first + 1] == (B_PER if w == 8 else expected[word]), word  # word 8: the second "Curie"
        assert all(
            label == -100 for label in labels[first + 2 : end + 1]
        )  # only a word's first token is scored
    assert labels[0] == labels[-1] == -100  # [CLS], [SEP]
    assert features.dropped == {
        "overlapping": 1, "unknown_type": 1, "no_tokens": 0, "crosses_sentence": 0, "duplicate": 0
    }  # fmt: skip
    assert features.mentions == [(0, 1, 1), (4, 6, 0), (8, 8, 1), (11, 12, 2)]
    assert features.mention_entity == [0, 1, 0, 3]
    # the mentions' first and last subword tokens in the window ([CLS] at 0)
    window, first, last = features.mention_tokens[0]
    assert (window, first, last) == (0, 1, features.word_tokens[1][1])
    # pairs of one type only, labelled by the gold entity
    assert features.coreference_pairs == [(0, 2)] and features.coreference_labels == [1.0]
    assert features.coreference_features == [name_features("Marie Curie", "Curie")]


def test_collate_builds_flat_mention_indices_over_padded_windows():
    tokenizer = tiny_tokenizer()
    short = detection_features(
        tokenizer, "Curie met Marie Curie .", TYPES, 512, [{"spans": [[0, 5], [10, 21]], "type": "PER"}]
    )
    long = detection_features(
        tokenizer,
        "Paris and Oslo are cities .",
        TYPES,
        512,
        [{"spans": [[0, 5]], "type": "LOC"}, {"spans": [[10, 14]], "type": "LOC"}],
    )
    batch = collate_detection([short, long])
    seq_len = batch["input_ids"].shape[1]
    assert seq_len == max(len(short.input_ids[0]), len(long.input_ids[0]))
    assert batch["window_document"].tolist() == [0, 1]
    assert batch["mention_document"].tolist() == [0, 0, 1, 1]
    assert batch["coreference_pairs"].tolist() == [[0, 1], [2, 3]]
    assert batch["coreference_labels"].tolist() == [1.0, 0.0]
    assert batch["coreference_features"].shape == (2, len(NAME_FEATURES))
    window, first, _ = long.mention_tokens[1]
    flat = batch["mention_tokens"][3, 0].item()
    assert divmod(flat, seq_len) == (1 + window, first)
    assert batch["input_ids"].view(-1)[flat] == long.input_ids[window][first]
    assert batch["attention_mask"].sum().item() == len(short.input_ids[0]) + len(long.input_ids[0])
    with pytest.raises(ValueError, match="some texts have gold entities and others not"):
        collate_detection([short, detection_features(tokenizer, "Oslo .", TYPES, 512)])


def test_decoding_hand_made_tag_sequences():
    same = [0] * 20
    assert decode_tags([B_PER, I_PER, OUT, B_LOC, OUT], same) == [(0, 1, 1), (3, 3, 0)]
    # an I without a B starts a mention; after O too
    assert decode_tags([I_LOC, I_LOC, OUT, I_PER], same) == [(0, 1, 0), (3, 3, 1)]
    # a B after a B starts a new mention
    assert decode_tags([B_LOC, B_LOC, I_LOC], same) == [(0, 0, 0), (1, 2, 0)]
    # never across a sentence end: the I in the next sentence starts a mention of its own
    assert decode_tags([B_ORG, I_ORG, I_ORG, I_ORG], [0, 0, 1, 1]) == [(0, 1, 2), (2, 3, 2)]
    # the type by majority, the B tag's on a tie
    assert decode_tags([B_ORG, I_LOC, I_LOC], same) == [(0, 2, 0)]
    assert decode_tags([B_ORG, I_LOC], same) == [(0, 1, 2)]
    # a word without tokens neither continues nor closes
    assert decode_tags([B_PER, None, I_PER, OUT, None], same) == [(0, 2, 1)]
    assert decode_tags([], []) == []


def test_windows_of_a_long_text_and_tags_read_where_a_word_is_most_central():
    assert window_ranges(0, 10) == []
    assert window_ranges(7, 10) == [(0, 7)]
    assert window_ranges(25, 10) == [(0, 10), (5, 15), (10, 20), (15, 25)]
    tokenizer = tiny_tokenizer()
    words = [f"w{i}" for i in range(40)]
    text = " ".join(words)
    # one long mention from word 10 to word 17 and short ones around it, with a 16-token window budget
    spans = {(10, 17): "PER", (3, 3): "LOC", (30, 31): "ORG"}
    start = {i: len(" ".join(words[:i])) + (1 if i else 0) for i in range(40)}
    entities = [
        {"spans": [[start[a], start[b] + len(words[b])]], "type": type_} for (a, b), type_ in spans.items()
    ]
    features = detection_features(tokenizer, text, TYPES, 16, entities)
    assert len(features.windows) > 3 and all(len(ids) <= 16 for ids in features.input_ids)
    homes = {features.word_window[w] for w in range(10, 18)}
    assert len(homes) > 1  # the long mention's words are read from more than one window
    # tags that are right only where a word's first token is most central, a wrong B everywhere else
    window_tags = [[label if label != -100 else B_ORG for label in labels] for labels in features.tag_labels]
    decoded = decode_tags(word_tags(features, window_tags), features.word_sentence)
    assert {(a, b): TYPES[k] for a, b, k in decoded} == spans
    # the learned scorer reads a mention in one window that holds all of it
    window, first, last = features.mention_window(30, 31)
    assert features.input_ids[window][first] == features.input_ids[window][first]
    window_start = features.windows[window][0]
    assert first - 1 + window_start == features.word_tokens[30][0]
    assert last - 1 + window_start == features.word_tokens[31][1] - 1


# --------------------------------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------------------------------


def _mentions(text: str, names_and_types: list[tuple[str, str]]) -> list[tuple[int, int, str]]:
    """Spans of each name in order of occurrence (each searched after the previous one)."""
    found, position = [], 0
    for name, type_ in names_and_types:
        start = text.index(name, position)
        found.append((start, start + len(name), type_))
        position = start + 1
    return found


def test_name_rule_on_hand_cases():
    text = (
        "Marie Curie met Pierre Curie in Paris . MARIE  CURIE left Paris ; Curie stayed . Paris Hilton came ."
    )
    mentions = _mentions(
        text,
        [("Marie Curie", "PER"), ("Pierre Curie", "PER"), ("Paris", "LOC"), ("MARIE  CURIE", "PER"),
         ("Paris", "LOC"), ("Curie", "PER"), ("Paris Hilton", "PER")],
    )  # fmt: skip
    groups = group_mentions_by_name(text, mentions)
    # same normalized name; "Curie" ends two different entities' names, so it stays alone; "Paris" is a LOC and
    # "Paris Hilton" a PER: the surname rule joins only within one type
    assert groups == [[0, 3], [1], [2, 4], [5], [6]]
    text = (
        "Marie Curie was born in Warsaw . Curie won . The Acme Corporation grew ; Corporation shares rose ."
    )
    mentions = _mentions(
        text,
        [
            ("Marie Curie", "PER"),
            ("Warsaw", "LOC"),
            ("Curie", "PER"),
            ("Acme Corporation", "ORG"),
            ("Corporation", "ORG"),
        ],
    )
    assert group_mentions_by_name(text, mentions) == [[0, 2], [1], [3, 4]]
    # a LOC's last word is not its short name: "York" is not "New York"
    text = "New York and York ."
    assert group_mentions_by_name(text, _mentions(text, [("New York", "LOC"), ("York", "LOC")])) == [[0], [1]]
    # different types with one name are different entities
    text = "Washington visited Washington ."
    mentions = [(0, 10, "PER"), (19, 29, "LOC")]
    assert group_mentions_by_name(text, mentions) == [[0], [1]]
    with pytest.raises(ValueError, match="mention 0: span"):
        group_mentions_by_name("abc", [(2, 9, "PER")])


def test_name_features_and_learned_clustering():
    assert name_features("Marie Curie", "marie  curie") == [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    assert name_features("Curie", "Marie Curie") == [0.0, 1.0, 1.0, 0.0, 0.5, 0.0]
    assert name_features("United Nations", "U.N.")[-1] == 1.0
    assert name_features("Federal Bureau of Investigation", "FBI")[-1] == 1.0
    assert name_features("Oslo", "Paris") == [0.0] * 6
    types = ["PER", "PER", "LOC", "PER"]
    pairs = [(0, 1), (0, 3), (1, 3), (0, 2)]
    assert cluster_mentions(types, pairs, [0.9, 0.2, 0.6, 0.99], 0.5) == [[0, 1, 3], [2]]
    assert cluster_mentions(types, pairs, [0.9, 0.2, 0.6, 0.99], 0.7) == [[0, 1], [2], [3]]


# --------------------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------------------


def _detector_model(tmp_path, **kwargs):
    return tiny_model_and_processor(tmp_path, entity_types=TYPES, **kwargs)


def test_model_without_entity_types_has_no_detector_and_its_weights_keep_their_names(tmp_path):
    plain, processor = tiny_model_and_processor(tmp_path / "plain")
    detector, _ = _detector_model(tmp_path / "detector")
    assert plain.entity_detector is None
    plain_keys = set(plain.state_dict())
    assert not any(key.startswith("entity_detector") for key in plain_keys)
    assert {key for key in detector.state_dict() if not key.startswith("entity_detector.")} == plain_keys
    # the same seed draws the same relation weights with or without a detector
    torch.testing.assert_close(plain.classifier.weight, detector.classifier.weight)
    with pytest.raises(ValueError, match="no entity detector.*train.py --entity_detection"):
        plain.entity_detection(torch.ones(1, 4, dtype=torch.long), torch.ones(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="no entity detector.*token-classification"):
        detect_entities(plain, processor, ["Marie Curie was born in Warsaw ."])
    # a model saved before these fields existed (no entity_types in its config.json) loads without a detector
    plain.save_pretrained(tmp_path / "saved")
    config_file = tmp_path / "saved" / "config.json"
    config = json.loads(config_file.read_text())
    for key in ("entity_types", "coreference", "coreference_threshold"):
        config.pop(key)
    config_file.write_text(json.dumps(config))
    loaded = GlobalReForRelationExtraction.from_pretrained(tmp_path / "saved")
    assert loaded.entity_detector is None and loaded.config.entity_types == []
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_detector_layers_are_initialised_by_the_model():
    config = tiny_config(tiny_tokenizer(), entity_types=TYPES)
    torch.manual_seed(0)
    model = GlobalReForRelationExtraction(config)
    std = config.encoder_config.initializer_range
    for layer in (model.entity_detector.tagger, *model.entity_detector.coreference_scorer[::3]):
        assert torch.all(layer.bias == 0)
        assert abs(layer.weight.std().item() - std) < 0.3 * std


def test_entity_detection_shapes_loss_and_gradient_to_the_encoder(tmp_path):
    model, processor = _detector_model(tmp_path, freeze_encoder=False)
    model.train()
    text, entities = docred_to_text(EXAMPLE_DOCUMENT)
    features = detection_features(processor.tokenizer, text, TYPES, 512, entities)
    batch = collate_detection([features, features])
    output = model.entity_detection(**batch)
    windows, seq_len = batch["input_ids"].shape
    assert output.tag_logits.shape == (windows, seq_len, 1 + 2 * len(TYPES))
    assert output.hidden_states.shape == (windows, seq_len, 32)
    assert output.coreference_logits.shape == (batch["coreference_pairs"].shape[0],)
    assert torch.isfinite(output.loss) and output.loss.item() > 0
    torch.testing.assert_close(output.loss, output.tag_loss + output.coreference_loss)
    output.loss.backward()
    assert model.encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0
    assert model.entity_detector.coreference_scorer[0].weight.grad.abs().sum() > 0
    assert model.classifier.weight.grad is None  # the relation head takes no part
    # score_coreference reads the same states again without the encoder
    with torch.no_grad():
        model.eval()
        output = model.entity_detection(**batch)
        again = model.score_coreference(
            output.hidden_states,
            batch["mention_tokens"],
            batch["coreference_pairs"],
            batch["coreference_features"],
        )
    torch.testing.assert_close(again, output.coreference_logits)
    with pytest.raises(ValueError, match="pair mentions of one document"):
        model.entity_detection(**{**batch, "coreference_pairs": torch.tensor([[0, 5]])})
    with pytest.raises(ValueError, match="coreference_features must have shape"):
        model.entity_detection(**{**batch, "coreference_features": None})


def test_the_detector_learns_one_document(tmp_path):
    """A few optimizer steps on one tiny document make its tags right and its coreference pairs right: the head,
    its loss and its gradients can learn."""
    model, processor = _detector_model(tmp_path, freeze_encoder=False)
    document = {
        "sents": [
            ["Marie", "Curie", "was", "born", "in", "Warsaw", "."],
            ["Curie", "lived", "in", "Paris", "."],
        ],
        "vertexSet": [
            [{"sent_id": 0, "pos": [0, 2], "type": "PER"}, {"sent_id": 1, "pos": [0, 1], "type": "PER"}],
            [{"sent_id": 0, "pos": [5, 6], "type": "LOC"}],
            [{"sent_id": 1, "pos": [3, 4], "type": "LOC"}],
        ],
    }
    text, entities = docred_to_text(document)
    batch = collate_detection([detection_features(processor.tokenizer, text, TYPES, 512, entities)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(60):
        optimizer.zero_grad()
        model.entity_detection(**batch).loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        output = model.entity_detection(**batch)
    scored = batch["tag_labels"] != -100
    assert torch.equal(output.tag_logits.argmax(-1)[scored], batch["tag_labels"][scored])
    assert torch.equal((output.coreference_logits > 0).float(), batch["coreference_labels"])
    expected = [
        {"name": "Marie Curie", "type": "PER", "spans": [[0, 11], [33, 38]], "mentions": ["Curie"]},
        {"name": "Warsaw", "type": "LOC", "spans": [[24, 30]], "mentions": []},
        {"name": "Paris", "type": "LOC", "spans": [[48, 53]], "mentions": []},
    ]
    assert detect_entities(model, processor, [text], coreference="names") == [expected]
    assert detect_entities(model, processor, [text], coreference="learned") == [expected]


def test_detected_entities_are_text_form_that_text_to_docred_accepts(tmp_path):
    model, processor = _detector_model(tmp_path, max_seq_length=16)
    texts = [
        "Marie Curie was born in Warsaw. She moved to Paris in 1891, where Curie met Pierre Curie.",
        "The river flows.\nIt is long!",
        " ".join(f"w{i}" for i in range(60)),  # several windows of 16 tokens
        "Oslo",
    ]
    for coreference in ("names", "learned"):
        for max_batch_tokens in (None, 32):  # 32: one window per encoder call
            detected = detect_entities(model, processor, texts, coreference, max_batch_tokens)
            assert len(detected) == len(texts)
            for text, entities in zip(texts, detected):
                spans = [span for entity in entities for span in entity["spans"]]
                assert len(spans) == len({tuple(span) for span in spans})
                if entities:
                    text_to_docred({"text": text, "entities": entities})
    assert any(detected)  # a random tagger tags something
    assert detect_entities(model, processor, texts, "names", 32) == detect_entities(
        model, processor, texts, "names"
    )
    with pytest.raises(DocumentError, match="text #1: expected the text as a non-empty string"):
        detect_entities(model, processor, ["Oslo", "  "])
    with pytest.raises(ValueError, match="coreference must be one of"):
        detect_entities(model, processor, ["Oslo"], coreference="pronouns")


def test_saved_detector_finds_the_same_entities_in_a_fresh_process(tmp_path):
    model_dir = make_tiny_model_dir(tmp_path / "model", entity_types=TYPES, coreference="learned")
    texts = ["Marie Curie was born in Warsaw. Curie moved to Paris.", "The Acme Corporation grew."]
    model = GlobalReForRelationExtraction.from_pretrained(model_dir).eval()
    from processing_globalre import GlobalReProcessor

    processor = GlobalReProcessor.from_pretrained(model_dir)
    expected = {mode: detect_entities(model, processor, texts, mode) for mode in ("names", "learned")}
    assert expected["names"][0] and expected["learned"][0]  # the random tagger finds something to compare
    assert (tmp_path / "model" / "entities_globalre.py").is_file()
    assert (tmp_path / "model" / "modeling_entities_globalre.py").is_file()
    script = textwrap.dedent(
        f"""
        import json
        from transformers import AutoModel, AutoProcessor
        from transformers.dynamic_module_utils import get_class_from_dynamic_module
        directory = {model_dir!r}
        model = AutoModel.from_pretrained(directory, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
        processor = AutoProcessor.from_pretrained(directory, trust_remote_code=True)
        detect_entities = get_class_from_dynamic_module("entities_globalre.detect_entities", directory)
        found = {{mode: detect_entities(model, processor, {texts!r}, mode) for mode in ("names", "learned")}}
        print(json.dumps(found))
        """
    )
    result = run_without_project(script, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


# --------------------------------------------------------------------------------------------------------------
# A token-classification pipeline's output
# --------------------------------------------------------------------------------------------------------------

NER_TEXT = "Marie Curie was born in Warsaw. Curie worked at the Sorbonne."


def test_entities_from_aggregated_token_classification_output(caplog):
    output = [
        {"entity_group": "PER", "score": 0.99, "word": "Marie Curie", "start": 0, "end": 11},
        {"entity_group": "LOC", "score": 0.99, "word": "Warsaw", "start": 24, "end": 30},
        {"entity_group": "PER", "score": 0.98, "word": "Curie", "start": 32, "end": 37},
        {"entity_group": "ORG", "score": 0.9, "word": "Sorbonne", "start": 52, "end": 60},
        {"entity_group": "MISC", "score": 0.5, "word": "born", "start": 16, "end": 20},
    ]
    with caplog.at_level(logging.WARNING):
        entities = entities_from_token_classification(
            NER_TEXT, output, type_map={"PER": "PER", "LOC": "LOC", "ORG": "ORG"}
        )
    assert entities == [
        {"name": "Marie Curie", "type": "PER", "spans": [[0, 11], [32, 37]], "mentions": ["Curie"]},
        {"name": "Warsaw", "type": "LOC", "spans": [[24, 30]], "mentions": []},
        {"name": "Sorbonne", "type": "ORG", "spans": [[52, 60]], "mentions": []},
    ]
    assert "MISC (1)" in caplog.text  # left out by the map, and said so
    text_to_docred({"text": NER_TEXT, "entities": entities})
    # without a map every label is a type
    assert [e["type"] for e in entities_from_token_classification(NER_TEXT, output)] == [
        "PER",
        "MISC",
        "LOC",
        "ORG",
    ]


def test_entities_from_token_level_output_with_bio_prefixes_and_subwords():
    output = [
        {"entity": "B-PER", "score": 0.9, "index": 1, "word": "marie", "start": 0, "end": 5},
        {"entity": "I-PER", "score": 0.9, "index": 2, "word": "cu", "start": 6, "end": 8},
        {"entity": "I-PER", "score": 0.9, "index": 3, "word": "##rie", "start": 8, "end": 11},
        {"entity": "B-LOC", "score": 0.9, "index": 7, "word": "war", "start": 24, "end": 27},
        {
            "entity": "B-LOC",
            "score": 0.6,
            "index": 8,
            "word": "##saw",
            "start": 27,
            "end": 30,
        },  # a B on a subword
        {
            "entity": "B-PER",
            "score": 0.9,
            "index": 10,
            "word": "cu",
            "start": 32,
            "end": 34,
        },  # a word cut short
        {"entity": "B-ORG", "score": 0.9, "index": 15, "word": "sorbonne", "start": 52, "end": 60},
    ]
    entities = entities_from_token_classification(
        NER_TEXT, output, type_map={"PER": "person", "LOC": "place", "ORG": "org"}
    )
    assert entities == [
        {"name": "Marie Curie", "type": "person", "spans": [[0, 11]], "mentions": []},
        {"name": "Warsaw", "type": "place", "spans": [[24, 30]], "mentions": []},
        {"name": "Curie", "type": "person", "spans": [[32, 37]], "mentions": []},
        {"name": "Sorbonne", "type": "org", "spans": [[52, 60]], "mentions": []},
    ]  # "Curie" ends "Marie Curie" but "person" is not a surname type (SURNAME_TYPES)
    with pytest.raises(ValueError, match="item 0 .*character offsets"):
        entities_from_token_classification(NER_TEXT, [{"entity": "B-PER", "start": None, "end": None}])
