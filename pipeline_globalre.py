# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The `relation-extraction` pipeline and the batched inference loop it shares with evaluation and benchmarks."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

try:  # Hub remote code resolves sibling files only through relative imports
    from .documents_globalre import as_docred
    from .packed_encoding_globalre import PackedSequences
    from .pair_encoding_globalre import PairSequences
    from .processing_globalre import GlobalReProcessor
    from .sequences_globalre import DocumentEncoding
except ImportError:  # the same file used from a source checkout or an installed package
    from documents_globalre import as_docred
    from packed_encoding_globalre import PackedSequences
    from pair_encoding_globalre import PairSequences
    from processing_globalre import GlobalReProcessor
    from sequences_globalre import DocumentEncoding

PIPELINE_TASK = "relation-extraction"
# Padded tokens per encoder call. On CPU, 4096-token batches keep activations in cache and ran ~25% faster than
# 16384 (bench/RESULTS.md); 16384 elsewhere (GPU budgets are unmeasured: try bench/throughput.py --max_batch_tokens).
DEFAULT_MAX_BATCH_TOKENS = 16384
CPU_MAX_BATCH_TOKENS = 4096
# Documents are encoded in groups holding about this many pairs, so batches are full across small documents
# while memory stays bounded whatever the collection size.
PAIRS_IN_FLIGHT = 4096


def _prefetch(iterator: Iterator, size: int = 2) -> Iterator:
    """Runs `iterator` in a background thread, so padding and pinning the next batch overlaps the GPU's work.
    If the consumer stops early (an error, an out-of-memory), the thread stops too instead of holding batches."""
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
    """The token budget per batch used when none is given."""
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
    sequences: PairSequences | PackedSequences,
    *,
    max_batch_tokens: int | None = None,
    max_batch_pairs: int | None = None,
    output: str = "logits",
    pad_to_multiple_of: int | None = None,
    bf16: bool | None = None,
) -> torch.Tensor:
    """Runs the model over pair sequences and returns float32 CPU `logits` (or `pair_representation`), in the
    order given.

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
    )
    if on_cuda:
        batches = _prefetch(
            ((rows, {k: v.pin_memory() for k, v in batch.items()}) for rows, batch in batches)
        )
    results: torch.Tensor | None = None

    def collect(rows: list[int], values: torch.Tensor, copied: torch.cuda.Event | None) -> None:
        nonlocal results
        if copied is not None:
            copied.synchronize()
        if results is None:
            results = torch.empty((len(sequences), values.shape[-1]), dtype=torch.float32)
        results[torch.tensor(rows)] = values

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            previous = None  # the last batch's (rows, host values, copy event), collected one batch later
            for rows, batch in batches:
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                with autocast:
                    values = model.pair_representation(**batch)
                if output == "logits":
                    # The head runs outside autocast, in the weights' precision: the same logits as a head
                    # trained and threshold-tuned on cached pair vectors (train.py), whatever the device.
                    values = model.classify(values.to(model.classifier.weight.dtype)).logits
                values, copied = values.float(), None
                if on_cuda:
                    # An asynchronous copy lands in pinned memory and is only valid once its event has passed;
                    # it is read after the next batch is queued, so the GPU never waits for the host.
                    values = values.to("cpu", non_blocking=True)
                    copied = torch.cuda.Event()
                    copied.record(torch.cuda.current_stream(device))
                if previous is not None:
                    collect(*previous)
                previous = (rows, values, copied)
            if previous is not None:
                collect(*previous)
    finally:
        model.train(was_training)
        if hasattr(batches, "close"):  # ends the prefetch thread at once, even if a traceback keeps us alive
            batches.close()
    if results is None:
        width = model.config.num_labels if output == "logits" else model.classifier.in_features
        results = torch.empty((0, width), dtype=torch.float32)
    return results


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
) -> Iterator[tuple[dict, DocumentEncoding, torch.Tensor]]:
    """Yields `(document, encoding, logits)` per document, in input order. Pairs of several documents share
    batches (up to `pairs_in_flight` pairs at a time), so small documents still fill the hardware. On CUDA the
    next group of documents is encoded in a background thread while the current one is scored. `bf16`: see
    `score_sequences`."""

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
        groups = _prefetch(groups, size=1)
    for group in groups:
        parts = [encoding.sequences for _, encoding in group]
        sequences = type(parts[0]).concatenate(parts)
        logits = score_sequences(
            model,
            processor,
            sequences,
            max_batch_tokens=max_batch_tokens,
            max_batch_pairs=max_batch_pairs,
            pad_to_multiple_of=pad_to_multiple_of,
            bf16=bf16,
        )
        start = 0
        for document, encoding in group:
            yield document, encoding, logits[start : start + len(encoding)]
            start += len(encoding)


def predict_documents(
    model,
    processor: GlobalReProcessor,
    documents: Iterable[Any],
    *,
    max_batch_tokens: int | None = None,
    batch_size: int | None = None,
    threshold: float | None = None,
    relations: list[str] | None = None,
    progress: bool = False,
    bf16: bool | None = None,
) -> list[list[dict]]:
    """Relation triples for each document (DocRED or text form), in input order: per document a list of triples
    (see `GlobalReProcessor.post_process`), best first. `bf16`: see `score_sequences` (default: on CUDA only).
    `progress` shows a bar of the candidate pairs scored (documents are encoded ahead of scoring, so a bar over
    the input would run ahead of the work)."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        documents = [as_docred(document, index) for index, document in enumerate(documents)]
        total = sum(len(processor.candidate_pairs(document)) for document in documents)
        bar = tqdm(total=total, desc="pairs scored", unit="pair", unit_scale=True)
    results = []
    for document, encoding, logits in iter_document_logits(
        model, processor, documents, max_batch_tokens=max_batch_tokens, max_batch_pairs=batch_size, bf16=bf16
    ):
        results.append(
            processor.post_process(
                logits, encoding.pairs, document, model.config, threshold=threshold, relations=relations
            )
        )
        if bar is not None:
            bar.update(len(encoding))
    if bar is not None:
        bar.close()
    return results


def load_globalre(model_dir: str, device: str | None = None):
    """Loads a saved GlobalRE model and its processor from a directory (or Hub name), on `device`
    (CUDA when available by default)."""
    try:
        from .modeling_globalre import GlobalReForRelationExtraction
    except ImportError:
        from modeling_globalre import GlobalReForRelationExtraction
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = GlobalReForRelationExtraction.from_pretrained(model_dir).to(device)
    model.eval()
    processor = GlobalReProcessor.from_pretrained(model_dir)
    return model, processor


class RelationExtractionPipeline(Pipeline):
    """
    Document-level relation extraction with a GlobalRE model:

    ```python
    from transformers import pipeline

    extractor = pipeline("relation-extraction", model="org/globalre", trust_remote_code=True)
    extractor({"text": "Marie Curie was born in Warsaw.", "entities": ["Marie Curie", "Warsaw"]})
    # [{"head": 0, "head_name": "Marie Curie", "tail": 1, "tail_name": "Warsaw",
    #   "relation": "P19", "relation_name": "place of birth", "score": 0.93}, ...]
    ```

    Inputs: one document or a list of documents, each in DocRED form (`sents`, `vertexSet`) or text form
    (`text`, `entities`). Every candidate pair of a document is scored in length-sorted batches of at most
    `max_batch_tokens` tokens (and `batch_size` pairs, when given), so memory stays bounded for documents with
    many entities.

    Each triple also gives the head's and tail's mentions (`head_mentions`, `tail_mentions`: sentence and word
    positions, and character offsets `char_span` for text input) and `evidence` (the sentence ids that the
    document's own labels give for the fact, else `None`); see `GlobalReProcessor.post_process`.

    Call parameters: `threshold` (overrides the model's thresholds), `relations` (only these relations, by id
    `"P17"` or name `"country"`), `top_k` (each pair's k best relations whatever their score, with `kept`),
    `type_constraints` (only relations seen in training between the pair's entity types; default: the model's
    setting), `pairs` (score only these `(head, tail)` pairs of a single document), `max_batch_tokens`,
    `batch_size`, `bf16` (bf16 autocast for the encoder: on by default on CUDA; `bf16=True` on a CPU with
    AVX-512 BF16 or AMX ran ~1.5x faster there in bench/RESULTS.md, with logits within bf16 rounding of fp32).
    """

    _load_processor = True
    _load_tokenizer = False
    _load_image_processor = False
    _load_feature_extractor = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.processor is None:
            raise ValueError(
                "The relation-extraction pipeline needs the GlobalRE processor: save it with "
                "processor.save_pretrained(model_dir) or pass processor=..."
            )
        self._check_processor_matches_model()

    def save_pretrained(self, save_directory, **kwargs) -> None:
        """Writes a complete Hub repository: the model (weights; `config.json` with `auto_map` and this pipeline
        declared under `custom_pipelines`; the model's code), this pipeline's code, and the processor with its
        tokenizer. `pipeline("relation-extraction", model=DIR, trust_remote_code=True)` then works in a process
        that has only transformers."""
        super().save_pretrained(save_directory, **kwargs)
        self.processor.save_pretrained(save_directory, **kwargs)

    def _check_processor_matches_model(self) -> None:
        for name, expected in self.model.config.processor_settings.items():
            if getattr(self.processor, name) != expected:
                raise ValueError(
                    f"The processor's {name}={getattr(self.processor, name)!r} differs from the model's "
                    f"{expected!r}; build it with GlobalReProcessor.from_config(tokenizer, model.config)."
                )

    # the call options (`_sanitize_parameters`); anything else is an error, not silently ignored
    CALL_OPTIONS = (
        "threshold",
        "relations",
        "top_k",
        "type_constraints",
        "pairs",
        "max_batch_tokens",
        "bf16",
        "num_workers",
    )

    # what transformers' `pipeline()` reads for loading and still hands to the constructor (transformers 5.x)
    LOADING_OPTIONS = ("local_files_only",)

    def __call__(self, inputs, *args, batch_size: int | None = None, **kwargs):
        # A pipeline's batch_size normally stacks several inputs; here it bounds the pairs of one model call,
        # and documents go through one at a time.
        unknown = sorted(set(kwargs) - set(self.CALL_OPTIONS))
        if unknown or args:
            raise self._unknown_options(unknown or list(args))
        if isinstance(inputs, (list, tuple)) and not inputs:
            return []
        for name in ("batch_size", "max_batch_tokens"):
            value = batch_size if name == "batch_size" else kwargs.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(
                    f"relation-extraction pipeline: {name} must be a positive integer; got {value!r}."
                )
        if kwargs.get("pairs") is not None and not isinstance(inputs, dict):
            raise ValueError(
                "pairs= names the pairs of one document; call the pipeline on a single document with it."
            )
        pair_batch_size = batch_size if batch_size is not None else self._batch_size
        if pair_batch_size is not None:
            kwargs["pair_batch_size"] = pair_batch_size
        return super().__call__(inputs, *args, batch_size=1, **kwargs)

    def _unknown_options(self, names: list) -> TypeError:
        return TypeError(
            f"relation-extraction pipeline: unknown option(s) {names}; the options are "
            f"{', '.join(('batch_size', *self.CALL_OPTIONS[:-1]))}."
        )

    def _sanitize_parameters(
        self,
        threshold=None,
        relations=None,
        top_k=None,
        type_constraints=None,
        pairs=None,
        max_batch_tokens=None,
        pair_batch_size=None,
        bf16=None,
        **kwargs,
    ):
        # options given to the constructor (`pipeline(..., threshold=0.3)`) arrive here only, so this is where an
        # unknown one is caught there; `pipeline()` also passes on the loading options it read and did not remove
        for loading_option in self.LOADING_OPTIONS:
            kwargs.pop(loading_option, None)
        if kwargs:
            raise self._unknown_options(sorted(kwargs))
        preprocess, forward, postprocess = {}, {}, {}
        if pairs is not None:
            preprocess["pairs"] = pairs
        if max_batch_tokens is not None:
            forward["max_batch_tokens"] = max_batch_tokens
        if pair_batch_size is not None:
            forward["max_batch_pairs"] = pair_batch_size
        if bf16 is not None:
            forward["bf16"] = bf16
        if threshold is not None:
            postprocess["threshold"] = threshold
        if relations is not None:
            postprocess["relations"] = relations
        if top_k is not None:
            postprocess["top_k"] = top_k
        if type_constraints is not None:
            postprocess["type_constraints"] = type_constraints
        return preprocess, forward, postprocess

    def preprocess(self, document, pairs=None):
        document = as_docred(document)
        return {"document": document, "encoding": self.processor.encode_document(document, pairs)}

    def _forward(
        self,
        model_inputs,
        max_batch_tokens: int | None = None,
        max_batch_pairs=None,
        bf16: bool | None = None,
    ):
        encoding = model_inputs["encoding"]
        logits = score_sequences(
            self.model,
            self.processor,
            encoding.sequences,
            max_batch_tokens=max_batch_tokens,
            max_batch_pairs=max_batch_pairs,
            bf16=bf16,
        )
        return {"document": model_inputs["document"], "encoding": encoding, "logits": logits}

    def postprocess(self, model_outputs, threshold=None, relations=None, top_k=None, type_constraints=None):
        return self.processor.post_process(
            model_outputs["logits"],
            model_outputs["encoding"].pairs,
            model_outputs["document"],
            self.model.config,
            threshold=threshold,
            relations=relations,
            top_k=top_k,
            type_constraints=type_constraints,
        )


# In-process registration: `pipeline("relation-extraction", model=model, processor=processor)` with objects in
# memory.
# Saved directories declare the same task in config.json (`custom_pipelines`, written by `save_pretrained`) for
# remote code.
if PIPELINE_TASK not in PIPELINE_REGISTRY.get_supported_tasks():
    PIPELINE_REGISTRY.register_pipeline(
        PIPELINE_TASK, pipeline_class=RelationExtractionPipeline, pt_model=AutoModel, type="text"
    )
# Remote code can load this file a second time; that copy of the class is what `save_pretrained` reads.
RelationExtractionPipeline._registered_impl = {
    PIPELINE_TASK: {"impl": RelationExtractionPipeline, "pt": (AutoModel,), "type": "text"}
}

__all__ = [
    "RelationExtractionPipeline",
    "default_max_batch_tokens",
    "load_globalre",
    "predict_documents",
    "score_sequences",
]
