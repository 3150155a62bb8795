"""The service's Prometheus metrics (``GET /metrics``), kept with ``prometheus-client``.

Each app has its own registry (two services in one process, as in the tests, do not
share counters). Every series carries ``model_version``. Label children are looked up
once and kept, so a request costs a few increments, not a label lookup each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ServiceMetrics"]

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)


class ServiceMetrics:
    """Requests, errors, latency and predictions of one service.

    Series: ``mlci_requests_total{route,status,model_version}``,
    ``mlci_request_errors_total{route,status,model_version}`` (4xx and 5xx),
    ``mlci_request_duration_seconds{route,model_version}`` (histogram),
    ``mlci_predicted_rows_total{model_version}``,
    ``mlci_predictions_total{class,model_version}`` for a classifier or
    ``mlci_prediction_value{model_version}`` (histogram) for a regressor,
    ``mlci_prediction_log_dropped_rows_total{model_version}`` and
    ``mlci_model_info{model_version,format}``.
    """

    def __init__(self, version: int | None, fmt: str, classes: Sequence[Any] | None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.version = "" if version is None else str(version)
        v = self.version
        self._requests = Counter(
            "mlci_requests",
            "Requests answered, by route and HTTP status",
            ["route", "status", "model_version"],
            registry=self.registry,
        )
        self._errors = Counter(
            "mlci_request_errors",
            "Requests answered with a 4xx or 5xx status",
            ["route", "status", "model_version"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "mlci_request_duration_seconds",
            "Time from the request's headers to its answer",
            ["route", "model_version"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._rows = Counter(
            "mlci_predicted_rows",
            "Rows predicted",
            ["model_version"],
            registry=self.registry,
        ).labels(v)
        self._dropped = Counter(
            "mlci_prediction_log_dropped_rows",
            "Rows not written to the prediction log because its queue was full",
            ["model_version"],
            registry=self.registry,
        ).labels(v)
        info = Gauge(
            "mlci_model_info",
            "The model being served (value 1)",
            ["model_version", "format"],
            registry=self.registry,
        )
        info.labels(v, fmt).set(1)
        self.classes = list(classes) if classes else None
        self._per_class: Any = None
        self._values: Any = None
        if self.classes:
            per_class = Counter(
                "mlci_predictions",
                "Predicted rows per class",
                ["class", "model_version"],
                registry=self.registry,
            )
            self._per_class = {str(c): per_class.labels(str(c), v) for c in self.classes}
            self._per_class_family = per_class
        else:
            self._values = Histogram(
                "mlci_prediction_value",
                "Predicted values (regression)",
                ["model_version"],
                buckets=(-1e6, -1e3, -100, -10, -1, 0, 1, 10, 100, 1e3, 1e6),
                registry=self.registry,
            ).labels(v)
        self._children: dict[tuple[str, int], tuple[Any, Any, Any]] = {}

    def request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (route, status)
        child = self._children.get(key)
        if child is None:
            code = str(status)
            child = (
                self._requests.labels(route, code, self.version),
                self._errors.labels(route, code, self.version) if status >= 400 else None,
                self._latency.labels(route, self.version),
            )
            self._children[key] = child
        child[0].inc()
        if child[1] is not None:
            child[1].inc()
        child[2].observe(seconds)

    def predictions(self, labels: np.ndarray) -> None:
        """Count one batch's predictions (per class, or their values)."""
        import numpy as np

        n = len(labels)
        self._rows.inc(n)
        if self._per_class is not None:
            values: Any
            counts: Any
            if n == 1:
                values, counts = [labels[0]], [1]
            else:
                values, counts = np.unique(labels, return_counts=True)
            for value, count in zip(values, counts, strict=True):
                key = str(value.item() if hasattr(value, "item") else value)
                child = self._per_class.get(key)
                if child is None:
                    child = self._per_class_family.labels(key, self.version)
                    self._per_class[key] = child
                child.inc(int(count))
        elif self._values is not None:
            if n <= 32:
                for value in labels.tolist():
                    self._values.observe(float(value))
            else:  # a large batch: observe a sample of 32 evenly spaced rows, weighted
                for value in labels[:: max(1, n // 32)].tolist():
                    self._values.observe(float(value))

    def dropped(self, rows: int) -> None:
        """Count rows the prediction log could not take."""
        self._dropped.inc(rows)

    def render(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, with its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
