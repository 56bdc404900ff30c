"""Prometheus metrics of every role, beyond what each role counts itself.

- process and runtime: ``process_*`` (CPU seconds, resident memory bytes, open fds …),
  ``python_info``, ``python_gc_*`` — in every role's ``/metrics``;
- HTTP: ``svu_hub_http_requests_total{method,route,code}`` and
  ``svu_hub_http_request_duration_seconds{method,route}``; ``route`` is the route's template
  (``/episodes/{episode_id}/timeline``), never the path that was asked for;
- deliveries per system: ``svu_hub_delivery_pending``, ``svu_hub_delivery_delivered_total``,
  ``svu_hub_delivery_failed_total``, ``svu_hub_delivery_circuit_state{state}`` (1 for the state
  the circuit is in) and ``svu_hub_delivery_oldest_pending_age_seconds``;
- per source: ``svu_hub_dead_letters_received_total`` and ``svu_hub_held_messages``;
- per processor on Kafka: ``svu_hub_processor_lag_records`` (the name the embedded hub uses).

Names follow Prometheus conventions (base units: seconds, bytes; ``_total`` for counters). No
label holds patient data: labels are systems, sources, processors, states, HTTP methods, route
templates and status codes only.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROCESS: tuple[Collector, ...] = (ProcessCollector(registry=None), PlatformCollector(registry=None),
                                  GCCollector(registry=CollectorRegistry()))
CIRCUIT_STATES = ("closed", "open", "half_open")

# No `_created` series: a start timestamp per label set says nothing a scrape needs, and its
# digits are noise in the pages that tests scan for patient data.
disable_created_metrics()  # type: ignore[no-untyped-call]


def render(collectors: Iterable[Collector]) -> bytes:
    """The exposition text of one scrape over ``collectors``."""
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


class HttpMetrics(Collector):
    """Requests and their durations by method, route template and status code."""

    def __init__(self) -> None:
        self.requests = Counter("svu_hub_http_requests", "HTTP requests answered.",
                                ["method", "route", "code"], registry=None)
        self.duration = Histogram("svu_hub_http_request_duration_seconds", "Time to answer an HTTP request.",
                                  ["method", "route"], registry=None)

    def observe(self, method: str, route: str, code: int, seconds: float) -> None:
        self.requests.labels(method, route, str(code)).inc()
        self.duration.labels(method, route).observe(seconds)

    def collect(self) -> Iterator[Metric]:
        yield from self.requests.collect()
        yield from self.duration.collect()


def route_of(scope: dict[str, Any]) -> str:
    """The route template a request matched (FastAPI puts the route in the scope), else a fixed
    word: a raw path may carry an episode id, so it is never a label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "static" if scope.get("app_root_path") or scope.get("root_path") else "unmatched"


class HttpMiddleware:
    """ASGI middleware: HTTP metrics, and the request's server span (``hub.streams.otel``)."""

    def __init__(self, app: Any, metrics: HttpMetrics, service: str = "api") -> None:
        self.app = app
        self.metrics = metrics
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from hub.streams import otel

        status = [500]

        async def answer(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        start = time.perf_counter()
        with otel.server_span(scope) as span:
            try:
                await self.app(scope, receive, answer)
            finally:
                route = route_of(scope)
                otel.end_server_span(span, route, status[0])
                self.metrics.observe(scope.get("method", "GET"), route, status[0], time.perf_counter() - start)


def instrument(app: Any, collectors: MutableSequence[Any], log: Any = None) -> HttpMetrics:
    """Add HTTP metrics (and spans) to a FastAPI app, and the process metrics, HTTP metrics and
    (with a log that has the read models) delivery and dead-letter metrics to ``collectors``."""
    metrics = HttpMetrics()
    app.add_middleware(HttpMiddleware, metrics=metrics)
    collectors.extend([*PROCESS, metrics])
    if log is not None and hasattr(log, "query") and not any(isinstance(c, ReadModelCollector) for c in collectors):
        collectors.append(ReadModelCollector(log))
    return metrics


def circuit_state(breaker: Any) -> str:
    """closed, open (failing fast) or half_open (cool-down over: the next call tries the target)."""
    opened = getattr(breaker, "opened_at", None)
    if opened is None:
        return "closed"
    return "open" if time.monotonic() - opened < breaker.cooldown else "half_open"


def breaker_of(target: Any) -> Any:
    """The circuit breaker of a delivery target (LifeCareClient, PratorHttp), if it has one."""
    for candidate in (target, getattr(target, "client", None)):
        breaker = getattr(candidate, "breaker", None)
        if breaker is not None:
            return breaker
    return None


def _circuit_family(breakers: dict[str, Any]) -> GaugeMetricFamily:
    family = GaugeMetricFamily("svu_hub_delivery_circuit_state", "Circuit breaker of a delivery system: "
                               "1 for the state it is in.", labels=["system", "state"])
    for system, breaker in sorted(breakers.items()):
        current = circuit_state(breaker)
        for state in CIRCUIT_STATES:
            family.add_metric([system, state], 1.0 if state == current else 0.0)
    return family


def _seconds_since(text: object, now: dt.datetime) -> float:
    when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return max(0.0, (now - when).total_seconds())


class ReadModelCollector(Collector):
    """Deliveries per system and dead letters and held messages per source, from the read models
    of a SQLite log (the embedded hub, the API role's mirror)."""

    def __init__(self, log: Any, breakers: dict[str, Any] | None = None,
                 now: Callable[[], dt.datetime] | None = None) -> None:
        self.log = log
        self.breakers = breakers or {}
        self.now = now or (lambda: dt.datetime.now(dt.UTC))

    def collect(self) -> Iterator[Metric]:
        rows = self._rows("SELECT system, status, COUNT(*) AS n, MIN(requested_at) AS oldest "
                          "FROM deliveries GROUP BY system, status")
        pending = GaugeMetricFamily("svu_hub_delivery_pending", "Deliveries not yet delivered.", labels=["system"])
        delivered = CounterMetricFamily("svu_hub_delivery_delivered", "Deliveries the target accepted.",
                                        labels=["system"])
        failed = CounterMetricFamily("svu_hub_delivery_failed", "Deliveries that failed for good.",
                                     labels=["system"])
        age = GaugeMetricFamily("svu_hub_delivery_oldest_pending_age_seconds",
                                "Age of the oldest pending delivery (0 when none).", labels=["system"])
        counts: dict[str, dict[str, float]] = {}
        oldest: dict[str, float] = {}
        now = self.now()
        for row in rows:
            system, status = str(row["system"]), str(row["status"])
            counts.setdefault(system, {})[status] = float(str(row["n"]))
            if status == "pending" and row["oldest"] is not None:
                oldest[system] = _seconds_since(row["oldest"], now)
        for system in sorted(set(counts) | set(self.breakers)):
            c = counts.get(system, {})
            pending.add_metric([system], c.get("pending", 0.0))
            delivered.add_metric([system], c.get("delivered", 0.0) + c.get("acknowledged", 0.0))
            failed.add_metric([system], c.get("failed", 0.0) + c.get("dead_lettered", 0.0))
            age.add_metric([system], oldest.get(system, 0.0))
        yield from (pending, delivered, failed, age, _circuit_family(self.breakers))
        letters = CounterMetricFamily("svu_hub_dead_letters_received", "Messages sent to the dead-letter "
                                      "topic, by source.", labels=["source"])
        for row in self._rows("SELECT source, COUNT(*) AS n FROM dead_letters GROUP BY source ORDER BY source"):
            letters.add_metric([str(row["source"])], float(str(row["n"])))
        yield letters
        held = GaugeMetricFamily("svu_hub_held_messages", "Messages held until what they need is known "
                                 "(unknown ward, unidentified patient …), by source.", labels=["source"])
        if self._rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'held'"):
            for row in self._rows("SELECT source, COUNT(*) AS n FROM held GROUP BY source ORDER BY source"):
                held.add_metric([str(row["source"])], float(str(row["n"])))
        yield held

    def _rows(self, sql: str) -> list[dict[str, object]]:
        try:
            return list(self.log.query(sql))
        except Exception:  # a table not created yet (no projection ran): no samples this scrape
            return []


class DeliveryRoleCollector(Collector):
    """The Kafka delivery role of one system: what this process delivered and failed, the records
    its consumer has yet to read, the request in hand, and the target's circuit."""

    def __init__(self, system: str, deliverer: Any, pending: Callable[[], int], breaker: Any,
                 now: Callable[[], dt.datetime] | None = None) -> None:
        self.system = system
        self.deliverer = deliverer
        self.pending = pending
        self.breaker = breaker
        self.now = now or (lambda: dt.datetime.now(dt.UTC))

    def collect(self) -> Iterator[Metric]:
        s = [self.system]
        family = GaugeMetricFamily("svu_hub_delivery_pending", "Delivery records not yet handled.",
                                   labels=["system"])
        family.add_metric(s, float(self.pending()))
        yield family
        for name, value, text in (("delivered", self.deliverer.delivered, "Deliveries the target accepted."),
                                  ("failed", self.deliverer.failed, "Deliveries that failed for good.")):
            counter = CounterMetricFamily(f"svu_hub_delivery_{name}", text, labels=["system"])
            counter.add_metric(s, value)
            yield counter
        in_hand = getattr(self.deliverer, "in_hand_since", None)
        age = GaugeMetricFamily("svu_hub_delivery_oldest_pending_age_seconds",
                                "Age of the request being delivered (0 when none).", labels=["system"])
        age.add_metric(s, 0.0 if in_hand is None else max(0.0, (self.now() - in_hand).total_seconds()))
        yield age
        yield _circuit_family({self.system: self.breaker} if self.breaker is not None else {})


def requested_at(event: dict[str, Any]) -> dt.datetime | None:
    """When a delivery request was made (its event time), for the age of what is in hand."""
    try:
        return dt.datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None


def kafka_lag(consumer: Any, topics: Iterable[str] | None = None) -> int:
    """Records not yet read on the partitions an aiokafka or Faust consumer holds."""
    wanted = set(topics) if topics is not None else None
    total = 0
    try:
        assignment = list(consumer.assignment())
    except Exception:  # not started, or between assignments
        return 0
    read = getattr(consumer, "_read_offset", None)
    for tp in assignment:
        if wanted is not None and tp.topic not in wanted:
            continue
        try:
            end = consumer.highwater(tp)
        except Exception:  # noqa: S112 - a partition not fetched yet has no highwater: no lag known
            continue
        if end is None:
            continue
        done = read.get(tp) if read is not None else None
        position = (done + 1) if done is not None else _position(consumer, tp)
        total += max(0, int(end) - position)
    return total


def _position(consumer: Any, tp: Any) -> int:
    state = getattr(getattr(consumer, "_subscription", None), "subscription", None)
    assignment = getattr(state, "assignment", None) if state is not None else None
    tp_state = assignment.state_value(tp) if assignment is not None else None
    position = getattr(tp_state, "position", None) if tp_state is not None else None
    return int(position) if position is not None else 0


class WorkerCollector(Collector):
    """The Faust worker: consumer lag per processor (the records of its input topics on this
    worker's partitions not yet read) and the events each processor handled."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily("svu_hub_processor_lag_records", "Records a processor has yet to read.",
                                labels=["processor"])
        handled = CounterMetricFamily("svu_hub_processor_events", "Events a processor handled.",
                                      labels=["processor"])
        consumer = getattr(self.worker.app, "consumer", None)
        for agent in self.worker.agents:
            name = agent.processor.NAME
            lag.add_metric([name], float(kafka_lag(consumer, agent.processor.INPUTS)) if consumer else 0.0)
            handled.add_metric([name], float(getattr(agent.stats, "events", 0)))
        yield lag
        yield handled


def worker_page(worker: Any) -> None:
    """``/metrics`` on the Faust worker's web server (beside /health and /ready)."""
    collectors = [*PROCESS, WorkerCollector(worker)]

    @worker.app.page("/metrics")  # type: ignore[untyped-decorator]
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(render(collectors), content_type=CONTENT_TYPE.split(";")[0])


__all__ = ["PROCESS", "DeliveryRoleCollector", "HttpMetrics", "HttpMiddleware", "ReadModelCollector",
           "WorkerCollector", "breaker_of", "circuit_state", "instrument", "kafka_lag", "render",
           "requested_at", "route_of", "worker_page"]
