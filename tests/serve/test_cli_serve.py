from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mlci.cli import main
from mlci.errors import InputError
from mlci.serve.app import require_stack
from tests.serve.helpers import eval_frame, train_classifier


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_mlci_serve_model_file_as_a_process(tmp_path: Path) -> None:
    model = train_classifier(tmp_path)
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlci",
            "serve",
            "--model",
            str(model),
            "--port",
            str(port),
            "--log-dir",
            "predlog",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a shell's job is
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"{url}/health", timeout=1)
                break
            except (requests.ConnectionError, requests.Timeout):  # not ready yet: ask again
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert health.json()["format"] == "skops"
        rows = eval_frame().drop(columns="target").head(3).to_dict(orient="records")
        body = requests.post(f"{url}/predict", json={"records": rows}, timeout=10).json()
        assert len(body["predictions"]) == 3 and body["classes"] == [0, 1]
        metrics = requests.get(f"{url}/metrics", timeout=10).text
        assert 'mlci_predicted_rows_total{model_version=""} 3.0' in metrics
    finally:
        # ^C at a terminal: SIGINT to the whole job. uvicorn shuts down gracefully and
        # closes the log, whose writer process (in a session of its own) finishes the file.
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert f"(skops) on http://127.0.0.1:{port}" in out
    assert "logging predictions to predlog" in out
    import pyarrow.parquet as pq

    files = list((tmp_path / "predlog").glob("*.parquet"))
    assert len(files) == 1 and not list((tmp_path / "predlog").glob("*.part"))
    logged = pq.read_table(files[0])
    assert logged.num_rows == 3
    assert logged.column("request_id").to_pylist() == [body["request_id"]] * 3


def test_log_dir_that_cannot_be_written_is_a_clear_error(tmp_path: Path, capsys) -> None:
    model = train_classifier(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["serve", "--model", str(model), "--log-dir", str(blocker / "sub")]) == 2
    assert f"--log-dir {blocker / 'sub'}: cannot write there" in capsys.readouterr().err


def test_serve_without_a_registry_version_is_a_clear_error(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlci.yaml").write_text("version: 1\ntask: classification\n")
    assert main(["serve", "--port", "0"]) == 2
    assert "no alias 'production'" in capsys.readouterr().err


def test_missing_web_stack_names_the_fix(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # makes `import uvicorn` fail
    with pytest.raises(InputError, match=r"uvicorn is missing\); reinstall mlci"):
        require_stack()


def test_port_in_use_is_a_clear_error(tmp_path: Path, capsys) -> None:
    model = train_classifier(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "--model", str(model), "--port", str(port)]) == 2
    assert f"--port {port}: cannot listen there" in capsys.readouterr().err
