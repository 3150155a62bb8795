from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mlci.cli import main
from mlci.config import Config, load_config
from mlci.errors import DeployError, InputError, ValidationFailed
from mlci.github.runtime import Runtime
from mlci.model.load import load_model
from mlci.model.onnx import export_onnx
from mlci.pipelines.deploy import deploy, rollback
from mlci.pipelines.deploy import register as register_mod
from mlci.pipelines.deploy import step as step_mod
from mlci.pipelines.deploy.smoke import _smoke_test
from mlci.registry.local import LocalRegistry
from mlci.results import make_document, write_results
from tests.helpers import build_file_tree
from tests.serve.helpers import eval_frame, train_classifier

SHA1 = "1" * 40
SHA2 = "2" * 40
SHA3 = "3" * 40


@dataclass
class Project:
    root: Path
    results: Path

    @property
    def registry(self) -> LocalRegistry:
        return LocalRegistry(self.root / "registry")

    def config(self, deploy_section: str = "") -> Config:
        text = (
            "version: 1\ntask: classification\n"
            "data:\n  eval: eval.csv\n  target: target\n"
            "model:\n  path: model.skops\n"
            "registry:\n  backend: local\n  path: registry\n"
        )
        if deploy_section:
            text += "deploy:\n" + deploy_section
        (self.root / "mlci.yaml").write_text(text)
        return load_config(self.root / "mlci.yaml")

    def train(self, c: float) -> Path:
        model = train_classifier(self.root / "trained", c=c)
        shutil.copyfile(model, self.root / "model.skops")
        return self.root / "model.skops"

    def bless(self, blessed: bool = True, *, digest: str | None = None, acc: float = 0.95) -> None:
        model = load_model(self.root / "model.skops")
        doc = make_document(
            "model",
            passed=blessed,
            payload={
                "task": "classification",
                "metrics": {"accuracy": acc, "roc_auc": 0.99},
                "blessing": {
                    "blessed": blessed,
                    "reason": "all gates passed" if blessed else "accuracy 0.80 < min 0.90",
                    "notes": [],
                    "candidate_hash": digest or model.sha256,
                    "baseline_hash": None,
                    "data_fingerprint": None,
                    "git_sha": None,
                },
            },
        )
        write_results(self.results, doc)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    root = tmp_path / "proj"
    build_file_tree(root, {"eval.csv": eval_frame().to_csv(index=False)})
    proj = Project(root, root / "mlci-results")
    proj.train(1.0)
    proj.bless()
    monkeypatch.setenv("MLCI_GIT_SHA", SHA1)
    monkeypatch.chdir(root)
    return proj


def test_deploy_registers_exports_smoke_tests_and_promotes(project: Project) -> None:
    out = deploy(project.config(), results_dir=project.results, runtime=Runtime())
    assert (out.status, out.version, out.previous) == ("deployed", 1, None)
    v1 = project.registry.get(1)
    assert v1.files == ("metadata.json", "model.onnx", "model.skops")
    meta = v1.metadata
    assert meta["git_sha"] == SHA1 and meta["blessing"]["blessed"] is True
    assert meta["metrics"] == {"accuracy": 0.95, "roc_auc": 0.99}
    assert (
        meta["hashes"]["model.skops"]
        == hashlib.sha256((project.root / "model.skops").read_bytes()).hexdigest()
    )
    assert meta["input_schema"]["columns"][0] == {
        "name": "mean_radius",
        "type": "number",
        "nullable": False,  # LogisticRegression refuses NaN: the service refuses null
    }
    assert meta["onnx"]["exported"] is True and meta["features"][0] == "mean_radius"
    assert project.registry.state().aliases == {"production": 1}
    doc = json.loads((project.results / "deploy.json").read_text())
    assert doc["kind"] == "deploy" and doc["passed"] is True and doc["status"] == "deployed"
    assert doc["smoke_test"]["passed"] is True and doc["smoke_test"]["rows"] == 20
    assert doc["smoke_test"]["format"] == "onnx" and doc["smoke_test"]["label_mismatch"] == 0.0
    assert [e["event"] for e in project.registry.state().history] == ["register", "promote"]


def test_rerun_for_the_same_commit_is_a_no_op(project: Project) -> None:
    cfg = project.config()
    deploy(cfg, results_dir=project.results, runtime=Runtime())
    again = deploy(cfg, results_dir=project.results, runtime=Runtime())
    assert again.status == "unchanged" and again.version == 1
    assert [v.version for v in project.registry.versions()] == [1]
    assert len(project.registry.state().history) == 2


def test_unblessed_model_is_refused_with_reason_in_summary(project: Project, gh_env) -> None:
    project.config()
    project.bless(False)
    code = main(["deploy", "--results", str(project.results)])
    assert code == 1
    assert project.registry.versions() == []
    summary = gh_env.summary_text()
    assert "## mlci deploy: deploy refused; production is unchanged" in summary
    assert "the model is not blessed: accuracy 0.80 &lt; min 0.90" in summary
    doc = json.loads((project.results / "deploy.json").read_text())
    assert doc["passed"] is False and doc["findings"][0]["check"] == "not_blessed"
    assert "deployed=false" in gh_env.outputs()


def test_a_different_model_file_than_the_blessed_one_is_refused(project: Project) -> None:
    project.bless(digest="sha256:" + "0" * 64)
    with pytest.raises(
        ValidationFailed,
        match=r"model.skops \(sha256 [0-9a-f]{12}\) is not the model that was blessed",
    ):
        deploy(project.config(), results_dir=project.results, runtime=Runtime())
    assert project.registry.versions() == []


def _deploy_second(
    project: Project, cfg: Config, monkeypatch: pytest.MonkeyPatch, sha: str = SHA2
) -> None:
    project.train(0.01)
    project.bless(acc=0.91)
    monkeypatch.setenv("MLCI_GIT_SHA", sha)


def test_failing_deploy_step_leaves_production_and_rerun_resumes(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    _deploy_second(project, project.config(), monkeypatch)
    failing = project.config('  command: "echo deploying $MLCI_MODEL_VERSION; exit 3"\n')
    with pytest.raises(
        DeployError, match="deploy.command: exited with code 3; production was not changed"
    ):
        deploy(failing, results_dir=project.results, runtime=Runtime())
    state = project.registry.state()
    assert state.production == 1
    assert [e["event"] for e in state.history][-2:] == ["register", "deploy_failed"]
    assert json.loads((project.results / "deploy.json").read_text())["status"] == "failed"
    fixed = project.config('  command: "true"\n')
    out = deploy(fixed, results_dir=project.results, runtime=Runtime())
    assert (out.status, out.version, out.previous) == ("deployed", 2, 1)
    assert [v.version for v in project.registry.versions()] == [1, 2]  # resumed, not re-registered
    assert (
        json.loads((project.results / "deploy.json").read_text())["findings"][0]["check"]
        == "resumed"
    )


@pytest.mark.slow
def test_killed_between_register_and_promote_leaves_production_unchanged(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    _deploy_second(project, project.config(), monkeypatch)
    # The deploy step runs after register and before promote: kill mlci itself, hard.
    project.config('  command: "kill -9 $PPID"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "mlci", "deploy", "--results", str(project.results)],
        cwd=project.root,
        env={**os.environ, "MLCI_GIT_SHA": SHA2},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    state = project.registry.state()
    assert state.production == 1
    assert [v.version for v in project.registry.versions()] == [1, 2]
    assert [e["event"] for e in state.history] == ["register", "promote", "register"]
    out = deploy(
        project.config('  command: "true"\n'), results_dir=project.results, runtime=Runtime()
    )
    assert (out.status, out.version) == ("deployed", 2)
    assert project.registry.state().production == 2


def test_command_gets_model_path_version_and_metadata(project: Project) -> None:
    cfg = project.config('  command: "env | grep ^MLCI_ | sort > deploy-env.txt"\n')
    deploy(cfg, results_dir=project.results, runtime=Runtime())
    env = dict(
        line.split("=", 1) for line in (project.root / "deploy-env.txt").read_text().splitlines()
    )
    assert env["MLCI_MODEL_VERSION"] == "1" and env["MLCI_DEPLOY_ACTION"] == "deploy"
    assert env["MLCI_MODEL_PATH"].endswith("model.onnx")
    assert env["MLCI_MODEL_FILE"].endswith("model.skops")
    assert env["MLCI_MODEL_METADATA"].endswith("metadata.json")
    assert env["MLCI_PREVIOUS_VERSION"] == ""
    assert env["MLCI_REGISTRY"].startswith("local:")


def test_webhook_is_signed_and_retried(
    project: Project, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(step_mod, "WEBHOOK_BACKOFF_S", 0.01)
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    monkeypatch.setenv("HOOK_HOST", f"127.0.0.1:{httpserver.port}")
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response("busy", status=503) if len(seen) < 3 else Response("ok", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    cfg = project.config(
        "  webhook:\n    url: http://${HOOK_HOST}/hook\n    secret_env: HOOK_SECRET\n    retries: 3\n"
    )
    out = deploy(cfg, results_dir=project.results, runtime=Runtime())
    assert out.status == "deployed"
    assert len(seen) == 3
    body = seen[-1].get_data()
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert seen[-1].headers["X-Mlci-Signature-256"] == expected
    assert len({r.headers["X-Mlci-Delivery"] for r in seen}) == 1
    payload = json.loads(body)
    assert payload["event"] == "deploy" and payload["version"] == 1
    assert payload["metrics"]["accuracy"] == 0.95
    doc = json.loads((project.results / "deploy.json").read_text())
    assert doc["deploy_step"]["webhook"]["attempts"] == 3


def test_webhook_4xx_fails_at_once_and_production_stays(
    project: Project, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook").respond_with_data("nope", status=401)
    cfg = project.config(f"  webhook:\n    url: {httpserver.url_for('/hook')}\n")
    with pytest.raises(DeployError, match="refused the delivery \\(HTTP 401"):
        deploy(cfg, results_dir=project.results, runtime=Runtime())
    assert len(httpserver.log) == 1
    assert project.registry.state().production is None


def test_webhook_connection_errors_are_retried_then_fail(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setattr(step_mod, "WEBHOOK_BACKOFF_S", 0.01)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    cfg = project.config(f"  webhook:\n    url: http://127.0.0.1:{port}/hook\n    retries: 2\n")
    with pytest.raises(DeployError, match=r"failed after 3 attempt\(s\) \(last: ConnectionError\)"):
        deploy(cfg, results_dir=project.results, runtime=Runtime())
    assert project.registry.state().production is None
    assert project.registry.state().history[-1]["event"] == "deploy_failed"


def test_webhook_missing_secret_is_a_clear_error(project: Project) -> None:
    cfg = project.config(
        "  webhook:\n    url: http://127.0.0.1:9/hook\n    secret_env: NOPE_SECRET\n"
    )
    with pytest.raises(DeployError, match="NOPE_SECRET is not set"):
        deploy(cfg, results_dir=project.results, runtime=Runtime())


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/hook", "${HOOK}"])
def test_webhook_url_must_be_http(project: Project, monkeypatch: pytest.MonkeyPatch, url) -> None:
    monkeypatch.setenv("HOOK", "gopher://example.com/")
    cfg = project.config(f"  webhook:\n    url: {url}\n")
    with pytest.raises(InputError, match="deploy.webhook.url: .* is not an http"):
        deploy(cfg, results_dir=project.results, runtime=Runtime())
    assert project.registry.state().production is None


def test_rollback_and_rollback_to(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    _deploy_second(project, project.config(), monkeypatch)
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    cfg = project.config(
        '  command: "echo $MLCI_DEPLOY_ACTION $MLCI_MODEL_VERSION >> actions.txt"\n'
    )
    out = rollback(cfg, results_dir=project.results, runtime=Runtime())
    assert (out.status, out.version, out.previous) == ("rolled_back", 1, 2)
    state = project.registry.state()
    assert state.production == 1 and state.history[-1]["event"] == "rollback"
    assert state.history[-1]["from"] == 2
    with pytest.raises(Exception, match="no earlier blessed production version"):
        rollback(cfg, results_dir=project.results, runtime=Runtime())
    assert main(["rollback", "--to", "2"]) == 0
    assert project.registry.state().production == 2
    assert (project.root / "actions.txt").read_text().split("\n")[:2] == [
        "rollback 1",
        "rollback 2",
    ]
    assert "production rolled back from v1 to v2" in capsys.readouterr().out


def test_rollback_refuses_unblessed_version(project: Project) -> None:
    cfg = project.config()
    deploy(cfg, results_dir=project.results, runtime=Runtime())
    model = project.root / "model.skops"
    project.registry.register(
        {"model.skops": model},
        {"model_file": "model.skops", "blessing": {"blessed": False, "reason": "worse"}},
    )
    with pytest.raises(ValidationFailed, match="v2 is not blessed \\(worse\\)"):
        rollback(cfg, to="2", results_dir=project.results, runtime=Runtime())


def test_smoke_test_catches_a_service_that_answers_differently(
    project: Project, tmp_path: Path
) -> None:
    cfg = project.config()
    deploy(cfg, results_dir=project.results, runtime=Runtime())
    version = project.registry.get(1)
    folder = project.registry.download(1, tmp_path / "v1")
    other = train_classifier(tmp_path / "other", c=0.0005)  # a much more regularized model
    result = _smoke_test(
        cfg, version=version, model_dir=folder, original=other, sample=eval_frame()
    )
    assert result["passed"] is False
    assert any("probabilities differ by up to" in p for p in result["problems"])


def test_smoke_failure_in_deploy_keeps_production(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    other = train_classifier(tmp_path / "other", c=0.0005)
    other_onnx = tmp_path / "other.onnx"
    assert export_onnx(load_model(other), eval_frame().drop(columns="target"), other_onnx).passed

    class CorruptingRegistry(LocalRegistry):
        """Storage that hands back a different model than was registered."""

        def download(self, version: int, dest: Path) -> Path:
            out = super().download(version, dest)
            shutil.copyfile(other_onnx, out / "model.onnx")
            return out

    _deploy_second(project, project.config(), monkeypatch)
    reg = CorruptingRegistry(project.root / "registry")
    with pytest.raises(
        ValidationFailed, match="smoke test failed: .*labels differ.*probabilities differ by up to"
    ):
        deploy(project.config(), results_dir=project.results, runtime=Runtime(), registry=reg)
    state = project.registry.state()
    assert state.production == 1
    assert state.history[-1]["event"] == "deploy_failed"
    doc = json.loads((project.results / "deploy.json").read_text())
    assert doc["passed"] is False and doc["smoke_test"]["passed"] is False


def test_registry_cli_list_show_pull(project: Project, capsys, tmp_path: Path) -> None:
    project.config()
    assert main(["deploy"]) == 0
    capsys.readouterr()
    assert main(["registry", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "version",
        "created",
        "commit",
        "blessed",
        "aliases",
        "accuracy",
        "roc_auc",
    ]
    assert out[1].split()[0] == "v1" and out[1].split()[2:] == [
        "1111111",
        "yes",
        "production",
        "0.95",
        "0.99",
    ]
    assert main(["registry", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["version"] == 1 and rows[0]["metrics"]["accuracy"] == 0.95
    assert main(["registry", "show", "production"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["aliases"] == ["production"] and shown["metadata"]["git_sha"] == SHA1
    assert main(["registry", "pull", "v1", "-o", str(tmp_path / "pulled")]) == 0
    assert (tmp_path / "pulled" / "model.onnx").is_file()
    assert main(["registry", "show", "9"]) == 2
    assert "no version 9" in capsys.readouterr().err


@pytest.mark.slow
def test_deploy_to_github_releases_writes_summary_with_changes(
    project: Project, fake_github, gh_env, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    project.config()
    assert main(["deploy", "--results", str(project.results), "--registry", "github"]) == 0
    _deploy_second(project, project.config(), monkeypatch)
    assert main(["deploy", "--results", str(project.results), "--registry", "github"]) == 0
    releases = {r["tag_name"]: r for r in fake_github.releases()}
    assert {"model-v1", "model-v2", "model-registry"} <= set(releases)
    assert sorted(a["name"] for a in releases["model-v2"]["assets"]) == [
        "metadata.json",
        "model.onnx",
        "model.skops",
    ]
    assert "- production: model-v2" in releases["model-registry"]["body"]
    summary = gh_env.summary_text()
    assert "## mlci deploy: model v2 is in production" in summary
    assert "### Metrics: v1 → v2" in summary
    assert "| accuracy | 0.95 | 0.91 | -0.04 |" in summary
    assert "version=2" in gh_env.outputs() and "deployed=true" in gh_env.outputs()
    assert main(["registry", "list", "--registry", "github", "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out[out.index("[") :])
    assert [r["version"] for r in rows] == [1, 2] and rows[1]["aliases"] == ["production"]


def test_lineage_records_the_merged_pull_request(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"head_commit": {"message": "Better model (#17)"}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    assert project.registry.get(1).metadata["pr"] == 17


@pytest.mark.parametrize(
    ("message", "pr"),
    [
        ("Merge pull request #4 from octo/x\n\nbody", 4),
        ("Fix (#9)\n\n* details (#3)", 9),
        ("wip", None),
    ],
)
def test_merged_pr_from_commit_message(tmp_path: Path, message: str, pr: int | None) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"head_commit": {"message": message}}))
    assert register_mod._merged_pr(Runtime(env={"GITHUB_EVENT_PATH": str(event)})) == pr


def test_a_push_event_of_the_wrong_shape_is_refused_not_ignored(tmp_path: Path) -> None:
    from mlci.errors import InputError

    event = tmp_path / "event.json"
    event.write_text(json.dumps({"head_commit": {"message": ["Merge pull request #4"]}}))
    with pytest.raises(InputError, match=r"event.json: head_commit.message: expected a string"):
        register_mod._merged_pr(Runtime(env={"GITHUB_EVENT_PATH": str(event)}))


def test_smoke_test_without_the_serve_extra_fails_cleanly(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlci.errors import InputError

    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(InputError, match=r"uvicorn is missing\); reinstall mlci"):
        deploy(project.config(), results_dir=project.results, runtime=Runtime())
    state = project.registry.state()
    assert state.production is None and state.history[-1]["event"] == "deploy_failed"
    assert json.loads((project.results / "deploy.json").read_text())["status"] == "failed"


def test_rollback_smoke_tests_the_version_it_moves_to(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    _deploy_second(project, project.config(), monkeypatch)
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    out = rollback(project.config(), results_dir=project.results, runtime=Runtime())
    assert out.status == "rolled_back"
    doc = json.loads((project.results / "deploy.json").read_text())
    assert doc["smoke_test"]["passed"] is True and doc["smoke_test"]["format"] == "onnx"
    # A version whose served file answers differently from its model file is refused.
    other = train_classifier(project.root / "other", c=0.0005)
    bad_onnx = project.root / "other" / "model.onnx"
    frame = eval_frame().drop(columns="target")
    assert export_onnx(load_model(other), frame, bad_onnx).passed
    blessing = {"blessed": True, "reason": "all gates passed"}
    broken = project.registry.register(
        {"model.skops": project.root / "model.skops", "model.onnx": bad_onnx},
        {"model_file": "model.skops", "onnx_file": "model.onnx", "blessing": blessing},
    )
    with pytest.raises(ValidationFailed, match="rollback stopped: smoke test failed"):
        rollback(
            project.config(), to=str(broken.version), results_dir=project.results, runtime=Runtime()
        )
    state = project.registry.state()
    assert state.production == 1 and state.history[-1]["event"] == "deploy_failed"


def test_smoke_test_sends_rows_with_nulls_when_the_reference_has_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import skops.io as sio
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = eval_frame()
    frame.loc[[25, 40, 60], "mean_texture"] = np.nan  # none in the first 20 rows
    root = tmp_path / "proj"
    build_file_tree(root, {"eval.csv": frame.to_csv(index=False)})
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(frame.drop(columns="target"), frame["target"])
    sio.dump(model, root / "model.skops")
    proj = Project(root, root / "mlci-results")
    proj.bless()
    monkeypatch.setenv("MLCI_GIT_SHA", SHA1)
    monkeypatch.chdir(root)
    out = deploy(proj.config(), results_dir=proj.results, runtime=Runtime())
    assert out.status == "deployed"
    doc = json.loads((proj.results / "deploy.json").read_text())
    assert doc["smoke_test"]["passed"] is True
    assert doc["smoke_test"]["rows"] == 20 and doc["smoke_test"]["rows_with_nulls"] == 3
    columns = proj.registry.get(1).metadata["input_schema"]["columns"]
    assert all(c["nullable"] is True for c in columns)


# -- every reader verifies a version's files against the registry's record ----------------


def _two_versions(project: Project, monkeypatch: pytest.MonkeyPatch) -> Path:
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    _deploy_second(project, project.config(), monkeypatch)
    deploy(project.config(), results_dir=project.results, runtime=Runtime())
    return project.root / "registry" / "versions"


def test_readers_refuse_a_version_holding_another_versions_files(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    versions = _two_versions(project, monkeypatch)
    for name in ("model.skops", "model.onnx"):
        shutil.copyfile(versions / "v1" / name, versions / "v2" / name)
    capsys.readouterr()
    pulled = tmp_path / "pulled"
    for argv in (
        ["registry", "pull", "production", "-o", str(pulled)],
        ["validate-model"],  # the baseline is production, v2
        ["serve", "--port", "0"],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert "mlci: error: registry registry: version 2: model.onnx has sha256 " in err
        assert "the file was changed or replaced, restore it or register the model again" in err
    assert not pulled.exists()


def test_readers_refuse_a_version_whose_model_files_were_deleted(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path: Path
) -> None:
    versions = _two_versions(project, monkeypatch)
    (versions / "v1" / "model.skops").unlink()
    (versions / "v1" / "model.onnx").unlink()
    capsys.readouterr()
    for argv in (["registry", "pull", "v1", "-o", str(tmp_path / "p")], ["rollback"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "version 1: model.onnx is missing; the version is damaged" in err
    assert project.registry.state().production == 2


def test_rollback_refuses_metadata_of_the_wrong_type(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    versions = _two_versions(project, monkeypatch)
    meta_path = versions / "v1" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["metrics"] = ["accuracy"]
    meta["blessing"] = "yes"
    meta_path.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["rollback"]) == 2
    err = capsys.readouterr().err
    assert (
        "version 1: metadata metrics: expected an object of metric names to numbers, got a list;"
        " blessing: expected an object with blessed: true or false, got 'yes'" in err
    )
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("9" * 5000, "a version number has at most 9 digits"),
        ("v" + "1" * 12, "a version number has at most 9 digits"),
        ("pro duction\n", "expected a version number (3, v3) or an alias"),
    ],
)
def test_rollback_to_refuses_bad_version_arguments(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys, ref: str, message: str
) -> None:
    _two_versions(project, monkeypatch)
    capsys.readouterr()
    assert main(["rollback", "--to", ref]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err) < 400


@pytest.mark.slow
def test_deploys_never_go_backwards_and_the_same_model_registers_nothing(
    project: Project, fake_github, gh_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", fake_github.token)
    fake_github.add_ref("heads/main", SHA1)
    fake_github.add_ref("heads/main", SHA2)  # SHA2 is a child of SHA1
    project.config()
    argv = ["deploy", "--results", str(project.results), "--registry", "github"]
    assert main(argv) == 0  # v1 from SHA1
    _deploy_second(project, project.config(), monkeypatch)
    assert main(argv) == 0  # v2 from SHA2
    # A push that changed only the README: same model, new commit -> nothing at all.
    monkeypatch.setenv("MLCI_GIT_SHA", "c" * 40)
    assert main(argv) == 0
    doc = json.loads((project.results / "deploy.json").read_text())
    assert doc["status"] == "unchanged" and "same model" in doc["findings"][0]["message"]
    # A re-run of the old deploy of SHA1 (another model): production is newer.
    project.train(0.02)
    project.bless(acc=0.9)
    monkeypatch.setenv("MLCI_GIT_SHA", SHA1)
    assert main(argv) == 0
    doc = json.loads((project.results / "deploy.json").read_text())
    assert doc["status"] == "unchanged"
    assert "production is newer" in doc["findings"][0]["message"]
    assert fake_github.requests_to("GET", rf"/compare/{SHA2}\.\.\.{SHA1}$")
    tags = {r["tag_name"] for r in fake_github.releases()}
    assert tags == {"model-v1", "model-v2", "model-registry"}
    assert "- production: model-v2" in next(
        r["body"] for r in fake_github.releases() if r["tag_name"] == "model-registry"
    )
