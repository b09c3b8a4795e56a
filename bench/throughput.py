"""Pair-scoring throughput on real Re-DocRED test documents, side by side in one process: the naive path (a plain
transformers user: fp32, eager attention, every pair padded to 512, batches of 32 in document order), the project's
one-pair path (`inference_globalre.iter_document_logits`: length-sorted batches packed by token count, SDPA,
inference mode, and on CUDA bf16 autocast, pinned memory and a prefetch thread), and the packed encoding (the same
path with `encoding="packed"`: each document encoded once, each pair a short segment attending to it).

    python bench/throughput.py --device cpu --docs 5 --pairs_per_doc 12
    python bench/throughput.py --device cpu --docs 5 --paths pair,packed   # every pair; the packed encoding
    python bench/throughput.py --device cuda                    # every pair of all 500 test documents
    python bench/throughput.py --device cuda --encoder bert-base
    python bench/throughput.py --device cpu --docs 100 --paths pair,packed --encoder tiny   # the paths' overhead

`--paths` chooses the rows (naive, pair, packed; default naive,pair). The last line is `speedup_vs_naive: X.XX`
(one-pair path pairs/s over naive pairs/s), or `packed_speedup_vs_pair: X.XX` when both the one-pair and the packed
paths ran; with the packed path the run also prints how many encoder tokens each encoding needs for all pairs of
the whole `--data` file. FLOPs count the real tokens of each pair sequence (see `bench.common.encoder_flops`; for the
packed path, the weight matmuls over the tokens it processed, a lower bound); the floor fraction is FLOPs /
(seconds x peak), the peak being `--peak_tflops` on CUDA and the fp32 matmul rate measured in the run on CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DEFAULT_PEAK_TBPS,
    DEFAULT_PEAK_TFLOPS,
    ENCODERS,
    NAIVE_BATCH,
    REDOCRED_TEST,
    build_model,
    encoder_activation_bytes,
    encoder_flops,
    load_documents,
    machine_description,
    measured_matmul_tflops,
    naive_copy,
    run_naive,
    run_project,
    same_predictions,
    sample_pairs,
)

from globalre_training.speed import encoder_weight_flops  # noqa: E402
from inference_globalre import default_max_batch_tokens  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cuda:N)")
    parser.add_argument(
        "--encoder",
        choices=ENCODERS,
        default="minilm",
        help="minilm (real weights), bert-base (its shape, random weights) or tiny (MiniLM's depth at 32 hidden "
        "units, random weights: the arithmetic is negligible, so a CPU run shows each path's overhead)",
    )
    parser.add_argument("--data", default=str(REDOCRED_TEST), help="DocRED-format JSON (Re-DocRED test)")
    parser.add_argument("--docs", type=int, default=None, help="first N documents (default: cpu 5, cuda all)")
    parser.add_argument(
        "--no_token_count",
        action="store_true",
        help="skip counting both encodings' tokens over the whole file (minutes on a CPU), e.g. for a dry run",
    )
    parser.add_argument(
        "--largest",
        action="store_true",
        help="only the document with the most entities of the whole file (Re-DocRED test: 42, 1,722 pairs)",
    )
    parser.add_argument(
        "--pairs_per_doc",
        type=int,
        default=None,
        help="pairs sampled per document, fixed seed (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max_batch_tokens",
        type=int,
        default=None,
        help="project path's padded tokens per batch (default: the pipeline's, 4096 on CPU, 16384 on CUDA)",
    )
    parser.add_argument("--naive_batch", type=int, default=NAIVE_BATCH)
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs of each path, interleaved; the fastest is reported (default: cpu 2, cuda 1)",
    )
    parser.add_argument(
        "--paths",
        default="naive,pair",
        help="comma-separated rows to time: naive, pair (the project's one-pair path), packed (default naive,pair)",
    )
    parser.add_argument(
        "--pair_segment",
        choices=["names", "markers"],
        default="markers",
        help="the packed path's pair segment (default markers, the CPU recipe's); its model also marks every "
        "mention in the document and pools [CLS] + head + tail mention markers, as that recipe does",
    )
    parser.add_argument("--skip_naive", action="store_true", help="time only the project's path (= no naive)")
    parser.add_argument(
        "--naive_docs",
        type=int,
        default=None,
        help="time the naive path on the first N documents only (its sequences are all padded to 512, so its "
        "pairs/s does not depend on which pairs; saves minutes for bert-base on a GPU); the ratio compares pairs/s",
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile(dynamic=True) the project path's encoder"
    )
    parser.add_argument(
        "--compile_mode",
        default=None,
        help="torch.compile mode with --compile: default, reduce-overhead (CUDA graphs), max-autotune-no-cudagraphs",
    )
    parser.add_argument(
        "--pad_multiple",
        type=int,
        default=None,
        help="pad batch lengths to a multiple of this (default: 8 on CUDA, none on CPU); e.g. 64 with --compile",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument(
        "--cpu_bf16",
        action="store_true",
        help="on CPU, also time the project's path with bf16 autocast (bf16=True; fast on CPUs with AVX-512 BF16 "
        "or AMX), as a third row; on CUDA bf16 is the project path's default",
    )
    parser.add_argument(
        "--peak_tflops",
        type=float,
        default=None,
        help=f"peak rate for the arithmetic floor (default: on CUDA {DEFAULT_PEAK_TFLOPS:g}, the issue's bf16 dense "
        "rate for one H100; on CPU the fp32 rate of the encoder's weight matmuls, measured in the run)",
    )
    parser.add_argument(
        "--peak_tbps",
        type=float,
        default=DEFAULT_PEAK_TBPS,
        help="device-memory bandwidth for the memory-traffic floor (TB/s, bytes read plus written)",
    )
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is visible")
    if args.threads:
        torch.set_num_threads(args.threads)
    docs_limit = args.docs if args.docs is not None else (5 if device.type == "cpu" else None)
    max_batch_tokens = args.max_batch_tokens or default_max_batch_tokens(device)

    paths = [path.strip() for path in args.paths.split(",") if path.strip()]
    unknown = set(paths) - {"naive", "pair", "packed"}
    if unknown or not paths:
        raise SystemExit(f"--paths: expected some of naive, pair, packed; got {args.paths!r}")
    if args.skip_naive and "naive" in paths:
        paths.remove("naive")
    if args.largest:
        documents = [max(load_documents(args.data, None), key=lambda document: len(document["vertexSet"]))]
    else:
        documents = load_documents(args.data, docs_limit)
    pairs = sample_pairs(documents, args.pairs_per_doc, args.seed)
    model, processor = build_model(args.encoder, seed=args.seed)
    naive_model = naive_copy(model).to(device) if "naive" in paths else None
    model = model.to(device)
    packed_settings = {
        "encoding": "packed",
        "pair_segment": args.pair_segment,
        "entity_markers": "plain",
        "pooling": "markers",
        "marker_pooling": "logsumexp",
    }
    packed_model = packed_processor = None
    if "packed" in paths:
        packed_model, packed_processor = build_model(args.encoder, seed=args.seed, **packed_settings)
        packed_model = packed_model.to(device)
    if args.compile:
        model.encoder = torch.compile(model.encoder, dynamic=True, mode=args.compile_mode)
    print(machine_description(device))
    peak_tflops = args.peak_tflops
    bf16_tflops = None
    if peak_tflops is None and device.type == "cpu":
        peak_tflops = measured_matmul_tflops(model.config.encoder_config, max_batch_tokens, device)
        bf16_tflops = measured_matmul_tflops(
            model.config.encoder_config, max_batch_tokens, device, dtype=torch.bfloat16
        )
        print(
            f"measured matmul rate on the encoder's weight shapes ({max_batch_tokens} rows): fp32 "
            f"{peak_tflops * 1000:.1f} GFLOP/s (the floor below), bf16 {bf16_tflops * 1000:.1f} GFLOP/s; "
            f"CPU capability {torch.backends.cpu.get_cpu_capability()}"
        )
    peak_tflops = peak_tflops or DEFAULT_PEAK_TFLOPS
    print(
        f"encoder {args.encoder}; {len(documents)} documents of {Path(args.data).name}; "
        f"{sum(map(len, pairs))} pairs ({'all' if args.pairs_per_doc is None else args.pairs_per_doc} per document, "
        f"seed {args.seed}); project max_batch_tokens {max_batch_tokens}"
        + (f"; torch.compile ({args.compile_mode or 'default'})" if args.compile else "")
        + (f"; pad to a multiple of {args.pad_multiple}" if args.pad_multiple else "")
    )

    # warm-up: a few pairs of the first document through each path (not timed)
    warm_pairs = [pairs[0][:4]]
    for warm_model, warm_processor in ((model, processor), (packed_model, packed_processor)):
        if warm_model is not None:
            run_project(
                warm_model,
                warm_processor,
                documents[:1],
                warm_pairs,
                device,
                max_batch_tokens,
                pad_to_multiple_of=args.pad_multiple,
            )
    if naive_model is not None:
        run_naive(naive_model, processor, documents[:1], warm_pairs, device, args.naive_batch)

    # Both paths run `repeats` times, interleaved, and each keeps its fastest run (peak memory: the largest), so
    # a burst of load from other processes on a shared machine does not decide the ratio.
    label = f"project ({'bf16 ' if device.type == 'cuda' else 'fp32 '}sdpa, {max_batch_tokens // 1024}k tok"
    label += (f", compiled {args.compile_mode or ''}".rstrip() if args.compile else "") + ")"
    runs: dict[str, list] = {}

    def time_project(name: str, bf16: bool | None = None, packed: bool = False):
        return run_project(
            packed_model if packed else model,
            packed_processor if packed else processor,
            documents,
            pairs,
            device,
            max_batch_tokens,
            name=name,
            pad_to_multiple_of=args.pad_multiple,
            bf16=bf16,
        )

    for _ in range(args.repeats or (2 if device.type == "cpu" else 1)):
        if naive_model is not None:
            runs.setdefault("naive", []).append(
                run_naive(
                    naive_model,
                    processor,
                    documents[: args.naive_docs],
                    pairs[: args.naive_docs],
                    device,
                    args.naive_batch,
                    name="naive" if args.naive_docs is None else f"naive (first {args.naive_docs} docs)",
                )
            )
        if "pair" in paths:
            runs.setdefault("project", []).append(time_project(label))
        if "packed" in paths:
            packed_label = label.replace("project (", f"packed, {args.pair_segment} segments (")
            runs.setdefault("packed", []).append(time_project(packed_label, packed=True))
        if args.cpu_bf16 and device.type == "cpu" and "pair" in paths:
            runs.setdefault("project bf16", []).append(
                time_project(label.replace("fp32", "bf16 autocast"), bf16=True)
            )
    best_runs = {}
    for key, attempts in runs.items():
        best = min(attempts, key=lambda result: result.seconds)
        best.peak_bytes = max(result.peak_bytes for result in attempts)
        best.all_seconds = [result.seconds for result in attempts]
        best_runs[key] = best

    naive = best_runs.get("naive")
    rows = []
    for key, result in best_runs.items():
        # a bf16 row on CPU is measured against the bf16 matmul rate, every other row against the fp32 (or
        # --peak_tflops) rate
        row_peak = bf16_tflops if key == "project bf16" and bf16_tflops else peak_tflops
        if key == "packed":  # the weight matmuls over the tokens it ran (a lower bound of its FLOPs)
            flops = encoder_weight_flops(model.config.encoder_config, result.processed_tokens)
        else:
            flops = encoder_flops(model.config.encoder_config, result.lengths)
        row = {
            "path": result.name,
            "pairs": result.pairs,
            "seconds": result.seconds,
            "all_seconds": result.all_seconds,
            "pairs_per_s": result.pairs / result.seconds,
            "tokens_per_s": sum(result.lengths) / result.seconds,
            "real_tokens": sum(result.lengths),
            "processed_tokens": result.processed_tokens,
            "peak_mib": result.peak_bytes / 2**20,
            "cpu_seconds": result.cpu_seconds,
            "tflops_per_s": flops / result.seconds / 1e12,
            "flops": flops,
        }
        row["floor_seconds"] = flops / (row_peak * 1e12)
        row["floor_fraction"] = row["floor_seconds"] / result.seconds
        if device.type == "cuda":
            traffic = encoder_activation_bytes(model.config.encoder_config, result.lengths)
            row["memory_floor_seconds"] = traffic / (args.peak_tbps * 1e12)
            row["memory_floor_fraction"] = row["memory_floor_seconds"] / result.seconds
        row["ratio"] = row["pairs_per_s"] / (naive.pairs / naive.seconds) if naive else float("nan")
        rows.append(row)
    print_table(rows, device)
    print(
        "timed runs (s): "
        + "; ".join(f"{r['path']}: " + ", ".join(f"{x:.2f}" for x in r["all_seconds"]) for r in rows)
    )
    if naive is not None:
        # both paths return logits in document order, so the naive subset is a prefix of the project's rows
        for key, result in best_runs.items():
            if key in ("naive", "packed"):  # the packed encoding is another function of the weights
                continue
            compared = result.logits[: len(naive.logits)]
            difference, agreement = same_predictions(model.config, naive.logits, compared)
            print(
                f"max |logit difference| naive vs {result.name} ({len(naive.logits)} pairs): {difference:.2e}; "
                f"decisions agreeing: {agreement:.4%}"
            )
    summary = {
        "command": "python " + " ".join(sys.argv),
        "machine": machine_description(device),
        "peak_tflops": peak_tflops,
        "bf16_peak_tflops": bf16_tflops,
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }
    if "packed" in best_runs and not args.no_token_count:
        summary["encoder_tokens"] = whole_file_tokens(
            args.data, processor, packed_processor, max_batch_tokens
        )
        tokens = summary["encoder_tokens"]
        print(
            f"encoder tokens for all {tokens['pairs']} pairs of {Path(args.data).name}: one-pair encoding "
            f"{tokens['one_pair']}, packed ({args.pair_segment} segments, batches of {max_batch_tokens} tokens) "
            f"{tokens['packed']}: {tokens['ratio']:.1f}x fewer"
        )
    if "project" in best_runs and "packed" in best_runs:
        packed_row, pair_row = rows[list(best_runs).index("packed")], rows[list(best_runs).index("project")]
        summary["packed_speedup_vs_pair"] = packed_row["pairs_per_s"] / pair_row["pairs_per_s"]
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    if "packed_speedup_vs_pair" in summary:
        print(f"packed_speedup_vs_pair: {summary['packed_speedup_vs_pair']:.2f}")
    elif naive is not None and "project" in best_runs:
        # the project's default path (a --cpu_bf16 row is extra)
        print(f"speedup_vs_naive: {rows[list(best_runs).index('project')]['ratio']:.2f}")
    return summary


def whole_file_tokens(path, processor, packed_processor, max_batch_tokens: int) -> dict:
    """Encoder tokens needed for every candidate pair of every document of `path` by each encoding (the packed
    encoding's documents counted once per batch of their pairs, as `iter_batches` cuts them)."""
    import logging

    logging.getLogger("processing_globalre").setLevel(logging.ERROR)  # per-document truncation notes
    one_pair = packed = pairs = 0
    for index, document in enumerate(load_documents(path)):
        encoding = processor.encode_document(document, index=index)
        one_pair += encoding.num_tokens
        pairs += len(encoding)
        packed_encoding = packed_processor.encode_document(document, index=index)
        packed += packed_encoding.sequences.encoder_tokens(max_batch_tokens=max_batch_tokens)
    return {"pairs": pairs, "one_pair": one_pair, "packed": packed, "ratio": one_pair / max(packed, 1)}


def print_table(rows: list[dict], device: torch.device) -> None:
    header = ["path", "pairs", "s", "cpu s", "pairs/s", "tokens/s", "padded tok", "peak MiB", "TFLOP/s"]
    header += ["floor s", "floor %"]
    if device.type == "cuda":
        header += ["mem floor s", "mem floor %"]
    header.append("x naive")
    lines = [header]
    for row in rows:
        line = [
            row["path"],
            f"{row['pairs']}",
            f"{row['seconds']:.2f}",
            f"{row['cpu_seconds']:.1f}",
            f"{row['pairs_per_s']:.2f}",
            f"{row['tokens_per_s']:.0f}",
            f"{row['processed_tokens']}",
            f"{row['peak_mib']:.0f}",
            f"{row['tflops_per_s']:.3f}",
        ]
        line += [f"{row['floor_seconds']:.2f}", f"{100 * row['floor_fraction']:.1f}"]
        if device.type == "cuda":
            line += [f"{row['memory_floor_seconds']:.2f}", f"{100 * row['memory_floor_fraction']:.1f}"]
        line.append(f"{row['ratio']:.2f}")
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for number, line in enumerate(lines):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


if __name__ == "__main__":
    main()
