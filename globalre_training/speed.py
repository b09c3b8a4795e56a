# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""How fast training runs against what the machine gives: each epoch's seconds and its share of the matrix-product
rate, for the training log and `results.json`.

The share counts the encoder's weight matrix products (per layer Q, K, V and output projections and the two
feed-forward matrices: `2 * (4 h^2 + 2 h i)` FLOPs a token forward), over the real (unpadded) tokens the encoder
ran: the relation batches' document windows and pair segments, and the detection windows. Forward and backward
together are three times the forward when the encoder trains, once when it is frozen; attention scores, softmax,
layer norms, embeddings, the heads and the optimizer are not counted, so the share is a lower bound of the useful
work and `1 - share` what a faster step could still remove. It is a model-FLOPs utilisation measured against the
rate this device reaches on the encoder's own weight shapes (`measured_matmul_tflops`, at the start of the run, in
the number format its matrix products run in: fp32, or bf16/fp16 under `--mixed_precision`) rather than against a
datasheet peak, so near 1 means nothing is left to gain but fewer FLOPs or a narrower format.

Under a multi-process launch the figures are the main process's: its tokens against its device's rate.
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
    one_layer = encoder_weight_flops(encoder_config, tokens) / encoder_config.num_hidden_layers
    return one_layer / min(times) / 1e12


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
    resumed: bool = False
    _started: float | None = field(default=None, repr=False)

    @classmethod
    def for_model(
        cls,
        encoder,
        device: torch.device,
        mixed_precision: str = "no",
        rows: int | None = None,
        encoder_runs: bool = True,
    ) -> EpochSpeed:
        """The clock of a run training `encoder` (the model's encoder module) on `device` with accelerate's
        `mixed_precision` ("no", "bf16", "fp16"). The matmul rate is measured here on `rows` rows (default: the
        inference batch budget, `inference_globalre.default_max_batch_tokens`: 4,096 on CPU, about a second for
        MiniLM-L6 on 2 cores; 16,384 elsewhere, where smaller products are bound by kernel launches); not when
        the encoder never runs (`encoder_runs=False`: a frozen encoder's cached pair vectors)."""
        from inference_globalre import default_max_batch_tokens

        config = encoder.config
        trains = any(parameter.requires_grad for parameter in encoder.parameters())
        precision = mixed_precision if mixed_precision in ("bf16", "fp16") else "fp32"
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]
        rate = None
        if encoder_runs:
            rate = measured_matmul_tflops(
                config, rows or default_max_batch_tokens(device), device, dtype=dtype
            )
        flops = (3.0 if trains else 1.0) * encoder_weight_flops(config, 1)
        return cls(matmul_tflops=rate, flops_per_token=flops, precision=precision)

    def start(self, device: torch.device, resumed: bool = False) -> None:
        """Starts an epoch's clock; `resumed`: the epoch goes on from a checkpoint, so it counts only what is left."""
        synchronize(device)
        self.seconds, self.steps, self.tokens, self.resumed = 0.0, 0, 0, resumed
        self._started = time.perf_counter()

    def pause(self, device: torch.device) -> None:
        """Stops the clock (a checkpoint written mid-epoch is not training time); `resume` starts it again."""
        synchronize(device)
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def resume(self) -> None:
        self._started = time.perf_counter()

    def add(self, tokens: int, steps: int = 0) -> None:
        self.tokens += tokens
        self.steps += steps

    def stop(self, device: torch.device) -> None:
        self.pause(device)

    @property
    def matmul_share(self) -> float | None:
        """The epoch's encoder weight-matmul FLOPs over what the measured rate does in its seconds (about 0-1;
        above 1 only where training's products run faster than the measured ones)."""
        if not self.matmul_tflops or not self.seconds or not self.tokens:
            return None
        return self.tokens * self.flops_per_token / (self.seconds * self.matmul_tflops * 1e12)

    def record(self) -> dict[str, float | int | None]:
        """The epoch's figures for `results.json` (its `history` records' `speed`): `train_seconds`, `train_steps`,
        `encoder_tokens`, `matmul_share` (4 significant digits), `matmul_gflops` and its `matmul_precision`, and
        `resumed` (the epoch went on from a checkpoint: its figures cover what was left of it)."""
        share = self.matmul_share
        return {
            "train_seconds": round(self.seconds, 3),
            "train_steps": self.steps,
            "encoder_tokens": self.tokens,
            "matmul_share": None if share is None else float(f"{share:.4g}"),
            "matmul_gflops": None if self.matmul_tflops is None else round(1000 * self.matmul_tflops, 1),
            "matmul_precision": self.precision,
            "resumed": self.resumed,
        }

    def describe(self) -> str:
        """`"812 s training (674 steps, 1.20 s a step); encoder weight matmuls at 31 % of the measured 134 GFLOP/s
        fp32 rate (...)"` (the second part only when tokens ran through the encoder)."""
        per_step = f", {self.seconds / self.steps:.2f} s a step" if self.steps else ""
        resumed = ", resumed: the rest of the epoch" if self.resumed else ""
        line = f"{self.seconds:.0f} s training ({self.steps} steps{per_step}{resumed})"
        share = self.matmul_share
        if share is not None:
            line += (
                f"; encoder weight matmuls at {100 * share:.0f} % of the measured "
                f"{1000 * self.matmul_tflops:.0f} GFLOP/s {self.precision} rate ({self.tokens} tokens)"
            )
        return line


__all__ = ["EpochSpeed", "encoder_tokens", "encoder_weight_flops", "measured_matmul_tflops", "synchronize"]
