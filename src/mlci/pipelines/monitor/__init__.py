"""`mlci monitor`: production data, predictions and delayed labels against the training reference.

Checks, each a *problem* with a stable key when it fires:

- ``data-drift``: feature drift per column (`mlci.data.drift.compare_profiles`, the
  settings of ``data.drift``); error severity when the dataset drifted and
  ``data.drift.dataset_severity`` is error, or a drifted column is configured as error.
- ``prediction-drift``: the production model's answers on current data against its
  answers on the reference (logged in the ``monitor.predictions`` column, else
  computed with the registry's production model).
- ``label-drift``: the delayed labels against the reference's label column.
- ``metric-<name>``: a live metric (production model on current data and delayed
  labels) fails its gate under ``model.gates``; change bounds compare with the
  metrics production was blessed with. Always an error.

On GitHub, each problem has one issue (found again by a hidden marker and the
``mlci-monitor`` label): opened when it appears, its body updated while it
persists, closed with a comment once a run sees the data healthy again (only for
checks that ran). With ``monitor.trigger_retrain``, a newly opened drift or decay
problem dispatches ``mlci-retrain.yml``; with ``monitor.rollback``, a live metric
failing its gate moves production back (`mlci.pipelines.deploy.rollback`), once.
Exit 1 when a problem of error severity was found.

The package, in phases: `detect` (the checks, each returning its problems), `issues`
(one GitHub issue per problem), `dispatch` (the retrain workflow, the rollback) and
`pipeline` (`monitor`, which reads the data or the prediction log and runs them in
order). Every text the monitor writes is rendered by `mlci.report.monitor`.
"""

from __future__ import annotations

from mlci.pipelines.monitor.detect import Problem
from mlci.pipelines.monitor.dispatch import RETRAIN_WORKFLOW
from mlci.pipelines.monitor.issues import ISSUE_LABEL, ISSUE_MARKER, sync_issues
from mlci.pipelines.monitor.pipeline import monitor

__all__ = [
    "ISSUE_LABEL",
    "ISSUE_MARKER",
    "RETRAIN_WORKFLOW",
    "Problem",
    "monitor",
    "sync_issues",
]
