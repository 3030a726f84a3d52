"""Prometheus metrics shared by the daemons (see docs/web-ui.md, "Metrics").

One `CollectorRegistry` per daemon *object* (not the process-global default registry), so two
region servers started in one test process never collide, and /metrics of a daemon shows only
its own numbers.

Two kinds of collectors:
- `RpcMetrics`: the one instrumented hot path -- a wrapper around each unary gRPC handler that
  observes the call's latency in a histogram by method, counts failures, and keeps the last
  slow calls (over `slow_seconds`) for the web page. Cost: two perf_counter calls, one
  histogram observe (a lock and a bisect), well under 1% of a call.
- `ScrapeCollector`: everything else is read at scrape time from counters the engine already
  keeps (Region.read_requests, WAL.stats, BlockCache.hits...), so nothing on the data path
  changes to be measured.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import disable_created_metrics, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    SummaryMetricFamily)

__all__ = ["RpcMetrics", "ScrapeCollector", "new_registry", "render", "counter", "gauge",
           "summary", "CONTENT_TYPE_LATEST", "CounterMetricFamily", "GaugeMetricFamily",
           "SummaryMetricFamily"]

# RPC latency buckets: 0.5 ms (a cached get) .. 10 s (a blocked write) -- HBase's slow-call
# threshold is 10 s; ours for the page defaults to 100 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)


# The *_created samples (a timestamp per counter) only double the page; a daemon process owns
# its prometheus_client settings, so turning them off here is safe.
disable_created_metrics()


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def counter(name: str, doc: str, value: float, labels: dict | None = None):
    m = CounterMetricFamily(name, doc, labels=list(labels or ()))
    m.add_metric(list((labels or {}).values()), value)
    return m


def gauge(name: str, doc: str, value: float, labels: dict | None = None):
    m = GaugeMetricFamily(name, doc, labels=list(labels or ()))
    m.add_metric(list((labels or {}).values()), value)
    return m


def summary(name: str, doc: str, count: float, total: float):
    m = SummaryMetricFamily(name, doc)
    m.add_metric([], count_value=count, sum_value=total)
    return m


class ScrapeCollector:
    """Adapts `fn() -> iterable of metric families` to a registry collector, read per scrape.
    A failing fn yields nothing (a scrape must never take the daemon down)."""

    def __init__(self, fn: Callable[[], Iterable]):
        self._fn = fn

    def collect(self):
        try:
            yield from list(self._fn())
        except Exception:  # noqa: BLE001 -- e.g. a region closing mid-scrape
            return

    def describe(self):
        return []  # dynamic label sets: nothing to pre-declare


class RpcMetrics:
    """Per-server RPC latency/error metrics and a ring of recent slow calls. Thread-safe."""

    def __init__(self, prefix: str = "minihbase_rpc", *, slow_seconds: float = 0.1,
                 keep_slow: int = 50, clock=time.time):
        self.slow_seconds = slow_seconds
        self._clock = clock
        self.latency = Histogram(f"{prefix}_latency_seconds",
                                 "RPC handling time by method (count = requests served)",
                                 ["method"], buckets=LATENCY_BUCKETS, registry=None)
        self.errors = Counter(f"{prefix}_errors", "RPCs that ended with an error, by method",
                              ["method"], registry=None)
        self._lock = threading.Lock()
        self._slow = collections.deque(maxlen=keep_slow)  # guarded by _lock

    def timed(self, method: str, fn):
        """Wrap a unary handler fn(request, context). The handler's own error path
        (context.abort raises) is counted as an error and re-raised untouched."""
        observe = self.latency.labels(method).observe
        errors = self.errors.labels(method)
        perf = time.perf_counter

        def handler(request, context):
            t0 = perf()
            ok = False
            try:
                out = fn(request, context)
                ok = True
                return out
            finally:
                elapsed = perf() - t0
                observe(elapsed)
                if not ok:
                    errors.inc()
                if elapsed >= self.slow_seconds:
                    self._note_slow(method, request, elapsed, ok)

        handler.__name__ = getattr(fn, "__name__", method)
        return handler

    def _note_slow(self, method: str, request, elapsed: float, ok: bool) -> None:
        region = getattr(request, "region", "")
        # data calls name the region (str); OpenRegion carries a RegionInfo message
        what = region if isinstance(region, str) else getattr(region, "name", "")
        if not what and method == "Multi":
            what = ", ".join(r.region for r in getattr(request, "regions", ())[:3])
        entry = {"at": self._clock(), "method": method, "region": what,
                 "seconds": round(elapsed, 6), "ok": ok}
        with self._lock:
            self._slow.append(entry)

    def recent_slow(self) -> list[dict]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._slow))

    def by_method(self) -> dict[str, dict]:
        """method -> {count, seconds, errors}: the page's per-operation table."""
        out: dict[str, dict] = {}
        for family in self.latency.collect():
            for s in family.samples:
                m = s.labels.get("method")
                if s.name.endswith("_count"):
                    out.setdefault(m, {"count": 0, "seconds": 0.0, "errors": 0})["count"] = \
                        int(s.value)
                elif s.name.endswith("_sum"):
                    out.setdefault(m, {"count": 0, "seconds": 0.0, "errors": 0})["seconds"] = \
                        s.value
        for family in self.errors.collect():
            for s in family.samples:
                if s.name.endswith("_total") and s.labels.get("method") in out:
                    out[s.labels["method"]]["errors"] = int(s.value)
        return out

    def interceptor(self):
        """A grpc.ServerInterceptor timing every unary method of a server (the master's: its
        servicer is protoc-generated, so there is no dispatch table of ours to wrap)."""
        import grpc

        metrics, wrapped = self, {}  # wrapped: method path -> handler (benign race: same value)

        class _Timing(grpc.ServerInterceptor):
            def intercept_service(self, continuation, details):
                handler = continuation(details)
                if handler is None or handler.unary_unary is None:
                    return handler
                out = wrapped.get(details.method)
                if out is None:
                    out = grpc.unary_unary_rpc_method_handler(
                        metrics.timed(details.method.rsplit("/", 1)[-1], handler.unary_unary),
                        request_deserializer=handler.request_deserializer,
                        response_serializer=handler.response_serializer)
                    wrapped[details.method] = out
                return out

        return _Timing()

    def collect(self):
        yield from self.latency.collect()
        yield from self.errors.collect()

    def describe(self):
        return []
