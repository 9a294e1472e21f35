"""The Prometheus metrics EventHub exports, defined once.

With several workers, `eventhub serve` points PROMETHEUS_MULTIPROC_DIR at a
fresh folder before the workers start, and /metrics merges every worker's
numbers (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

HTTP_REQUESTS = Counter(
    "eventhub_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "eventhub_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_OPERATIONS = Counter(
    "eventhub_graphql_operations_total", "GraphQL operations", ["operation", "type", "outcome"]
)
GRAPHQL_LATENCY = Histogram(
    "eventhub_graphql_operation_seconds",
    "GraphQL operation latency",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
BOOKINGS = Counter("eventhub_bookings_total", "reserveTickets outcomes", ["outcome"])
SOLD_OUTS = Counter("eventhub_sold_outs_total", "reservations refused as SOLD_OUT")
VALIDATIONS = Counter("eventhub_validations_total", "validateTicket outcomes", ["outcome"])
SUBSCRIPTIONS_OPEN = Gauge(
    "eventhub_subscriptions_open", "live subscriptions open", ["field"], multiprocess_mode="livesum"
)
BUS_LAG = Histogram(
    "eventhub_bus_lag_seconds",
    "from a change signal to subscribers holding the new state",
    buckets=LATENCY_BUCKETS,
)
RESPONSE_CACHE = Counter(
    "eventhub_response_cache_total",
    "anonymous reads answered from the public-read cache (hit), run and kept (stored) or run",
    ["outcome"],
)
