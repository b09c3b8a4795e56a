# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The `relation-extraction` pipeline: a transformers `Pipeline` over the inference loop of `inference_globalre`."""

from __future__ import annotations

from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

try:  # Hub remote code resolves sibling files only through relative imports
    from .inference_globalre import score_sequences
    from .processing_globalre import as_docred
except ImportError:  # the same file used from a source checkout or an installed package
    from inference_globalre import score_sequences
    from processing_globalre import as_docred

PIPELINE_TASK = "relation-extraction"


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

__all__ = ["PIPELINE_TASK", "RelationExtractionPipeline"]
