"""Results documents for report tests, built with mlci.results.make_document as docs/results.md says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.results import Finding, make_document, write_results

SHA = "0123456789abcdef0123456789abcdef01234567"
PROVENANCE = {
    "git_sha": SHA,
    "run_url": "https://github.com/octo/ml-project/actions/runs/42",
    "mlci_version": "0.1.0",
    "created": "2026-11-27T02:00:00+00:00",
}


def data_document(*, errors: bool = False, column: str = "mean radius", value: Any = -3.5) -> dict:
    findings = [
        Finding(
            "null_fraction",
            "warning",
            "3.1% of values are missing (at most 1% expected)",
            column="worst texture",
            observed=0.031,
            expected=0.01,
            count=18,
            fraction=0.031,
        )
    ]
    counts: dict[str, dict[str, int]] = {"null_fraction": {"error": 0, "warning": 1}}
    if errors:
        findings += [
            Finding(
                "out_of_range",
                "error",
                "values below the minimum 0 of the schema",
                column=column,
                observed=[value, -1.0],
                expected=[0, 30],
                count=2,
                fraction=0.0035,
                samples=[{"row": 17, "value": value}, {"row": 230, "value": -1.0}],
                file="data/schema.yaml",
                line=12,
            ),
            Finding(
                "missing_column",
                "error",
                "column is in the schema but not in the data",
                column="area error",
                file="data/schema.yaml",
                line=40,
            ),
            Finding(
                "unexpected_category",
                "warning",
                "categories not seen in the reference",
                column="site",
                observed=["clinic-x", "clinic-y"],
                count=4,
                samples=[{"row": 3, "value": "clinic-x"}, {"row": 9, "value": "clinic-y"}],
            ),
        ]
        counts |= {
            "out_of_range": {"error": 1, "warning": 0},
            "missing_column": {"error": 1, "warning": 0},
            "unexpected_category": {"error": 0, "warning": 1},
        }
    drift_cols = [
        {
            "column": "mean texture",
            "method": "psi",
            "statistic": 0.31,
            "p_value": None,
            "threshold": 0.2,
            "drifted": True,
            "severity": "warning",
            "kind": "feature",
        },
        {
            "column": "mean radius",
            "method": "psi",
            "statistic": 0.04,
            "p_value": None,
            "threshold": 0.2,
            "drifted": False,
            "severity": "info",
            "kind": "feature",
        },
        {
            "column": "target",
            "method": "chi2",
            "statistic": 14.2,
            "p_value": 0.0002,
            "threshold": 0.05,
            "drifted": True,
            "severity": "error",
            "kind": "label",
        },
        {
            "column": "worst area",
            "method": "psi",
            "statistic": 0.12,
            "p_value": None,
            "threshold": 0.2,
            "drifted": False,
            "severity": "info",
            "kind": "feature",
        },
    ]
    return make_document(
        "data",
        passed=not errors,
        findings=findings,
        payload={
            "rows": 569,
            "columns": 31,
            "counts": counts,
            "drift": {
                "share": 0.5,
                "share_threshold": 0.5,
                "dataset_drift": errors,
                "columns": drift_cols,
            },
        },
        provenance=PROVENANCE
        | {
            "data": {
                "current": {"path": "data/current.csv", "fingerprint": "sha256:" + "c" * 64},
                "reference": {"path": "data/reference.csv", "fingerprint": "sha256:" + "r" * 64},
                "schema": {"path": "data/schema.yaml", "fingerprint": "sha256:" + "5" * 64},
            }
        },
    )


def model_document(*, blessed: bool = True, task: str = "classification") -> dict:
    if task == "regression":
        metrics = {"rmse": 41.2, "mae": 30.1, "r2": 0.71}
        baseline = {"rmse": 44.0, "mae": 29.5, "r2": 0.69}
        hib = {"rmse": False, "mae": False, "r2": True}
        gate_metric, rule, thr = "rmse", "max", 50.0
    else:
        metrics = {
            "accuracy": 0.951 if blessed else 0.902,
            "roc_auc": 0.989,
            "log_loss": 0.121 if blessed else 0.19,
            "f1_macro": 0.947,
        }
        baseline = {"accuracy": 0.944, "roc_auc": 0.985, "log_loss": 0.13, "brier": 0.04}
        hib = {
            "accuracy": True,
            "roc_auc": True,
            "log_loss": False,
            "f1_macro": True,
            "brier": False,
        }
        gate_metric, rule, thr = "accuracy", "max_drop", 0.01
    deltas = {}
    for name, value in metrics.items():
        if name in baseline:
            d = value - baseline[name]
            deltas[name] = {
                "delta": d,
                "relative": d / abs(baseline[name]),
                "ci_low": d - 0.01,
                "ci_high": d + 0.01,
                "significant": abs(d) > 0.01,
                "better": (d > 0) == hib[name],
            }
    observed = metrics[gate_metric]
    gates = [
        {
            "metric": gate_metric,
            "slice": None,
            "rule": rule,
            "threshold": thr,
            "observed": observed,
            "baseline": baseline[gate_metric],
            "passed": blessed,
            "reason": "" if blessed else "accuracy dropped by 0.042, more than the allowed 0.01",
        },
        {
            "metric": "roc_auc" if task != "regression" else "r2",
            "slice": None,
            "rule": "min",
            "threshold": 0.9 if task != "regression" else 0.5,
            "observed": metrics["roc_auc" if task != "regression" else "r2"],
            "baseline": None,
            "passed": True,
            "reason": "",
        },
        {
            "metric": "latency_p95_ms",
            "slice": None,
            "rule": "latency_p95_ms",
            "threshold": 20,
            "observed": 3.2,
            "baseline": None,
            "passed": True,
            "reason": "",
        },
    ]
    if not blessed:
        gates.append(
            {
                "metric": "accuracy",
                "slice": "site=clinic-b",
                "rule": "min",
                "threshold": 0.9,
                "observed": 0.81,
                "baseline": 0.9,
                "passed": False,
                "reason": "accuracy 0.81 below 0.9 on slice site=clinic-b",
            }
        )
    findings = (
        []
        if blessed
        else [
            Finding(
                "gate_failed",
                "error",
                "accuracy dropped by 0.042",
                metric="accuracy",
                file="mlci.yaml",
                line=14,
            )
        ]
    )
    return make_document(
        "model",
        passed=blessed,
        findings=findings,
        payload={
            "task": task,
            "metrics": metrics,
            "baseline_metrics": baseline,
            "deltas": deltas,
            "higher_is_better": hib,
            "gates": gates,
            "blessing": {
                "blessed": blessed,
                "reason": "all gates passed" if blessed else "2 gates failed",
                "notes": [],
                "candidate_hash": "sha256:" + "a" * 64,
                "baseline_hash": "sha256:" + "b" * 64,
                "data_fingerprint": "sha256:" + "c" * 64,
                "git_sha": SHA,
            },
            "slices": [
                {
                    "column": "site",
                    "value": "clinic-a",
                    "rows": 120,
                    "metrics": {"accuracy": 0.96},
                    "baseline_metrics": {"accuracy": 0.95},
                },
                {
                    "column": "site",
                    "value": "clinic-b",
                    "rows": 80,
                    "metrics": {"accuracy": 0.81 if not blessed else 0.93},
                    "baseline_metrics": {"accuracy": 0.9},
                },
            ],
            "budgets": [
                {
                    "name": "latency_p95_ms",
                    "observed": 3.2,
                    "limit": 20,
                    "unit": "ms",
                    "passed": True,
                },
                {"name": "model_size", "observed": 1.4, "limit": 50, "unit": "MB", "passed": True},
            ],
            "parity": {"max_abs_diff": 1.2e-7, "label_mismatch": 0, "passed": True, "rows": 569},
            "confusion_matrix": None,
            **(_regression_breakdown() if task == "regression" else _class_breakdown(blessed)),
            "history": [
                {"version": 1, "metrics": {"accuracy": 0.93, "roc_auc": 0.98, "log_loss": 0.15}},
                {
                    "version": 2,
                    "metrics": {"accuracy": 0.944, "roc_auc": 0.985, "log_loss": 0.13},
                },
            ],
        },
        provenance=PROVENANCE
        | {
            "model": {
                "candidate": {
                    "path": "model/model.onnx",
                    "hash": "sha256:" + "a" * 64,
                    "format": "onnx",
                },
                "baseline": {
                    "path": "registry/v2/model.onnx",
                    "hash": "sha256:" + "b" * 64,
                    "format": "onnx",
                },
            }
        },
    )


def _cell(cand: float, base: float, spread: float = 0.05) -> dict[str, float]:
    d = cand - base
    return {
        "candidate": cand,
        "baseline": base,
        "delta": d,
        "ci_low": d - spread,
        "ci_high": d + spread,
    }


def _class_breakdown(blessed: bool) -> dict[str, Any]:
    """What validate-model writes for a classifier: both confusion matrices, per-class."""
    worse = 0.0 if blessed else 0.2
    return {
        "confusion": {
            "labels": ["benign", "malignant"],
            "candidate": [[70, 2], [3 + int(worse * 40), 39 - int(worse * 40)]],
            "baseline": [[69, 3], [4, 38]],
            "total_labels": 2,
        },
        "per_class": [
            {
                "label": "malignant",
                "support": 42,
                "precision": _cell(0.95, 0.93),
                "recall": _cell(0.93 - worse, 0.9),
                "f1": _cell(0.94 - worse, 0.915),
            },
            {
                "label": "benign",
                "support": 72,
                "precision": _cell(0.96, 0.945),
                "recall": _cell(0.97, 0.96),
                "f1": _cell(0.965, 0.952),
            },
        ],
    }


def _regression_breakdown() -> dict[str, Any]:
    """What validate-model writes for a regressor: error summary and residuals."""
    return {
        "errors": {
            "candidate": {"mae": 30.1, "rmse": 41.2, "bias": -2.5},
            "baseline": {"mae": 29.5, "rmse": 44.0, "bias": 4.0},
            "slices": [
                {
                    "column": "season",
                    "value": "winter",
                    "rows": 60,
                    "candidate": {"mae": 35.0, "rmse": 44.0, "bias": -6.0},
                    "baseline": {"mae": 31.0, "rmse": 40.0, "bias": 1.0},
                },
                {
                    "column": "season",
                    "value": "summer",
                    "rows": 70,
                    "candidate": {"mae": 25.0, "rmse": 33.0, "bias": 1.0},
                    "baseline": {"mae": 28.0, "rmse": 38.0, "bias": 5.0},
                },
            ],
        },
        "residuals": {
            "actual": [100.0, 150.0, 200.0, 250.0],
            "candidate": [110.0, 140.0, 190.0, 262.0],
            "baseline": [120.0, 151.0, 230.0, 240.0],
            "bins": [-30.0, -15.0, 0.0, 15.0, 30.0],
            "counts": {"candidate": [0, 2, 2, 0], "baseline": [0, 1, 2, 1]},
        },
    }


def write_case(directory: Path, case: str) -> Path:
    """Write the results of a named case: ``blessed``, ``blocked`` or ``data-error``."""
    if case == "blessed":
        docs = [data_document(), model_document(blessed=True)]
    elif case == "blocked":
        docs = [data_document(), model_document(blessed=False)]
    elif case == "data-error":
        docs = [data_document(errors=True)]
    elif case == "regression":
        docs = [model_document(task="regression")]
    else:
        raise ValueError(case)
    for doc in docs:
        write_results(directory, doc)
    return directory
