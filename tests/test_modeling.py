"""GlobalReConfig and GlobalReForRelationExtraction: the paper's head, pooling options, losses, freezing,
SDPA, and building around pretrained encoder weights."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import BertModel

from configuration_globalre import GlobalReConfig
from modeling_globalre import (
    GlobalReForRelationExtraction,
    GroupBilinearClassifier,
    adaptive_threshold_loss,
    pool_mentions,
)
from tests.helpers import EXAMPLE_DOCUMENT, tiny_config, tiny_model_and_processor, tiny_tokenizer


def _inputs(processor):
    batch = processor(EXAMPLE_DOCUMENT)
    return {k: v for k, v in batch.items() if k != "pair_index"}


def test_paper_head_is_tanh_dropout_linear_over_the_pooled_cls(tmp_path):
    model, processor = tiny_model_and_processor(tmp_path)
    assert model.config.pooling == "pooler" and model.config.classifier_dropout == 0.3
    inputs = _inputs(processor)
    with torch.no_grad():
        output = model(**inputs)
        pooled = model.encoder(**inputs).pooler_output
    torch.testing.assert_close(output.pair_representation, pooled)
    torch.testing.assert_close(output.logits, model.classifier(torch.tanh(pooled)))


def test_frozen_encoder_gets_no_gradient_and_stays_in_eval_mode(tmp_path):
    model, processor = tiny_model_and_processor(tmp_path)
    model.train()
    assert model.training and not model.encoder.training and model.dropout.training
    labels = torch.zeros(20, model.config.num_labels)
    labels[:, 0] = 1.0
    model(**_inputs(processor), labels=labels).loss.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert model.classifier.weight.grad is not None
    unfrozen, processor = tiny_model_and_processor(tmp_path, freeze_encoder=False)
    unfrozen.train()
    assert unfrozen.encoder.training
    unfrozen(**_inputs(processor), labels=labels).loss.backward()
    assert unfrozen.encoder.embeddings.word_embeddings.weight.grad is not None


@pytest.mark.parametrize(
    ("options", "width"),
    [
        ({"pooling": "cls"}, 32),
        ({"pooling": "mean"}, 32),
        ({"pooling": "markers", "entity_markers": "plain"}, 96),
        ({"pooling": "markers", "entity_markers": "typed", "marker_pooling": "logsumexp"}, 96),
        ({"pooling": "markers", "entity_markers": "plain", "marker_pooling": "mean"}, 96),
    ],
)
def test_pooling_options(tmp_path, options, width):
    model, processor = tiny_model_and_processor(tmp_path, **options)
    with torch.no_grad():
        output = model(**_inputs(processor))
    assert output.pair_representation.shape == (20, width)
    assert output.logits.shape == (20, 97)
    assert "pooler" not in dict(model.encoder.named_children())


def test_group_bilinear_classifier_by_hand():
    torch.manual_seed(0)
    head = GroupBilinearClassifier(hidden_size=4, num_contexts=2, block_size=2, num_labels=3)
    cls, head_state, tail_state, context = torch.randn(4, 5, 4).unbind(0)
    logits = head(torch.cat([cls, head_state, tail_state, context], dim=-1))
    z_head = torch.tanh(head.head_extractor(torch.cat([head_state, cls, context], dim=-1)))
    z_tail = torch.tanh(head.tail_extractor(torch.cat([tail_state, cls, context], dim=-1)))
    # features (group g, i, j) = z_head[2g + i] * z_tail[2g + j]: products within a group of two, none across
    features = torch.stack(
        [z_head[:, 2 * g + i] * z_tail[:, 2 * g + j] for g in range(2) for i in range(2) for j in range(2)],
        dim=1,
    )
    torch.testing.assert_close(logits, head.bilinear(features))


def test_group_bilinear_classifier_on_one_pair_sequences(tmp_path):
    model, processor = tiny_model_and_processor(
        tmp_path,
        pooling="markers",
        entity_markers="plain",
        classifier="group_bilinear",
        bilinear_block_size=8,
    )
    model.eval()
    with torch.no_grad():
        output = model(**_inputs(processor))
    assert output.pair_representation.shape == (20, 96) and model.representation_size == 96
    torch.testing.assert_close(output.logits, model.classifier(output.pair_representation))


def test_marker_pooling_reads_the_marker_states(tmp_path):
    model, processor = tiny_model_and_processor(tmp_path, pooling="markers", entity_markers="plain")
    inputs = _inputs(processor)
    with torch.no_grad():
        hidden = model.encoder(**inputs).last_hidden_state
        representation = model.pair_representation(**inputs)
    head_start, _, tail_start, _ = processor.marker_ids
    row = 0
    head_position = inputs["input_ids"][row].tolist().index(head_start)
    tail_position = inputs["input_ids"][row].tolist().index(tail_start)
    expected = torch.cat([hidden[row, 0], hidden[row, head_position], hidden[row, tail_position]])
    torch.testing.assert_close(representation[row], expected)


def test_mean_and_logsumexp_marker_pooling_by_hand():
    hidden = torch.tensor([[[1.0, 0.0], [2.0, 4.0], [9.0, 9.0], [4.0, 0.0]]])
    is_marker = torch.tensor([[False, True, False, True]])
    torch.testing.assert_close(
        pool_mentions(hidden, is_marker, hidden[:, 0], "mean"), torch.tensor([[3.0, 2.0]])
    )
    expected = torch.tensor([[math.log(math.exp(2) + math.exp(4)), math.log(math.exp(4) + 1.0)]])
    torch.testing.assert_close(pool_mentions(hidden, is_marker, hidden[:, 0], "logsumexp"), expected)
    # no marker left after truncation: the [CLS] state
    torch.testing.assert_close(
        pool_mentions(hidden, torch.zeros_like(is_marker), hidden[:, 0], "logsumexp"), hidden[:, 0]
    )


def test_bce_loss_is_the_mean_binary_cross_entropy(tmp_path):
    model, _ = tiny_model_and_processor(tmp_path)
    logits = torch.tensor([[0.0, 2.0, -1.0] + [0.0] * 94])
    labels = torch.zeros_like(logits)
    labels[0, 1] = 1.0
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
    assert model.loss(logits, labels).item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="labels must be multi-hot of shape"):
        model.loss(logits, labels[:, :5])


def test_adaptive_threshold_loss_by_hand():
    # classes: 0 = threshold, 1 and 2 gold, 3 not gold
    logits = torch.tensor([[1.0, 2.0, 0.0, 3.0]])
    labels = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    # gold vs threshold: softmax over {0, 1, 2}; threshold vs non-gold: softmax over {0, 3}
    positive = -(math.log(math.exp(2) / (math.exp(1) + math.exp(2) + math.exp(0))))
    positive += -(math.log(math.exp(0) / (math.exp(1) + math.exp(2) + math.exp(0))))
    negative = -(math.log(math.exp(1) / (math.exp(1) + math.exp(3))))
    assert adaptive_threshold_loss(logits, labels, 0).item() == pytest.approx(positive + negative, rel=1e-6)
    # a no-relation pair: only the threshold term against every relation
    none = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    expected = -(math.log(math.exp(1) / (math.exp(1) + 3)))
    assert adaptive_threshold_loss(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), none, 0).item() == pytest.approx(
        expected, rel=1e-6
    )


def test_sdpa_is_the_default_and_matches_eager(tmp_path):
    model, processor = tiny_model_and_processor(tmp_path)
    assert model.encoder.config._attn_implementation == "sdpa"
    inputs = _inputs(processor)
    eager = GlobalReForRelationExtraction(model.config.__class__.from_dict(model.config.to_dict()))
    eager.load_state_dict(model.state_dict())
    eager.encoder.set_attn_implementation("eager")
    assert eager.encoder.config._attn_implementation == "eager"
    with torch.no_grad():
        torch.testing.assert_close(
            model(**inputs).logits, eager.eval()(**inputs).logits, rtol=1e-4, atol=1e-5
        )


def test_from_encoder_pretrained_loads_the_encoder_weights(tmp_path):
    tokenizer = tiny_tokenizer(tmp_path / "encoder")
    encoder_config = tiny_config(tokenizer).encoder_config
    torch.manual_seed(3)
    encoder = BertModel(encoder_config)
    encoder.save_pretrained(tmp_path / "encoder")
    model = GlobalReForRelationExtraction.from_encoder_pretrained(
        str(tmp_path / "encoder"),
        id2label=["Na", "P17", "P36"],
        relation_names={"P17": "country"},
        entity_markers="plain",
        pooling="markers",
    )
    assert model.config.id2label == {0: "Na", 1: "P17", 2: "P36"} and model.config.label2id["P36"] == 2
    assert model.config.marker_token_ids == tokenizer.convert_tokens_to_ids(
        ["[unused0]", "[unused1]", "[unused2]", "[unused3]"]
    )
    assert (
        model.config.encoder_name_or_path == "encoder"
    )  # a local folder by its name: no path of this machine
    torch.testing.assert_close(
        model.encoder.embeddings.word_embeddings.weight, encoder.embeddings.word_embeddings.weight
    )
    assert not any(p.requires_grad for p in model.encoder.parameters())
    # the levitated markers of the packed pair segment are marker tokens too, without entity markers
    levitated = GlobalReForRelationExtraction.from_encoder_pretrained(
        str(tmp_path / "encoder"), id2label=["Na", "P17"], encoding="packed", pair_segment="markers"
    )
    assert levitated.config.marker_token_ids == model.config.marker_token_ids
    plain = GlobalReForRelationExtraction.from_encoder_pretrained(
        str(tmp_path / "encoder"), id2label=["Na", "P17"]
    )
    assert plain.config.marker_token_ids is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"pooling": "max"}, r"GlobalReConfig.pooling must be one of pooler, cls, mean, markers; got 'max'"),
        ({"pooling": "markers"}, r'pooling="markers" needs entity_markers="plain" or "typed"'),
        ({"loss": "adaptive_threshold", "no_relation_label": None}, r"set GlobalReConfig.no_relation_label"),
        ({"max_seq_length": 4096}, r"max_seq_length=4096 must lie between 16"),
        (
            {"pooling": "markers", "entity_markers": "plain", "context_pooling": "localized"},
            r'context_pooling="localized" needs pooling="markers" and encoding="packed"',
        ),
        ({"classifier": "group_bilinear"}, r'classifier="group_bilinear" needs pooling="markers"'),
        (
            {
                "pooling": "markers",
                "entity_markers": "plain",
                "classifier": "group_bilinear",
                "bilinear_block_size": 5,
            },
            r"bilinear_block_size=5 must divide the encoder's hidden_size \(768\)",
        ),
        ({"bilinear_block_size": 0}, r"bilinear_block_size must be a positive integer; got 0"),
    ],
)
def test_config_rejects_unknown_options(options, message):
    with pytest.raises(ValueError, match=message):
        GlobalReConfig(id2label={0: "Na", 1: "P17"}, **options)


def test_model_rejects_a_no_relation_label_outside_the_label_set():
    with pytest.raises(ValueError, match=r"no_relation_label='Na' is not in the label set"):
        GlobalReForRelationExtraction(GlobalReConfig(id2label={0: "NR", 1: "CID"}))
    with pytest.raises(ValueError, match=r"relation_thresholds name relations that are not in the label set"):
        GlobalReForRelationExtraction(
            GlobalReConfig(id2label={0: "Na", 1: "P17"}, relation_thresholds={"P9": 0.3})
        )


def test_from_encoder_pretrained_gives_float32_weights_from_a_bf16_checkpoint(tmp_path):
    # The GPU session kit carries MiniLM with bf16-stored weights; transformers 5 would keep that dtype.
    tokenizer = tiny_tokenizer(tmp_path / "encoder")
    torch.manual_seed(3)
    encoder = BertModel(tiny_config(tokenizer).encoder_config).to(torch.bfloat16)
    encoder.save_pretrained(tmp_path / "encoder")
    model = GlobalReForRelationExtraction.from_encoder_pretrained(
        str(tmp_path / "encoder"), id2label=["Na", "P17"]
    )
    assert {parameter.dtype for parameter in model.parameters()} == {torch.float32}
    torch.testing.assert_close(
        model.encoder.embeddings.word_embeddings.weight, encoder.embeddings.word_embeddings.weight.float()
    )
    assert model.config.encoder_config.dtype in (None, torch.float32, "float32")
