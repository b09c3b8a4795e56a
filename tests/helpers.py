"""Tiny random-weight GlobalRE models and small documents for tests (seconds on 2 CPU cores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from transformers import BertConfig, BertTokenizer

from configuration_globalre import GlobalReConfig
from modeling_globalre import GlobalReForRelationExtraction
from processing_globalre import GlobalReProcessor

REPO = Path(__file__).resolve().parents[1]
# The committed slice of Re-DocRED (examples/data/redocred-slice, SOURCES.md there): what most tests read, so that
# they run from the repository alone.
SLICE = REPO / "examples" / "data" / "redocred-slice"
REDOCRED_TEST = SLICE / "test.json"  # test_revised.json[0:12]
REDOCRED_DEV = SLICE / "train.json"  # dev_revised.json[0:48]
DOCRED_META = SLICE  # rel2id.json, rel_info.json, ner2id.json
# The full shared data, never copied: beside the checkout (../shared/data), or wherever $GLOBALRE_DATA_DIR says.
SHARED_DATA = Path(os.environ.get("GLOBALRE_DATA_DIR") or REPO.parent / "shared" / "data")
FULL_REDOCRED_TEST = SHARED_DATA / "redocred" / "test_revised.json"
FULL_REDOCRED_DEV = SHARED_DATA / "redocred" / "dev_revised.json"
HAS_SHARED_DATA = FULL_REDOCRED_TEST.is_file() and (SHARED_DATA / "cdr" / "train.json").is_file()
needs_shared_data = pytest.mark.skipif(
    not HAS_SHARED_DATA,
    reason=f"needs the full shared data (Re-DocRED, CDR), not found at {SHARED_DATA}: put it at ../shared/data "
    "beside the checkout or set GLOBALRE_DATA_DIR",
)
# Prepended to a script run in a fresh interpreter: drops the checkout and folders inside it from the import path,
# so the project's modules can only come from a saved model folder. Compared by path, not by substring: a virtual
# environment at /x/repo-ci/venv must stay on the path of a checkout at /x/repo.
WITHOUT_PROJECT_ON_PATH = (
    "import os, sys\n"
    f"sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != {str(REPO)!r} "
    f"and not os.path.abspath(p).startswith({str(REPO) + os.sep!r})]\n"
)

# A small uncased word-piece vocabulary: special tokens, the marker tokens, letters, digits and punctuation,
# so every text tokenizes (into characters at worst) without shipping a real vocabulary.
_SPECIAL = ["[PAD]", "[unused0]", "[unused1]", "[unused2]", "[unused3]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"()-&$%/")
_WORDS = [
    "the",
    "was",
    "born",
    "in",
    "of",
    "and",
    "is",
    "a",
    "capital",
    "city",
    "country",
    "river",
    "per",
    "org",
    "loc",
]


def tiny_tokenizer(directory: str | Path | None = None) -> BertTokenizer:
    """A fast BERT tokenizer over a tiny vocabulary; saved to `directory` when one is given."""
    vocab = list(dict.fromkeys(_SPECIAL + _CHARS + [f"##{c}" for c in _CHARS] + _WORDS))
    tokenizer = BertTokenizer(vocab={token: index for index, token in enumerate(vocab)}, do_lower_case=True)
    if directory is not None:
        tokenizer.save_pretrained(directory)
    return tokenizer


def docred_label_set() -> tuple[dict[int, str], dict[str, str]]:
    rel2id = json.loads((DOCRED_META / "rel2id.json").read_text())
    names = json.loads((DOCRED_META / "rel_info.json").read_text())
    return {index: label for label, index in rel2id.items()}, names


def tiny_encoder_config(tokenizer) -> BertConfig:
    """A 2-layer, 32-wide BERT over the tokenizer's vocabulary."""
    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )


def tiny_config(tokenizer, id2label=None, relation_names=None, **kwargs) -> GlobalReConfig:
    if id2label is None:
        id2label, relation_names = docred_label_set()
    encoder = tiny_encoder_config(tokenizer)
    marker_ids = tokenizer.convert_tokens_to_ids(["[unused0]", "[unused1]", "[unused2]", "[unused3]"])
    kwargs.setdefault("marker_token_ids", marker_ids)
    return GlobalReConfig(
        encoder_config=encoder,
        encoder_name_or_path="tiny-random-bert",
        id2label=id2label,
        relation_names=relation_names,
        **kwargs,
    )


# The settings of a tiny model with the packed encoding's localized context, which the evidence loss trains and
# evidence prediction reads (`evidence_loss_weight` given beside them).
EVIDENCE_MODEL_SETTINGS = {
    "encoding": "packed",
    "entity_markers": "plain",
    "pooling": "markers",
    "marker_pooling": "logsumexp",
    "pair_segment": "markers",
    "context_pooling": "localized",
    "freeze_encoder": False,
}


def tiny_model_and_processor(workdir: str | Path, seed: int = 0, **config_kwargs):
    import torch

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer(Path(workdir) / "vocab")
    config = tiny_config(tokenizer, **config_kwargs)
    model = GlobalReForRelationExtraction(config).eval()
    processor = GlobalReProcessor.from_config(tokenizer, config)
    return model, processor


def make_tiny_model_dir(
    path: str | Path, label_set_labels: list[str] | None = None, seed: int = 0, **config_kwargs
) -> str:
    """Saves a tiny random GlobalRE model with its processor to `path` and returns the path."""
    path = Path(path)
    if label_set_labels is not None:
        config_kwargs["id2label"] = dict(enumerate(label_set_labels))
    from pipeline_globalre import RelationExtractionPipeline

    model, processor = tiny_model_and_processor(path.parent / f"{path.name}-work", seed=seed, **config_kwargs)
    RelationExtractionPipeline(model=model, processor=processor).save_pretrained(path)
    return str(path)


EXAMPLE_DOCUMENT = {
    "title": "Tiny example",
    "sents": [
        ["Paris", "is", "the", "capital", "of", "France", "."],
        ["Marie", "Curie", "was", "born", "in", "Warsaw", ",", "Poland", "."],
    ],
    "vertexSet": [
        [{"name": "Paris", "sent_id": 0, "pos": [0, 1], "type": "LOC"}],
        [{"name": "France", "sent_id": 0, "pos": [5, 6], "type": "LOC"}],
        [{"name": "Marie Curie", "sent_id": 1, "pos": [0, 2], "type": "PER"}],
        [{"name": "Warsaw", "sent_id": 1, "pos": [5, 6], "type": "LOC"}],
        [{"name": "Poland", "sent_id": 1, "pos": [7, 8], "type": "LOC"}],
    ],
    "labels": [{"h": 0, "t": 1, "r": "P17", "evidence": [0]}, {"h": 3, "t": 4, "r": "P17", "evidence": [1]}],
}

# Three entities, two sentences; a pair with two relations, one person -> place pair, and an explicit CDR-style "NR"
# (no relation) label.
TINY_DOCUMENT = {
    "title": "Tiny",
    "sents": [["Paris", "is", "in", "France", "."], ["Curie", "lived", "in", "Paris", "."]],
    "vertexSet": [
        [
            {"name": "Paris", "sent_id": 0, "pos": [0, 1], "type": "LOC"},
            {"name": "Paris", "sent_id": 1, "pos": [3, 4], "type": "LOC"},
        ],
        [{"name": "France", "sent_id": 0, "pos": [3, 4], "type": "LOC"}],
        [{"name": "Curie", "sent_id": 1, "pos": [0, 1], "type": "PER"}],
    ],
    "labels": [
        {"h": 0, "t": 1, "r": "P17", "evidence": [0]},
        {"h": 0, "t": 1, "r": "P131", "evidence": [0]},
        {"h": 2, "t": 0, "r": "P551", "evidence": [1]},
        {"h": 2, "t": 1, "r": "NR", "evidence": []},
    ],
}


def run_fresh_process(script: str, cwd: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs `script` in a fresh Python process as a user's would: no PYTHONPATH into the repository, Hub offline,
    its own remote-code module cache under `cwd`."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(Path(cwd) / "modules"))
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def run_without_project(script: str, cwd: str | Path) -> subprocess.CompletedProcess:
    """`run_fresh_process` with the project off the import path too (`WITHOUT_PROJECT_ON_PATH`): a saved model
    folder is all the script has."""
    return run_fresh_process(WITHOUT_PROJECT_ON_PATH + script, cwd)


def run_offline_script(script: str, cwd: str | Path) -> Any:
    """Runs `script` with `run_fresh_process` and returns the JSON it prints on its last line."""
    completed = run_fresh_process(script, cwd, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])
