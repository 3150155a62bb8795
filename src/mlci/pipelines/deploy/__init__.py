"""Continuous delivery: deploy a blessed model, and roll production back.

`deploy` runs, in order: check the blessing (``model.json``) and that the model file
is the exact one blessed, by hash (`register`); register the version with its lineage,
or find it registered already for this commit (`register`); export ONNX where
possible; smoke-test the registered files through the prediction service on loopback
(`smoke`); run the deploy step, a command and/or a signed webhook (`step`); and only
then move the ``production`` alias (`promote`). So a failure or a crash anywhere before
the last step leaves ``production`` where it was, and re-running the same commit
resumes the registered version instead of registering it twice (or does nothing when
it is already in production). `outcome` writes ``deploy.json`` and the summary.

`rollback` moves ``production`` back to the previous blessed version (or a named
one), smoke-tests and runs the deploy step for it, and records the rollback in the
history.
"""

from __future__ import annotations

from mlci.pipelines.deploy.outcome import DeployOutcome
from mlci.pipelines.deploy.promote import deploy, registry_rows, rollback
from mlci.pipelines.deploy.step import run_deploy_step, send_webhook, sign_payload

__all__ = [
    "DeployOutcome",
    "deploy",
    "registry_rows",
    "rollback",
    "run_deploy_step",
    "send_webhook",
    "sign_payload",
]
