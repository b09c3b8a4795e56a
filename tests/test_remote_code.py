"""A saved model directory loads through the Auto classes and the pipeline in a fresh process that only has
transformers: working directory and sys.path without the project."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
import torch

from tests.helpers import EXAMPLE_DOCUMENT, REPO, make_tiny_model_dir, run_without_project

# Every file a saved model needs to run as Hub remote code, and the project's modules among them
REMOTE_CODE_MODULES = (
    "configuration_globalre",
    "modeling_globalre",
    "modeling_packed_globalre",
    "processing_globalre",
    "documents_globalre",
    "sequences_globalre",
    "pair_encoding_globalre",
    "packed_encoding_globalre",
    "pipeline_globalre",
    "inference_globalre",
    "graph_globalre",
)


# both encodings: each needs files of its own in the saved folder
ENCODINGS = {
    "pair": {},
    "packed": {
        "encoding": "packed",
        "pair_segment": "names",
        "entity_markers": "typed",
        "pooling": "markers",
    },
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_fresh_process_loads_auto_classes_and_pipeline(tmp_path, encoding):
    model_dir = make_tiny_model_dir(tmp_path / "model", **ENCODINGS[encoding])
    files = sorted(os.listdir(model_dir))
    for required in (
        "config.json",
        "model.safetensors",
        "processor_config.json",
        "tokenizer.json",
        *(f"{module}.py" for module in REMOTE_CODE_MODULES),
    ):
        assert required in files, files
    assert not any(name.endswith((".bin", ".pt", ".pth")) for name in files)
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["auto_map"]["AutoModel"] == "modeling_globalre.GlobalReForRelationExtraction"
    assert (
        config["custom_pipelines"]["relation-extraction"]["impl"]
        == "pipeline_globalre.RelationExtractionPipeline"
    )

    from modeling_globalre import GlobalReForRelationExtraction
    from processing_globalre import GlobalReProcessor

    model = GlobalReForRelationExtraction.from_pretrained(model_dir).eval()
    processor = GlobalReProcessor.from_pretrained(model_dir)
    batch = processor(EXAMPLE_DOCUMENT)
    pair_index = batch.pop("pair_index")
    with torch.no_grad():
        expected = model(**batch).logits
    torch.save({"logits": expected, "pair_index": pair_index}, tmp_path / "expected.pt")
    (tmp_path / "doc.json").write_text(json.dumps(EXAMPLE_DOCUMENT))

    script = textwrap.dedent(
        f"""
        import json, os, sys, torch
        repo = {str(REPO)!r}
        inside = [p for p in sys.path if p and (os.path.abspath(p) + os.sep).startswith(repo + os.sep)]
        assert not inside, inside
        from transformers import AutoConfig, AutoModel, AutoProcessor, pipeline
        directory = {model_dir!r}
        config = AutoConfig.from_pretrained(directory, trust_remote_code=True)
        assert config.model_type == "globalre", config.model_type
        model = AutoModel.from_pretrained(directory, trust_remote_code=True).eval()
        assert type(model).__name__ == "GlobalReForRelationExtraction"
        # the classes come from the saved directory (the remote-code module cache), not from the project
        assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
        assert type(config).__module__.startswith("transformers_modules."), type(config).__module__
        assert model.encoder.config._attn_implementation == "sdpa", model.encoder.config._attn_implementation
        processor = AutoProcessor.from_pretrained(directory, trust_remote_code=True)
        assert type(processor).__module__.startswith("transformers_modules."), type(processor).__module__
        document = json.load(open({str(tmp_path / "doc.json")!r}))
        batch = processor(document)
        expected = torch.load({str(tmp_path / "expected.pt")!r})
        assert torch.equal(batch.pop("pair_index"), expected["pair_index"])
        with torch.no_grad():
            logits = model(**batch).logits
        torch.testing.assert_close(logits, expected["logits"], rtol=1e-5, atol=1e-5)
        extractor = pipeline("relation-extraction", model=directory, trust_remote_code=True, device="cpu")
        assert type(extractor).__module__.startswith("transformers_modules."), type(extractor).__module__
        triples = extractor(document, threshold=0.0)
        assert len(triples) == 20 * 96, len(triples)  # 20 ordered pairs x 96 relations, all above threshold 0
        triples = extractor([document, document], batch_size=3)
        assert isinstance(triples, list) and len(triples) == 2
        # every GlobalRE module in use came from the saved folder: none was imported as a top-level module
        local = [name for name in {REMOTE_CODE_MODULES!r} if name in sys.modules]
        assert not local, local
        print("FRESH-PROCESS-OK")
        """
    )
    result = run_without_project(script, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "FRESH-PROCESS-OK" in result.stdout
