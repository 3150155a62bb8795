from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import pytest
import skops.io as sio

from mlci.cli import main
from mlci.config import load_config
from mlci.model.load import load_model
from mlci.pipelines.validate_model import validate_model
from mlci.registry import make_event
from mlci.registry.local import LocalRegistry
from mlci.results import read_results
from tests.conftest import GitHubEnv
from tests.model.models import Case, Models, models

__all__ = ["models"]

GATES = {
    "classification": "    accuracy: {min: 0.5, max_drop: 0.01}\n    roc_auc: {min: 0.5}\n",
    "regression": "    rmse: {max_drop: 1.0}\n    r2: {min: -1.0}\n",
}


def _project(
    tmp_path: Path, case: Case, *, gates: str | None = None, extra: str = "", data_extra: str = ""
) -> Path:
    root = tmp_path / "project"
    root.mkdir(exist_ok=True)
    shutil.copy(case.eval_csv, root / "eval.csv")
    shutil.copy(case.good, root / "good.skops")
    shutil.copy(case.worse, root / "worse.skops")
    gate_text = GATES[case.task] if gates is None else gates
    (root / "mlci.yaml").write_text(
        f"version: 1\ntask: {case.task}\n"
        f"data:\n  eval: eval.csv\n  target: target\n{data_extra}"
        "model:\n  path: good.skops\n  baseline: registry\n"
        "  bootstrap: {resamples: 300}\n" + (f"  gates:\n{gate_text}" if gate_text else "") + extra,
        encoding="utf-8",
    )
    return root


def _run(root: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(
        [
            "validate-model",
            "--config",
            str(root / "mlci.yaml"),
            "--results",
            str(root / "out"),
            *args,
        ]
    )
    return code, read_results(root / "out" / "model.json")


@pytest.mark.parametrize("name", ["binary", "multiclass", "regression"])
def test_better_candidate_is_blessed_and_worse_is_blocked(
    models: Models, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case: Case = getattr(models, name)
    root = _project(tmp_path, case)
    code, doc = _run(root, "--baseline", str(root / "worse.skops"))
    assert code == 0, doc["blessing"]
    assert doc["kind"] == "model" and doc["passed"] is True and doc["task"] == case.task
    blessing = doc["blessing"]
    assert blessing["blessed"] is True and blessing["reason"].startswith("blessed: all")
    assert blessing["candidate_hash"] == load_model(case.good).sha256
    assert blessing["baseline_hash"] == load_model(case.worse).sha256
    assert blessing["data_fingerprint"].startswith("sha256:")
    assert set(doc["metrics"]) == set(doc["baseline_metrics"]) == set(doc["deltas"])
    key = "accuracy" if case.task == "classification" else "rmse"
    d = doc["deltas"][key]
    assert d["better"] is True and d["significant"] is True
    assert d["ci_low"] <= d["delta"] <= d["ci_high"]
    assert {g["rule"] for g in doc["gates"]} >= {"min", "max_drop"}
    assert all(g["passed"] for g in doc["gates"])
    assert doc["parity"]["passed"] is True
    assert {b["name"] for b in doc["budgets"]} >= {"size_mb", "latency_p95_ms", "memory_mb"}
    assert doc["provenance"]["model"]["baseline"]["format"] == "skops"
    if case.task == "classification":
        assert len(doc["confusion_matrix"]["labels"]) in (2, 3)
    else:
        assert doc["confusion_matrix"] is None
    capsys.readouterr()

    # the deliberately worse model as candidate, production = the good one
    code, doc = _run(
        root, "--model", str(root / "worse.skops"), "--baseline", str(root / "good.skops")
    )
    assert code == 1
    assert doc["passed"] is False and doc["blessing"]["blessed"] is False
    failed = [g for g in doc["gates"] if not g["passed"]]
    assert any(g["metric"] == key and g["rule"] == "max_drop" for g in failed)
    assert doc["deltas"][key]["better"] is False
    assert any(f["check"] == "gate_failed" for f in doc["findings"])
    out = capsys.readouterr().out
    assert out.startswith(f"not blessed: 1 gate(s) failed: {key} max_drop\n")
    assert "FAIL" in out and f"wrote {root / 'out' / 'model.json'}" in out


def test_first_model_from_an_empty_registry(models: Models, tmp_path: Path) -> None:
    root = _project(tmp_path, models.binary)
    code, doc = _run(root)
    assert code == 0
    assert doc["baseline_metrics"] is None and doc["deltas"] == {}
    assert doc["blessing"]["notes"][0] == (
        "no production model in the registry: first model; blessed on value gates only"
        " (change gates not applied: accuracy.max_drop)"
    )
    assert [g["rule"] for g in doc["gates"] if g["metric"] == "accuracy"] == ["min"]
    # looking for a baseline registered nothing; the candidate went into the history
    assert not (root / ".mlci" / "registry" / "versions").exists()
    assert (root / ".mlci" / "registry" / "experiments.jsonl").is_file()
    code, doc = _run(root, "--baseline", "none")
    assert code == 0 and "baseline: none" in doc["blessing"]["notes"][0]


def test_production_model_from_the_registry(models: Models, tmp_path: Path) -> None:
    root = _project(tmp_path, models.binary)
    registry = LocalRegistry(root / ".mlci" / "registry")
    registry.register(
        {"model.skops": root / "worse.skops"},
        {"model_file": "model.skops", "metrics": {"accuracy": 0.8}},
    )
    registry.record(make_event("promote", 1))
    code, doc = _run(root)
    assert code == 0
    assert doc["blessing"]["baseline_hash"] == load_model(root / "worse.skops").sha256
    assert doc["provenance"]["model"]["baseline"]["version"] == 1
    assert doc["history"] == [{"version": 1, "metrics": {"accuracy": 0.8}}]
    assert doc["deltas"]["accuracy"]["significant"] is True


def test_stored_metrics_as_baseline(models: Models, tmp_path: Path) -> None:
    root = _project(tmp_path, models.binary)
    code, _ = _run(root, "--model", str(root / "worse.skops"), "--baseline", "none")
    stored = root / "production-model.json"
    shutil.copy(root / "out" / "model.json", stored)
    code, doc = _run(root, "--baseline", str(stored))
    assert code == 0
    assert doc["deltas"]["accuracy"]["delta"] > 0 and doc["deltas"]["accuracy"]["ci_low"] is None
    assert "(computed on the same eval data)" in " ".join(doc["blessing"]["notes"])
    code, doc = _run(root, "--model", str(root / "worse.skops"), "--baseline", str(stored))
    assert code == 0  # same numbers as production: no drop
    root2 = _project(tmp_path, models.binary, gates="    accuracy: {significant: true}\n")
    code, doc = _run(root2, "--baseline", str(stored))
    assert code == 1
    assert "no bootstrap interval" in doc["gates"][0]["reason"]


def test_significance_gate(models: Models, tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        models.binary,
        gates="    accuracy: {significant: true}\n    roc_auc: {min_gain: 0}\n",
    )
    code, doc = _run(root, "--baseline", str(root / "worse.skops"))
    assert code == 0, doc["gates"]
    code, doc = _run(root, "--baseline", str(root / "good.skops"))
    assert code == 1
    sig = [g for g in doc["gates"] if g["rule"] == "significant"][0]
    assert not sig["passed"]
    assert doc["deltas"]["accuracy"]["reason"] == "the models give the same answers on every row"
    # 20 rows: the bootstrap cannot tell, so the significance gate fails closed
    import pandas as pd

    pd.read_csv(root / "eval.csv").head(20).to_csv(root / "few.csv", index=False)
    code, doc = _run(
        root, "--baseline", str(root / "worse.skops"), "--eval-data", str(root / "few.csv")
    )
    assert code == 1
    assert doc["deltas"]["accuracy"]["significant"] is None
    sig = [g for g in doc["gates"] if g["rule"] == "significant"][0]
    assert "significance cannot be assessed: only 20 eval rows" in sig["reason"]


def test_no_gates_is_not_blessed_unless_allowed(models: Models, tmp_path: Path) -> None:
    root = _project(tmp_path, models.binary, gates="")
    code, doc = _run(root, "--baseline", "none")
    assert code == 1 and "no gates configured" in doc["blessing"]["reason"]
    root = _project(tmp_path, models.binary, gates="", extra="  allow_ungated: true\n")
    code, doc = _run(root, "--baseline", "none")
    assert code == 0 and doc["blessing"]["blessed"] is True


def test_slices_and_budget_gates(models: Models, tmp_path: Path) -> None:
    import pandas as pd

    root = _project(
        tmp_path,
        models.binary,
        gates="    accuracy: {min: 0.9, slices: true}\n",
        extra="  slices: {columns: [size], min_size: 20}\n  budgets: {max_size_mb: 0.0001}\n",
    )
    frame = pd.read_csv(root / "eval.csv")
    frame["size"] = (frame["mean radius"] > frame["mean radius"].median()).map(
        {True: "large", False: "small"}
    )
    frame.to_csv(root / "eval.csv", index=False)
    code, doc = _run(root, "--baseline", str(root / "worse.skops"))
    assert code == 1
    assert sorted(s["value"] for s in doc["slices"]) == ["large", "small"]
    assert all(s["baseline_metrics"] is not None for s in doc["slices"])
    slice_gates = [g for g in doc["gates"] if g["slice"]]
    assert sorted(g["slice"] for g in slice_gates) == ["size=large", "size=small"]
    size = [g for g in doc["gates"] if g["rule"] == "size_mb"][0]
    assert size["passed"] is False and size["threshold"] == 0.0001
    assert "size_mb" in doc["blessing"]["reason"]


def test_onnx_candidate(models: Models, tmp_path: Path) -> None:
    assert models.binary.good_onnx is not None
    root = _project(tmp_path, models.binary)
    code, doc = _run(
        root, "--model", str(models.binary.good_onnx), "--baseline", str(root / "worse.skops")
    )
    assert code == 0
    assert doc["provenance"]["model"]["candidate"]["format"] == "onnx"
    assert doc["parity"] is None  # nothing to export


def test_actions_outputs_and_summary(models: Models, tmp_path: Path, gh_env: GitHubEnv) -> None:
    root = _project(tmp_path, models.binary)
    results = gh_env.workspace / "mlci-results"
    doc = validate_model(
        load_config(root / "mlci.yaml"),
        baseline=str(root / "good.skops"),
        model=root / "worse.skops",
        results_dir=results,
    )
    assert doc["passed"] is False and doc["blessing"]["blessed"] is False
    outputs = gh_env.outputs()
    assert "passed=false\n" in outputs and "blessed=false\n" in outputs
    assert "results-path=mlci-results/model.json\n" in outputs
    summary = gh_env.summary_text()
    assert "model validation" in summary and "| accuracy |" in summary and "FAIL" in summary


def test_bad_input_exits_2_naming_the_problem(
    models: Models, tmp_path: Path, capsys: pytest.CaptureFixture[str], gh_env: GitHubEnv
) -> None:
    import pandas as pd

    root = _project(tmp_path, models.binary)
    frame = pd.read_csv(root / "eval.csv")
    frame.drop(columns=["mean area"]).to_csv(root / "missing.csv", index=False)
    cases = {
        "lacks feature column(s) 'mean area'": ["--eval-data", str(root / "missing.csv")],
        "the label column 'label' is not in the eval data": ["--target", "label"],
        "the model is a regressor but task is 'classification'": [
            "--model",
            str(models.regression.good),
        ],
        "baseline: ": ["--baseline", str(models.multiclass.good)],
    }
    for message, args in cases.items():
        code = main(
            [
                "validate-model",
                "--config",
                str(root / "mlci.yaml"),
                "--results",
                str(root / "out"),
                *args,
            ]
        )
        err = capsys.readouterr().err
        assert code == 2, (message, err)
        assert message in err and "Traceback" not in err
    assert "blessed=false" in gh_env.outputs()
    joblib.dump(sio.load(root / "good.skops"), root / "model.joblib")
    code = main(
        [
            "validate-model",
            "--config",
            str(root / "mlci.yaml"),
            "--model",
            str(root / "model.joblib"),
        ]
    )
    assert code == 2
    assert "refusing to load a joblib file" in capsys.readouterr().err
    (root / "cut.skops").write_bytes((root / "good.skops").read_bytes()[:100])
    code = main(
        ["validate-model", "--config", str(root / "mlci.yaml"), "--model", str(root / "cut.skops")]
    )
    assert code == 2 and "corrupt or truncated" in capsys.readouterr().err


def test_trusted_joblib_is_loaded_with_a_warning(models: Models, tmp_path: Path) -> None:
    root = _project(tmp_path, models.binary, extra="  trusted: true\n")
    joblib.dump(sio.load(root / "good.skops"), root / "model.joblib")
    code, doc = _run(root, "--model", str(root / "model.joblib"), "--baseline", "none")
    assert code == 0
    warnings = [f for f in doc["findings"] if f["check"] == "trusted_model"]
    assert warnings and "runs code when loaded" in warnings[0]["message"]
    assert any("trusted load" in n for n in doc["blessing"]["notes"])
    json.dumps(doc, allow_nan=False)


def test_each_model_takes_its_own_features(
    models: Models, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PR that drops a feature (and a column the training script ignores) gets a report."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = _project(tmp_path, models.binary)
    frame = pd.read_csv(root / "eval.csv")
    # the eval data carries a column no model takes (a year the training script drops)
    frame.assign(year=2007).to_csv(root / "eval.csv", index=False)
    features = [c for c in frame.columns if c != "target"]
    fewer = [c for c in features if c != "mean area"]
    dropped = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    dropped.fit(frame[fewer], frame["target"])
    sio.dump(dropped, root / "dropped.skops")

    code, doc = _run(
        root, "--model", str(root / "dropped.skops"), "--baseline", str(root / "good.skops")
    )
    assert code in (0, 1), doc
    changes = doc["features"]
    assert changes["changed"] is True and changes["removed"] == ["mean area"]
    assert changes["added"] == [] and changes["candidate"] == fewer
    assert changes["baseline"] == features
    assert changes["ignored"]["candidate"] == ["mean area", "year"]
    assert changes["ignored"]["baseline"] == ["year"]
    assert doc["baseline_metrics"] is not None and doc["deltas"]["accuracy"]["delta"] is not None
    notes = doc["blessing"]["notes"]
    assert any("'mean area', 'year' are not features of the candidate" in n for n in notes)
    assert any("'year' are not features of production" in n for n in notes)
    # A dropped year (or date, or a column that leaks the target) is no id: the note does
    # not tell the user to declare it as one.
    note = next(n for n in notes if "not features of the candidate" in n)
    assert note.endswith(
        "and were ignored; nothing to do when the training script drops them on purpose"
        " (a column that identifies rows can be declared in data.id_columns, which silences"
        " this note)"
    )

    # the other way round: the candidate adds the feature back
    code, doc = _run(
        root, "--model", str(root / "good.skops"), "--baseline", str(root / "dropped.skops")
    )
    assert doc["features"]["added"] == ["mean area"] and doc["features"]["removed"] == []

    # only a feature a model needs and the data lacks is an error, naming model and column
    frame.drop(columns=["mean area"]).to_csv(root / "eval.csv", index=False)
    code = main(
        [
            "validate-model",
            "--config",
            str(root / "mlci.yaml"),
            "--baseline",
            str(root / "dropped.skops"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "good.skops: the data lacks feature column(s) 'mean area'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["multiclass", "regression"])
def test_breakdown_of_the_change(models: Models, tmp_path: Path, name: str) -> None:
    """Which class suffered (classification) or how the errors moved (regression)."""
    case: Case = getattr(models, name)
    root = _project(tmp_path, case)
    code, doc = _run(
        root, "--model", str(root / "worse.skops"), "--baseline", str(root / "good.skops")
    )
    if case.task == "classification":
        conf = doc["confusion"]
        assert conf["labels"] == [0, 1, 2]
        assert sum(map(sum, conf["candidate"])) == sum(map(sum, conf["baseline"])) == doc["rows"]
        per_class = doc["per_class"]
        assert {e["label"] for e in per_class} == {0, 1, 2}
        f1 = [e["f1"]["delta"] for e in per_class]
        assert f1 == sorted(f1) and f1[0] < 0  # the class that got worst comes first
        worst = per_class[0]["f1"]
        assert worst["ci_low"] <= worst["delta"] <= worst["ci_high"]
        assert sum(e["support"] for e in per_class) == doc["rows"]
    else:
        errors = doc["errors"]
        assert errors["candidate"]["rmse"] == pytest.approx(doc["metrics"]["rmse"])
        assert errors["baseline"]["mae"] == pytest.approx(doc["baseline_metrics"]["mae"])
        assert errors["candidate"]["rmse"] > errors["baseline"]["rmse"]
        res = doc["residuals"]
        assert len(res["actual"]) == len(res["candidate"]) == len(res["baseline"]) <= 300
        assert sum(res["counts"]["candidate"]) == doc["rows"]


def test_parameters_changed_against_production(models: Models, tmp_path: Path) -> None:
    from mlci.report.render import Report, render_markdown

    root = _project(tmp_path, models.binary, extra="  params: [params.yaml]\n")
    (root / "params.yaml").write_text(
        f"train:\n  C: 0.5\n  solver: lbfgs\n  layers: [64, 32]\nseed: 1\nnotes: {'x' * 300}\n",
        encoding="utf-8",
    )
    registry = LocalRegistry(root / ".mlci" / "registry")
    registry.register(
        {"model.skops": root / "worse.skops"},
        {
            "model_file": "model.skops",
            "metrics": {"accuracy": 0.8},
            "params": {
                "train.C": 1.0,
                "train.solver": "lbfgs",
                "train.layers.0": 64,
                "train.max_iter": 100,
                "seed": 1,
                "notes": "short",
            },
        },
    )
    registry.record(make_event("promote", 1))
    code, doc = _run(root)
    params = doc["params"]
    assert params["files"] == ["params.yaml"]
    assert params["candidate"]["train.C"] == 0.5 and params["candidate"]["train.layers.1"] == 32
    changed = {c["key"]: c for c in params["changed"]}
    assert set(changed) == {"train.C", "train.layers.1", "notes", "train.max_iter"}
    assert changed["train.C"] == {
        "key": "train.C",
        "production": 1.0,
        "candidate": 0.5,
        "change": "changed",
    }
    assert changed["train.layers.1"]["change"] == "added"
    assert changed["train.max_iter"]["change"] == "removed"

    text = render_markdown(Report.from_json(model=doc))
    section = text[text.index("### Parameters changed") : text.index("### Model: candidate")]
    assert "4 parameter(s) changed, 3 unchanged (hidden)." in section
    assert "| train.C | 1.0 | 0.5 |" in section
    assert "| train.max\\_iter | 100 | _(absent)_ |" in section
    assert "seed" not in section and "solver" not in section  # unchanged keys are hidden
    assert "x" * 61 not in section and "(+240 chars)" in section  # long values are cut

    # the first model has no production parameters to compare with
    code, doc = _run(root, "--baseline", "none")
    assert doc["params"]["baseline"] is None and doc["params"]["changed"] == []
    assert "production recorded none" in render_markdown(Report.from_json(model=doc))


def test_a_baseline_the_eval_data_cannot_feed_is_reported_not_exit_2(
    models: Models, tmp_path: Path
) -> None:
    """The data of a pull request drops a column production takes: full report, fail closed."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = _project(tmp_path, models.binary)
    frame = pd.read_csv(root / "eval.csv").drop(columns=["mean area"])
    frame.to_csv(root / "eval.csv", index=False)
    features = [c for c in frame.columns if c != "target"]
    dropped = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    sio.dump(dropped.fit(frame[features], frame["target"]), root / "dropped.skops")

    code, doc = _run(
        root, "--model", str(root / "dropped.skops"), "--baseline", str(root / "good.skops")
    )
    assert code == 1 and doc["blessing"]["blessed"] is False
    assert doc["metrics"]["accuracy"] is not None  # the candidate is still evaluated
    assert doc["baseline_metrics"]["accuracy"] is None
    assert doc["features"]["removed"] == ["mean area"]
    assert doc["features"]["baseline_lacks"] == ["mean area"]
    missing = [f for f in doc["findings"] if f["check"] == "missing_column"]
    assert [(f["column"], f["severity"]) for f in missing] == [("mean area", "error")]
    assert "keep the column in the eval data" in missing[0]["message"]
    drop = [g for g in doc["gates"] if g["rule"] == "max_drop"]
    assert drop and not drop[0]["passed"]
    assert "the baseline was not evaluated: it takes 'mean area'" in drop[0]["reason"]


def test_a_registry_baseline_is_named_by_its_version_not_its_download_folder(
    models: Models, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, models.binary)
    registry = LocalRegistry(root / ".mlci" / "registry")
    # production is a model of other data (wine): it shares no column with the eval data
    registry.register({"model.skops": models.multiclass.good}, {"model_file": "model.skops"})
    registry.record(make_event("promote", 1))
    code = main(["validate-model", "--config", str(root / "mlci.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "baseline: v1 of the local registry (model.skops): the data lacks" in err, err
    assert "mlci-model-" not in err
