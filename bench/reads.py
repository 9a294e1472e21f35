"""Anonymous event listing through GraphQL, against a bare Starlette + asyncpg route.

For each worker count, three servers on one fresh PostgreSQL database holding
20 published events of 5 tiers each (100 tiers; LISTING selects ~720 fields):

- bare: bench/bare_listing.py, the same SELECTs through asyncpg, JSON by hand:
  the floor;
- app: `eventhub serve` with the public-read cache off
  (EVENTHUB_PUBLIC_CACHE_SECONDS=0): every request parsed, validated, executed;
- app cached: `eventhub serve` as configured by default (the cache on).

Before measuring, the three answers are checked byte for byte. Then, `--repeat`
rounds of: each server in turn for `--seconds` under `--clients` closed-loop
clients (a minimal keep-alive HTTP/1.1 client, far cheaper per request than
httpx, so the client steals less of the 2 cores); the ratio to bare is taken
per round, then the median. Each row shows the rate, p50/p99 latency, server,
database and client CPU per request, and each server worker's resident memory
(RSS) idle after start-up and after its runs.

    python bench/reads.py                 # 1 and 2 workers, 3 rounds of 10 s each: ~4 min
    python bench/reads.py --workers 1 --repeat 1 --seconds 5   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from booking import Api, CpuMeter, admin_execute, eventhub_server, free_port

EVENTS, TIERS = 20, 5
LISTING = (
    "{ events(first: 20) { edges { node { id name startsAt remaining "
    "ticketTypes { id name price { amount currency } remaining } } } } }"
)
HERE = Path(__file__).resolve().parent


# --- servers -----------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    path: str
    group: int
    body: bytes = b""
    rss_idle: list[float] = field(default_factory=list)
    rss_after: list[float] = field(default_factory=list)

    def request(self) -> bytes:
        host = self.url.split("://", 1)[1]
        return (
            f"POST {self.path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(self.body)}\r\n\r\n"
        ).encode() + self.body


def worker_pids(group: int) -> list[int]:
    """The server's worker processes: its process group without the supervisor, if any."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError):
                if os.getpgid(int(entry)) == group:
                    members.append(int(entry))
    workers = [
        pid
        for pid in members
        if pid != group
        and _parent(pid) == group
        and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    return workers or [group]


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def rss_mb(group: int) -> list[float]:
    sizes = []
    for pid in worker_pids(group):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sorted(sizes)


@contextmanager
def bare_server(
    libpq_url: str, workers: int, workdir: Path, pool: int
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, "BARE_DATABASE_URL": libpq_url, "BARE_POOL_SIZE": str(pool)}
    log_path = workdir / f"bare-{workers}w.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "bare_listing.py"), "--port", str(port),
             "--workers", str(workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the bare server did not start:\n{log_path.read_text()}")
            with suppress(httpx.TransportError):
                httpx.post(f"{url}/listing", timeout=2)
                break
            time.sleep(0.1)
        yield url, process.pid
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    seconds: float
    latencies: list[float]
    failures: int
    cpu: dict[str, float]
    rss: list[float]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def ms(self, p: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000

    def cpu_ms(self, group: str) -> str:
        return f"{1000 * self.cpu.get(group, 0.0) / max(len(self.latencies), 1):.2f}"

    def row(self) -> str:
        rss = "/".join(f"{r:.0f}" for r in self.rss)
        return (
            f"| {self.name:<16} | {self.rate:>7.1f} | {self.ms(50):>6.1f} | {self.ms(99):>7.1f}"
            f" | {self.cpu_ms('app'):>6} | {self.cpu_ms('db'):>5} | {self.cpu_ms('client'):>6}"
            f" | {rss:>9} | {self.failures:>4} |"
        )


HEADER = (
    "| run              |   req/s | p50 ms |  p99 ms | app ms | db ms | cli ms | RSS MB    "
    "| fail |\n|------------------|--------:|-------:|--------:|-------:|------:|-------:"
    "|----------:|-----:|"
)


async def one_client(
    host: str, port: int, request: bytes, expect: bytes, until: float, latencies: list[float]
) -> int:
    """Closed loop on one keep-alive connection; returns how many answers were wrong."""
    reader, writer = await asyncio.open_connection(host, port)
    failures = 0
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200") or body != expect:
                failures += 1
    finally:
        writer.close()
    return failures


async def load(target: Target, clients: int, seconds: float, meter: CpuMeter) -> Run:
    host, port = target.url.split("://", 1)[1].split(":")
    request, latencies = target.request(), []
    expect = await fetch_body(target)
    meter.server_group = target.group
    before, client_cpu = meter.snapshot(), time.process_time()
    started = time.perf_counter()
    until = started + seconds
    failures = await asyncio.gather(
        *(one_client(host, int(port), request, expect, until, latencies) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    cpu = CpuMeter.spent(before, meter.snapshot())
    cpu["client"] = time.process_time() - client_cpu
    return Run(target.name, elapsed, latencies, sum(failures), cpu, rss_mb(target.group))


async def fetch_body(target: Target) -> bytes:
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            target.url + target.path,
            content=target.body,
            headers={"content-type": "application/json"},
        )
    response.raise_for_status()
    return response.content


# --- the run -----------------------------------------------------------------------------------


async def seed(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        api = Api(http)
        organizer = await api.register("reads-organizer@example.com", organizer=True)
        for n in range(EVENTS):
            await api.create_event(organizer, f"Event {n + 1:02d}", TIERS, 500)


@dataclass
class Bench:
    args: argparse.Namespace
    database: str = field(default_factory=lambda: f"eventhub_bench_{uuid.uuid4().hex[:8]}")
    runs: dict[str, list[Run]] = field(default_factory=dict)

    @property
    def libpq_url(self) -> str:
        return f"{self.args.postgres_url.rsplit('/', 1)[0]}/{self.database}"

    @property
    def app_url(self) -> str:
        return "postgresql+asyncpg://" + self.libpq_url.split("://", 1)[1]

    async def for_workers(self, workers: int, workdir: Path) -> None:
        pool = self.args.pool
        common = {"db_pool_size": str(pool)}
        body = json.dumps({"query": LISTING}).encode()
        with (
            eventhub_server(
                self.app_url, workers, workdir, settings={**common, "public_cache_seconds": "0"}
            ) as (app_url, app_group),
            eventhub_server(self.app_url, workers, workdir, settings=common) as (
                cached_url,
                cached_group,
            ),
            bare_server(self.libpq_url, workers, workdir, pool) as (bare_url, bare_group),
        ):
            if workers == self.args.workers[0]:
                await seed(app_url)
            targets = [
                Target(f"bare {workers}w", bare_url, "/listing", bare_group, body),
                Target(f"app {workers}w", app_url, "/graphql", app_group, body),
                Target(f"app cached {workers}w", cached_url, "/graphql", cached_group, body),
            ]
            await asyncio.sleep(1)  # every worker up
            for target in targets:
                target.rss_idle = rss_mb(target.group)
            answers = {t.name: await fetch_body(t) for t in targets}
            if len(set(answers.values())) != 1:
                for name, answer in answers.items():
                    print(f"{name}: {answer[:300]!r}")
                sys.exit("the three answers differ: nothing to compare")
            size = len(answers[targets[0].name])
            print(f"{workers} worker(s): the three answers are identical ({size} bytes)")
            print("RSS idle after start-up, per worker (MB): " + "; ".join(
                f"{t.name} {'/'.join(f'{r:.0f}' for r in t.rss_idle)}" for t in targets
            ))  # fmt: skip
            print(HEADER)
            meter = CpuMeter(self.database)
            for target in targets:  # warm-up: JIT caches, pools, parse/validate caches
                await load(target, self.args.clients, 2, meter)
            for _ in range(self.args.repeat):
                for target in targets:
                    run = await load(target, self.args.clients, self.args.seconds, meter)
                    self.runs.setdefault(target.name, []).append(run)
                    print(run.row(), flush=True)
            for target in targets:
                target.rss_after = rss_mb(target.group)

    def summary(self) -> None:
        print(f"\nmedian over {self.args.repeat} round(s) of the ratio to bare, per round:")
        for workers in self.args.workers:
            bare = self.runs[f"bare {workers}w"]
            for name in (f"app {workers}w", f"app cached {workers}w"):
                ratios = [r.rate / b.rate for r, b in zip(self.runs[name], bare, strict=True)]
                each = ", ".join(f"{r:.0%}" for r in ratios)
                cpu = statistics.median(
                    1000 * r.cpu.get("app", 0.0) / len(r.latencies) for r in self.runs[name]
                )
                bare_cpu = statistics.median(
                    1000 * b.cpu.get("app", 0.0) / len(b.latencies) for b in bare
                )
                print(
                    f"{name:<16}: {statistics.median(ratios):6.1%} of bare (rounds: {each}); "
                    f"server CPU {cpu:.2f} ms/request vs {bare_cpu:.2f}"
                )
        print("app/db/cli ms: CPU per request of the server's workers, the bench database's")
        print("  backends and this client. RSS MB: resident memory of each worker after its runs.")
        print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    async def run(self) -> int:
        admin = self.args.postgres_url
        await admin_execute(admin, f'CREATE DATABASE "{self.database}"')
        try:
            args = self.args
            print(f"database {self.database}; {args.clients} clients; "
                  f"{args.seconds:.0f} s per run; {EVENTS} events x {TIERS} tiers\n")  # fmt: skip
            with tempfile.TemporaryDirectory(prefix="eventhub-reads-") as workdir:
                for workers in self.args.workers:
                    await self.for_workers(workers, Path(workdir))
        finally:
            await admin_execute(admin, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self.summary()
        failed = sum(run.failures for runs in self.runs.values() for run in runs)
        return 1 if failed else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "EVENTHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="maintenance database to create the bench database from",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--seconds", type=float, default=10, help="seconds per run (10)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (3)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="(1 2)")
    parser.add_argument(
        "--pool", type=int, default=4, help="database connections per worker, each server (4)"
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(Bench(args).run())
    return uvloop.run(Bench(args).run())


if __name__ == "__main__":
    sys.exit(main())
