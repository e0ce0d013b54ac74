"""Record rsatoolbox's model evaluations on the 92-image data, for repalign's score_rdm.

Not a test (pytest does not collect it) and not run by the test suite: it was run
once to write ``model_evaluation.json`` next to it. It contains only *calls* into
rsatoolbox, never its code.

Requirements (a scratch environment, never repalign's own)::

    python3 -m venv /tmp/rsavenv
    /tmp/rsavenv/bin/pip install rsatoolbox==0.3.2

Usage: first write the inputs with repalign's environment, then record with rsatoolbox's::

    .venv/bin/python tests/references/record_model_evaluation.py --inputs /tmp/k92.npz
    /tmp/rsavenv/bin/python tests/references/record_model_evaluation.py --record /tmp/k92.npz
"""

from __future__ import annotations

import argparse
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "model_evaluation.json"
METHODS = {"spearman": "spearman", "pearson": "corr", "kendall_tau_a": "tau-a"}


def write_inputs(path: str) -> None:
    """The human-IT subject RDMs (sessions averaged) and the model RDMs, from repalign."""
    import repalign

    data = repalign.datasets.kriegeskorte92()
    models = {"monkey_it": data.monkey_it, **data.models}
    np.savez(path, subjects=data.human_it.mean(axis=1),
             **{f"model_{k}": v for k, v in models.items()})


def record(path: str) -> None:
    import rsatoolbox

    inputs = np.load(path)
    subjects = rsatoolbox.rdm.RDMs(inputs["subjects"], dissimilarity_measure="euclidean")
    names = [k[len("model_"):] for k in inputs.files if k.startswith("model_")]
    models = [rsatoolbox.model.ModelFixed(name, inputs[f"model_{name}"]) for name in names]
    records = []
    for ours, theirs in METHODS.items():
        result = rsatoolbox.inference.eval_fixed(models, subjects, method=theirs)
        for j, name in enumerate(names):
            records.append({
                "library": "rsatoolbox", "version": version("rsatoolbox"),
                "call": f"rsatoolbox.inference.eval_fixed(models, human_it_subjects, "
                        f"method={theirs!r}).evaluations[0, {j}]",
                "model": name, "compare": ours,
                "per_subject": result.evaluations[0, j].tolist()})
    # The dual-bootstrap variance combination (Schuett et al. 2023) on fixed variances.
    from rsatoolbox.util.inference_util import extract_variances

    rng = np.random.default_rng(7)
    A = rng.standard_normal((3, 4, 4))
    covariances = A @ A.transpose(0, 2, 1)
    covariances[0] *= 3  # the two-factor bootstrap's variance is the largest
    model_var, _, _ = extract_variances(covariances, nc_included=False)
    records.append({"library": "rsatoolbox", "version": version("rsatoolbox"),
                    "call": "rsatoolbox.util.inference_util.extract_variances(covariances, "
                            "nc_included=False)[0]",
                    "covariances": covariances.tolist(), "model_variances": model_var.tolist()})
    OUTPUT.write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--inputs")
    parser.add_argument("--record")
    args = parser.parse_args()
    if args.inputs:
        write_inputs(args.inputs)
    if args.record:
        record(args.record)
