"""Production feeds the monitor: serve with logging, a drifted batch, an issue and a retrain.

The real service runs as a process on a loopback socket with ``--log-dir``; the drifted
batch goes through ``POST /predict``; its delayed labels arrive by the ``request_id``
the service returned; ``mlci monitor --current LOGDIR`` reads the log, opens the drift
issue on the fake GitHub and dispatches ``mlci-retrain.yml``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from mlci.cli import main
from mlci.pipelines.monitor import ISSUE_LABEL, ISSUE_MARKER
from tests.pipelines import ct_project
from tests.pipelines.ct_project import github, results, write_config

ct_template = ct_project.ct_template
project = ct_project.project


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_batches(root: Path, batches: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Serve production (v1) with logging on; send each batch; stop; the labels to join."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlci",
            "serve",
            "--config",
            str(root / "mlci.yaml"),
            "--port",
            str(port),
            "--log-dir",
            "logs",
        ],
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
            except requests.ConnectionError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        for frame in batches:
            for start in range(0, len(frame), 20):
                chunk = frame.iloc[start : start + 20]
                records = chunk.drop(columns=["id", "target"]).to_dict(orient="records")
                answer = requests.post(f"{url}/predict", json={"records": records}, timeout=30)
                assert answer.status_code == 200, answer.text
                body = answer.json()
                assert body["model_version"] == 1
                labels.append(
                    pd.DataFrame(
                        {
                            "request_id": body["request_id"],
                            "row": range(len(chunk)),
                            "target": chunk["target"].to_numpy(),
                        }
                    )
                )
    finally:
        proc.terminate()  # a graceful stop finishes the open log file
        out, _ = proc.communicate(timeout=60)
    assert "logging predictions to logs" in out
    return labels


@pytest.mark.slow
def test_served_drift_opens_an_issue_and_dispatches_the_retrain(
    project: Path, fake_github, monkeypatch: pytest.MonkeyPatch
) -> None:
    drifted = pd.read_csv(project / "data" / "batch2.csv")
    labels = _serve_batches(project, [drifted])
    assert list((project / "logs").glob("*.parquet"))
    assert not list((project / "logs").glob("*.part"))
    pd.concat(labels).to_csv(project / "data" / "labels.csv", index=False)

    github(monkeypatch, fake_github)
    write_config(project, {"monitor": {"labels": "data/labels.csv", "trigger_retrain": True}})
    code = main(
        [
            "monitor",
            "--config",
            str(project / "mlci.yaml"),
            "--results",
            "mlci-results",
            "--current",
            str(project / "logs"),
            "--since",
            "1d",
        ]
    )

    doc = results(project, "monitor")
    assert code == (1 if any(p["severity"] == "error" for p in doc["problems"]) else 0)
    assert doc["rows"] == len(drifted)
    assert doc["version_judged"] == 1 and [v["version"] for v in doc["versions"]] == [1]
    assert doc["versions"][0]["labelled"] == len(drifted)
    drifted_columns = {c["column"] for c in doc["drift"]["columns"] if c["drifted"]}
    assert {"mean_texture", "worst_area"} <= drifted_columns
    assert doc["live_metrics"]["accuracy"] is not None
    # the drift issue, on the fake GitHub
    marker = ISSUE_MARKER.format(key="default", problem="data-drift")
    ours = [
        i
        for i in fake_github.issues()
        if ISSUE_LABEL in {lb["name"] for lb in i["labels"]} and marker in (i["body"] or "")
    ]
    assert len(ours) == 1 and ours[0]["state"] == "open"
    assert "mean\\_texture" in ours[0]["body"] or "mean_texture" in ours[0]["body"]
    # the retrain, dispatched once
    assert fake_github.dispatches() == [
        {"workflow_id": "mlci-retrain.yml", "ref": "main", "inputs": {}}
    ]
    assert "data-drift" in doc["retrain_dispatch"]["problems"]
