"""The service's Prometheus metrics (``GET /metrics``), exposed with ``prometheus-client``.

A request only bumps plain counters (a dict entry, a bucket index found by bisection);
the metric families are built from them when ``/metrics`` is scraped, by a custom
collector on the app's own registry, and written in the Prometheus text format by
prometheus-client. So a request pays well under a microsecond for its metrics, and
two services in one process (as in the tests) do not share counters.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ServiceMetrics"]

LATENCY_BUCKETS = (
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
VALUE_BUCKETS = (-1e6, -1e3, -100.0, -10.0, -1.0, 0.0, 1.0, 10.0, 100.0, 1e3, 1e6)


class _Histogram:
    """Bucket counts and a sum: what a Prometheus histogram exposes."""

    def __init__(self, bounds: Sequence[float]):
        self.bounds = list(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def observe_many(self, values: np.ndarray) -> None:
        import numpy as np

        idx = np.searchsorted(np.asarray(self.bounds), values, side="left")
        for i, n in enumerate(np.bincount(idx, minlength=len(self.counts)).tolist()):
            self.counts[i] += n
        self.sum += float(values.sum())

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip([*self.bounds, float("inf")], self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return out


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
        from prometheus_client import CollectorRegistry

        self.version = "" if version is None else str(version)
        self.format = fmt
        self.classes = list(classes) if classes else None
        self._requests: dict[tuple[str, int], int] = {}
        self._latency: dict[str, _Histogram] = {}
        self._rows = 0
        self._dropped = 0
        self._per_class: dict[str, int] = {str(c): 0 for c in self.classes or []}
        self._values = None if self.classes else _Histogram(VALUE_BUCKETS)
        self._lock = threading.Lock()  # the prediction log's thread reports drops
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # -- the request side (event loop thread) ---------------------------------------

    def request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        key = (route, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        hist = self._latency.get(route)
        if hist is None:
            hist = self._latency[route] = _Histogram(LATENCY_BUCKETS)
        hist.observe(seconds)

    def predictions(self, labels: np.ndarray) -> None:
        """Count one batch's predictions (per class, or their values)."""
        n = len(labels)
        self._rows += n
        if self._values is not None:
            if n == 1:
                self._values.observe(float(labels[0]))
            else:
                self._values.observe_many(labels.astype("float64", copy=False))
            return
        per_class = self._per_class
        if n <= 64:  # a few rows: Python over the list beats numpy's per-call cost
            for value in labels.tolist():
                key = str(value)
                per_class[key] = per_class.get(key, 0) + 1
            return
        import numpy as np

        low = int(labels.min()) if labels.dtype.kind in "iu" else 0
        if labels.dtype.kind in "iu" and int(labels.max()) - low < 4096:
            counts = np.bincount(labels - low)  # class indices: no sort, unlike np.unique
            values = np.nonzero(counts)[0]
            pairs = zip((values + low).tolist(), counts[values].tolist(), strict=True)
        else:
            values, counts = np.unique(labels, return_counts=True)
            pairs = zip(values.tolist(), counts.tolist(), strict=True)
        for value, count in pairs:
            key = str(value)
            per_class[key] = per_class.get(key, 0) + count

    def dropped(self, rows: int) -> None:
        """Count rows the prediction log could not take (called from any thread)."""
        with self._lock:
            self._dropped += rows

    # -- the scrape side --------------------------------------------------------------

    def collect(self) -> Iterator[Any]:
        """Metric families for prometheus-client (the collector protocol)."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        v = self.version
        requests = CounterMetricFamily(
            "mlci_requests",
            "Requests answered, by route and HTTP status",
            labels=["route", "status", "model_version"],
        )
        errors = CounterMetricFamily(
            "mlci_request_errors",
            "Requests answered with a 4xx or 5xx status",
            labels=["route", "status", "model_version"],
        )
        for (route, status), count in sorted(self._requests.items()):
            requests.add_metric([route, str(status), v], count)
            if status >= 400:
                errors.add_metric([route, str(status), v], count)
        yield requests
        yield errors
        latency = HistogramMetricFamily(
            "mlci_request_duration_seconds",
            "Time from the request's headers to its answer",
            labels=["route", "model_version"],
        )
        for route, hist in sorted(self._latency.items()):
            latency.add_metric([route, v], hist.cumulative(), hist.sum)
        yield latency
        yield _single_counter("mlci_predicted_rows", "Rows predicted", v, self._rows)
        with self._lock:
            dropped = self._dropped
        yield _single_counter(
            "mlci_prediction_log_dropped_rows",
            "Rows not written to the prediction log because its queue was full",
            v,
            dropped,
        )
        if self._values is None:
            per_class = CounterMetricFamily(
                "mlci_predictions", "Predicted rows per class", labels=["class", "model_version"]
            )
            for cls, count in sorted(self._per_class.items()):
                per_class.add_metric([cls, v], count)
            yield per_class
        else:
            values = HistogramMetricFamily(
                "mlci_prediction_value", "Predicted values (regression)", labels=["model_version"]
            )
            values.add_metric([v], self._values.cumulative(), self._values.sum)
            yield values
        info = GaugeMetricFamily(
            "mlci_model_info",
            "The model being served (value 1)",
            labels=["model_version", "format"],
        )
        info.add_metric([v, self.format], 1)
        yield info

    def render(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, with its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _single_counter(name: str, doc: str, version: str, value: float) -> Any:
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, doc, labels=["model_version"])
    family.add_metric([version], value)
    return family
