"""The continuous-training loop, end to end, as one chain.

Production version 1 is served by the real ``mlci serve --log-dir`` process on a
loopback socket. A drifted batch (a new scanner reads texture and worst area higher)
goes through ``POST /predict``; its delayed labels come back joined by the
``request_id`` each answer carried. ``mlci monitor --current LOGDIR`` reads the log,
opens the drift issue on the fake GitHub and dispatches ``mlci-retrain.yml``. The
dispatched workflow's command, ``mlci retrain``, trains on what production logged
(brought to the runner by ``retrain.data_command``) and opens the retrain pull request:
one Git Data commit with the challenger and ``.mlci/retrain.json``. Its merge is checked
by the pull-request pipeline without retraining and deployed by the deploy pipeline:
production's sha256 is the sha256 of the model the pull request committed. Then the
loop turns once more: the service answers as version 2 with that file, logs a later
batch from the new scanner into the same folder, and the monitor judges version 2 on
it against the data version 2 was trained for (the profile its retrain recorded, not
``data.reference``): no drift, the drift and accuracy issues close, no second retrain
starts, and the next scheduled ``mlci retrain`` finds no drift and proposes nothing: the
loop settles.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from mlci.cli import main
from mlci.config import load_config
from mlci.errors import EXIT_OK
from mlci.jsonio import loads
from mlci.model.committed import RECORD_PATH, REFERENCE_PATH
from mlci.pipelines.monitor import ISSUE_LABEL, ISSUE_MARKER
from mlci.registry import open_registry
from mlci.registry.reference import REFERENCE_FILE
from tests.pipelines import ct_project
from tests.pipelines.ct_project import github, results, write_config

ct_template = ct_project.ct_template
project = ct_project.project

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}

#: The project's own way to bring production to the retrain runner (``retrain.data_command``):
#: the logged features joined with their delayed labels, as training rows.
EXPORT_PY = '''\
"""Write what production answered, with its delayed labels, as training rows."""
import os
from pathlib import Path

import pandas as pd

logged = pd.concat(pd.read_parquet(p) for p in sorted(Path("logs").glob("*.parquet")))
labels = pd.read_csv("data/labels.csv")
rows = logged.merge(labels, on=["request_id", "row"], how="inner", validate="one_to_one")
columns = list(pd.read_csv("data/reference.csv", nrows=0).columns)
out = Path(os.environ["MLCI_RETRAIN_DATA_DIR"]) / "production.csv"
rows[columns].to_csv(out, index=False)
print(f"{len(rows)} labelled production rows")
'''


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    return out.stdout.strip()


def _commit(root: Path, message: str) -> None:
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(root: Path, batch: pd.DataFrame, version: int) -> tuple[pd.DataFrame, Any]:
    """Serve production with logging on, send ``batch`` by 20 rows.

    Returns:
        The delayed labels to join (``request_id``, ``row``, ``id``, ``target``) and what
        the service's ``GET /metadata`` said.
    """
    port = _free_port()
    command = [sys.executable, "-m", "mlci", "serve", "--config", str(root / "mlci.yaml")]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--log-dir", "logs"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    labels = []
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                requests.get(f"{url}/health", timeout=1)
                break
            # Not ready yet: refused before the port is bound, or no answer within the
            # probe's second while the process still imports and loads the model (as a
            # readiness probe counts a timeout as not ready, and asks again).
            except (requests.ConnectionError, requests.Timeout):
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        metadata = requests.get(f"{url}/metadata", timeout=30).json()
        for start in range(0, len(batch), 20):
            chunk = batch.iloc[start : start + 20]
            records = chunk.drop(columns=["id", "target"]).to_dict(orient="records")
            answer = requests.post(f"{url}/predict", json={"records": records}, timeout=30)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["model_version"] == version
            labels.append(
                pd.DataFrame(
                    {
                        "request_id": body["request_id"],
                        "row": range(len(chunk)),
                        "id": chunk["id"].to_numpy(),
                        "target": chunk["target"].to_numpy(),
                    }
                )
            )
    finally:
        proc.terminate()  # a graceful stop finishes the open log file
        out, _ = proc.communicate(timeout=60)
    assert "logging predictions to logs" in out
    return pd.concat(labels, ignore_index=True), metadata


def _monitor(root: Path) -> int:
    config = str(root / "mlci.yaml")
    return main(
        [
            "monitor",
            "--config",
            config,
            "--results",
            "mlci-results",
            "--current",
            "logs",
            "--since",
            "1d",
        ]
    )


def _run(root: Path, pipeline: str) -> int:
    return main(["run", pipeline, "--config", str(root / "mlci.yaml"), "--results", "mlci-results"])


def _drift_issues(fake: Any) -> list[dict[str, Any]]:
    marker = ISSUE_MARKER.format(key="default", problem="data-drift")
    return [
        i
        for i in fake.issues()
        if ISSUE_LABEL in {lb["name"] for lb in i["labels"]} and marker in (i["body"] or "")
    ]


def _off_github(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GITHUB_REPOSITORY", "GITHUB_TOKEN", "GITHUB_SERVER_URL", "GITHUB_RUN_ID"):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.slow
def test_served_drift_is_retrained_proposed_merged_and_deployed(
    project: Path, fake_github: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # -- the repository: production v1 deployed; logs and labels live outside git
    monkeypatch.delenv("MLCI_GIT_SHA")  # the commits below are the lineage
    (project / ".gitignore").write_text(
        "mlci-results/\nrt/\n.mlci/registry/\nlogs/\ndata/labels.csv\n", encoding="utf-8"
    )
    (project / "export_production.py").write_text(EXPORT_PY, encoding="utf-8")
    write_config(
        project,
        {
            "data": {"current": "data/reference.csv"},
            "monitor": {"labels": "data/labels.csv", "trigger_retrain": True},
            "retrain": {"data_command": f"{sys.executable} export_production.py"},
        },
    )
    _git(project, "init", "-q", "-b", "main")
    _commit(project, "the project, production v1")
    champion = (project / "model.skops").read_bytes()

    # -- production answers a drifted batch and logs it
    drifted = pd.read_csv(project / "data" / "batch2.csv")
    labels, _ = _serve(project, drifted, 1)
    assert list((project / "logs").glob("*.parquet"))
    assert not list((project / "logs").glob("*.part"))
    labels.to_csv(project / "data" / "labels.csv", index=False)

    # -- the scheduled monitor reads the log: the drift issue, the retrain dispatched
    github(monkeypatch, fake_github)
    fake_github.settings(actions_can_create_pulls=True)
    code = _monitor(project)
    doc = results(project, "monitor")
    assert code == (1 if any(p["severity"] == "error" for p in doc["problems"]) else 0)
    assert doc["rows"] == len(drifted)
    assert doc["version_judged"] == 1 and [v["version"] for v in doc["versions"]] == [1]
    assert doc["versions"][0]["labelled"] == len(drifted)
    drifted_columns = {c["column"] for c in doc["drift"]["columns"] if c["drifted"]}
    assert {"mean_texture", "worst_area"} <= drifted_columns
    assert doc["live_metrics"]["accuracy"] is not None
    (issue,) = _drift_issues(fake_github)
    assert issue["state"] == "open"
    assert "mean\\_texture" in issue["body"] or "mean_texture" in issue["body"]
    assert "(reference: data.reference)" in issue["body"]  # what the data was compared with
    assert fake_github.dispatches() == [
        {"workflow_id": "mlci-retrain.yml", "ref": "main", "inputs": {}}
    ]
    assert "data-drift" in doc["retrain_dispatch"]["problems"]

    # -- the dispatched mlci-retrain.yml runs `mlci retrain`: it trains on production
    assert main(["retrain", "--config", str(project / "mlci.yaml"), "--results", "rt"]) == 0
    record_doc = loads((project / "rt" / "retrain.json").read_bytes())
    assert record_doc["decision"]["retrain"] is True
    assert "mean_texture" in record_doc["decision"]["reason"]
    (pr,) = fake_github.pulls()
    assert pr["state"] == "open" and pr["base"]["ref"] == "main"
    assert "Compared with: data.reference" in pr["body"]
    commits = fake_github.requests_to("POST", r"/git/commits$")
    assert len(commits) == 1 and commits[0].json["parents"] == [fake_github.refs()["heads/main"]]
    assert pr["head"]["sha"] == fake_github.refs()[f"heads/{pr['head']['ref']}"]
    base = fake_github.files(branch="main")
    head = fake_github.files(branch=pr["head"]["ref"])
    changed = {p for p in head if base.get(p) != head[p]} | (set(base) - set(head))
    assert changed == {"model.skops", RECORD_PATH, REFERENCE_PATH}
    assert record_doc["reference"]["source"] == "data.reference"  # v1 records none
    committed = head["model.skops"]
    assert committed != champion
    record = loads(head[RECORD_PATH])
    challenger = record["challenger"]["hash"]
    assert record["blessing"]["blessed"] is True
    fresh_profile = loads(head[REFERENCE_PATH])
    assert fresh_profile["rows"] == len(drifted)  # what the retrain trained on, beside the record
    assert record["reference"] == {
        "path": REFERENCE_PATH,
        "hash": f"sha256:{hashlib.sha256(head[REFERENCE_PATH]).hexdigest()}",
    }
    # The retrain ran on the workflow's runner: this checkout still holds the champion.
    (project / "model.skops").write_bytes(champion)
    _off_github(monkeypatch)

    # -- the pull request's check, on its merge commit: validated as committed, not retrained
    for name in ("model.skops", RECORD_PATH, REFERENCE_PATH):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes(head[name])
    _commit(project, f"Merge pull request #{pr['number']} from {pr['head']['ref']}")
    capsys.readouterr()
    assert _run(project, "pr") == EXIT_OK
    assert "carries a retrained model" in capsys.readouterr().out
    assert (project / "model.skops").read_bytes() == committed  # no train step overwrote it
    model_doc = results(project, "model")
    assert model_doc["passed"] is True
    assert model_doc["provenance"]["model"]["candidate"]["hash"] == challenger
    assert model_doc["retrain_record"]["hash"] == challenger

    # -- after the merge, the deploy pipeline deploys exactly the pull request's model
    assert _run(project, "deploy") == EXIT_OK
    assert "carries a retrained model" in capsys.readouterr().out
    registry = open_registry(load_config(project / "mlci.yaml"), backend="local")
    production = registry.get(registry.state().production or 0)
    assert production.version == 2
    pr_model = f"sha256:{hashlib.sha256(committed).hexdigest()}"
    assert f"sha256:{production.model_hash}" == pr_model == challenger
    assert production.metadata["retrain_record"]["blessing"]["blessed"] is True
    assert production.git_sha == _git(project, "rev-parse", "HEAD")
    # The profile of the data v2 was trained on is its drift reference, hash-verified.
    assert production.metadata["data"]["reference"]["file"] == REFERENCE_FILE
    ref_hash = hashlib.sha256(head[REFERENCE_PATH]).hexdigest()
    assert production.metadata["hashes"][REFERENCE_FILE] == ref_hash

    # -- the next commit changes code, not the record: it trains again as usual
    (project / "README.md").write_text("a human's change\n", encoding="utf-8")
    _commit(project, "docs")
    assert _run(project, "pr") == EXIT_OK
    assert "carries a retrained model" not in capsys.readouterr().out

    # -- production answers with the pull request's model; the monitor judges it
    later = pd.read_csv(project / "data" / "batch1.csv")  # the new scanner, a later batch
    for column, factor in zip(ct_project.SHIFTED, (1.6, 1.8), strict=True):
        later[column] *= factor
    more, served = _serve(project, later, 2)
    assert f"sha256:{served['metadata']['hashes']['model.skops']}" == challenger
    pd.concat([labels, more]).to_csv(project / "data" / "labels.csv", index=False)
    github(monkeypatch, fake_github)
    assert _monitor(project) == EXIT_OK
    doc = results(project, "monitor")
    versions = {v["version"]: v for v in doc["versions"]}
    assert doc["version_judged"] == 2 and sorted(versions) == [1, 2]
    assert doc["reference"] == {"source": "training data of v2", "version": 2, "rows": len(drifted)}
    assert not [p for p in doc["problems"] if p["key"] == "data-drift"], doc["problems"]
    # v1's rows are still judged against v1's reference (data.reference): they drifted.
    assert versions[1]["reference"] == "data.reference" and "mean_texture" in versions[1]["drifted"]
    assert versions[2]["reference"] == "training data of v2" and not versions[2]["drifted"]
    assert versions[2]["labelled"] == len(later) and versions[1]["labelled"] == len(drifted)
    assert not [p for p in doc["problems"] if p["severity"] == "error"]
    issues = {i["title"]: i["state"] for i in fake_github.issues()}
    assert issues["mlci monitor: live accuracy fails its gate"] == "closed"
    (issue,) = _drift_issues(fake_github)
    assert issue["state"] == "closed"  # judged against v2's training data: no drift
    assert len(fake_github.dispatches()) == 1  # no new problem: no second retrain

    # -- the next scheduled retrain: production's data is what v2 was trained for
    capsys.readouterr()
    assert main(["retrain", "--config", str(project / "mlci.yaml"), "--results", "rt2"]) == 0
    again = loads((project / "rt2" / "retrain.json").read_bytes())
    assert again["reference"]["source"] == "training data of v2"
    assert again["decision"]["retrain"] is False, again["decision"]
    assert again["outcome"] == "skipped"
    assert len(fake_github.pulls()) == 1  # no second pull request
