"""The Actions runtime: outputs, summary, annotations, groups and masks, read back from files."""

from __future__ import annotations

import io
import re

from mlci.github.runtime import MAX_ANNOTATIONS, MAX_SUMMARY_BYTES, Annotation, Runtime


def test_inputs_fall_back_from_dash_to_underscore(gh_env, monkeypatch) -> None:
    monkeypatch.setenv("INPUT_RESULTS-PATH", "  out  ")
    monkeypatch.setenv("INPUT_FAIL_ON", "warning")
    monkeypatch.setenv("INPUT_EMPTY", "   ")
    rt = Runtime()
    assert rt.input("results-path") == "out"
    assert rt.input("fail-on") == "warning"
    assert rt.input("empty", "default") == "default"
    assert rt.input("missing") is None


def test_single_and_multiline_outputs(gh_env) -> None:
    rt = Runtime()
    rt.set_output("passed", "true")
    rt.set_output("report", "line one\nline two")
    text = gh_env.outputs()
    match = re.fullmatch(
        r"passed=true\nreport<<(ghadelimiter_[0-9a-f]{32})\nline one\nline two\n\1\n", text
    )
    assert match, text


def test_delimiters_are_random(gh_env) -> None:
    rt = Runtime()
    rt.set_output("a", "x\ny")
    rt.set_output("b", "x\ny")
    delimiters = re.findall(r"<<(\S+)", gh_env.outputs())
    assert len(set(delimiters)) == 2


def test_summary_appends_and_is_cut_at_one_mebibyte(gh_env) -> None:
    rt = Runtime()
    rt.summary("# Title\n")
    rt.summary("x" * (MAX_SUMMARY_BYTES + 10))
    rt.summary("never written\n")
    text = gh_env.summary_text()
    assert text.startswith("# Title\nxxx")
    assert len(text.encode()) <= MAX_SUMMARY_BYTES
    assert text.endswith("the full report is in the results artifact.\n")
    assert "never written" not in text


def test_summary_cut_keeps_utf8_valid(gh_env) -> None:
    rt = Runtime()
    rt.summary("é" * MAX_SUMMARY_BYTES)
    gh_env.summary.read_bytes().decode("utf-8")  # raises if a character was split


def test_annotations_keep_the_most_severe(gh_env, capsys) -> None:
    rt = Runtime()
    for i in range(12):
        rt.annotate(Annotation("warning", f"w{i}"))
    rt.annotate(
        Annotation(
            "error",
            "bad value, 100%\nsee row 3",
            file="data/a,b.csv",
            line=7,
            title="out_of_range: age",
        )
    )
    dropped = rt.flush_annotations()
    lines = capsys.readouterr().out.splitlines()
    assert dropped == 3
    assert lines[0] == (
        "::error file=data/a%2Cb.csv,line=7,title=out_of_range%3A age::bad value, 100%25%0Asee row 3"
    )
    assert lines[1:MAX_ANNOTATIONS] == [f"::warning::w{i}" for i in range(9)]
    assert lines[-1] == (
        "3 more finding(s) are not annotated here (GitHub shows 10 per step); see the report"
    )


def test_groups_masks_and_debug(gh_env, capsys) -> None:
    rt = Runtime()
    with rt.group("Validate data"):
        rt.info("checking")
    rt.mask("s3cr3t\nline2")
    rt.debug("details")
    assert capsys.readouterr().out.splitlines() == [
        "::group::Validate data",
        "checking",
        "::endgroup::",
        "::add-mask::s3cr3t",
        "::add-mask::line2",
        "::debug::details",
    ]


def test_plain_text_off_actions() -> None:
    out = io.StringIO()
    rt = Runtime(env={}, stream=out)
    assert not rt.on_actions
    with rt.group("Validate data"):
        rt.error("bad value", file="data.csv", line=3)
        rt.warning("odd value", file="data.csv")
    rt.mask("s3cr3t")
    rt.debug("hidden")
    rt.set_output("passed", "true")  # no GITHUB_OUTPUT: nothing to write, no error
    rt.summary("ignored")
    assert out.getvalue() == (
        "== Validate data\nerror: data.csv:3: bad value\nwarning: data.csv: odd value\n"
    )


def test_run_url_is_built_once_and_only_from_plain_values(tmp_path):
    env = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "octo/repo",
        "GITHUB_RUN_ID": "42",
    }
    rt = Runtime(env)
    assert rt.run_url() == "https://github.com/octo/repo/actions/runs/42"
    assert rt.run_url(7) == "https://github.com/octo/repo/actions/runs/7"
    assert rt.run_url("7", repo="other/repo") == "https://github.com/other/repo/actions/runs/7"
    assert rt.run_url("7) [x](https://evil.example") is None
    assert rt.run_url(True) is None
    assert Runtime({**env, "GITHUB_REPOSITORY": "a/b c"}).run_url() is None
    assert Runtime({}).run_url() is None


def test_workspace_path_is_relative_to_the_workspace_then_the_current_directory(
    tmp_path, monkeypatch
):
    from pathlib import Path

    workspace = tmp_path / "ws"
    (workspace / "results").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    rt = Runtime({"GITHUB_WORKSPACE": str(workspace)})
    assert rt.workspace_path(workspace / "results" / "model.json") == "results/model.json"
    assert rt.workspace_path(workspace) == "."
    assert rt.workspace_path(tmp_path / "elsewhere.json") == "elsewhere.json"
    assert rt.workspace_path(Path("/")) == "/"
