"""A saved model directory loads through the Auto classes and the pipeline in a fresh process that only has
transformers: working directory and sys.path without the project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import torch

from tests.helpers import EXAMPLE_DOCUMENT, REPO, WITHOUT_PROJECT_ON_PATH, make_tiny_model_dir


def test_fresh_process_loads_auto_classes_and_pipeline(tmp_path):
    model_dir = make_tiny_model_dir(tmp_path / "model")
    files = sorted(os.listdir(model_dir))
    for required in (
        "config.json",
        "model.safetensors",
        "configuration_globalre.py",
        "modeling_globalre.py",
        "processing_globalre.py",
        "pipeline_globalre.py",
        "inference_globalre.py",  # imported by the pipeline, copied with it
        "processor_config.json",
        "tokenizer.json",
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
    with torch.no_grad():
        expected = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"],
        ).logits
    torch.save({"logits": expected, "pair_index": batch["pair_index"]}, tmp_path / "expected.pt")
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
        assert torch.equal(batch["pair_index"], expected["pair_index"])
        with torch.no_grad():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           token_type_ids=batch["token_type_ids"]).logits
        torch.testing.assert_close(logits, expected["logits"], rtol=1e-5, atol=1e-5)
        extractor = pipeline("relation-extraction", model=directory, trust_remote_code=True, device="cpu")
        assert type(extractor).__module__.startswith("transformers_modules."), type(extractor).__module__
        triples = extractor(document, threshold=0.0)
        assert len(triples) == 20 * 96, len(triples)  # 20 ordered pairs x 96 relations, all above threshold 0
        triples = extractor([document, document], batch_size=3)
        assert isinstance(triples, list) and len(triples) == 2
        # every GlobalRE module in use came from the saved folder: none was imported as a top-level module
        local = [name for name in ("configuration_globalre", "modeling_globalre", "processing_globalre",
                                   "inference_globalre", "pipeline_globalre") if name in sys.modules]
        assert not local, local
        print("FRESH-PROCESS-OK")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_HUB_OFFLINE"] = "1"
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    # Run the check in an empty folder with the project removed from the import path.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            WITHOUT_PROJECT_ON_PATH + script,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "FRESH-PROCESS-OK" in result.stdout
