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
from tests.helpers import EXAMPLE_DOCUMENT, REDOCRED_TEST, tiny_model_and_processor


def _documents() -> list[dict]:
    # the tiny tokenizer spells words out letter by letter, so these Re-DocRED documents need several windows
    return [copy.deepcopy(EXAMPLE_DOCUMENT), *json.loads(REDOCRED_TEST.read_text())[:2]]


def _evidence_model(tmp_path, weight: float = 0.5, **kwargs):
    return tiny_model_and_processor(
        tmp_path,
        seed=3,
        encoding="packed",
        entity_markers="plain",
        pooling="markers",
        marker_pooling="logsumexp",
        pair_segment="markers",
        context_pooling="localized",
        evidence_loss_weight=weight,
        freeze_encoder=False,
        **kwargs,
    )


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
