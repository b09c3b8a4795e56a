# Copyright 2026 The GlobalRE authors. Licensed under the MIT licence.
"""The pieces of a GlobalRE training run; `train.py` at the top level is the run itself, and reads top to bottom.

Modules:
    options: the declarations of the run (training options, presets, protocols, known datasets, packaged encoders)
        and the model card's training table derived from them.
    arguments: the command line (`parse_args`, `resolve_args`) and the protocol description.
    data: documents of a split, their candidate pairs and labels, the pairs of an epoch, multi-hot labels.
    model: the model and processor a run trains, the cached-vector head, the optimizer's parameter groups.
    thresholds: decision thresholds tuned on dev logits.
    evaluation: documents scored across processes, the official scores of a split, degenerate predictions.
    checkpoints: the checkpoint folder's claim, listing, saving and the check of a resumed run.
    report: what a run records of itself (machine, versions, portable paths and command line), the results
        list file and the push to the Hub.
"""


class TrainingError(RuntimeError):
    """A run that cannot go on; the message says why and what to do."""
