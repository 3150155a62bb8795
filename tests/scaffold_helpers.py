"""Throwaway repositories for `mlci init` and the act tests: real data, real git."""

from __future__ import annotations

import csv
import io
import itertools
import random
from functools import cache
from pathlib import Path

from tests.act.harness import git_repo

#: Every combination of the init options that change the generated workflows.
COMBINATIONS = [
    {"task": task, "registry": registry, "retrain_mode": mode, "train": train}
    for task, registry, mode, train in itertools.product(
        ("classification", "regression"),
        ("local", "github"),
        ("pull-request", "deploy"),
        (True, False),
    )
]


def combo_id(combo: dict[str, object]) -> str:
    return "-".join(
        [
            str(combo["task"])[:5],
            str(combo["registry"]),
            str(combo["retrain_mode"]),
            "train" if combo["train"] else "notrain",
        ]
    )


@cache
def _csv(name: str) -> tuple[str, str, str]:
    """Train (300 rows), eval (100) and current (40) CSVs of a shuffled scikit-learn data set."""
    from sklearn import datasets

    loader = {"breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes}
    bunch = loader[name]()
    header = [str(n).replace(" ", "_") for n in bunch.feature_names] + ["target"]
    rows = [[*map(float, x), y.item()] for x, y in zip(bunch.data, bunch.target, strict=True)]
    random.Random(0).shuffle(rows)

    def dump(part: list[list[float]]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(part)
        return out.getvalue()

    return dump(rows[:300]), dump(rows[300:400]), dump(rows[400:440])


def make_project(root: Path, *, task: str = "classification", train: bool = True) -> Path:
    """A git repository with data/{train,eval,current}.csv and, optionally, train.py."""
    train_csv, eval_csv, current_csv = _csv(
        "breast_cancer" if task == "classification" else "diabetes"
    )
    files: dict[str, str | bytes] = {
        "data/train.csv": train_csv,
        "data/eval.csv": eval_csv,
        "data/current.csv": current_csv,
        "README.md": "# a model\n",
    }
    if train:
        files["train.py"] = "print('training')\n"
    return git_repo(root, files)
