"""The smoke test: the registered files served on loopback answer like the model offline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci import jsonio
from mlci.errors import DeployError, InputError
from mlci.pipelines.deploy.outcome import SAMPLE_ROWS, _features, _read_sample
from mlci.registry import ModelVersion
from mlci.results import to_jsonable

if TYPE_CHECKING:
    import pandas as pd

    from mlci.config import Config
    from mlci.model.load import LoadedModel


__all__: list[str] = []

# -- smoke test -----------------------------------------------------------------------------


def _smoke_rows(features: pd.DataFrame, n: int) -> pd.DataFrame:
    """The first ``n`` rows, with rows holding missing values swapped in when there are any.

    The service must take nulls where the model was trained with them, so when the
    reference data has missing values, up to a quarter of the rows sent (at least one)
    are rows that have some.
    """
    import pandas as pd

    head = features.head(n)
    with_nulls = features.index[features.isna().any(axis=1)]
    if len(with_nulls) == 0 or head.isna().any(axis=1).sum() >= max(1, n // 4):
        return head.reset_index(drop=True)
    extra = [i for i in with_nulls if i not in head.index][: max(1, n // 4)]
    keep = head.index[: max(0, len(head) - len(extra))]
    return pd.concat([features.loc[keep], features.loc[extra]]).reset_index(drop=True)


def _smoke_test(
    config: Config,
    *,
    version: ModelVersion,
    model_dir: Path,
    original: Path,
    sample: pd.DataFrame,
) -> dict[str, Any]:
    """Serve the registered files on loopback and compare answers with offline predictions."""
    from mlci.http import send
    from mlci.model.load import load_configured
    from mlci.serve.app import create_app, load_served_model
    from mlci.serve.server import start_server

    served_file = model_dir / (version.onnx_file or version.model_file)
    served = load_served_model(
        served_file,
        metadata=version.metadata,
        version=version.version,
        trusted=config.model.trusted,
        trusted_types=config.model.trusted_types,
    )
    offline_model = load_configured(original, config.model)
    rows = _smoke_rows(
        _features(sample, config, offline_model.feature_names), config.deploy.smoke_rows
    )
    records = to_jsonable(rows.to_dict(orient="records"))  # NaN is sent as null
    with start_server(create_app(served)) as running:
        health, _ = send("GET", f"{running.url}/health", timeout=30)
        batch, _ = send("POST", f"{running.url}/predict", json={"records": records}, timeout=60)
        single, _ = send(
            "POST", f"{running.url}/predict", json={"records": records[:1]}, timeout=60
        )
    problems = []
    if health.status_code != 200:
        problems.append(f"/health answered {health.status_code}")
    answers = []
    for name, resp in (("batch", batch), ("single row", single)):
        if resp.status_code != 200:
            problems.append(f"{name} /predict answered {resp.status_code}: {resp.text[:300]}")
            continue
        try:  # strict JSON, bounded like every JSON mlci reads
            answers.append(
                jsonio.loads(
                    resp.content,
                    source=f"{name} /predict answer",
                    fix="the service must answer strict JSON",
                )
            )
        except InputError as exc:
            problems.append(str(exc))
    result: dict[str, Any] = {
        "rows": len(records),
        "rows_with_nulls": int(rows.isna().any(axis=1).sum()),
        "served_file": served_file.name,
        "format": served.predictor.format,
        "passed": False,
    }
    if problems:
        result["problems"] = problems
        return result
    _judge_answers(result, problems, offline_model, rows, answers[0], answers[1], config)
    result["passed"] = not problems
    if problems:
        result["problems"] = problems
    return result


def _judge_answers(
    result: dict[str, Any],
    problems: list[str],
    offline_model: LoadedModel,
    rows: pd.DataFrame,
    body: dict[str, Any],
    single: dict[str, Any],
    config: Config,
) -> None:
    """Compare the service's answers with the offline predictions (parity tolerances)."""
    import numpy as np

    expected = np.asarray(offline_model.predict(rows))
    got = np.asarray(body["predictions"])
    tol = config.model.parity
    if offline_model.task_hint == "classification" or offline_model.classes:
        mismatch = float(np.mean(expected.astype(str) != got.astype(str)))
        result["label_mismatch"] = mismatch
        if mismatch > tol.max_label_mismatch:
            problems.append(
                f"{mismatch:.1%} of labels differ from the offline predictions"
                f" (limit {tol.max_label_mismatch:.1%})"
            )
        proba = offline_model.predict_proba(rows)
        if proba is not None and "probabilities" in body:
            diff = float(np.max(np.abs(np.asarray(body["probabilities"]) - proba)))
            result["max_abs_diff"] = diff
            if diff > tol.max_abs_diff:
                problems.append(
                    f"probabilities differ by up to {diff:.3g} (limit {tol.max_abs_diff:g})"
                )
    else:
        diff = float(np.max(np.abs(got.astype(float) - expected.astype(float))))
        result["max_abs_diff"] = diff
        if diff > tol.max_abs_diff * max(1.0, float(np.max(np.abs(expected)))):
            problems.append(
                f"predictions differ by up to {diff:.3g} (limit {tol.max_abs_diff:g}, relative)"
            )
    one, first = single["predictions"][:1], body["predictions"][:1]
    if offline_model.task_hint == "classification" or offline_model.classes:
        differs = one != first
    else:
        # A float32 runtime may round a row differently in a batch (vectorised kernels):
        # the same relative tolerance as the offline parity, not bit equality.
        scale = max(1.0, abs(float(first[0])) if first else 1.0)
        differs = len(one) != len(first) or any(
            abs(float(a) - float(b)) > tol.max_abs_diff * scale
            for a, b in zip(one, first, strict=True)
        )
    if differs:
        problems.append("a single-row request answered differently from the same row in a batch")


def _rollback_smoke_test(
    config: Config, target: ModelVersion, model_dir: Path
) -> dict[str, Any] | None:
    """Smoke-test the version a rollback moves to (None when off or without eval data).

    The offline answers come from the version's own registered model file; a model
    that cannot even be served is a failed smoke test, not a crash.
    """
    if not config.deploy.smoke_test:
        return None
    sample = _read_sample(config, max(SAMPLE_ROWS, config.deploy.smoke_rows))
    if sample is None:
        return None
    try:
        return _smoke_test(
            config,
            version=target,
            model_dir=model_dir,
            original=model_dir / target.model_file,
            sample=sample,
        )
    except (InputError, DeployError) as exc:
        return {"rows": 0, "passed": False, "problems": [exc.message]}
