"""DREEAM's evidence loss (`evidence_loss_weight`, Ma et al., EACL 2023): each window token's sentence, each pair's
localized-context weights summed per sentence, and the divergence from its evidence. Tiny random models: seconds on
CPU."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch

from configuration_globalre import check_option_values
from globalre_training.data import Split, evidence_rows, gold_evidence
from packed_encoding_globalre import PackedSequences
from tests.helpers import EVIDENCE_MODEL_SETTINGS, EXAMPLE_DOCUMENT, REDOCRED_TEST, tiny_model_and_processor


def _documents() -> list[dict]:
    # the tiny tokenizer spells words out letter by letter, so these Re-DocRED documents need several windows
    return [copy.deepcopy(EXAMPLE_DOCUMENT), *json.loads(REDOCRED_TEST.read_text())[:2]]


def _evidence_model(tmp_path, weight: float = 0.5, **kwargs):
    settings = {**EVIDENCE_MODEL_SETTINGS, "evidence_loss_weight": weight, **kwargs}
    return tiny_model_and_processor(tmp_path, seed=3, **settings)


@pytest.mark.parametrize("max_seq_length", [512, 48])
def test_each_window_token_knows_its_sentence(tmp_path, max_seq_length):
    """The word pieces of sentence s, in order, are exactly the window tokens marked s (the markers around a
    mention belong to its sentence); [CLS], [SEP] and padding belong to none; with short windows a long sentence
    is cut across windows and keeps its id."""
    _, processor = _evidence_model(tmp_path, max_seq_length=max_seq_length)
    markers = set(processor.marker_ids_in_inputs())
    cut = False  # a sentence whose tokens stand in two windows
    for document in _documents():
        sequences = processor.encode_document(document).sequences
        batch = sequences.pad(range(len(sequences)), processor.pad_token_id, token_sentences=True)
        ids, sentences = batch["input_ids"].flatten().tolist(), batch["token_sentences"].flatten().tolist()
        tokenized = processor.tokenize_document(document)
        for sentence, (start, end) in enumerate(tokenized.sentence_bounds):
            words = [t for t, s in zip(ids, sentences, strict=True) if s == sentence and t not in markers]
            assert words == tokenized.ids[start:end], (document["title"], sentence)
        outside = {t for t, s in zip(ids, sentences, strict=True) if s == -1}
        assert outside <= {
            processor.tokenizer.cls_token_id,
            processor.tokenizer.sep_token_id,
            processor.pad_token_id,
        }
        for entity, mentions in enumerate(
            document["vertexSet"]
        ):  # each mention's start marker, in its sentence
            start, count = sequences.entities[entity]
            for mention, window, column in zip(
                mentions,
                sequences.mention_windows[start : start + count],
                sequences.mention_columns[start : start + count],
                strict=True,
            ):
                assert int(batch["input_ids"][window, column]) in markers
                assert int(batch["token_sentences"][window, column]) == mention["sent_id"]
        windows_of = {}
        for window, row in enumerate(batch["token_sentences"].tolist()):
            for sentence in set(row) - {-1}:
                windows_of.setdefault(sentence, set()).add(window)
        cut |= any(len(windows) > 1 for windows in windows_of.values())
    assert cut or max_seq_length != 48
    # the pair segments' tokens belong to no sentence, and documents keep their own ids when concatenated
    joined = PackedSequences.concatenate([processor.encode_document(d).sequences for d in _documents()])
    first, count = joined.windows[-1]
    assert joined.sentences[first + count :].tolist() == [-1] * (len(joined.tokens) - first - count)
    second_document_start = joined.windows[joined.documents[1, 0], 0]
    assert joined.sentences[:second_document_start].max() == len(_documents()[0]["sents"]) - 1
    assert joined.sentences[second_document_start + 1] == 0  # after the second document's [CLS]


def _reference_sentence_weights(weights, token_sentences, window_document, pair_document, width):
    """Pair by pair: the pair's document's windows side by side, each token's weight added to its sentence."""
    rows = []
    for pair in range(len(weights)):
        windows = torch.nonzero(window_document == pair_document[pair]).flatten().tolist()
        row = torch.zeros(width, dtype=torch.float64)
        for slot, window in enumerate(windows):
            length = token_sentences.shape[1]
            for column in range(length):
                sentence = int(token_sentences[window, column])
                if sentence >= 0:
                    row[sentence] += float(weights[pair, slot * length + column].detach())
        rows.append(row)
    return torch.stack(rows)


def test_evidence_loss_is_the_divergence_of_each_pairs_sentence_weights(tmp_path):
    model, processor = _evidence_model(tmp_path, weight=0.5, max_seq_length=128)
    sequences = PackedSequences.concatenate([processor.encode_document(d).sequences for d in _documents()])
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(len(sequences), size=60, replace=False))
    batch = sequences.pad(rows, processor.pad_token_id, token_sentences=True)
    inputs = {k: v for k, v in batch.items() if k != "token_sentences"}
    width = max(len(d["sents"]) for d in _documents())
    weights = model.pair_states(**inputs).context_weights
    reference = _reference_sentence_weights(
        weights, batch["token_sentences"], batch["window_document"], batch["pair_document"], width
    )
    totals = reference.sum(dim=1)
    assert bool((totals <= 1 + 1e-6).all())
    # in documents of several windows some heads and tails share none, so have no context: they are left out
    with_context, without = torch.nonzero(totals > 0).flatten(), torch.nonzero(totals == 0).flatten()
    assert len(with_context) >= 8 and len(without) >= 2
    related = [*with_context[:8].tolist(), *without[:2].tolist()]
    labels = torch.zeros(len(rows), model.config.num_labels)
    labels[:, model.config.no_relation_id] = 1.0
    relation = 1 if model.config.no_relation_id != 1 else 2
    labels[related, relation], labels[related, model.config.no_relation_id] = 1.0, 0.0
    evidence = torch.zeros(len(rows), width)
    for number, pair in enumerate(related[1:]):  # evidence sentences of the pair's own document
        reachable = torch.nonzero(reference[pair] > 0).flatten().numpy()
        if len(reachable):  # one its weights reach, so that it has a target left
            evidence[pair, rng.choice(reachable)] = 1.0
        if number % 2 or not len(reachable):  # and one anywhere in the document
            evidence[pair, rng.choice(len(_documents()[int(batch["pair_document"][pair])]["sents"]))] = 1.0
    # related[0]: a related pair without evidence, left out

    plain = model(**inputs, labels=labels)
    output = model(**batch, labels=labels, evidence=evidence)
    divergences, unreachable = [], 0
    for pair in related[1:8]:
        # a sentence outside every window the head and the tail share has weight 0: it leaves the target
        target = evidence[pair].double() * (reference[pair] > 0)
        unreachable += int((evidence[pair] > 0).sum() - (target > 0).sum())
        if target.sum() > 0:
            target = target / target.sum()
            divergences.append(
                sum(v * math.log(v / float(reference[pair, s])) for s, v in enumerate(target.tolist()) if v)
            )
    assert unreachable > 0  # the fixture holds the case
    assert output.evidence_loss.item() == pytest.approx(sum(divergences) / len(divergences), rel=1e-4)
    assert output.loss.item() == pytest.approx(
        plain.loss.item() + 0.5 * output.evidence_loss.item(), rel=1e-5
    )
    torch.testing.assert_close(output.logits, plain.logits)  # predictions are made as without the loss
    assert plain.evidence_loss is None


def test_the_evidence_loss_trains_the_attention_it_reads(tmp_path):
    model, processor = _evidence_model(tmp_path)
    sequences = processor.encode_document(_documents()[1]).sequences
    batch = sequences.pad(range(len(sequences)), processor.pad_token_id, token_sentences=True)
    labels = torch.zeros(len(sequences), model.config.num_labels)
    labels[:, 0] = 1.0
    evidence = torch.zeros(len(sequences), len(_documents()[1]["sents"]))
    evidence[:, 0] = 1.0
    model(**batch, labels=labels, evidence=evidence).evidence_loss.backward()
    attention = model.encoder.encoder.layer[-1].attention.self
    assert attention.query.weight.grad.abs().sum() > 0 and attention.key.weight.grad.abs().sum() > 0
    assert model.classifier.weight.grad is None  # the loss reads the attention, not the head


def test_the_evidence_loss_needs_the_localized_context():
    with pytest.raises(ValueError, match='evidence_loss_weight > 0 needs context_pooling="localized"'):
        check_option_values({"evidence_loss_weight": 0.1, "context_pooling": "none"})
    for bad in (-0.1, True, "0.1", math.inf):
        with pytest.raises(ValueError, match="evidence_loss_weight must be a finite number >= 0"):
            check_option_values({"evidence_loss_weight": bad})
    check_option_values({"evidence_loss_weight": 0.0, "context_pooling": "none"})


class _Labels:
    labels = ("Na", "P17", "P131")

    @staticmethod
    def is_no_relation(relation: str) -> bool:
        return relation == "Na"


def test_gold_evidence_is_the_union_of_a_pairs_labels():
    document = {
        "title": "Two facts",
        "sents": [["a"], ["b"], ["c"]],
        "labels": [
            {"h": 0, "t": 1, "r": "P17", "evidence": [0]},
            {"h": 0, "t": 1, "r": "P131", "evidence": [2, 0]},
            {"h": 1, "t": 0, "r": "P17", "evidence": [None]},  # CDR's form: no evidence
            {"h": 2, "t": 0, "r": "P17"},
            {"h": 2, "t": 1, "r": "Na", "evidence": [1]},
        ],
    }
    assert gold_evidence(document, _Labels) == {(0, 1): {0, 2}, (1, 0): set(), (2, 0): set()}
    split = Split(
        docs=[document, {"sents": [["x"]] * 5}], pair_doc=np.array([0, 1, 1]), evidence=[(0, 2), (), (4,)]
    )
    assert evidence_rows(split, [0, 2]).tolist() == [[1, 0, 1, 0, 0], [0, 0, 0, 0, 1]]


def test_a_fact_labelled_twice_when_turned_keeps_the_evidence_of_both():
    from docred_data import orient_pairs

    document = {
        "title": "Borders",
        "sents": [["a"], ["b"], ["c"]],
        "vertexSet": [
            [{"name": "A", "pos": [0, 1], "sent_id": 0, "type": "LOC"}],
            [{"name": "B", "pos": [0, 1], "sent_id": 1, "type": "ORG"}],
        ],
        "labels": [
            {"h": 0, "t": 1, "r": "P47", "evidence": [0]},
            {"h": 1, "t": 0, "r": "P47", "evidence": [2, 0]},
        ],
    }
    oriented, _ = orient_pairs([document], [("ORG", "LOC")], undirected_relations={"P47"})
    assert oriented[0]["labels"] == [{"h": 1, "t": 0, "r": "P47", "evidence": [0, 2]}]


def test_packed_sequences_that_differ_only_in_sentences_are_not_equal(tmp_path):
    _, processor = _evidence_model(tmp_path)
    sequences = processor.encode_document(_documents()[0]).sequences
    other = PackedSequences.concatenate([sequences])
    assert other == sequences
    other.sentences = other.sentences.copy()
    other.sentences[other.sentences == 1] = 0
    assert other != sequences


# ---------------------------------------------------------------------------------------------------------------
# Predicting evidence (DREEAM's inference): a model trained with the evidence loss gives each pair's evidence
# sentences, those whose share of its localized-context weight reaches `evidence_threshold`
# ---------------------------------------------------------------------------------------------------------------


def _evidence_from_reference(model, processor, document, cut: float) -> dict[tuple[int, int], list[int]]:
    """Each pair's evidence from one batch of the whole document, summed pair by pair (the reference above)."""
    encoding = processor.encode_document(document)
    batch = encoding.sequences.pad(range(len(encoding)), processor.pad_token_id, token_sentences=True)
    inputs = {k: v for k, v in batch.items() if k != "token_sentences"}
    with torch.no_grad():
        weights = model.pair_states(**inputs).context_weights
    reference = _reference_sentence_weights(
        weights,
        batch["token_sentences"],
        batch["window_document"],
        batch["pair_document"],
        len(document["sents"]),
    )
    return {
        pair: torch.nonzero(reference[row] > cut).flatten().tolist()
        for row, pair in enumerate(encoding.pairs)
    }


def test_a_model_trained_with_the_evidence_loss_predicts_each_pairs_evidence(tmp_path):
    """Whatever the batching, each triple's evidence is the sentences whose summed weight is above the threshold
    (checked against the pair-by-pair reference), the logits are those scored without evidence, and the weights
    beyond a document's sentences are 0."""
    from inference_globalre import predict_documents, score_sequences

    model, processor = _evidence_model(tmp_path, max_seq_length=128, evidence_threshold=0.05)
    assert model.config.predicts_evidence
    documents = _documents()
    sequences = PackedSequences.concatenate([processor.encode_document(d).sequences for d in documents])
    logits, weights = score_sequences(model, processor, sequences, evidence=True)
    small_logits, small_weights = score_sequences(
        model, processor, sequences, evidence=True, max_batch_tokens=64, max_batch_pairs=7
    )
    torch.testing.assert_close(logits, score_sequences(model, processor, sequences))
    torch.testing.assert_close(small_logits, logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(small_weights, weights, rtol=1e-4, atol=1e-6)
    assert weights.shape == (len(sequences), max(len(d["sents"]) for d in documents))
    assert bool((weights >= 0).all()) and bool((weights.sum(dim=1) <= 1 + 1e-5).all())
    first = len(processor.encode_document(documents[0]))
    assert bool((weights[:first, len(documents[0]["sents"]) :] == 0).all())

    triples = predict_documents(model, processor, documents, threshold=0.0)
    found = 0
    for document, document_triples in zip(documents, triples, strict=True):
        expected = _evidence_from_reference(model, processor, document, 0.05)
        assert document_triples
        for triple in document_triples:
            assert triple["evidence"] == expected[(triple["head"], triple["tail"])]
            found += len(triple["evidence"])
    assert found  # the threshold keeps some sentences


def test_the_evidence_threshold_is_a_config_field_and_a_call_option(tmp_path):
    from pipeline_globalre import RelationExtractionPipeline

    model, processor = _evidence_model(tmp_path, max_seq_length=128, evidence_threshold=0.05)
    extractor = RelationExtractionPipeline(model=model, processor=processor)
    document = _documents()[1]
    default = extractor(document, threshold=0.0)
    expected = _evidence_from_reference(model, processor, document, 0.05)
    assert [t["evidence"] for t in default] == [expected[(t["head"], t["tail"])] for t in default]
    stricter = extractor(document, threshold=0.0, evidence_threshold=0.5)
    expected = _evidence_from_reference(model, processor, document, 0.5)
    assert [t["evidence"] for t in stricter] == [expected[(t["head"], t["tail"])] for t in stricter]
    assert sum(map(len, (t["evidence"] for t in stricter))) < sum(map(len, (t["evidence"] for t in default)))
    for bad in (0, 1.5, True, "0.2"):
        with pytest.raises(ValueError, match="evidence_threshold"):
            extractor(document, evidence_threshold=bad)
        with pytest.raises(ValueError, match="evidence_threshold must be a number in"):
            check_option_values({"evidence_threshold": bad})


def test_documents_without_pairs_or_with_an_empty_last_sentence_get_their_evidence(tmp_path):
    """A sentence no window token belongs to (an empty one) has weight 0, never an error; a document without
    candidate pairs gives no triples, alone or beside longer ones, as without the evidence loss."""
    from inference_globalre import predict_documents
    from pipeline_globalre import RelationExtractionPipeline

    model, processor = _evidence_model(tmp_path, max_seq_length=128, evidence_threshold=0.05)
    extractor = RelationExtractionPipeline(model=model, processor=processor)
    empty_last = copy.deepcopy(EXAMPLE_DOCUMENT)
    empty_last["sents"].append([])
    one_entity = copy.deepcopy(_documents()[1])
    one_entity["vertexSet"], one_entity["labels"] = one_entity["vertexSet"][:1], []
    triples = extractor(empty_last, threshold=0.0)
    assert triples and all(len(empty_last["sents"]) - 1 not in t["evidence"] for t in triples)
    assert extractor(one_entity) == []
    assert extractor(EXAMPLE_DOCUMENT, pairs=[]) == []
    together = predict_documents(model, processor, [empty_last, one_entity, EXAMPLE_DOCUMENT], threshold=0.0)
    assert together[0] == triples and together[1] == [] and together[2]


def test_a_model_without_the_evidence_loss_gives_no_evidence_and_never_echoes_the_labels(tmp_path):
    """The document's own labels have evidence; the triples do not take it (a scorer would count it as
    predicted), and an evidence threshold is refused."""
    from pipeline_globalre import RelationExtractionPipeline

    model, processor = _evidence_model(tmp_path, weight=0.0, max_seq_length=128)
    assert not model.config.predicts_evidence
    extractor = RelationExtractionPipeline(model=model, processor=processor)
    assert any(label["evidence"] for label in EXAMPLE_DOCUMENT["labels"])
    triples = extractor(copy.deepcopy(EXAMPLE_DOCUMENT), threshold=0.0)
    assert triples and all(triple["evidence"] is None for triple in triples)
    with pytest.raises(ValueError, match="this model does not predict evidence"):
        extractor(copy.deepcopy(EXAMPLE_DOCUMENT), evidence_threshold=0.2)


def test_evidence_weights_need_the_localized_context(tmp_path):
    model, processor = tiny_model_and_processor(
        tmp_path, encoding="packed", entity_markers="plain", pooling="markers", pair_segment="markers"
    )
    sequences = processor.encode_document(_documents()[0]).sequences
    batch = sequences.pad(range(len(sequences)), processor.pad_token_id, token_sentences=True)
    with pytest.raises(ValueError, match="evidence weights need the packed encoding's localized context"):
        model(**batch)


def test_evidence_is_scored_as_the_official_scorer_does():
    """Evi P, R, F1 over sentences: a correct fact's evidence counts where it is gold; a wrong fact's evidence is
    predicted and never correct; a repeated prediction counts once; an unknown title counts nothing; the gold count
    is every label's evidence (labels without evidence add none)."""
    from docred_metric import evidence_scores, score_docred, to_submission

    gold = [
        {
            "title": "d",
            "sents": [["a"], ["b"], ["c"], ["d"]],
            "vertexSet": [[{"name": "a", "sent_id": 0, "pos": [0, 1], "type": "LOC"}]] * 3,
            "labels": [
                {"h": 0, "t": 1, "r": "P17", "evidence": [0, 2]},
                {"h": 1, "t": 2, "r": "P131", "evidence": [3]},
                {"h": 2, "t": 0, "r": "P17", "evidence": []},
            ],
        }
    ]
    predictions = [
        {"title": "d", "h_idx": 0, "t_idx": 1, "r": "P17", "evidence": [0, 1]},  # 1 of 2 correct
        {"title": "d", "h_idx": 0, "t_idx": 1, "r": "P17", "evidence": [0, 2]},  # a repeat: not counted
        {"title": "d", "h_idx": 1, "t_idx": 0, "r": "P17", "evidence": [0]},  # a wrong fact
        {"title": "d", "h_idx": 2, "t_idx": 0, "r": "P17", "evidence": [1]},  # gold has no evidence
        {"title": "e", "h_idx": 0, "t_idx": 1, "r": "P17", "evidence": [0]},  # unknown title
        {"title": "d", "h_idx": 1, "t_idx": 2, "r": "P131"},  # correct, no evidence
    ]
    scores = evidence_scores(predictions, gold)
    assert (scores["n_correct"], scores["n_pred"], scores["n_gold"]) == (1, 4, 3)
    assert scores["precision"] == pytest.approx(1 / 4) and scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(2 / 7)
    assert score_docred(predictions, gold)["evidence"] == scores
    plain = [{k: v for k, v in p.items() if k != "evidence"} for p in predictions]
    assert evidence_scores(plain, gold) is None and score_docred(plain, gold)["evidence"] is None
    with pytest.raises(ValueError, match=r"prediction 0: evidence='0' must be a list of sentence ids"):
        evidence_scores([{**predictions[0], "evidence": "0"}], gold)
    triples = [[{"head": 0, "tail": 1, "relation": "P17", "score": 0.9, "evidence": [2]}]]
    assert to_submission(gold, triples)[0]["evidence"] == [2]
    triples[0][0]["evidence"] = None
    assert "evidence" not in to_submission(gold, triples)[0]


def test_evaluate_model_scores_the_predicted_evidence(tmp_path):
    import evaluate_model
    from tests.helpers import make_tiny_model_dir

    model_dir = make_tiny_model_dir(
        tmp_path / "model",
        seed=3,
        **EVIDENCE_MODEL_SETTINGS,
        evidence_loss_weight=0.1,
        evidence_threshold=0.05,
        max_seq_length=128,
    )
    out = tmp_path / "out"
    documents = json.loads(REDOCRED_TEST.read_text())
    command = ["--model", model_dir, "--data", str(REDOCRED_TEST), "--device", "cpu", "--no_progress"]
    command += ["--skip_docs", "1", "--max_docs", "2"]  # documents 1 and 2
    report = evaluate_model.main([*command, "--output_dir", str(out)])
    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions and {p["title"] for p in predictions} <= {d["title"] for d in documents[1:3]}
    assert report["inference"]["n_documents"] == 2
    assert report["n_gold"] == sum(len(d["labels"]) for d in documents[1:3])
    assert all(isinstance(p["evidence"], list) for p in predictions)
    assert report["evidence"]["n_pred"] == sum(len(p["evidence"]) for p in predictions) > 0
    assert report["evidence"]["n_gold"] == sum(
        len(label["evidence"]) for d in documents[1:3] for label in d["labels"]
    )
    assert "evidence (sentences)" in evaluate_model.format_report(report)
    stricter = evaluate_model.main(
        [*command, "--output_dir", str(tmp_path / "strict"), "--evidence_threshold", "0.5"]
    )
    assert stricter["evidence"]["n_pred"] < report["evidence"]["n_pred"]
    assert stricter["n_correct"] == report["n_correct"]  # the relations are the same
    with pytest.raises(SystemExit):
        evaluate_model.main(
            ["--predictions", str(out / "predictions.json"), "--data", str(REDOCRED_TEST)]
            + ["--evidence_threshold", "0.5"]
        )
    with pytest.raises(SystemExit):  # a share of weight lies in (0, 1]
        evaluate_model.main([*command, "--output_dir", str(tmp_path / "bad"), "--evidence_threshold", "1.5"])
    plain_dir = make_tiny_model_dir(tmp_path / "plain")
    with pytest.raises(SystemExit, match="does not predict evidence"):
        evaluate_model.main(
            [
                "--model",
                plain_dir,
                "--data",
                str(REDOCRED_TEST),
                "--max_docs",
                "1",
                "--evidence_threshold",
                "0.3",
            ]
            + ["--device", "cpu", "--no_progress", "--output_dir", str(tmp_path / "plain-out")]
        )
    with pytest.raises(SystemExit, match="has no document after the first 12"):
        evaluate_model.main([*command[:-4], "--skip_docs", "12", "--output_dir", str(tmp_path / "none")])
