# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The `relation-extraction` pipeline: a transformers `Pipeline` over the inference loop of `inference_globalre`."""

from __future__ import annotations

import logging
import textwrap
from dataclasses import dataclass

from transformers import AutoModel, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

try:  # Hub remote code resolves sibling files only through relative imports
    from .configuration_globalre import PIPELINE_TASK
    from .documents_globalre import DocumentError, as_docred, document_label
    from .entities_globalre import COREFERENCE_MODES, detect_entities, entities_from_token_classification
    from .graph_globalre import document_graph
    from .inference_globalre import check_device, score_sequences
except ImportError:  # the same file used from a source checkout or an installed package
    from configuration_globalre import PIPELINE_TASK
    from documents_globalre import DocumentError, as_docred, document_label
    from entities_globalre import COREFERENCE_MODES, detect_entities, entities_from_token_classification
    from graph_globalre import document_graph
    from inference_globalre import check_device, score_sequences

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallOption:
    """One option of a `relation-extraction` pipeline call, declared once: the pipeline's signature checks, the
    split between its stages and its docstring come from these declarations. Given to the constructor
    (`pipeline("relation-extraction", ..., threshold=0.3)`), an option is the default of every call. `None`, the
    default of each, leaves the choice to the model or to `inference_globalre`.

    Args:
        name: the keyword argument.
        stage: the pipeline method that takes it: "preprocess", "forward" (`_forward`) or "postprocess".
        doc: what it does, for the pipeline's docstring.
        positive_integer: a count; anything but an `int` >= 1 is a `ValueError`.
    """

    name: str
    stage: str
    doc: str
    positive_integer: bool = False


CALL_OPTIONS: tuple[CallOption, ...] = (
    CallOption("threshold", "postprocess", "a probability that overrides the model's thresholds"),
    CallOption("relations", "postprocess", 'only these relations, by id `"P17"` or name `"country"`'),
    CallOption("top_k", "postprocess", "each pair's k best relations whatever their score, with `kept`"),
    CallOption(
        "evidence_threshold",
        "postprocess",
        "a share of a pair's localized-context weight that overrides `config.evidence_threshold`: a sentence above "
        "it is evidence (models trained with the evidence loss; others refuse it)",
    ),
    CallOption(
        "type_constraints",
        "postprocess",
        "only relations seen in training between the pair's entity types (default: the model's setting)",
    ),
    CallOption(
        "return_graph",
        "postprocess",
        'the document\'s graph `{"entities", "relations"}` instead of the triples: every entity with its name, type '
        "and mentions (`graph_globalre.document_graph`), the triples as `relations`",
    ),
    CallOption("pairs", "preprocess", "score only these `(head, tail)` pairs of a single document"),
    CallOption(
        "entity_detector",
        "forward",
        "a transformers token-classification pipeline that finds the entities of text given without them, "
        'instead of the model\'s own detector (best with `aggregation_strategy="simple"`)',
    ),
    CallOption(
        "entity_type_map",
        "forward",
        'the `entity_detector`\'s labels to the model\'s entity types (`{"PER": "PER", "ORG": "ORG"}`); '
        "labels it leaves out are dropped with a warning naming them",
    ),
    CallOption(
        "coreference",
        "forward",
        'how the model\'s own detector groups mentions into entities: "names" or "learned" (default: '
        "`config.coreference`); an `entity_detector`'s mentions are grouped by names, and entities given with the "
        "document are used as given",
    ),
    CallOption(
        "max_batch_tokens",
        "forward",
        "padded tokens per model call (default: `inference_globalre.default_max_batch_tokens`)",
        positive_integer=True,
    ),
    CallOption(
        "max_batch_pairs",
        "forward",
        "pair sequences per model call (default: as many as `max_batch_tokens` allows); `batch_size` is "
        "another name for it",
        positive_integer=True,
    ),
    CallOption(
        "bf16",
        "forward",
        "bf16 autocast for the encoder: on by default on CUDA; `bf16=True` on a CPU with AVX-512 BF16 or AMX ran "
        "~1.5x faster there in bench/RESULTS.md, with logits within bf16 rounding of fp32",
    ),
)
CALL_OPTION = {option.name: option for option in CALL_OPTIONS}
# transformers' name for a pipeline's batching, taken here for what batches here: the pair sequences of one model
# call (`max_batch_pairs`). Documents go through one at a time (see `RelationExtractionPipeline.__call__`).
PAIR_BATCH_ALIAS = "batch_size"
# what transformers' `Pipeline.__call__` takes itself (DataLoader workers for list input)
PIPELINE_CALL_OPTIONS = ("num_workers",)
# what transformers' `pipeline()` reads for loading and still hands to the constructor (transformers 5.x)
LOADING_OPTIONS = ("local_files_only",)


def _check_positive_integer(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"relation-extraction pipeline: {name} must be a positive integer; got {value!r}.")


@dataclass(frozen=True)
class _ListedDocument:
    """A document of a list given to the pipeline, with its position there, so that an error names it as
    `inference_globalre.predict_documents` does (`documents_globalre.document_label`)."""

    index: int
    document: object


def _call_options_doc() -> str:
    """The call options' lines of the pipeline's docstring, which ends indented for them."""
    items = [f"- `{option.name}`: {option.doc}" for option in CALL_OPTIONS]
    lines = [textwrap.fill(item, 106, subsequent_indent="      ") for item in items]
    return "\n    ".join(lines) + "\n"


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

    Inputs: one document or a list of documents, each in DocRED form (`sents`, `vertexSet`), text form (`text`,
    `entities`) or plain text (a string, or `{"text": ...}` without `entities`). The entities of plain text are
    found by the model's own entity detector (`entities_globalre.detect_entities`; a model trained with
    `train.py --entity_detection`) or by `entity_detector=`, any transformers token-classification pipeline, with
    `entity_type_map=` from its labels to the model's types; entities given in the input are never re-detected:

    ```python
    extractor("Marie Curie was born in Warsaw.", return_graph=True)
    # {"entities": [{"id": 0, "name": "Marie Curie", "type": "PER",
    #                "mentions": [{"text": "Marie Curie", "start": 0, "end": 11, "sent_id": 0}]}, ...],
    #  "relations": [{"head": 0, "tail": 1, "relation": "P19", ...}]}
    ```

    Every candidate pair of a document is scored in length-sorted batches of at most
    `max_batch_tokens` tokens (and `max_batch_pairs` pairs, when given), so memory stays bounded for documents
    with many entities (`inference_globalre.score_sequences`).

    Each triple also gives the head's and tail's mentions (`head_mentions`, `tail_mentions`: sentence and word
    positions, and character offsets `char_span` for text input) and `evidence`: the ids of the sentences the model
    predicts as the pair's evidence, for a model trained with the evidence loss (`train.py --evidence_loss_weight`),
    else `None`; see `GlobalReProcessor.post_process`.

    Call options (`CALL_OPTIONS`; given to the constructor, the default of every call; any other is a `TypeError`):
    """

    _load_processor = True
    _load_tokenizer = False
    _load_image_processor = False
    _load_feature_extractor = False

    def __init__(self, *args, device=None, **kwargs):
        # before `Pipeline.__init__` moves the model: a CUDA device without CUDA is one clear line, and a device
        # index never falls back to the CPU
        check_device(device)
        super().__init__(*args, device=device, **kwargs)
        if self.processor is None:
            raise ValueError(
                "The relation-extraction pipeline needs the GlobalRE processor: save it with "
                "processor.save_pretrained(model_dir) or pass processor=..."
            )
        self._check_processor_matches_model()
        # `Pipeline.__init__` keeps a constructor's `batch_size` apart from the other options; here it is the
        # default `max_batch_pairs`, and documents always go one per forward (`__call__`)
        self._forward_params = self._with_pair_batch(self._forward_params, self._batch_size)
        self._batch_size = None

    def save_pretrained(self, save_directory, **kwargs) -> None:
        """Writes a complete Hub repository: the model (weights; `config.json` with `auto_map` and this pipeline
        declared under `custom_pipelines`; the model's code), this pipeline's code with the inference loop it
        imports, and the processor with its tokenizer. `pipeline("relation-extraction", model=DIR,
        trust_remote_code=True)` then works in a process that has only transformers."""
        super().save_pretrained(save_directory, **kwargs)
        self.processor.save_pretrained(save_directory, **kwargs)

    def _check_processor_matches_model(self) -> None:
        """The processor builds this model's inputs: the same settings, and a tokenizer that fits the encoder
        (`GlobalReProcessor.check_fits_model`)."""
        for name, expected in self.model.config.processor_settings.items():
            if getattr(self.processor, name) != expected:
                raise ValueError(
                    f"The processor's {name}={getattr(self.processor, name)!r} differs from the model's "
                    f"{expected!r}; build it with GlobalReProcessor.from_config(tokenizer, model.config)."
                )
        self.processor.check_fits_model(self.model, source=getattr(self.model.config, "_name_or_path", None))

    def __call__(self, inputs, *args, **options):
        """Relation triples of one document (a list of triples) or of a list of documents (a list of such lists).

        Documents go through `_forward` one at a time (transformers' `batch_size` of documents is always 1): a
        document's model input is its `DocumentEncoding`, any number of pair sequences that `score_sequences`
        already packs into batches by token count, which transformers' collation (stacking a tokenizer's padded
        tensors) cannot batch further. `batch_size=` is taken as `max_batch_pairs`, the pairs of one model call.
        `inference_globalre.predict_documents` shares batches across documents.

        Raises:
            TypeError: an unknown option, or a positional argument after `inputs`.
            ValueError: `pairs` with a list of documents or with plain text; `entity_type_map` without
                `entity_detector`; a count (`batch_size`, `max_batch_tokens`,
                `max_batch_pairs`) that is not a positive integer; both `batch_size` and `max_batch_pairs`.
            documents_globalre.DocumentError: a document that cannot be encoded, named by its position in the
                list (and its title or id when it has one); plain text for a model without an entity detector
                and no `entity_detector`.
        """
        unknown = sorted(set(options) - {PAIR_BATCH_ALIAS, *CALL_OPTION, *PIPELINE_CALL_OPTIONS})
        if unknown or args:
            raise self._unknown_options(unknown or list(args))
        if isinstance(inputs, (list, tuple)) and not inputs:
            return []
        options = self._with_pair_batch(options, options.pop(PAIR_BATCH_ALIAS, None))
        if options.get("pairs") is not None and not isinstance(inputs, (dict, str)):
            raise ValueError(
                "pairs= names the pairs of one document; call the pipeline on a single document with it."
            )
        if isinstance(inputs, (list, tuple)):
            inputs = [_ListedDocument(index, document) for index, document in enumerate(inputs)]
        return super().__call__(inputs, batch_size=1, **options)

    @staticmethod
    def _with_pair_batch(options: dict, batch_size) -> dict:
        """`options` with `batch_size` (when given) as their `max_batch_pairs`."""
        if batch_size is None:
            return options
        if options.get("max_batch_pairs") is not None:
            raise ValueError(
                "relation-extraction pipeline: batch_size and max_batch_pairs name the same option (the pair "
                "sequences of one model call); give one of them."
            )
        _check_positive_integer(PAIR_BATCH_ALIAS, batch_size)
        return {**options, "max_batch_pairs": batch_size}

    def _unknown_options(self, names: list) -> TypeError:
        return TypeError(
            f"relation-extraction pipeline: unknown option(s) {names}; the options are "
            f"{', '.join((PAIR_BATCH_ALIAS, *CALL_OPTION))}."
        )

    def _sanitize_parameters(self, **options):
        # the constructor's options arrive here only, so this is where an unknown one is caught there;
        # `pipeline()` also passes on the loading options it read and did not remove
        for loading_option in LOADING_OPTIONS:
            options.pop(loading_option, None)
        unknown = sorted(set(options) - set(CALL_OPTION))
        if unknown:
            raise self._unknown_options(unknown)
        stages: dict[str, dict] = {"preprocess": {}, "forward": {}, "postprocess": {}}
        for name, value in options.items():
            if value is None:
                continue
            if CALL_OPTION[name].positive_integer:
                _check_positive_integer(name, value)
            stages[CALL_OPTION[name].stage][name] = value
        return stages["preprocess"], stages["forward"], stages["postprocess"]

    def preprocess(self, document, pairs=None):
        index = None
        if isinstance(document, _ListedDocument):
            index, document = document.index, document.document
        if isinstance(document, str):
            document = {"text": document}
        if isinstance(document, dict) and "text" in document and "entities" not in document:
            # plain text: its entities are found in `_forward`, where the model runs
            if pairs is not None:
                raise ValueError(
                    f"{document_label(document, index)}: pairs= indexes a document's entities, and this text "
                    "gives none (they are detected); give the text with its 'entities' to choose pairs."
                )
            return {"text_document": document, "index": index}
        return self._encode(document, index, pairs)

    def _encode(self, document, index: int | None, pairs=None) -> dict:
        text_entities = (
            document.get("entities") if isinstance(document, dict) and "text" in document else None
        )
        docred = as_docred(document, index)
        return {
            "document": docred,
            "text_entities": text_entities,
            "encoding": self.processor.encode_document(docred, pairs, index=index),
        }

    def _detect_entities(
        self,
        document: dict,
        index: int | None,
        entity_detector,
        entity_type_map,
        coreference,
        max_batch_tokens,
    ) -> list[dict]:
        """The entities of a plain-text document in the text form with character spans, from `entity_detector`
        (a token-classification pipeline) when given, else from the model's own detector."""
        label = document_label(document, index)
        text = document["text"]
        if not isinstance(text, str) or not text.strip():
            raise DocumentError(
                f"{label}: 'text' is empty; expected the document's text as a non-empty string."
            )
        if entity_type_map is not None and entity_detector is None:
            raise ValueError(
                "entity_type_map= maps the labels of an entity_detector (a token-classification pipeline) to the "
                "model's entity types; give entity_detector= with it."
            )
        if coreference is not None and coreference not in COREFERENCE_MODES:
            raise ValueError(
                f"coreference must be one of {', '.join(COREFERENCE_MODES)}; got {coreference!r}."
            )
        if entity_detector is not None:
            if coreference not in (None, "names"):
                # the learned scorer reads the mentions of the model's own detector; an entity_detector's are
                # grouped by the name rule, so another choice would be silently ignored
                raise ValueError(
                    f"coreference={coreference!r} groups the mentions of the model's own detector; the mentions of "
                    "an entity_detector are grouped by the name rule (coreference='names'). Leave coreference out, "
                    "or leave entity_detector out to use the model's detector."
                )
            try:
                entities = entities_from_token_classification(text, entity_detector(text), entity_type_map)
            except DocumentError:
                raise
            except ValueError as error:
                raise DocumentError(f"{label}: {error}") from error
            self._warn_about_unknown_types(entities, label)
            return entities
        if getattr(self.model, "entity_detector", None) is None:
            raise DocumentError(
                f"{label}: the text comes without 'entities' and this model has no entity detector "
                "(config.entity_types is empty). Give the entities ({'text': ..., 'entities': [names or spans]}), "
                "pass entity_detector= a transformers token-classification pipeline (with entity_type_map= from "
                "its labels to the model's types), or use a model trained with train.py --entity_detection."
            )
        return detect_entities(
            self.model, self.processor, [text], coreference=coreference, max_batch_tokens=max_batch_tokens
        )[0]

    def _warn_about_unknown_types(self, entities: list[dict], label: str) -> None:
        """Types from an `entity_detector` that the model never saw (neither detector types nor the entity types
        of its relations' training pairs) are named in a warning: typed markers read them as unknown, and with
        `type_constraints` their pairs get no relation."""
        config = self.model.config
        known = set(config.entity_types or ())
        for pairs in (config.relation_type_pairs or {}).values():
            known.update(type_ for pair in pairs for type_ in pair)
        unknown = sorted({entity["type"] for entity in entities} - known)
        if known and unknown:
            logger.warning(
                "%s: the entity_detector gave types the model does not know: %s (the model's: %s); map them with "
                "entity_type_map= to the model's types",
                label,
                ", ".join(unknown),
                ", ".join(sorted(known)),
            )

    def _forward(
        self,
        model_inputs,
        max_batch_tokens: int | None = None,
        max_batch_pairs: int | None = None,
        bf16: bool | None = None,
        entity_detector=None,
        entity_type_map: dict | None = None,
        coreference: str | None = None,
    ):
        if "text_document" in model_inputs:
            document, index = model_inputs["text_document"], model_inputs["index"]
            entities = self._detect_entities(
                document, index, entity_detector, entity_type_map, coreference, max_batch_tokens
            )
            model_inputs = self._encode({**document, "entities": entities}, index)
        encoding = model_inputs["encoding"]
        evidence = self.model.config.predicts_evidence
        scores = score_sequences(
            self.model,
            self.processor,
            encoding.sequences,
            max_batch_tokens=max_batch_tokens,
            max_batch_pairs=max_batch_pairs,
            bf16=bf16,
            evidence=evidence,
        )
        logits, evidence_weights = scores if evidence else (scores, None)
        return {
            "document": model_inputs["document"],
            "text_entities": model_inputs["text_entities"],
            "encoding": encoding,
            "logits": logits,
            "evidence_weights": evidence_weights,
        }

    def postprocess(
        self,
        model_outputs,
        threshold=None,
        relations=None,
        top_k=None,
        type_constraints=None,
        return_graph=None,
        evidence_threshold=None,
    ):
        triples = self.processor.post_process(
            model_outputs["logits"],
            model_outputs["encoding"].pairs,
            model_outputs["document"],
            self.model.config,
            threshold=threshold,
            relations=relations,
            top_k=top_k,
            type_constraints=type_constraints,
            evidence_weights=model_outputs["evidence_weights"],
            evidence_threshold=evidence_threshold,
        )
        if return_graph:
            return document_graph(model_outputs["document"], triples, model_outputs["text_entities"])
        return triples


if RelationExtractionPipeline.__doc__:  # none under `python -OO`
    RelationExtractionPipeline.__doc__ += _call_options_doc()

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

__all__ = ["CALL_OPTIONS", "PIPELINE_TASK", "CallOption", "RelationExtractionPipeline"]
