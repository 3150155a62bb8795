"""The retrain decision: ``retrain.policy`` applied to drift and the production model's age."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlci.config import Config

if TYPE_CHECKING:
    from mlci.data.drift import DriftReport
    from mlci.registry import ModelVersion


def _parse_time(text: str) -> _dt.datetime | None:
    try:
        value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)


# -- the decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Whether to retrain, and why (shown in the summary and ``retrain.json``)."""

    retrain: bool
    reason: str
    policy: str
    age_days: float | None = None
    drifted_columns: tuple[str, ...] = ()


def decide(
    config: Config,
    drift: DriftReport | None,
    production: ModelVersion | None,
    *,
    now: _dt.datetime | None = None,
) -> Decision:
    """Apply ``retrain.policy`` to the drift report and the production model's age."""
    rc = config.retrain
    policy = rc.policy
    drifted = tuple(c.column for c in drift.drifted) if drift else ()
    age: float | None = None
    if production is not None:
        created = _parse_time(production.created)
        if created is not None:
            age = ((now or _dt.datetime.now(_dt.UTC)) - created).total_seconds() / 86400
    if policy == "always":
        return Decision(True, "policy always: retrain on every run", policy, age, drifted)
    if policy == "max-age":
        if production is None:
            return Decision(
                True, "policy max-age: no model in production yet", policy, None, drifted
            )
        if age is None:
            return Decision(
                True,
                f"policy max-age: production version {production.version} has no valid"
                " creation time; retraining to be safe",
                policy,
                None,
                drifted,
            )
        if age >= rc.max_age_days:
            return Decision(
                True,
                f"policy max-age: production version {production.version} is {age:.1f} days"
                f" old (limit {rc.max_age_days})",
                policy,
                age,
                drifted,
            )
        return Decision(
            False,
            f"policy max-age: production version {production.version} is {age:.1f} days old,"
            f" under the {rc.max_age_days}-day limit",
            policy,
            age,
            drifted,
        )
    # on-drift
    assert drift is not None  # the caller computes drift for on-drift
    named = [c for c in rc.drift_columns if c in drifted]
    labels = [c.column for c in drift.drifted if c.kind == "label"]
    reasons = []
    if named:
        reasons.append(f"named column(s) {', '.join(named)} drifted")
    if drift.dataset_drift:
        reasons.append(
            f"{drift.share:.0%} of the columns drifted (threshold {drift.share_threshold:.0%})"
        )
    if labels:
        reasons.append(f"the label {labels[0]!r} drifted")
    if reasons:
        return Decision(True, "policy on-drift: " + "; ".join(reasons), policy, age, drifted)
    watched = (
        f"; watched columns {', '.join(rc.drift_columns)} are stable" if rc.drift_columns else ""
    )
    return Decision(
        False,
        f"policy on-drift: no drift ({drift.share:.0%} of the columns drifted, threshold"
        f" {drift.share_threshold:.0%}){watched}",
        policy,
        age,
        drifted,
    )
