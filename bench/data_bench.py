"""Data validation benchmark: mlci against a plain pandas script, pandera and Evidently.

Every figure is a whole process (imports included), measured in the same run:

1. schema checks on N rows (default 1,000,000): ``mlci validate-data --no-drift``
   against a plain vectorized pandas/numpy script doing the same checks and against
   pandera (lazy validation of the same schema);
2. drift of the current data against a stored reference profile: ``mlci validate-data
   --reference-profile`` (checks included) against Evidently's ``DataDriftPreset``
   (which reads the reference data), at each ``--drift-rows``; precision and recall
   of the drifted columns against the generator's truth, and the false alarms on an
   undrifted copy;
3. peak RSS of ``mlci profile`` and ``mlci validate-data`` on ``--rss-rows`` Parquet rows;
4. ``mlci monitor`` on a data file of ``--monitor-rows`` rows (the data of
   ``bench/ct_bench.py``: 20 features, a shift in two, delayed labels, a registered
   model) against its floor, the same questions in plain pandas/scipy/scikit-learn
   (``ct_bench.py --floor``): wall time, CPU time and peak RSS.

pandera and Evidently live only in ``bench/.venv-peers`` (created here on first use;
Evidently needs pandas < 3 there). Usage::

    python bench/data_bench.py                       # the figures of bench/README.md
    python bench/data_bench.py --rows 100000 --drift-rows 100000 --rss-rows 0 \
        --monitor-rows 100000 --repeats 1 --skip-evidently                    # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PEERS = HERE / ".venv-peers"
PEER_PACKAGES = ["pandera", "evidently", "pandas<3", "pyarrow"]
MLCI = [str(Path(sys.executable).parent / "mlci")]

_WRAPPER = (
    "import json,resource,subprocess,sys,time\n"
    "t=time.perf_counter()\n"
    "p=subprocess.run(sys.argv[1:],capture_output=True,text=True)\n"
    "w=time.perf_counter()-t\n"
    "u=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "r=u.ru_maxrss\n"
    "print(json.dumps({'wall':w,'cpu':u.ru_utime+u.ru_stime,'rss_kb':r,'rc':p.returncode,"
    "'out':p.stdout[-6000:],'err':p.stderr[-3000:]}))\n"
)


def measure(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` as its own process; wall seconds, peak RSS (MiB), exit code and output."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=True
    )
    data = json.loads(out.stdout)
    data["rss_mb"] = data.pop("rss_kb") / 1024
    return data


def best_of(cmd: list[str], repeats: int, ok: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    """The median wall time of ``repeats`` runs (the outputs of the last run)."""
    runs = [measure(cmd) for _ in range(repeats)]
    for r in runs:
        if r["rc"] not in ok:
            raise SystemExit(f"{' '.join(cmd)} failed ({r['rc']}):\n{r['err']}\n{r['out']}")
    last = dict(runs[-1])
    last["wall"] = statistics.median(r["wall"] for r in runs)
    last["cpu"] = statistics.median(r["cpu"] for r in runs)
    last["rss_mb"] = max(r["rss_mb"] for r in runs)
    return last


def peers_python() -> tuple[str | None, str]:
    """The peers' interpreter, creating the venv on first use; None plus the error if impossible."""
    python = PEERS / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        res = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES],
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            return None, res.stderr[-2000:]
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import pandera, evidently; print(pandera.__version__, evidently.__version__)",
        ],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None, probe.stderr[-2000:]
    return str(python), probe.stdout.strip()


# -- workers (run as separate processes) -------------------------------------------------


def worker_plain(schema_path: str, data_path: str) -> None:
    """The floor: the same checks as mlci, as a plain vectorized pandas/numpy script."""
    import numpy as np
    import pandas as pd
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    df = pd.read_parquet(data_path)
    n = len(df)
    findings: list[tuple[str, str, int]] = []
    cols = schema["columns"]
    for name in cols:
        if name not in df.columns:
            findings.append(("missing_column", name, 0))
    for name in df.columns:
        if name not in cols:
            findings.append(("new_column", name, 0))
    for name, col in cols.items():
        if name not in df.columns:
            continue
        s = df[name]
        null = s.isna().to_numpy()
        nulls = int(null.sum())
        allowed = 0.0 if not col.get("nullable", True) else 1 - (col.get("min_present") or 0.0)
        if nulls / n > allowed:
            findings.append(("null_fraction", name, nulls))
        typ = col["type"]
        if typ in ("float", "int"):
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            bad_type = int((~null & np.isnan(v)).sum())
            if typ == "int":
                bad_type += int((np.isfinite(v) & (v != np.floor(v))).sum())
            if bad_type:
                findings.append(("dtype_mismatch", name, bad_type))
            inf = int(np.isinf(v).sum())
            if inf:
                findings.append(("nan_or_inf", name, inf))
            with np.errstate(invalid="ignore"):
                out = (v < col.get("min", -np.inf)) | (v > col.get("max", np.inf))
            if out.any():
                findings.append(("out_of_range", name, int(out.sum())))
            if not col.get("constant") and np.nanmin(v) == np.nanmax(v):
                findings.append(("constant_column", name, n))
        elif typ == "datetime":
            t = pd.to_datetime(s, errors="coerce")
            lo = pd.Timestamp(col.get("earliest") or "1677-09-22")
            hi = pd.Timestamp(col.get("latest") or "2262-04-10")
            if col.get("future") is False:
                hi = min(hi, pd.Timestamp.now() + pd.Timedelta(days=1))
            out = ((t < lo) | (t > hi)).to_numpy()
            if out.any():
                findings.append(("out_of_range", name, int(out.sum())))
        if col.get("domain") is not None:
            text = s.astype("str")
            outside = ~null & ~text.isin(col["domain"]).to_numpy()
            if outside.any():
                findings.append(("unexpected_category", name, int(outside.sum())))
            if s.nunique() == 1 and not col.get("constant"):
                findings.append(("constant_column", name, n))
        if col.get("unique") and s.duplicated().any():
            findings.append(("duplicate_key", name, int(s.duplicated().sum())))
    dups = int(df.duplicated().sum())
    if dups:
        findings.append(("duplicate_rows", "", dups))
    rows = schema.get("rows", {})
    if n < rows.get("min", 0) or n > rows.get("max", float("inf")):
        findings.append(("row_count", "", n))
    print(json.dumps({"findings": sorted({f[0] for f in findings}), "n": len(findings)}))


def worker_pandera(schema_path: str, data_path: str) -> None:
    """pandera on the same schema: dtype, nullability, ranges, domains, unique rows (lazy)."""
    import pandas as pd
    import pandera.pandas as pa
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    df = pd.read_parquet(data_path)
    columns = {}
    for name, col in schema["columns"].items():
        checks = []
        typ = col["type"]
        dtype: Any = None
        if typ in ("float", "int"):
            dtype = "float64" if typ == "float" or col.get("nullable", True) else "int64"
            if col.get("min") is not None:
                checks.append(pa.Check.ge(col["min"]))
            if col.get("max") is not None:
                checks.append(pa.Check.le(col["max"]))
        elif typ == "datetime":
            dtype = "datetime64[ns]"
            if col.get("earliest"):
                checks.append(pa.Check.ge(pd.Timestamp(col["earliest"])))
            if col.get("future") is False:
                checks.append(pa.Check.le(pd.Timestamp.now() + pd.Timedelta(days=1)))
        if col.get("domain") is not None:
            domain = col["domain"]
            checks.append(pa.Check.isin([int(d) for d in domain] if typ == "int" else domain))
        columns[name] = pa.Column(
            dtype,
            checks=checks,
            nullable=col.get("nullable", True),
            required=col.get("required", True),
            unique=bool(col.get("unique")),
            coerce=typ == "datetime",
        )
    model = pa.DataFrameSchema(columns, unique=list(schema["columns"]), strict=False)
    try:
        model.validate(df, lazy=True)
        codes: list[str] = []
    except pa.errors.SchemaErrors as exc:
        codes = sorted({str(c) for c in exc.failure_cases["check"].unique()})
    print(json.dumps({"findings": codes}))


def worker_evidently(ref_path: str, cur_path: str) -> None:
    """Evidently's DataDriftPreset; prints the drifted columns."""
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ref = pd.read_parquet(ref_path)
    cur = pd.read_parquet(cur_path)
    snap = Report([DataDriftPreset()]).run(cur, ref).dict()
    drifted = []
    for metric in snap["metrics"]:
        cfg = metric["config"]
        if "column" not in cfg:
            continue
        value, threshold, method = metric["value"], cfg["threshold"], cfg["method"]
        hit = value < threshold if "p_value" in method else value >= threshold
        if hit:
            drifted.append(cfg["column"])
    print(json.dumps({"drifted": sorted(drifted)}))


# -- the benchmark -------------------------------------------------------------------------


def dataset(n: int) -> Path:
    """The generated data for ``n`` rows (generated once, kept in bench/.work)."""
    out = WORK / f"n{n}"
    if not (out / "truth.json").exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, str(HERE / "data_gen.py"), str(n), str(out)], check=True)
        print(f"generated {n:,} rows in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return out


def prepare(d: Path) -> tuple[Path, Path]:
    """Schema inferred from the reference, and the stored reference profile."""
    schema, profile = d / "schema.yaml", d / "reference.profile.json"
    if not schema.exists():
        subprocess.run(
            [*MLCI, "schema", "infer", str(d / "reference.parquet"), "-o", str(schema)], check=True
        )
    if not profile.exists():
        subprocess.run(
            [*MLCI, "profile", str(d / "reference.parquet"), "-o", str(profile)], check=True
        )
    return schema, profile


def _mlci_drifted(results: Path) -> list[str]:
    doc = json.loads((results / "data.json").read_text())
    return sorted(c["column"] for c in doc["drift"]["columns"] if c["drifted"])


def _codes(results: Path) -> list[str]:
    doc = json.loads((results / "data.json").read_text())
    return sorted({f["check"] for f in doc["findings"]})


def _pr(found: list[str], truth: list[str]) -> tuple[float, float]:
    hit = len(set(found) & set(truth))
    return (hit / len(found) if found else 1.0), (hit / len(truth) if truth else 1.0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every part asked for; return the figures."""
    results: dict[str, Any] = {"python": sys.version.split()[0]}
    peers, peer_info = (None, "skipped") if args.skip_peers else peers_python()
    results["peers"] = peer_info
    me = [sys.executable, str(Path(__file__).resolve())]
    if args.rows:
        d = dataset(args.rows)
        schema, _ = prepare(d)
        cur = str(d / "current.parquet")
        res = d / "results-checks"
        m = best_of(
            [
                *MLCI,
                "validate-data",
                "--current",
                cur,
                "--schema",
                str(schema),
                "--no-drift",
                "--results",
                str(res),
            ],
            args.repeats,
        )
        p = best_of([*me, "--worker", "plain", str(schema), cur], args.repeats)
        row: dict[str, Any] = {
            "rows": args.rows,
            "mlci_s": m["wall"],
            "mlci_cpu_s": m["cpu"],
            "mlci_rss_mb": m["rss_mb"],
            "mlci_findings": _codes(res),
            "plain_s": p["wall"],
            "plain_cpu_s": p["cpu"],
            "plain_rss_mb": p["rss_mb"],
            "plain_findings": json.loads(p["out"])["findings"],
        }
        if peers:
            q = best_of(
                [peers, str(Path(__file__).resolve()), "--worker", "pandera", str(schema), cur],
                args.repeats,
            )
            row |= {
                "pandera_s": q["wall"],
                "pandera_cpu_s": q["cpu"],
                "pandera_rss_mb": q["rss_mb"],
                "pandera_checks_failed": json.loads(q["out"])["findings"],
            }
        results["checks"] = row
    results["drift"] = []
    for n in args.drift_rows:
        d = dataset(n)
        truth = json.loads((d / "truth.json").read_text())["drifted"]
        schema, profile = prepare(d)
        row = {"rows": n}
        for name in ("current", "undrifted"):
            res = d / f"results-{name}"
            m = best_of(
                [
                    *MLCI,
                    "validate-data",
                    "--current",
                    str(d / f"{name}.parquet"),
                    "--reference-profile",
                    str(profile),
                    "--schema",
                    str(schema),
                    "--results",
                    str(res),
                ],
                args.repeats,
            )
            found = _mlci_drifted(res)
            row[f"mlci_{name}_s"] = m["wall"]
            row[f"mlci_{name}_cpu_s"] = m["cpu"]
            row[f"mlci_{name}_drifted"] = found
            if peers and not args.skip_evidently:
                e = best_of(
                    [
                        peers,
                        str(Path(__file__).resolve()),
                        "--worker",
                        "evidently",
                        str(d / "reference.parquet"),
                        str(d / f"{name}.parquet"),
                    ],
                    1,
                    ok=(0,),
                )
                row[f"evidently_{name}_s"] = e["wall"]
                row[f"evidently_{name}_cpu_s"] = e["cpu"]
                row[f"evidently_{name}_rss_mb"] = e["rss_mb"]
                row[f"evidently_{name}_drifted"] = json.loads(e["out"])["drifted"]
        row["truth"] = truth
        row["mlci_precision"], row["mlci_recall"] = _pr(row["mlci_current_drifted"], truth)
        if "evidently_current_drifted" in row:
            row["evidently_precision"], row["evidently_recall"] = _pr(
                row["evidently_current_drifted"], truth
            )
        results["drift"].append(row)
    if args.monitor_rows:
        results["monitor"] = monitor_run(args.monitor_rows, args.repeats)
    if args.rss_rows:
        d = dataset(args.rss_rows)
        schema = d / "schema.yaml"
        prof = d / "reference.profile.json"
        pm = measure([*MLCI, "profile", str(d / "reference.parquet"), "-o", str(prof)])
        if not schema.exists():
            subprocess.run([*MLCI, "schema", "infer", str(prof), "-o", str(schema)], check=True)
        vm = measure(
            [
                *MLCI,
                "validate-data",
                "--current",
                str(d / "current.parquet"),
                "--reference-profile",
                str(prof),
                "--schema",
                str(schema),
                "--results",
                str(d / "results-rss"),
            ]
        )
        if vm["rc"] not in (0, 1) or pm["rc"] != 0:
            raise SystemExit(f"10M run failed:\n{pm['err']}\n{vm['err']}")
        results["rss"] = {
            "rows": args.rss_rows,
            "profile_s": pm["wall"],
            "profile_rss_mb": pm["rss_mb"],
            "validate_s": vm["wall"],
            "validate_rss_mb": vm["rss_mb"],
            "drifted": _mlci_drifted(d / "results-rss"),
        }
    return results


def monitor_run(n: int, repeats: int) -> dict[str, Any]:
    """``mlci monitor`` on a data file of ``n`` rows against its pandas/scipy floor."""
    sys.path.insert(0, str(HERE))
    import ct_bench

    root = WORK / f"monitor-n{n}"
    if not (root / "mlci.yaml").exists():
        if root.exists():
            import shutil

            shutil.rmtree(root)
        root.mkdir(parents=True)
        ct_bench.build(root, n)
    f = best_of([sys.executable, str(HERE / "ct_bench.py"), "--floor", str(root)], repeats, (0,))
    m = best_of(
        [*MLCI, "monitor", "--config", str(root / "mlci.yaml"), "--results", str(root / "r")],
        repeats,
    )
    return {
        "rows": n,
        "floor_s": f["wall"],
        "floor_cpu_s": f["cpu"],
        "floor_rss_mb": f["rss_mb"],
        "mlci_s": m["wall"],
        "mlci_cpu_s": m["cpu"],
        "mlci_rss_mb": m["rss_mb"],
        "mlci_rc": m["rc"],
    }


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(r: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    lines = [_row("measurement", "mlci", "peer", "ratio (mlci/peer)", "target"), _row(*["---"] * 5)]
    c = r.get("checks")
    if c:
        rows, ms = f"{c['rows']:,}", c["mlci_s"]
        lines.append(
            _row(
                f"schema checks, {rows} rows vs plain pandas",
                f"{ms:.2f} s (CPU {c['mlci_cpu_s']:.2f} s)",
                f"{c['plain_s']:.2f} s (CPU {c['plain_cpu_s']:.2f} s)",
                f"{ms / c['plain_s']:.2f} (CPU {c['mlci_cpu_s'] / c['plain_cpu_s']:.2f})",
                "<= 1.2",
            )
        )
        if "pandera_s" in c:
            lines.append(
                _row(
                    f"schema checks, {rows} rows vs pandera",
                    f"{ms:.2f} s",
                    f"{c['pandera_s']:.2f} s",
                    f"{ms / c['pandera_s']:.2f} (CPU {c['mlci_cpu_s'] / c['pandera_cpu_s']:.2f})",
                    "< 1",
                )
            )
    for d in r.get("drift", []):
        rows = f"{d['rows']:,}"
        if "evidently_current_s" in d:
            target = "<= 1/8" if d["rows"] <= 100_000 else "<= 1/50"
            ev, ms = d["evidently_current_s"], d["mlci_current_s"]
            cpu = d["evidently_current_cpu_s"] / d["mlci_current_cpu_s"]
            lines.append(
                _row(
                    f"drift vs stored profile, {rows} rows vs Evidently DataDriftPreset",
                    f"{ms:.2f} s (CPU {d['mlci_current_cpu_s']:.2f} s)",
                    f"{ev:.2f} s (CPU {d['evidently_current_cpu_s']:.1f} s)",
                    f"1/{ev / ms:.1f} (CPU 1/{cpu:.1f})",
                    target,
                )
            )
        if "evidently_undrifted_s" in d:
            ev, ms = d["evidently_undrifted_s"], d["mlci_undrifted_s"]
            cpu = d["evidently_undrifted_cpu_s"] / d["mlci_undrifted_cpu_s"]
            lines.append(
                _row(
                    f"same, on the undrifted copy, {rows} rows",
                    f"{ms:.2f} s (CPU {d['mlci_undrifted_cpu_s']:.2f} s)",
                    f"{ev:.2f} s (CPU {d['evidently_undrifted_cpu_s']:.1f} s)",
                    f"1/{ev / ms:.1f} (CPU 1/{cpu:.1f})",
                    "<= 1/8" if d["rows"] <= 100_000 else "<= 1/50",
                )
            )
        if "evidently_current_s" not in d:
            for name in ("current", "undrifted"):
                lines.append(
                    _row(
                        f"drift vs stored profile, {rows} rows, {name} file (no peer run)",
                        f"{d[f'mlci_{name}_s']:.2f} s (CPU {d[f'mlci_{name}_cpu_s']:.2f} s)",
                        "n/a",
                        "",
                        "",
                    )
                )
        ev_pr = "n/a"
        if "evidently_precision" in d:
            ev_pr = f"{d['evidently_precision']:.2f} / {d['evidently_recall']:.2f}"
        lines.append(
            _row(
                f"drifted columns found, {rows} rows (precision / recall)",
                f"{d['mlci_precision']:.2f} / {d['mlci_recall']:.2f}",
                ev_pr,
                "",
                "1.0 / 1.0",
            )
        )
        ev_fa = d.get("evidently_undrifted_drifted")
        lines.append(
            _row(
                f"false alarms on the undrifted copy, {rows} rows",
                len(d["mlci_undrifted_drifted"]),
                "n/a" if ev_fa is None else len(ev_fa),
                "",
                "0",
            )
        )
    mo = r.get("monitor")
    if mo:
        rows = f"{mo['rows']:,}"
        lines.append(
            _row(
                f"`mlci monitor` on a {rows}-row data file vs pandas/scipy floor, time",
                f"{mo['mlci_s']:.2f} s (CPU {mo['mlci_cpu_s']:.2f} s, exit {mo['mlci_rc']})",
                f"{mo['floor_s']:.2f} s (CPU {mo['floor_cpu_s']:.2f} s)",
                f"{mo['mlci_s'] / mo['floor_s']:.2f}"
                f" (CPU {mo['mlci_cpu_s'] / mo['floor_cpu_s']:.2f})",
                "<= 1.0",
            )
        )
        lines.append(
            _row(
                f"`mlci monitor` on a {rows}-row data file vs pandas/scipy floor, peak RSS",
                f"{mo['mlci_rss_mb']:.0f} MiB",
                f"{mo['floor_rss_mb']:.0f} MiB",
                f"{mo['mlci_rss_mb'] / mo['floor_rss_mb']:.2f}",
                "<= 1.0",
            )
        )
    s = r.get("rss")
    if s:
        rows = f"{s['rows']:,}"
        for what, key in (("mlci profile", "profile"), ("mlci validate-data", "validate")):
            lines.append(
                _row(
                    f"peak RSS, `{what}` on {rows} Parquet rows",
                    f"{s[key + '_rss_mb']:.0f} MiB ({s[key + '_s']:.0f} s)",
                    "",
                    "",
                    "< 1536 MiB",
                )
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows of the schema-check run (0: skip)"
    )
    parser.add_argument("--drift-rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument(
        "--rss-rows", type=int, default=10_000_000, help="rows of the peak-RSS run (0: skip)"
    )
    parser.add_argument(
        "--monitor-rows",
        type=int,
        default=1_000_000,
        help="rows of the monitor-vs-floor run (0: skip)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per mlci/plain/pandera figure (median)"
    )
    parser.add_argument("--skip-peers", action="store_true", help="no pandera/Evidently")
    parser.add_argument("--skip-evidently", action="store_true", help="no Evidently (it is slow)")
    parser.add_argument("--out", type=Path, default=WORK / "results.json", help="figures (JSON)")
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "A", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name, a, b = args.worker
        {"plain": worker_plain, "pandera": worker_pandera, "evidently": worker_evidently}[name](
            a, b
        )
        return
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    load_before = os.getloadavg()
    figures = run(args)
    figures["load"] = {"before": load_before, "after": os.getloadavg(), "cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(table(figures))
    before, after = (", ".join(f"{v:.1f}" for v in figures["load"][k]) for k in ("before", "after"))
    print(f"\nload average (1, 5, 15 min) before: {before}; after: {after}; {os.cpu_count()} CPUs")
    print(f"full figures: {args.out}")


if __name__ == "__main__":
    main()
