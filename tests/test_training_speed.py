"""The training log's speed figures (globalre_training/speed.py): the FLOP count, the tokens of a batch, and an
epoch's share of the matmul rate, on hand-worked numbers."""

from __future__ import annotations

import torch
from transformers import BertConfig

from globalre_training.speed import EpochSpeed, encoder_tokens, encoder_weight_flops, measured_matmul_tflops


def test_encoder_weight_flops_counts_the_six_weight_matrices_of_each_layer():
    bert = BertConfig()  # bert-base: 12 layers, h 768, i 3072
    assert encoder_weight_flops(bert, 100) == 12 * 2 * (4 * 768 * 768 + 2 * 768 * 3072) * 100


def test_encoder_tokens_counts_windows_and_pair_segments_without_padding():
    batch = {
        "input_ids": torch.zeros(2, 5, dtype=torch.long),
        "attention_mask": torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]),
        "pair_attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]),
    }
    assert encoder_tokens(batch) == 8 + 5
    assert (
        encoder_tokens({"pair_vectors": torch.zeros(4, 8)}) == 0
    )  # cached vectors: the encoder does not run


def test_epoch_share_of_the_matmul_rate():
    # 1e9 FLOPs a token, 300 tokens in 2 s against a 0.5 TFLOP/s rate: 3e11 / 1e12 = 30 %
    speed = EpochSpeed(matmul_tflops=0.5, flops_per_token=1e9)
    speed.start(torch.device("cpu"))
    speed.add(200, steps=1)
    speed.add(100, steps=1)
    speed.stop(torch.device("cpu"))
    speed.seconds = 2.0
    assert speed.matmul_share == 0.3
    assert speed.record() == {
        "train_seconds": 2.0,
        "train_steps": 2,
        "encoder_tokens": 300,
        "matmul_share": 0.3,
        "matmul_gflops": 500.0,
        "matmul_precision": "fp32",
        "resumed": False,
    }
    assert speed.describe() == (
        "2 s training (2 steps, 1.00 s a step); encoder weight matmuls at 30 % of the measured 500 GFLOP/s fp32 "
        "rate (300 tokens)"
    )
    assert EpochSpeed(matmul_tflops=0.5, flops_per_token=1e9, seconds=2.0, steps=1).matmul_share is None


def test_the_clock_pauses_for_a_checkpoint_and_marks_a_resumed_epoch(monkeypatch):
    import globalre_training.speed as speed_module

    now = iter([10.0, 12.0, 20.0, 23.0])  # start, pause, resume, stop: 2 s + 3 s of training
    monkeypatch.setattr(speed_module.time, "perf_counter", lambda: next(now))
    speed = EpochSpeed(matmul_tflops=None, flops_per_token=1.0)
    speed.start(torch.device("cpu"), resumed=True)
    speed.pause(torch.device("cpu"))
    speed.resume()
    speed.stop(torch.device("cpu"))
    assert speed.seconds == 5.0 and speed.record()["resumed"] is True
    assert "resumed: the rest of the epoch" in speed.describe()


def test_a_frozen_encoder_costs_a_forward_a_trained_one_forward_and_backward():
    from transformers import BertModel

    config = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32
    )
    encoder = BertModel(config)
    forward = encoder_weight_flops(config, 1)
    trained = EpochSpeed.for_model(encoder, torch.device("cpu"), rows=32)
    assert trained.flops_per_token == 3 * forward and trained.matmul_tflops > 0
    encoder.requires_grad_(False)
    assert EpochSpeed.for_model(encoder, torch.device("cpu"), rows=32).flops_per_token == forward
    rate = measured_matmul_tflops(config, 32, torch.device("cpu"), repeats=2, dtype=torch.bfloat16)
    assert 0 < rate < 100  # TFLOP/s: a CPU is nowhere near


def test_detection_tokens_are_the_real_tokens_of_the_collated_windows(tmp_path):
    import copy

    from entities_globalre import collate_detection
    from globalre_training.detection import DetectionData
    from tests.helpers import EXAMPLE_DOCUMENT, tiny_model_and_processor

    model, processor = tiny_model_and_processor(tmp_path, entity_types=["PER", "LOC"])
    documents = [copy.deepcopy(EXAMPLE_DOCUMENT), copy.deepcopy(EXAMPLE_DOCUMENT)]
    data = DetectionData.build(documents, processor, model.config, weight=1.0)
    batch = collate_detection([data.features[0], data.features[1]])
    assert data.tokens([0, 1]) == int(batch["attention_mask"].sum()) > 0
