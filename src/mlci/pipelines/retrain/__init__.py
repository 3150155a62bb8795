"""`mlci retrain`: fresh data, a decision by policy, challenger versus champion, PR or deploy.

The pipeline, in order (each stage's outcome lands in ``retrain.json``):

1. **Fresh data**: ``retrain.data`` (a path or glob, relative to mlci.yaml) or the
   files ``retrain.data_command`` writes into ``$MLCI_RETRAIN_DATA_DIR``; without
   either, ``data.current``. It is profiled and checked against the reference's
   columns and types (schema errors stop here, exit 1) and compared with the
   training reference (drift is recorded).
2. **Decision** by ``retrain.policy``: ``always``; ``on-drift`` (dataset drift share
   at or over ``data.drift.share``, a drifted label, or any of
   ``retrain.drift_columns``); ``max-age`` (the production model is older than
   ``retrain.max_age_days``, or there is none). No retrain: exit 0 with the reason.
3. **Train**: ``model.train_command`` runs in the project with ``MLCI_RETRAIN_DATA``
   (the fresh files, ``os.pathsep``-separated) in its environment.
4. **Champion versus challenger**: `validate_model`, the pipeline of ``mlci
   validate-model`` (the same gates as a pull request; the champion is the registry's
   production version), writes ``model.json`` with the blessing.
5. **Blessed**: ``mode: pull-request`` commits the new model file and a record
   (``.mlci/retrain.json``) on ``retrain.branch`` through the GitHub contents API and
   opens a pull request, or updates the open one mlci opened before (found by a
   hidden marker); ``mode: deploy`` calls `deploy`. **Not blessed**: nothing
   changes (exit 1, the reason in the summary).
"""

from __future__ import annotations

from mlci.pipelines.retrain.fresh import (
    DATA_SUFFIXES,
    check_fresh_data,
    locate_fresh_data,
    schema_findings,
)
from mlci.pipelines.retrain.pipeline import retrain
from mlci.pipelines.retrain.policy import Decision, decide
from mlci.pipelines.retrain.propose import PR_MARKER, RECORD_PATH

__all__ = [
    "DATA_SUFFIXES",
    "PR_MARKER",
    "RECORD_PATH",
    "Decision",
    "check_fresh_data",
    "decide",
    "locate_fresh_data",
    "retrain",
    "schema_findings",
]
