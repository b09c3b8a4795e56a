# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""PyTorch GlobalRE model: a BERT encoder reads a document with one ordered entity pair, as one sequence
`[CLS] document [SEP] head [SEP] tail [SEP]` per pair or, with `encoding="packed"`, every document once with each
pair's short segment attending to it (`modeling_packed_globalre.py`); the pair's pooled vector is classified into a
multi-label relation set."""

from __future__ import annotations

import copy
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel, BertModel, PreTrainedModel
from transformers.dynamic_module_utils import get_relative_import_files
from transformers.utils import ModelOutput

try:  # Hub remote code resolves sibling files only through relative imports
    from .configuration_globalre import (
        CUSTOM_PIPELINES,
        DEFAULT_MARKER_TOKENS,
        PIPELINE_FILE,
        GlobalReConfig,
        marker_slots_of,
    )
    from .modeling_entities_globalre import (
        EntityDetectionHead,
        EntityDetectionOutput,
        coreference_loss,
        tag_loss,
    )
    from .modeling_packed_globalre import (
        GlobalRePackedEncoder,
        PackedInputs,
        localized_context,
        packed_token_mean,
        sentence_weights,
        window_token_states,
    )
except ImportError:  # the same file used from a source checkout or an installed package
    from configuration_globalre import (
        CUSTOM_PIPELINES,
        DEFAULT_MARKER_TOKENS,
        PIPELINE_FILE,
        GlobalReConfig,
        marker_slots_of,
    )
    from modeling_entities_globalre import (
        EntityDetectionHead,
        EntityDetectionOutput,
        coreference_loss,
        tag_loss,
    )
    from modeling_packed_globalre import (
        GlobalRePackedEncoder,
        PackedInputs,
        localized_context,
        packed_token_mean,
        sentence_weights,
        window_token_states,
    )

logger = logging.getLogger(__name__)

# The entity detector's text processing (`entities_globalre.detect_entities`), copied beside a saved model as the
# pipeline's file is: it imports the inference loop, which loads this model, so this file cannot import it.
DETECTION_FILE = "entities_globalre.py"


@dataclass
class RelationExtractionOutput(ModelOutput):
    """
    Output of [`GlobalReForRelationExtraction`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `labels` is given):
            Multi-label loss (`config.loss`).
        logits (`torch.FloatTensor` of shape `(batch_size, num_labels)`):
            One logit per relation class, the no-relation class included.
        pair_representation (`torch.FloatTensor` of shape `(batch_size, representation_size)`):
            The pooled vector of each pair before tanh, dropout and the classifier. With a frozen encoder it
            never changes, so training can cache it.
        entity_detection_loss (`torch.FloatTensor` of shape `()`, *optional*, returned when
            `entity_detection_inputs` is given):
            The entity detector's loss on those plain documents (tags and coreference), not included in `loss`.
        evidence_loss (`torch.FloatTensor` of shape `()`, *optional*, returned when `evidence` and `labels` are
            given and `config.evidence_loss_weight` is above 0; otherwise `evidence` is not read):
            The evidence loss (`evidence_loss`), included in `loss` with that weight.
        evidence_weights (`torch.FloatTensor` of shape `(batch_size, num_sentences)`, *optional*, returned when
            `token_sentences` is given):
            Each pair's localized-context weight summed per sentence of its document (DREEAM's sentence
            importance, `modeling_packed_globalre.sentence_weights`; a row sums to at most 1). A model trained with
            the evidence loss predicts the sentences above `config.evidence_threshold` as the pair's evidence.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    pair_representation: torch.FloatTensor | None = None
    entity_detection_loss: torch.FloatTensor | None = None
    evidence_loss: torch.FloatTensor | None = None
    evidence_weights: torch.FloatTensor | None = None


def adaptive_threshold_loss(logits: torch.Tensor, labels: torch.Tensor, threshold_class: int) -> torch.Tensor:
    """ATLOP's adaptive-threshold loss (Zhou et al., 2021): every gold relation must outscore the threshold class,
    and the threshold class must outscore every other relation. `labels` is multi-hot; its threshold column is
    ignored."""
    labels = labels.float().clone()
    labels[:, threshold_class] = 0.0
    threshold_onehot = torch.zeros_like(labels)
    threshold_onehot[:, threshold_class] = 1.0
    very_negative = torch.finfo(logits.dtype).min / 2
    # gold relations against the threshold class
    positive_logits = logits.masked_fill((labels + threshold_onehot) == 0, very_negative)
    positive_loss = -(torch.log_softmax(positive_logits, dim=-1) * labels).sum(dim=-1)
    # the threshold class against every relation that is not gold
    negative_logits = logits.masked_fill(labels == 1, very_negative)
    negative_loss = -(torch.log_softmax(negative_logits, dim=-1) * threshold_onehot).sum(dim=-1)
    return (positive_loss + negative_loss).mean()


def evidence_loss(sentence_weights: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
    """DREEAM's evidence loss (Ma et al., EACL 2023, "DREEAM: Guiding Attention with Evidence for Improving
    Document-Level Relation Extraction"): the Kullback-Leibler divergence of each pair's sentence weights from its
    gold evidence (uniform over its evidence sentences), averaged over the pairs that have evidence.

    Args:
        sentence_weights (`torch.FloatTensor` of shape `(num_pairs, num_sentences)`): the pairs' localized-context
            weights summed per sentence (`modeling_packed_globalre.sentence_weights`).
        evidence (`torch.FloatTensor` of shape `(num_pairs, num_sentences)`): 1 for each evidence sentence of the
            pair's relations (their union), 0 elsewhere; a row of zeros (no relation, or none with evidence) is
            left out.

    In a document of several windows a pair's weights cover only the windows its head's and tail's markers share
    (a marker attends within its own window): an evidence sentence outside them, with weight 0, leaves the target
    (the others' shares grow to sum to 1), and a pair with no evidence sentence left is left out. Returns a scalar
    in float32 (0 when no pair of the batch is left).
    """
    if sentence_weights.shape != evidence.shape:
        raise ValueError(
            f"evidence must be of shape {tuple(sentence_weights.shape)} (pairs x sentences); got "
            f"{tuple(evidence.shape)}"
        )
    sentence_weights = sentence_weights.float()
    # a sentence the weights cannot reach would give log 0, a term without gradient that would swamp the others
    tiny = torch.finfo(torch.float32).tiny
    evidence = evidence.float() * (sentence_weights >= tiny)
    used = evidence.sum(dim=1) > 0
    if not bool(used.any()):
        return sentence_weights.new_zeros(())
    target = evidence[used] / evidence[used].sum(dim=1, keepdim=True)
    log_weights = sentence_weights[used].clamp(min=tiny).log()
    return nn.functional.kl_div(log_weights, target, reduction="sum") / int(used.sum())


@dataclass
class PairStates(ModelOutput):
    """
    The encoder's states of each entity pair that the head pools (`pool_pair_states`), the same structure for the
    one-pair and the packed encoding. Only the fields that `config.pooling` reads are filled.

    Args:
        cls_state (`torch.FloatTensor` of shape `(num_pairs, hidden_size)`):
            The last hidden state of the pair's `[CLS]`.
        pooled_output (`torch.FloatTensor` of shape `(num_pairs, hidden_size)`, *optional*):
            BERT's pooler (dense, tanh) over `cls_state`; with `pooling="pooler"`.
        token_mean (`torch.FloatTensor` of shape `(num_pairs, hidden_size)`, *optional*):
            The mean last hidden state of the real tokens of the pair's sequence (its document and its head and
            tail); with `pooling="mean"`.
        head_marker_states, tail_marker_states (`torch.FloatTensor` of shape `(num_pairs, num_states,
            hidden_size)`, *optional*):
            Last hidden states among which stand the start markers of the head's and the tail's mentions; with
            `pooling="markers"`.
        head_marker_mask, tail_marker_mask (`torch.BoolTensor` of shape `(num_pairs, num_states)`, *optional*):
            Which of those states are the markers' (none where truncation cut them all).
        context_state (`torch.FloatTensor` of shape `(num_pairs, hidden_size)`, *optional*):
            The pair's localized context (`context_pooling="localized"`,
            `modeling_packed_globalre.localized_context`).
        context_weights (`torch.FloatTensor` of shape `(num_pairs, document_windows x window_length)`, *optional*):
            The weights over the document's tokens that made `context_state` (what the evidence loss reads).
    """

    cls_state: torch.FloatTensor | None = None
    pooled_output: torch.FloatTensor | None = None
    token_mean: torch.FloatTensor | None = None
    head_marker_states: torch.FloatTensor | None = None
    head_marker_mask: torch.BoolTensor | None = None
    tail_marker_states: torch.FloatTensor | None = None
    tail_marker_mask: torch.BoolTensor | None = None
    context_state: torch.FloatTensor | None = None
    context_weights: torch.FloatTensor | None = None


def pool_mentions(
    states: torch.Tensor, valid: torch.Tensor, fallback: torch.Tensor, marker_pooling: str
) -> torch.Tensor:
    """One vector per pair from the states of an entity's mention markers.

    Args:
        states (`torch.FloatTensor` of shape `(num_pairs, num_states, hidden_size)`): candidate states.
        valid (`torch.BoolTensor` of shape `(num_pairs, num_states)`): which of them are the entity's markers.
        fallback (`torch.FloatTensor` of shape `(num_pairs, hidden_size)`): the vector of a pair whose entity has
            no marker left (cut by truncation): its `[CLS]` state.
        marker_pooling (`str`): `"first"` (the first marker), `"mean"`, or `"logsumexp"` (the smooth maximum of
            ATLOP's entity pooling, Zhou et al., 2021, section 2.2).

    Returns `(num_pairs, hidden_size)`.
    """
    has_any = valid.any(dim=1, keepdim=True)
    if marker_pooling == "first":
        rows = torch.arange(states.shape[0], device=states.device)
        pooled = states[rows, valid.int().argmax(dim=1)]
    elif marker_pooling == "mean":
        weights = valid.unsqueeze(-1).to(states.dtype)
        pooled = (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
    else:
        masked = states.masked_fill(~valid.unsqueeze(-1), torch.finfo(states.dtype).min)
        pooled = torch.logsumexp(masked.float(), dim=1).to(states.dtype)
    return torch.where(has_any, pooled, fallback)


def pool_pair_states(states: PairStates, pooling: str, marker_pooling: str) -> torch.Tensor:
    """The pooled vector of each pair (`config.pooling`), whichever the encoding: `"pooler"` BERT's pooled
    `[CLS]`, `"cls"` the `[CLS]` state, `"mean"` the mean token state, `"markers"` the `[CLS]` state with the
    head's and the tail's pooled start-marker states (`marker_pooling`, see `pool_mentions`; the entity-marker
    representation of Baldini Soares et al., 2019, section 3.3), followed by the pair's localized context when the
    states hold one. Shape `(num_pairs, hidden_size)`, or `(num_pairs, 3 x hidden_size)` for `"markers"`
    (`4 x hidden_size` with a context)."""
    if pooling == "pooler":
        return states.pooled_output
    if pooling == "cls":
        return states.cls_state
    if pooling == "mean":
        return states.token_mean
    cls = states.cls_state
    head = pool_mentions(states.head_marker_states, states.head_marker_mask, cls, marker_pooling)
    tail = pool_mentions(states.tail_marker_states, states.tail_marker_mask, cls, marker_pooling)
    parts = [cls, head, tail] if states.context_state is None else [cls, head, tail, states.context_state]
    return torch.cat(parts, dim=-1)


def pair_representation_size(config: GlobalReConfig) -> int:
    """The width of a pair's pooled vector (`pool_pair_states`) under `config`."""
    hidden_size = config.encoder_config.hidden_size
    if config.pooling != "markers":
        return hidden_size
    return (4 if config.context_pooling == "localized" else 3) * hidden_size


class GroupBilinearClassifier(nn.Module):
    """
    ATLOP's grouped bilinear classifier (Zhou et al., 2021, section "Enhanced BERT Baseline") over the pooled
    vector of `pooling="markers"`: `[cls, head, tail]` or `[cls, head, tail, context]`, each part `hidden_size`
    wide.

    The head's vector with the pair's context (`[cls]`, or `[cls, context]`) becomes `z_h = tanh(W_h [head;
    context])`, the tail's `z_t = tanh(W_t [tail; context])`, both `hidden_size` wide; each is cut into groups
    of `block_size` features, and the logits are one linear layer over the outer products of the two vectors'
    matching groups (`hidden_size x block_size` features), so each logit reads products of head and tail features.

    Args:
        hidden_size (`int`): the encoder's hidden size.
        num_contexts (`int`): the context parts of the pooled vector (1: `[CLS]`; 2: `[CLS]` and the localized
            context).
        block_size (`int`): features per group; must divide `hidden_size`.
        num_labels (`int`): the relation classes.
    """

    def __init__(self, hidden_size: int, num_contexts: int, block_size: int, num_labels: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.block_size = block_size
        self.head_extractor = nn.Linear((1 + num_contexts) * hidden_size, hidden_size)
        self.tail_extractor = nn.Linear((1 + num_contexts) * hidden_size, hidden_size)
        self.bilinear = nn.Linear(hidden_size * block_size, num_labels)

    def forward(self, pair_representation: torch.Tensor) -> torch.Tensor:
        """`pair_representation` `(num_pairs, (2 + num_contexts) x hidden_size)` to logits `(num_pairs,
        num_labels)`."""
        cls, head, tail, *context = pair_representation.split(self.hidden_size, dim=-1)
        head = torch.tanh(self.head_extractor(torch.cat([head, cls, *context], dim=-1)))
        tail = torch.tanh(self.tail_extractor(torch.cat([tail, cls, *context], dim=-1)))
        groups = self.hidden_size // self.block_size
        head = head.view(-1, groups, self.block_size, 1)
        tail = tail.view(-1, groups, 1, self.block_size)
        return self.bilinear((head * tail).flatten(1))


class GlobalRePreTrainedModel(PreTrainedModel):
    config_class = GlobalReConfig
    base_model_prefix = "globalre"
    main_input_name = "input_ids"
    # The inner BERT keeps the attention implementation chosen for the wrapper only if the wrapper declares it.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.encoder_config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()
        elif hasattr(module, "position_ids") and hasattr(module, "position_embeddings"):
            # BERT's embedding buffers are not saved; they must hold positions, not garbage
            module.position_ids.copy_(
                torch.arange(module.position_ids.shape[-1]).expand_as(module.position_ids)
            )
            if hasattr(module, "token_type_ids"):
                module.token_type_ids.zero_()


class GlobalReForRelationExtraction(GlobalRePreTrainedModel):
    r"""
    GlobalRE (arXiv 2507.22926): a BERT encoder reads the whole document together with one ordered entity pair,
    `[CLS] document [SEP] head entity [SEP] tail entity [SEP]` (token types 0 for the document, 1 for the
    entities); the pair's pooled vector goes through tanh, dropout and a linear layer with one logit per relation.
    The defaults are the paper's: frozen encoder, BERT's pooled [CLS], dropout 0.3, binary cross-entropy. With
    `encoding="packed"`, each document is encoded once and each pair's short segment attends to it
    ([`GlobalRePackedEncoder`]); both encodings hand the head the same [`PairStates`].

    With `config.entity_types`, the model also carries an entity detector (`entity_detector`, an
    [`EntityDetectionHead`]: BIO mention tags and a mention-pair coreference scorer) on the same encoder, reading
    the plain document (`entity_detection`; `entities_globalre.detect_entities` turns texts into entities).
    """

    def __init__(self, config: GlobalReConfig):
        super().__init__(config)
        config.validate_globalre_fields()
        if config.no_relation_label is not None:
            config.no_relation_id  # noqa: B018 -- raises a clear error when the label is not in the set
        unknown = [label for label in config.relation_thresholds if label not in config.label2id]
        if unknown:
            raise ValueError(f"relation_thresholds name relations that are not in the label set: {unknown}.")
        self.encoder = BertModel(config.encoder_config, add_pooling_layer=config.pooling == "pooler")
        hidden_size = config.encoder_config.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        if config.classifier == "group_bilinear":
            num_contexts = 2 if config.context_pooling == "localized" else 1
            self.classifier = GroupBilinearClassifier(
                hidden_size, num_contexts, config.bilinear_block_size, config.num_labels
            )
        else:
            self.classifier = nn.Linear(pair_representation_size(config), config.num_labels)
        self.entity_detector = None
        if config.entity_types:
            # post_init draws every initial weight again; built without touching the random state, and after the
            # relation head, the detector leaves the relation model's initial weights as they are without it
            with torch.random.fork_rng(devices=[]):
                self.entity_detector = EntityDetectionHead(
                    hidden_size, len(config.entity_types), config.encoder_config.hidden_dropout_prob
                )
        self.post_init()
        if config.freeze_encoder:
            self.freeze_encoder()

    @property
    def representation_size(self) -> int:
        """The width of a pair's pooled vector (`pair_representation`), the classifier's input."""
        return pair_representation_size(self.config)

    def get_input_embeddings(self) -> nn.Embedding:
        """The encoder's word embeddings, one row per token id (`encoder_config.vocab_size` rows)."""
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.encoder.set_input_embeddings(value)

    def save_pretrained(self, save_directory, *args, **kwargs) -> None:
        """Saves the model as transformers does (weights, `config.json` with `auto_map`, the model's code) and
        declares the `relation-extraction` pipeline with it: `custom_pipelines` in `config.json` and the
        pipeline's code (`pipeline_globalre.py` and what it imports), and the entity detector's text processing
        (`entities_globalre.py`, for `detect_entities`). With the processor saved beside it
        (`processor.save_pretrained(save_directory)`), `pipeline("relation-extraction", model=save_directory,
        trust_remote_code=True)` then works in a process that has only transformers."""
        # the pipeline's file is copied, not imported: the pipeline imports the inference loop, which loads this
        # model, and a model that came as remote code has the pipeline's file beside its own only when the
        # pipeline was loaded too
        pipeline_file = Path(__file__).with_name(PIPELINE_FILE)
        if pipeline_file.is_file():
            self.config.custom_pipelines = copy.deepcopy(CUSTOM_PIPELINES)
        else:
            logger.warning(
                "%s is not beside %s: the saved model declares no relation-extraction pipeline; save a complete "
                "repository with RelationExtractionPipeline(model=model, processor=processor).save_pretrained(...)",
                PIPELINE_FILE,
                __file__,
            )
        super().save_pretrained(save_directory, *args, **kwargs)
        # the entity detector's processing (raw text to entities) travels with the model in the same way
        copied = [
            path for path in (pipeline_file, Path(__file__).with_name(DETECTION_FILE)) if path.is_file()
        ]
        if kwargs.get("is_main_process", True):
            needed = dict.fromkeys(
                str(path) for file in copied for path in (file, *get_relative_import_files(file))
            )
            for path in needed:
                shutil.copyfile(path, Path(save_directory) / Path(path).name)

    def freeze_encoder(self) -> None:
        """Stops gradients through the encoder; it then also stays in eval mode (no dropout), so a pair's
        representation is a fixed function of its tokens."""
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)
        self.encoder.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.config.freeze_encoder:
            self.encoder.eval()
        return self

    @classmethod
    def from_encoder_pretrained(
        cls,
        encoder_name_or_path: str,
        id2label: dict[int, str] | list[str] | None = None,
        relation_names: dict[str, str] | None = None,
        encoder_name: str | None = None,
        **config_kwargs,
    ) -> GlobalReForRelationExtraction:
        """Builds a fresh GlobalRE model around pretrained encoder weights (a Hub name such as
        `"bert-base-uncased"` or a local directory with a BERT `config.json` and weights).

        Args:
            encoder_name_or_path: where the BERT encoder comes from.
            id2label: the relation label set, as `{class_id: relation_id}` or a list of relation ids.
            relation_names: readable relation names, e.g. `{"P17": "country"}`.
            encoder_name: the encoder's name recorded in the config (`encoder_name_or_path`): by default the Hub
                name, or for a local folder its last component only, so that a published config holds no path of
                this machine.
            config_kwargs: any other `GlobalReConfig` field (`pooling`, `freeze_encoder`, `entity_markers`, ...);
                `attn_implementation` and `dtype` go to the encoder loading.
        """
        load_kwargs = {
            k: config_kwargs.pop(k) for k in ("attn_implementation", "dtype") if k in config_kwargs
        }
        # float32 unless asked otherwise: transformers 5 would keep a half-precision checkpoint's dtype, and the
        # head and the optimiser expect full-precision weights.
        load_kwargs.setdefault("dtype", torch.float32)
        encoder = BertModel.from_pretrained(encoder_name_or_path, **load_kwargs)
        if marker_slots_of(config_kwargs) and not config_kwargs.get("marker_token_ids"):
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(encoder_name_or_path)
            markers = config_kwargs.get("marker_tokens") or list(DEFAULT_MARKER_TOKENS)
            config_kwargs["marker_token_ids"] = tokenizer.convert_tokens_to_ids(markers)
        if isinstance(id2label, (list, tuple)):
            id2label = dict(enumerate(id2label))
        if encoder_name is None:
            local = os.path.isdir(encoder_name_or_path)
            encoder_name = (
                os.path.basename(os.path.normpath(encoder_name_or_path))
                if local
                else str(encoder_name_or_path)
            )
        encoder_config = encoder.config.to_dict()
        encoder_config.pop("_name_or_path", None)  # where this machine keeps it: not part of the model
        config = GlobalReConfig(
            encoder_config=encoder_config,
            encoder_name_or_path=encoder_name,
            id2label=id2label,
            relation_names=relation_names,
            **config_kwargs,
        )
        model = cls(config)
        state = encoder.state_dict()
        missing, unexpected = model.encoder.load_state_dict(state, strict=False)
        if missing:
            logger.warning(
                "Encoder weights not found in %s and left randomly initialised: %s",
                encoder_name_or_path,
                missing,
            )
        if unexpected:
            logger.info(
                "Encoder weights of %s not used by pooling=%r: %s",
                encoder_name_or_path,
                config.pooling,
                unexpected,
            )
        if config.freeze_encoder:
            model.freeze_encoder()
        return model

    def pair_states(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        window_document: torch.LongTensor | None = None,
        pair_input_ids: torch.LongTensor | None = None,
        pair_attention_mask: torch.LongTensor | None = None,
        pair_token_type_ids: torch.LongTensor | None = None,
        pair_position_ids: torch.LongTensor | None = None,
        pair_document: torch.LongTensor | None = None,
        head_mentions: torch.LongTensor | None = None,
        tail_mentions: torch.LongTensor | None = None,
    ) -> PairStates:
        """The encoder's states of each pair that `config.pooling` reads: one pair per row of `input_ids` (the
        one-pair encoding) or of `pair_input_ids` (the packed encoding); `forward` describes the inputs."""
        token_type_ids = self._token_types(token_type_ids)
        pair_token_type_ids = self._token_types(pair_token_type_ids)
        if pair_input_ids is None:
            return self._one_pair_states(input_ids, attention_mask, token_type_ids, position_ids)
        inputs = PackedInputs(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            window_document=window_document,
            pair_input_ids=pair_input_ids,
            pair_attention_mask=pair_attention_mask,
            pair_token_type_ids=pair_token_type_ids,
            pair_position_ids=pair_position_ids,
            pair_document=pair_document,
        )
        return self._packed_pair_states(inputs, head_mentions, tail_mentions)

    def _token_types(self, token_type_ids: torch.LongTensor | None) -> torch.LongTensor | None:
        """The token types the encoder reads: the processor's (0 for the document, 1 for the entity segments), or
        all 0 for an encoder with a single token type (`type_vocab_size=1`, as RoBERTa-style encoders have), whose
        entity segments are then told apart from the document only by the `[SEP]` tokens between them (and, in
        the packed encoding, by their own segment)."""
        if token_type_ids is None or self.config.encoder_config.type_vocab_size > 1:
            return token_type_ids
        return torch.zeros_like(token_type_ids)

    def _one_pair_states(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor | None,
        token_type_ids: torch.LongTensor | None,
        position_ids: torch.LongTensor | None,
    ) -> PairStates:
        """One BERT sequence per pair, `[CLS] document [SEP] head [SEP] tail [SEP]`."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        outputs = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
        )
        hidden = outputs.last_hidden_state
        fields = {"cls_state": hidden[:, 0], "pooled_output": outputs.pooler_output}
        if self.config.pooling == "mean":
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            fields["token_mean"] = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        elif self.config.pooling == "markers":
            head_start, _, tail_start, _ = self.marker_token_ids()
            fields.update(
                head_marker_states=hidden,
                head_marker_mask=input_ids == head_start,
                tail_marker_states=hidden,
                tail_marker_mask=input_ids == tail_start,
            )
        return PairStates(**fields)

    def _packed_pair_states(
        self,
        inputs: PackedInputs,
        head_mentions: torch.LongTensor | None,
        tail_mentions: torch.LongTensor | None,
    ) -> PairStates:
        """Every document once, each pair's segment attending to it (`GlobalRePackedEncoder`); the markers are
        the document's, found by their flat indices in `head_mentions` and `tail_mentions`."""
        pooling = self.config.pooling
        required = (
            "window_document",
            "pair_attention_mask",
            "pair_token_type_ids",
            "pair_position_ids",
            "pair_document",
        )
        missing = [name for name in required if getattr(inputs, name) is None]
        if missing:
            raise ValueError(
                f"packed inputs (pair_input_ids given) also need {', '.join(missing)}; GlobalReProcessor builds "
                "them all"
            )
        if pooling == "markers" and (head_mentions is None or tail_mentions is None):
            raise ValueError('pooling="markers" with packed inputs needs head_mentions and tail_mentions')
        # only the last states the pooling reads: a pair's [CLS] and, for markers, the documents' tokens
        outputs = {"mean": "all", "markers": "cls_and_documents"}.get(pooling, "cls")
        attention_rows = None
        if self.config.context_pooling == "localized":
            markers = torch.cat([head_mentions.flatten(), tail_mentions.flatten()])
            attention_rows = torch.unique(markers[markers >= 0])  # sorted, as the encoder asks
        encoded = GlobalRePackedEncoder(self.encoder)(
            inputs, outputs=outputs, training=self.training, attention_rows=attention_rows
        )
        fields = {"cls_state": encoded.pair_states[:, 0]}
        if pooling == "pooler":
            fields["pooled_output"] = self.encoder.pooler(encoded.pair_states)
        elif pooling == "mean":
            fields["token_mean"] = packed_token_mean(encoded, inputs)
        elif pooling == "markers":
            head_states, head_mask = window_token_states(encoded, head_mentions)
            tail_states, tail_mask = window_token_states(encoded, tail_mentions)
            fields.update(
                head_marker_states=head_states,
                head_marker_mask=head_mask,
                tail_marker_states=tail_states,
                tail_marker_mask=tail_mask,
            )
            if attention_rows is not None:
                context, weights = localized_context(encoded, inputs, head_mentions, tail_mentions)
                fields.update(context_state=context, context_weights=weights)
        return PairStates(**fields)

    def pair_representation(self, **inputs: torch.Tensor | None) -> torch.Tensor:
        """The pooled vector of each pair (`config.pooling`, `pool_pair_states`), before tanh, dropout and
        classifier, from `forward`'s inputs (`labels` excepted). Shape `(num_pairs, representation_size)`."""
        return pool_pair_states(self.pair_states(**inputs), self.config.pooling, self.config.marker_pooling)

    def pair_outputs(
        self,
        token_sentences: torch.LongTensor | None = None,
        num_sentences: int | None = None,
        **inputs: torch.Tensor | None,
    ) -> RelationExtractionOutput:
        """What the encoder gives each pair before the classifier: `pair_representation` (as that method) and,
        with `token_sentences` (packed encoding with the localized context), `evidence_weights` `(num_pairs,
        num_sentences)`, `num_sentences` wide (default: one more than the largest sentence id in
        `token_sentences`, which costs a device-to-host copy). `inputs` are `forward`'s (`labels` excepted).

        Raises:
            ValueError: `token_sentences` for a model without the packed encoding's localized context.
        """
        states = self.pair_states(**inputs)
        output = RelationExtractionOutput(
            pair_representation=pool_pair_states(states, self.config.pooling, self.config.marker_pooling)
        )
        if token_sentences is not None:
            if states.context_weights is None:
                raise ValueError(
                    "evidence weights need the packed encoding's localized context "
                    '(encoding="packed", context_pooling="localized"); this model has '
                    f"encoding={self.config.encoding!r}, context_pooling={self.config.context_pooling!r}"
                )
            if num_sentences is None:
                num_sentences = int(token_sentences.max().clamp(min=0)) + 1
            output.evidence_weights = sentence_weights(
                states.context_weights,
                token_sentences,
                inputs["window_document"],
                inputs["pair_document"],
                num_sentences,
            )
        return output

    def marker_token_ids(self) -> list[int]:
        """Token ids of the four marker tokens, stored in the config by the processor that built the inputs."""
        ids = self.config.marker_token_ids
        if not ids:
            raise ValueError(
                'pooling="markers" needs config.marker_token_ids; build the model with '
                "GlobalReForRelationExtraction.from_encoder_pretrained(..., marker_token_ids=processor.marker_ids) "
                "or set it from the processor."
            )
        return list(ids)

    def classify(
        self, pair_representation: torch.Tensor, labels: torch.Tensor | None = None
    ) -> RelationExtractionOutput:
        """The classification head (`config.classifier`): tanh, dropout and linear, or dropout and the grouped
        bilinear classifier; and the loss when `labels` (multi-hot) are given.
        Training on cached representations of a frozen encoder calls this directly."""
        if self.config.classifier == "group_bilinear":  # its own tanh follows its extractors
            logits = self.classifier(self.dropout(pair_representation))
        else:
            logits = self.classifier(self.dropout(torch.tanh(pair_representation)))
        loss = None
        if labels is not None:
            loss = self.loss(logits, labels)
        return RelationExtractionOutput(loss=loss, logits=logits, pair_representation=pair_representation)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The multi-label loss chosen by `config.loss`, computed in float32."""
        logits = logits.float()
        labels = labels.to(logits.dtype)
        if labels.shape != logits.shape:
            raise ValueError(
                f"labels must be multi-hot of shape {tuple(logits.shape)} (pairs x {self.config.num_labels} labels); "
                f"got {tuple(labels.shape)}."
            )
        if self.config.loss == "adaptive_threshold":
            return adaptive_threshold_loss(logits, labels, self.config.no_relation_id)
        return nn.functional.binary_cross_entropy_with_logits(logits, labels)

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor | None = None,
        token_type_ids: torch.LongTensor | None = None,
        position_ids: torch.LongTensor | None = None,
        window_document: torch.LongTensor | None = None,
        pair_input_ids: torch.LongTensor | None = None,
        pair_attention_mask: torch.LongTensor | None = None,
        pair_token_type_ids: torch.LongTensor | None = None,
        pair_position_ids: torch.LongTensor | None = None,
        pair_document: torch.LongTensor | None = None,
        head_mentions: torch.LongTensor | None = None,
        tail_mentions: torch.LongTensor | None = None,
        labels: torch.FloatTensor | None = None,
        entity_detection_inputs: dict[str, torch.Tensor] | None = None,
        token_sentences: torch.LongTensor | None = None,
        evidence: torch.FloatTensor | None = None,
        **kwargs,
    ) -> RelationExtractionOutput:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
                One-pair encoding (`encoding="pair"`): the pair sequences `[CLS] document [SEP] head [SEP] tail
                [SEP]` from [`GlobalReProcessor`]. Packed encoding (`encoding="packed"`): the windows
                `[CLS] document [SEP]` of the batch's documents (a document longer than `max_seq_length` has
                several).
            attention_mask (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                1 for real tokens, 0 for padding.
            token_type_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                0 for the document segment, 1 for the head and tail segments.
            position_ids (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                Position ids (0, 1, ... by default).
            window_document (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Packed encoding: the document (0, 1, ... within the batch) of each window.
            pair_input_ids (`torch.LongTensor` of shape `(num_pairs, segment_length)`, *optional*):
                Packed encoding: each pair's own segment, `[CLS] head [SEP] tail [SEP]`, padded.
            pair_attention_mask, pair_token_type_ids, pair_position_ids (same shape, *optional*):
                Packed encoding (required with `pair_input_ids`, as are `window_document` and `pair_document`):
                the segments' padding mask, token types (0 for `[CLS]`, 1 after it) and the
                position ids each token has in the pair's one-pair sequence.
            pair_document (`torch.LongTensor` of shape `(num_pairs,)`, *optional*):
                Packed encoding: the document of each pair (as in `window_document`).
            head_mentions, tail_mentions (`torch.LongTensor` of shape `(num_pairs, max_mentions)`, *optional*):
                Packed encoding with `pooling="markers"`: the flat indices (window x sequence_length + position) of
                the head's and the tail's mention start markers in `input_ids`, -1 padded.
            labels (`torch.FloatTensor` of shape `(num_pairs, num_labels)`, *optional*):
                Multi-hot relation labels (the no-relation column set for pairs without a relation).
            entity_detection_inputs (`dict[str, torch.Tensor]`, *optional*):
                Joint training of the entity detector (`train.py --entity_detection`): the keyword inputs of
                [`~GlobalReForRelationExtraction.entity_detection`] for some plain documents, with their labels;
                their loss comes back as `entity_detection_loss`. Computed here, in the same forward as the
                relations, because distributed data parallel synchronises the gradients of what `forward` computes.
            token_sentences (`torch.LongTensor` of shape `(batch_size, sequence_length)`, *optional*):
                Packed encoding with the localized context: the sentence of each window token within its
                document, -1 for `[CLS]`, `[SEP]` and padding; the output then holds `evidence_weights`.
            evidence (`torch.FloatTensor` of shape `(num_pairs, num_sentences)`, *optional*):
                With `token_sentences` and `labels`: each pair's evidence sentences (1 for a sentence of the
                evidence of one of its relations), at least as wide as the batch's longest document has sentences;
                the evidence loss (`evidence_loss`) is added to `loss` with `config.evidence_loss_weight`.

        Returns `logits` of shape `(num_pairs, num_labels)`: one row per sequence (one-pair encoding) or per pair
        segment (packed encoding).
        """
        if evidence is not None and labels is not None and self.config.evidence_loss_weight > 0:
            # the config's own check ties a weight above 0 to the localized context; pair_outputs reads the weights
            if token_sentences is None:
                raise ValueError(
                    "the evidence loss needs token_sentences (PackedSequences.pad(..., token_sentences=True))"
                )
        else:
            evidence = None
        pair_outputs = self.pair_outputs(
            token_sentences=token_sentences,
            num_sentences=evidence.shape[1] if evidence is not None else None,
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            window_document=window_document,
            pair_input_ids=pair_input_ids,
            pair_attention_mask=pair_attention_mask,
            pair_token_type_ids=pair_token_type_ids,
            pair_position_ids=pair_position_ids,
            pair_document=pair_document,
            head_mentions=head_mentions,
            tail_mentions=tail_mentions,
        )
        output = self.classify(pair_outputs.pair_representation, labels)
        output.evidence_weights = pair_outputs.evidence_weights
        if evidence is not None:
            output.evidence_loss = evidence_loss(output.evidence_weights, evidence)
            output.loss = output.loss + self.config.evidence_loss_weight * output.evidence_loss
        if entity_detection_inputs is not None:
            output.entity_detection_loss = self.entity_detection(**entity_detection_inputs).loss
        return output

    def _entity_detector(self) -> EntityDetectionHead:
        if self.entity_detector is None:
            raise ValueError(
                "This model has no entity detector (config.entity_types is empty): give the entities with the "
                "text, use a token-classification pipeline for them, or train one with train.py "
                "--entity_detection."
            )
        return self.entity_detector

    def entity_detection(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor,
        tag_labels: torch.LongTensor | None = None,
        mention_tokens: torch.LongTensor | None = None,
        coreference_pairs: torch.LongTensor | None = None,
        coreference_labels: torch.FloatTensor | None = None,
        coreference_features: torch.FloatTensor | None = None,
        window_document: torch.LongTensor | None = None,
        mention_document: torch.LongTensor | None = None,
    ) -> EntityDetectionOutput:
        r"""
        The entity detector on plain documents (`entities_globalre.detection_features` and `collate_detection`
        build the inputs): BIO tags of every subword token and, for given mention pairs, coreference logits.

        Args:
            input_ids (`torch.LongTensor` of shape `(num_windows, seq_len)`):
                Windows `[CLS] subword tokens [SEP]` of the documents, padded; token types are all 0.
            attention_mask (`torch.LongTensor` of shape `(num_windows, seq_len)`):
                1 for real tokens, 0 for padding.
            tag_labels (`torch.LongTensor` of shape `(num_windows, seq_len)`, *optional*):
                Gold BIO tags (0 O, `1 + 2k` B and `2 + 2k` I of `config.entity_types[k]`), -100 where a token is
                not scored.
            mention_tokens (`torch.LongTensor` of shape `(num_mentions, 2)`, *optional*):
                Flat indices (window x seq_len + position) of each mention's first and last subword.
            coreference_pairs (`torch.LongTensor` of shape `(num_pairs, 2)`, *optional*):
                Mention pairs to score (indices into `mention_tokens`, both of one document).
            coreference_labels (`torch.FloatTensor` of shape `(num_pairs,)`, *optional*):
                1 where the two mentions are one entity, else 0.
            coreference_features (`torch.FloatTensor` of shape `(num_pairs, len(NAME_FEATURES))`, *optional*):
                The pairs' name features (`entities_globalre.name_features`); needed with `coreference_pairs`.
            window_document, mention_document (`torch.LongTensor` of shape `(num_windows,)` and
                `(num_mentions,)`, *optional*):
                The document (0, 1, ... in the batch) of each window and of each mention; with them the pairs are
                checked to lie within one document.

        Returns an [`EntityDetectionOutput`]; its `loss` is the tag cross-entropy plus the coreference binary
        cross-entropy, for the labels given.
        """
        detector = self._entity_detector()
        hidden = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        tag_logits = detector.tag_logits(hidden)
        coreference_logits = None
        if coreference_pairs is not None:
            if mention_tokens is None:
                raise ValueError("coreference_pairs index mentions: give mention_tokens too.")
            if mention_document is not None and coreference_pairs.numel():
                documents = mention_document.to(coreference_pairs.device)[coreference_pairs]
                if bool((documents[:, 0] != documents[:, 1]).any()):
                    raise ValueError(
                        "coreference_pairs must pair mentions of one document (mention_document)."
                    )
            coreference_logits = self.score_coreference(
                hidden, mention_tokens, coreference_pairs, coreference_features
            )
        losses = {}
        if tag_labels is not None:
            if tag_labels.shape != input_ids.shape:
                raise ValueError(
                    f"tag_labels must have the shape of input_ids {tuple(input_ids.shape)}; got "
                    f"{tuple(tag_labels.shape)}."
                )
            losses["tag_loss"] = tag_loss(tag_logits, tag_labels)
        if coreference_labels is not None:
            if coreference_logits is None:
                raise ValueError("coreference_labels need coreference_pairs and mention_tokens.")
            losses["coreference_loss"] = coreference_loss(coreference_logits, coreference_labels)
        return EntityDetectionOutput(
            loss=sum(losses.values()) if losses else None,
            tag_logits=tag_logits,
            coreference_logits=coreference_logits,
            hidden_states=hidden,
            **losses,
        )

    def score_coreference(
        self,
        hidden_states: torch.Tensor,
        mention_tokens: torch.LongTensor,
        coreference_pairs: torch.LongTensor,
        coreference_features: torch.FloatTensor | None,
    ) -> torch.Tensor:
        """Coreference logits `(num_pairs,)` of mention pairs from the states `entity_detection` returned
        (`hidden_states`, `(num_windows, seq_len, hidden)`), the mentions' first and last subword indices
        (`mention_tokens`, `(num_mentions, 2)`, flat), the pairs (`(num_pairs, 2)`) and their name features
        (`(num_pairs, len(NAME_FEATURES))`): decoding first finds the mentions, then scores their pairs without
        a second encoder pass."""
        return self._entity_detector().coreference_logits(
            hidden_states, mention_tokens, coreference_pairs, coreference_features
        )


GlobalReForRelationExtraction.register_for_auto_class("AutoModel")
AutoModel.register(GlobalReConfig, GlobalReForRelationExtraction, exist_ok=True)

__all__ = [
    "GlobalReForRelationExtraction",
    "GlobalRePreTrainedModel",
    "PairStates",
    "RelationExtractionOutput",
    "adaptive_threshold_loss",
    "pool_mentions",
    "pool_pair_states",
]
