"""Model folders, encoders and devices that would give a plausible wrong answer or a bare crash are refused with a
message that says what is wrong, or work: a tokenizer that does not fit its encoder, an encoder with a single
token type, a device this torch has no CUDA for, errors on a list of documents, and a model saved the way every
transformers user saves one. Tiny random models: seconds on CPU, the fresh-process test tens of seconds."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import BertModel, BertTokenizer, pipeline

import inference_globalre
import pipeline_globalre  # registers the task
from documents_globalre import DocumentError
from inference_globalre import check_device, load_globalre
from modeling_globalre import GlobalReForRelationExtraction
from processing_globalre import GlobalReProcessor
from tests.helpers import (
    EXAMPLE_DOCUMENT,
    REPO,
    make_tiny_model_dir,
    run_without_project,
    tiny_config,
    tiny_encoder_config,
    tiny_model_and_processor,
    tiny_tokenizer,
)

FIXTURES = Path(__file__).parent / "fixtures"
TEXT_DOCUMENT = {
    "text": "Marie Curie was born in Warsaw. Warsaw is the capital of Poland.",
    "entities": ["Marie Curie", "Warsaw", "Poland"],
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("faults") / "model")


# ------------------------------------------------------------------------------------------------------------------
# A tokenizer that does not fit its encoder
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def folder_without_tokenizer_json(model_dir, tmp_path_factory):
    """A saved model folder with tokenizer.json deleted and tokenizer_config.json kept: transformers loads a
    tokenizer of the special tokens only (5 against the encoder's 125)."""
    folder = tmp_path_factory.mktemp("no-tokenizer-json") / "model"
    shutil.copytree(model_dir, folder)
    os.remove(folder / "tokenizer.json")
    assert (folder / "tokenizer_config.json").is_file()
    return str(folder)


def _assert_names_missing_vocabulary(message: str, folder: str) -> None:
    assert "tokenizer has 5 tokens against the encoder's 125" in message, message
    assert f"{folder} has no vocabulary file (tokenizer.json" in message, message


def test_processor_from_a_folder_without_tokenizer_json_is_refused(folder_without_tokenizer_json):
    with pytest.raises(ValueError, match="does not match the model's encoder") as error:
        GlobalReProcessor.from_pretrained(folder_without_tokenizer_json)
    _assert_names_missing_vocabulary(str(error.value), folder_without_tokenizer_json)


def test_load_globalre_refuses_a_folder_without_tokenizer_json(folder_without_tokenizer_json):
    with pytest.raises(ValueError, match="does not match the model's encoder") as error:
        load_globalre(folder_without_tokenizer_json, device="cpu")
    _assert_names_missing_vocabulary(str(error.value), folder_without_tokenizer_json)


def test_pipeline_refuses_a_folder_without_tokenizer_json(folder_without_tokenizer_json):
    with pytest.raises(ValueError, match="does not match the model's encoder") as error:
        pipeline(
            "relation-extraction", model=folder_without_tokenizer_json, trust_remote_code=True, device="cpu"
        )
    _assert_names_missing_vocabulary(str(error.value), folder_without_tokenizer_json)


def _larger_tokenizer() -> BertTokenizer:
    """Another model's tokenizer: the tiny vocabulary and 300 more words, ids past the tiny encoder's rows."""
    vocab = list(tiny_tokenizer().get_vocab()) + [f"word{i}" for i in range(300)]
    return BertTokenizer(vocab={token: index for index, token in enumerate(vocab)}, do_lower_case=True)


def test_processor_around_another_models_tokenizer_is_refused(tmp_path):
    model, processor = tiny_model_and_processor(tmp_path)
    larger = _larger_tokenizer()
    with pytest.raises(ValueError, match=r"has 4\d\d tokens but the encoder only 125 embedding rows"):
        GlobalReProcessor.from_config(larger, model.config)
    # built without the config, the pipeline's construction catches it
    foreign = GlobalReProcessor(larger, **model.config.processor_settings)
    with pytest.raises(ValueError, match="only 125 embedding rows"):
        pipeline("relation-extraction", model=model, processor=foreign, device="cpu")


def test_tokenizer_covering_the_vocabulary_with_padding_rows_is_accepted(tmp_path):
    """Real encoders often have a few embedding rows past the tokenizer's last id (vocab_size rounded up)."""
    tokenizer = tiny_tokenizer(tmp_path / "vocab")
    config = tiny_config(tokenizer)
    config.encoder_config.vocab_size = len(tokenizer) + 3
    model = GlobalReForRelationExtraction(config).eval()
    processor = GlobalReProcessor.from_config(tokenizer, config)
    extractor = pipeline("relation-extraction", model=model, processor=processor, device="cpu")
    assert extractor(EXAMPLE_DOCUMENT)


@pytest.mark.parametrize(
    "options",
    [
        {"entity_markers": "plain", "pooling": "markers"},
        # no entity markers, but the levitated head and tail markers of the packed pair segment
        {"encoding": "packed", "pair_segment": "markers", "entity_markers": "none"},
    ],
    ids=["entity-markers", "levitated-markers"],
)
def test_marker_ids_that_differ_from_the_models_are_refused(tmp_path, options):
    tokenizer = tiny_tokenizer(tmp_path / "vocab")
    right = tokenizer.convert_tokens_to_ids(["[unused0]", "[unused1]", "[unused2]", "[unused3]"])
    config = tiny_config(tokenizer, marker_token_ids=[*right[:2], 11, 12], **options)
    with pytest.raises(ValueError, match=r"marker_token_ids"):
        GlobalReProcessor.from_config(tokenizer, config)
    # the packed document's mention markers are the first two: the last two are not read without a marker segment
    config = tiny_config(
        tokenizer,
        marker_token_ids=[*right[:2], 11, 12],
        encoding="packed",
        pair_segment="names",
        entity_markers="plain",
    )
    assert GlobalReProcessor.from_config(tokenizer, config).marker_slots == (0, 1)


# ------------------------------------------------------------------------------------------------------------------
# An encoder with a single token type
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"encoding": "packed", "pair_segment": "names", "entity_markers": "typed", "pooling": "markers"}],
    ids=["pair", "packed"],
)
def test_encoder_with_a_single_token_type_works(tmp_path, options):
    """A RoBERTa-style encoder (type_vocab_size=1): the entity segments are told apart by the [SEP]s alone."""
    tokenizer = tiny_tokenizer(tmp_path / "encoder")
    encoder_config = tiny_encoder_config(tokenizer)
    encoder_config.type_vocab_size = 1
    torch.manual_seed(0)
    BertModel(encoder_config).save_pretrained(tmp_path / "encoder")
    markers = {
        "marker_token_ids": tokenizer.convert_tokens_to_ids(
            ["[unused0]", "[unused1]", "[unused2]", "[unused3]"]
        )
    }
    model = GlobalReForRelationExtraction.from_encoder_pretrained(
        str(tmp_path / "encoder"), id2label=["Na", "P17", "P131"], **markers, **options
    ).eval()
    assert model.config.encoder_config.type_vocab_size == 1
    processor = GlobalReProcessor.from_config(tokenizer, model.config)
    extractor = pipeline("relation-extraction", model=model, processor=processor, device="cpu")
    triples = extractor(EXAMPLE_DOCUMENT, threshold=0.0)
    assert len(triples) == 20 * 2  # every ordered pair, both relations
    # the token types the processor writes are read as 0: the same logits as all-zero token types
    batch = processor(EXAMPLE_DOCUMENT)
    batch.pop("pair_index")
    zeros = {
        key: torch.zeros_like(value) if key.endswith("token_type_ids") else value
        for key, value in batch.items()
    }
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).logits, model(**zeros).logits)


# ------------------------------------------------------------------------------------------------------------------
# Errors on a list of documents
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    model, processor = tiny_model_and_processor(tmp_path_factory.mktemp("list"))
    return pipeline("relation-extraction", model=model, processor=processor, device="cpu")


@pytest.mark.parametrize("form", ["text-form", "docred-form"])
def test_list_error_names_the_documents_position(extractor, form):
    documents = json.loads((FIXTURES / "list-error-index.json").read_text())[form]
    with pytest.raises(DocumentError, match=r"^document #2, entity 0 \('Ghost'\)"):
        extractor(documents)
    titled = [documents[0], {**documents[2], "title": "Ghost town"}]
    with pytest.raises(DocumentError, match=r"^document #1 'Ghost town', entity 0 \('Ghost'\)"):
        extractor(titled)


def test_list_of_documents_still_gives_one_result_per_document(extractor):
    results = extractor([EXAMPLE_DOCUMENT, TEXT_DOCUMENT], threshold=0.0)
    assert [len(triples) for triples in results] == [20 * 96, 6 * 96]


# ------------------------------------------------------------------------------------------------------------------
# A CUDA device where this torch has none
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(inference_globalre, "_other_accelerator", lambda: False)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", 0, 1, torch.device("cuda")])
def test_pipeline_on_a_cuda_device_without_cuda_is_refused(model_dir, without_cuda, device):
    with pytest.raises(ValueError, match=r"needs CUDA, but this torch .*; use device 'cpu'"):
        pipeline("relation-extraction", model=model_dir, trust_remote_code=True, device=device)


@pytest.mark.parametrize("device", [None, "cpu", -1, torch.device("cpu")])
def test_cpu_devices_are_accepted(without_cuda, device):
    check_device(device)


def test_unknown_device_name_is_refused():
    with pytest.raises(ValueError, match="not a device torch knows"):
        check_device("gpu")


def test_load_globalre_on_cuda_without_cuda_is_refused(model_dir, without_cuda):
    with pytest.raises(ValueError, match="needs CUDA"):
        load_globalre(model_dir, device="cuda")


def test_evaluate_model_device_cuda_without_cuda_is_one_line(model_dir, without_cuda, tmp_path, capsys):
    import evaluate_model

    data = tmp_path / "gold.json"
    data.write_text(json.dumps([EXAMPLE_DOCUMENT]))
    argv = [
        "--model",
        model_dir,
        "--data",
        str(data),
        "--output_dir",
        str(tmp_path / "out"),
        "--device",
        "cuda",
    ]
    with pytest.raises(SystemExit) as exit_info:
        evaluate_model.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "evaluate_model.py: error: --device: device 'cuda' needs CUDA"
    ), err


# ------------------------------------------------------------------------------------------------------------------
# A model saved as every transformers user saves one
# ------------------------------------------------------------------------------------------------------------------


def test_model_and_processor_save_pretrained_make_a_pipeline_folder(tmp_path):
    model, processor = tiny_model_and_processor(tmp_path / "work")
    folder = tmp_path / "saved"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert (
        config["custom_pipelines"]["relation-extraction"]["impl"]
        == "pipeline_globalre.RelationExtractionPipeline"
    )
    declared = config["custom_pipelines"]["relation-extraction"]["impl"]
    cls = pipeline_globalre.RelationExtractionPipeline
    assert declared == f"{cls.__module__}.{cls.__name__}"  # the declaration names the class that exists
    for module in ("pipeline_globalre", "inference_globalre", "processing_globalre", "modeling_globalre"):
        assert (folder / f"{module}.py").is_file(), module
    with torch.no_grad():
        expected = pipeline("relation-extraction", model=model, processor=processor, device="cpu")(
            TEXT_DOCUMENT
        )
    (tmp_path / "expected.json").write_text(json.dumps(expected))
    script = textwrap.dedent(
        f"""
        import json
        from transformers import pipeline
        extractor = pipeline("relation-extraction", model={str(folder)!r}, trust_remote_code=True, device="cpu")
        assert type(extractor).__module__.startswith("transformers_modules."), type(extractor).__module__
        triples = extractor({TEXT_DOCUMENT!r})
        expected = json.load(open({str(tmp_path / "expected.json")!r}))
        assert [(t["head"], t["tail"], t["relation"]) for t in triples] == [
            (t["head"], t["tail"], t["relation"]) for t in expected
        ]
        print("SAVED-FOLDER-OK")
        """
    )
    result = run_without_project(script, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "SAVED-FOLDER-OK" in result.stdout
    assert str(REPO) not in (folder / "config.json").read_text()
