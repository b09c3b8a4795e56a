# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The batched inference loop behind the `relation-extraction` pipeline, evaluation, training's scoring passes and
the benchmarks: candidate pairs of one or many documents scored in length-sorted batches packed by token count
(`score_sequences`, `iter_document_logits`, `predict_documents`), the precision rules of the encoder
(`runs_bf16_autocast`, `encoder_precision`), the default token budget per batch and the prefetch thread that
prepares the next batch while the GPU works."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import torch

try:  # Hub remote code resolves sibling files only through relative imports
    from .documents_globalre import as_docred
    from .processing_globalre import GlobalReProcessor
    from .sequences_globalre import DocumentEncoding, EncoderSequences
except ImportError:  # the same file used from a source checkout or an installed package
    from documents_globalre import as_docred
    from processing_globalre import GlobalReProcessor
    from sequences_globalre import DocumentEncoding, EncoderSequences

# Padded tokens per encoder call. On CPU, 4096-token batches keep activations in cache and ran ~25% faster than
# 16384 (bench/RESULTS.md); 16384 elsewhere (GPU budgets are unmeasured: try bench/throughput.py --max_batch_tokens).
DEFAULT_MAX_BATCH_TOKENS = 16384
CPU_MAX_BATCH_TOKENS = 4096
# Documents are encoded in groups holding about this many pairs, so batches are full across small documents
# while memory stays bounded whatever the collection size.
PAIRS_IN_FLIGHT = 4096


def prefetch(iterator: Iterator, size: int = 2) -> Iterator:
    """Runs `iterator` in a background thread holding at most `size` items ahead, so padding and pinning the next
    batch overlaps the GPU's work. An error raised by `iterator` is raised to the consumer. If the consumer stops
    early (an error, an out-of-memory), the thread stops too instead of holding batches."""
    items: queue.Queue = queue.Queue(maxsize=size)
    done = object()
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fill():
        try:
            for item in iterator:
                if not put(item):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(error)
        put(done)

    threading.Thread(target=fill, daemon=True).start()
    try:
        while (item := items.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def default_max_batch_tokens(device: torch.device) -> int:
    """The budget of padded tokens per encoder call used when none is given: `CPU_MAX_BATCH_TOKENS` on CPU,
    `DEFAULT_MAX_BATCH_TOKENS` elsewhere."""
    return CPU_MAX_BATCH_TOKENS if torch.device(device).type == "cpu" else DEFAULT_MAX_BATCH_TOKENS


def runs_bf16_autocast(model, bf16: bool | None = None) -> bool:
    """Whether `score_sequences` runs the encoder under bf16 autocast: when asked (`bf16`; by default on CUDA only)
    and the weights are float32 (weights already in half precision run as they are)."""
    parameter = next(model.parameters())
    if bf16 is None:
        bf16 = parameter.device.type == "cuda"
    return bf16 and parameter.dtype == torch.float32


def encoder_precision(model, bf16: bool | None = None) -> str:
    """What the encoder computes in under `score_sequences(..., bf16=bf16)`: "bf16 autocast", or the weights'
    dtype ("float32", "bfloat16", "float16")."""
    if runs_bf16_autocast(model, bf16):
        return "bf16 autocast"
    return str(next(model.parameters()).dtype).removeprefix("torch.")


def score_sequences(
    model,
    processor: GlobalReProcessor,
    sequences: EncoderSequences,
    *,
    max_batch_tokens: int | None = None,
    max_batch_pairs: int | None = None,
    output: str = "logits",
    pad_to_multiple_of: int | None = None,
    bf16: bool | None = None,
    evidence: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Runs the model over pair sequences and returns float32 CPU `logits` (or `pair_representation`), in the
    order given; with `evidence` (a model with the packed encoding's localized context, `PackedSequences`), the
    tuple `(logits, evidence_weights)`, the second `(num_pairs, width)`: each pair's localized-context weight per
    sentence of its document (`RelationExtractionOutput.evidence_weights`), 0 for sentences none of its windows'
    tokens belong to; `width` covers every sentence that has a token, and a sentence beyond it has weight 0
    (`processing_globalre.predicted_evidence` reads it so).

    Sequences are sorted by length and packed into batches of at most `max_batch_tokens` padded tokens (default:
    `default_max_batch_tokens(device)`). `bf16` runs the encoder under bf16 autocast; by default (None) it does
    on CUDA and not on CPU, where bf16 matmuls are fast only on CPUs with AVX-512 BF16 or AMX and the fp32 logits
    are exact: `bf16=True` opts in there (weights already in half precision never get autocast; the small
    classification head always runs in the weights' precision). On CUDA batches are pinned
    and copied asynchronously both ways, and the next batch is prepared in a background thread while the GPU
    works. Batch lengths are padded to a multiple of
    `pad_to_multiple_of` (default: 8 on CUDA, for tensor cores; none on CPU); a coarser multiple means fewer
    distinct shapes, which is what compiled or graph-captured encoders want. The sequences are those of
    `DocumentEncoding.sequences` (several documents' together with their class's `concatenate`; lists of ids with
    `PairSequences.from_lists`).
    """
    device = next(model.parameters()).device
    on_cuda = device.type == "cuda"
    if max_batch_tokens is None:
        max_batch_tokens = default_max_batch_tokens(device)
    if evidence and not hasattr(sequences, "sentences"):
        raise ValueError(
            "evidence weights need the packed encoding with the localized context; these are one-pair sequences "
            f"(the model's encoding is {model.config.encoding!r})"
        )
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if runs_bf16_autocast(model, bf16)
        else contextlib.nullcontext()
    )
    batches = sequences.iter_batches(
        max_batch_tokens,
        max_batch_pairs=max_batch_pairs,
        pad_token_id=processor.pad_token_id,
        pad_to_multiple_of=pad_to_multiple_of or (8 if on_cuda else None),
        **({"token_sentences": True} if evidence else {}),
    )
    if on_cuda:
        batches = prefetch(((rows, {k: v.pin_memory() for k, v in batch.items()}) for rows, batch in batches))
    results: torch.Tensor | None = None
    # each batch's evidence weights, as wide as its documents' sentences that have tokens
    weights: list[tuple[list[int], torch.Tensor]] = []

    def collect(
        rows: list[int], values: torch.Tensor, sentences: torch.Tensor | None, copied: torch.cuda.Event | None
    ) -> None:
        nonlocal results
        if copied is not None:
            copied.synchronize()
        if results is None:
            results = torch.empty((len(sequences), values.shape[-1]), dtype=torch.float32)
        results[torch.tensor(rows)] = values
        if sentences is not None:
            weights.append((rows, sentences))

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            previous = None  # the last batch's (rows, host values, host weights, copy event), collected later
            for rows, batch in batches:
                # the weights' width from the host copy: on the device it would wait for the queued work
                width = int(batch["token_sentences"].max().clamp(min=0)) + 1 if evidence else None
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                with autocast:
                    if evidence:
                        outputs = model.pair_outputs(**batch, num_sentences=width)
                        values, sentences = outputs.pair_representation, outputs.evidence_weights
                    else:
                        values, sentences = model.pair_representation(**batch), None
                if output == "logits":
                    # The head runs outside autocast, in the weights' precision: the same logits as a head
                    # trained and threshold-tuned on cached pair vectors (train.py), whatever the device.
                    values = model.classify(values.to(next(model.classifier.parameters()).dtype)).logits
                values, copied = values.float(), None
                if on_cuda:
                    # An asynchronous copy lands in pinned memory and is only valid once its event has passed;
                    # it is read after the next batch is queued, so the GPU never waits for the host.
                    values = values.to("cpu", non_blocking=True)
                    if sentences is not None:
                        sentences = sentences.to("cpu", non_blocking=True)
                    copied = torch.cuda.Event()
                    copied.record(torch.cuda.current_stream(device))
                if previous is not None:
                    collect(*previous)
                previous = (rows, values, sentences, copied)
            if previous is not None:
                collect(*previous)
    finally:
        model.train(was_training)
        if hasattr(batches, "close"):  # ends the prefetch thread at once, even if a traceback keeps us alive
            batches.close()
    if results is None:
        width = model.config.num_labels if output == "logits" else model.representation_size
        results = torch.empty((0, width), dtype=torch.float32)
    if not evidence:
        return results
    evidence_weights = torch.zeros((len(sequences), max([w.shape[1] for _, w in weights], default=0)))
    for rows, batch_weights in weights:
        evidence_weights[torch.tensor(rows), : batch_weights.shape[1]] = batch_weights.float()
    return results, evidence_weights


def iter_document_logits(
    model,
    processor: GlobalReProcessor,
    documents: Iterable[Any],
    *,
    pairs: list | None = None,
    max_batch_tokens: int | None = None,
    max_batch_pairs: int | None = None,
    pairs_in_flight: int = PAIRS_IN_FLIGHT,
    pad_to_multiple_of: int | None = None,
    bf16: bool | None = None,
    evidence: bool = False,
) -> Iterator[tuple]:
    """Yields `(document, encoding, logits)` per document, in input order; with `evidence`, `(document, encoding,
    logits, evidence_weights)`, the last `(num_pairs, width)`, at most `len(document["sents"])` wide (see
    `score_sequences`). Pairs of several documents share batches (up to `pairs_in_flight` pairs at a time), so
    small documents still fill the hardware. On CUDA the next group of documents is encoded in a background thread
    while the current one is scored. `bf16`: see `score_sequences`."""

    def encoded_groups() -> Iterator[list[tuple[dict, DocumentEncoding]]]:
        group: list[tuple[dict, DocumentEncoding]] = []
        pending = 0
        for index, document in enumerate(documents):
            document = as_docred(document, index)
            encoding = processor.encode_document(document, pairs[index] if pairs else None, index=index)
            group.append((document, encoding))
            pending += len(encoding)
            if pending >= pairs_in_flight:
                yield group
                group, pending = [], 0
        if group:
            yield group

    groups = encoded_groups()
    if next(model.parameters()).device.type == "cuda":
        groups = prefetch(groups, size=1)
    for group in groups:
        parts = [encoding.sequences for _, encoding in group]
        sequences = type(parts[0]).concatenate(parts)
        scores = score_sequences(
            model,
            processor,
            sequences,
            max_batch_tokens=max_batch_tokens,
            max_batch_pairs=max_batch_pairs,
            pad_to_multiple_of=pad_to_multiple_of,
            bf16=bf16,
            evidence=evidence,
        )
        logits, weights = scores if evidence else (scores, None)
        start = 0
        for document, encoding in group:
            end = start + len(encoding)
            if weights is None:
                yield document, encoding, logits[start:end]
            else:
                yield document, encoding, logits[start:end], weights[start:end, : len(document["sents"])]
            start = end


def predict_documents(
    model,
    processor: GlobalReProcessor,
    documents: Iterable[Any],
    *,
    max_batch_tokens: int | None = None,
    max_batch_pairs: int | None = None,
    threshold: float | None = None,
    relations: list[str] | None = None,
    progress: bool = False,
    bf16: bool | None = None,
    evidence_threshold: float | None = None,
) -> list[list[dict]]:
    """Relation triples for each document (DocRED or text form), in input order: per document a list of triples
    (see `GlobalReProcessor.post_process`), best first, with their predicted evidence sentences when the model
    predicts evidence (`GlobalReConfig.predicts_evidence`). `max_batch_tokens` and `max_batch_pairs` bound each
    model call (padded tokens, pair sequences; see `score_sequences`). `bf16`: see `score_sequences` (default: on
    CUDA only). `evidence_threshold` overrides the model's (see `post_process`). `progress` shows a bar of the
    candidate pairs scored (documents are encoded ahead of scoring, so a bar over the input would run ahead of the
    work)."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        documents = [as_docred(document, index) for index, document in enumerate(documents)]
        total = sum(len(processor.candidate_pairs(document)) for document in documents)
        bar = tqdm(total=total, desc="pairs scored", unit="pair", unit_scale=True)
    results = []
    evidence = model.config.predicts_evidence
    for document, encoding, logits, *weights in iter_document_logits(
        model,
        processor,
        documents,
        max_batch_tokens=max_batch_tokens,
        max_batch_pairs=max_batch_pairs,
        bf16=bf16,
        evidence=evidence,
    ):
        results.append(
            processor.post_process(
                logits,
                encoding.pairs,
                document,
                model.config,
                threshold=threshold,
                relations=relations,
                evidence_weights=weights[0] if evidence else None,
                evidence_threshold=evidence_threshold,
            )
        )
        if bar is not None:
            bar.update(len(encoding))
    if bar is not None:
        bar.close()
    return results


def _other_accelerator() -> bool:
    """Whether transformers' pipelines would map a device index to an accelerator other than CUDA (Apple MPS,
    Intel XPU)."""
    mps = getattr(torch.backends, "mps", None)
    xpu = getattr(torch, "xpu", None)
    return bool((mps is not None and mps.is_available()) or (xpu is not None and xpu.is_available()))


def check_device(device: str | int | torch.device | None) -> None:
    """Refuses a device that this torch cannot run on, before anything is loaded onto it, so that the user reads
    one line rather than torch's "Torch not compiled with CUDA enabled" from deep inside `model.to`, and a device
    index never falls back to the CPU silently (transformers' pipelines run `device=0` on the CPU when there is no
    accelerator).

    Args:
        device: `None` (the caller's default), a name (`"cpu"`, `"cuda"`, `"cuda:1"`), a `torch.device`, or an
            index as transformers' pipelines take it (`-1` the CPU, `0`, `1`, ... an accelerator).

    Raises:
        ValueError: a CUDA device (or a device index) where this torch has no CUDA (a CPU-only build, or no GPU
            visible), a CUDA index beyond the GPUs there are, or a name torch does not know.
    """
    if device is None:
        return
    if isinstance(device, bool) or not isinstance(device, (str, int, torch.device)):
        raise ValueError(f"device {device!r}: expected a name such as 'cpu' or 'cuda:0', or a device index.")
    if isinstance(device, int):
        if device < 0:  # transformers' name for the CPU
            return
        if not torch.cuda.is_available() and _other_accelerator():
            return
        name = f"cuda:{device}"
    else:
        try:
            name = str(torch.device(device))
        except RuntimeError as error:
            raise ValueError(f"device {device!r}: not a device torch knows ({error}).") from None
    if not name.startswith("cuda"):
        return
    if not torch.cuda.is_available():
        build = (
            f"this torch ({torch.__version__}) was built without CUDA"
            if torch.version.cuda is None
            else f"this torch (CUDA {torch.version.cuda}) finds no GPU"
        )
        raise ValueError(f"device {device!r} needs CUDA, but {build}; use device 'cpu' (or -1).")
    index = torch.device(name).index
    if index is not None and index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r}: there are {torch.cuda.device_count()} CUDA device(s) here, numbered from 0."
        )


def load_globalre(model_dir: str, device: str | int | torch.device | None = None):
    """Loads a saved GlobalRE model and its processor from a directory (or Hub name), on `device` (CUDA when
    available by default).

    Raises:
        ValueError: a device this torch cannot use (`check_device`), or a processor whose tokenizer does not fit
            the model's encoder (`GlobalReProcessor.check_fits_model`), e.g. a folder without its
            `tokenizer.json`.
    """
    try:
        from .modeling_globalre import GlobalReForRelationExtraction
    except ImportError:
        from modeling_globalre import GlobalReForRelationExtraction
    check_device(device)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif isinstance(device, int):
        device = f"cuda:{device}" if device >= 0 else "cpu"
    model = GlobalReForRelationExtraction.from_pretrained(model_dir)
    processor = GlobalReProcessor.from_pretrained(model_dir)
    processor.check_fits_model(model, source=str(model_dir))
    model = model.to(device)
    model.eval()
    return model, processor


__all__ = [
    "CPU_MAX_BATCH_TOKENS",
    "DEFAULT_MAX_BATCH_TOKENS",
    "PAIRS_IN_FLIGHT",
    "check_device",
    "default_max_batch_tokens",
    "encoder_precision",
    "iter_document_logits",
    "load_globalre",
    "predict_documents",
    "prefetch",
    "runs_bf16_autocast",
    "score_sequences",
]
