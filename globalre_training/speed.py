# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""How fast training runs against what the machine gives: each epoch's seconds and its share of the matrix-product
rate, for the training log and `results.json`.

The share counts the encoder's weight matrix products (per layer Q, K, V and output projections and the two
feed-forward matrices: `2 * (4 h^2 + 2 h i)` FLOPs a token forward), over the real (unpadded) tokens the encoder
ran: the relation batches' document windows and pair segments, and the detection windows. Forward and backward
together are three times the forward when the encoder trains, once when it is frozen; attention scores, softmax,
layer norms, embeddings, the heads and the optimizer are not counted, so the share is a lower bound of the useful
work and `1 - share` what a faster step could still remove. The rate is measured at the start of the run on the
encoder's own weight shapes (`measured_matmul_tflops`), on the run's device, in the number format its matrix
products run in (fp32, or bf16/fp16 under `--mixed_precision`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch


def encoder_weight_flops(encoder_config, tokens: int) -> float:
    """Forward FLOPs of the encoder's weight matrix products over `tokens` tokens (attention scores left out)."""
    h, i = encoder_config.hidden_size, encoder_config.intermediate_size
    return encoder_config.num_hidden_layers * 2.0 * (4 * h * h + 2 * h * i) * tokens


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work, so that a wall-clock time covers it (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measured_matmul_tflops(
    encoder_config, tokens: int, device: torch.device, repeats: int = 5, dtype: torch.dtype = torch.float32
) -> float:
    """The rate (TFLOP/s) this device reaches on one encoder layer's weight matrix products alone: Q, K, V and
    output projections and the two feed-forward matrices, on a batch of `tokens` rows in `dtype`, best of
    `repeats`.

    On a CPU the fp32 rate is the fp32 ceiling of the encoder: its weight matmuls are ~80-95 % of its FLOPs at
    Re-DocRED lengths, so an fp32 path running at this rate throughout would have nothing left to gain but fewer
    FLOPs or a narrower number format (bf16, where the CPU has AVX-512 BF16 or AMX)."""
    h, i = encoder_config.hidden_size, encoder_config.intermediate_size
    generator = torch.Generator().manual_seed(0)

    def random(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).to(device, dtype)

    hidden, wide = random(tokens, h), random(tokens, i)
    square = [random(h, h) for _ in range(4)]
    up, down = random(i, h), random(h, i)

    def layer() -> None:
        for weight in square:
            torch.nn.functional.linear(hidden, weight)
        torch.nn.functional.linear(hidden, up)
        torch.nn.functional.linear(wide, down)

    with torch.inference_mode():
        layer()  # warm-up
        times = []
        for _ in range(repeats):
            synchronize(device)
            start = time.perf_counter()
            layer()
            synchronize(device)
            times.append(time.perf_counter() - start)
    return 2.0 * tokens * (4 * h * h + 2 * h * i) / min(times) / 1e12


def encoder_tokens(batch: Mapping[str, torch.Tensor]) -> int:
    """The real tokens the encoder runs for a collated relation batch: the sequences' (one-pair encoding) or the
    document windows' `attention_mask`, plus the pair segments' `pair_attention_mask` (packed encoding). A batch of
    cached pair vectors (frozen encoder) runs none."""
    tokens = 0
    for key in ("attention_mask", "pair_attention_mask"):
        mask = batch.get(key)
        if mask is not None:
            tokens += int(mask.sum())
    return tokens


@dataclass
class EpochSpeed:
    """One epoch's wall-clock seconds, optimizer steps and encoder tokens, and what they make of the matmul rate.

    Attributes:
        matmul_tflops: the device's measured weight-matmul rate (TFLOP/s); None leaves the share out.
        precision: the number format the rate was measured in (`"fp32"`, `"bf16"`, `"fp16"`).
        flops_per_token: encoder weight-matmul FLOPs a token costs in a training step (forward, and backward
            when the encoder trains).
    """

    matmul_tflops: float | None
    flops_per_token: float
    precision: str = "fp32"
    seconds: float = 0.0
    steps: int = 0
    tokens: int = 0
    _started: float | None = field(default=None, repr=False)

    @classmethod
    def for_model(
        cls, encoder, device: torch.device, mixed_precision: str = "no", rows: int = 512
    ) -> EpochSpeed:
        """The clock of a run training `encoder` (the model's encoder module) on `device` with accelerate's
        `mixed_precision` ("no", "bf16", "fp16"); the matmul rate is measured here, on `rows` rows (a fraction of a
        second for MiniLM-L6 on 2 CPU cores)."""
        config = encoder.config
        trains = any(parameter.requires_grad for parameter in encoder.parameters())
        precision = mixed_precision if mixed_precision in ("bf16", "fp16") else "fp32"
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
        rate = measured_matmul_tflops(config, rows, device, dtype=dtype)
        flops = (3.0 if trains else 1.0) * encoder_weight_flops(config, 1)
        return cls(matmul_tflops=rate, flops_per_token=flops, precision=precision)

    def start(self, device: torch.device) -> None:
        synchronize(device)
        self.seconds, self.steps, self.tokens = 0.0, 0, 0
        self._started = time.perf_counter()

    def add(self, tokens: int, steps: int = 0) -> None:
        self.tokens += tokens
        self.steps += steps

    def stop(self, device: torch.device) -> None:
        synchronize(device)
        if self._started is not None:
            self.seconds = time.perf_counter() - self._started
            self._started = None

    @property
    def matmul_share(self) -> float | None:
        """The epoch's encoder weight-matmul FLOPs over what the measured rate does in its seconds (0-1)."""
        if not self.matmul_tflops or not self.seconds or not self.tokens:
            return None
        return self.tokens * self.flops_per_token / (self.seconds * self.matmul_tflops * 1e12)

    def record(self) -> dict[str, float | int | None]:
        """The epoch's figures for `results.json` (its `history` records' `speed`: `train_seconds`, `train_steps`, `encoder_tokens`,
        `matmul_share`, `matmul_gflops` and its `matmul_precision`)."""
        share = self.matmul_share
        return {
            "train_seconds": round(self.seconds, 1),
            "train_steps": self.steps,
            "encoder_tokens": self.tokens,
            "matmul_share": None if share is None else round(share, 4),
            "matmul_gflops": None if self.matmul_tflops is None else round(1000 * self.matmul_tflops, 1),
            "matmul_precision": self.precision,
        }

    def describe(self) -> str:
        """`"812 s training (674 steps, 1.20 s a step); encoder weight matmuls at 31 % of the measured 134 GFLOP/s
        fp32 rate (...)"` (the second part only when tokens ran through the encoder)."""
        per_step = f", {self.seconds / self.steps:.2f} s a step" if self.steps else ""
        line = f"{self.seconds:.0f} s training ({self.steps} steps{per_step})"
        share = self.matmul_share
        if share is not None:
            line += (
                f"; encoder weight matmuls at {100 * share:.0f} % of the measured "
                f"{1000 * self.matmul_tflops:.0f} GFLOP/s {self.precision} rate ({self.tokens} tokens)"
            )
        return line


__all__ = ["EpochSpeed", "encoder_tokens", "encoder_weight_flops", "measured_matmul_tflops", "synchronize"]
