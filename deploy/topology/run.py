#!/usr/bin/env python3
"""wxauth in a production-like topology on this machine, checked end to end.

Starts, from Debian packages and the prebuilt wxauth binaries:

    PostgreSQL primary ──(synchronous streaming replication, slot)──▶ hot-standby replica
    pgbouncer (pool_mode = transaction) in front of the primary
    Redis (rate limits shared by every instance)
    wxauth-sim (WeChat)
    three wxauth-server instances sharing one configuration:
        writes through pgbouncer (simple query protocol), reads on the replica directly

then runs nine named checks (README.md beside this file), prints a summary table and exits
non-zero on any violation. Everything it started is stopped and removed at exit, also on a
failure or Ctrl-C. Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import http.client
import json
import os
import pwd
import re
import resource
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENVELOPE_KEYS = {"id", "status", "name", "message", "details"}
LOCK_TIMEOUT_MS = 1000
STATEMENT_TIMEOUT_MS = 5000
# A request that meets a locked table must fail within the lock timeout plus this much.
STALL_SLACK_MS = 2000
MAX_CONNECTIONS_PER_IP = 512
REDIRECT_BASE = "http://127.0.0.1:59999/app/"  # allow-listed front end; never contacted
HUGE = 1_000_000  # rate limits of the main instances: on (Redis in the path) but never hit


class TopologyError(Exception):
    """The topology could not be set up or driven (not a wxauth verdict)."""


class Interrupted(BaseException):
    """SIGTERM / SIGHUP: unwind like Ctrl-C so that everything is cleaned up."""


# ───────────────────────────── small helpers ─────────────────────────────


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def sh(args: list[str], *, check: bool = True, timeout: float = 120, user: str | None = None,
       input: str | None = None) -> subprocess.CompletedProcess:
    """Runs a command (as `user` through runuser when given) and returns its output."""
    if user:
        args = ["runuser", "-u", user, "--", *args]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
        raise TopologyError(f"timed out after {timeout}s: {' '.join(args)}") from e
    if check and done.returncode != 0:
        raise TopologyError(
            f"command failed ({done.returncode}): {' '.join(args)}\n{done.stdout}{done.stderr}"
        )
    return done


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(text[-lines:])


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise TopologyError(f"no VmRSS for pid {pid}")


def redis_command(port: int, *args: str) -> object:
    """One Redis command over RESP (no redis-cli needed)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload.encode())
        f = s.makefile("rb")

        def read():
            line = f.readline().rstrip(b"\r\n")
            kind, rest = line[:1], line[1:]
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                raise TopologyError(f"redis: {rest.decode()}")
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2].decode()
            if kind == b"*":
                return [read() for _ in range(int(rest))]
            raise TopologyError(f"redis: unexpected answer {line!r}")

        return read()


# ───────────────────────────── HTTP ─────────────────────────────


class Resp:
    """One HTTP exchange. `status` 0 means no answer (the error says why)."""

    __slots__ = ("status", "body", "headers", "t0", "t1", "error")

    def __init__(self, status, body, headers, t0, t1, error=None):
        self.status, self.body, self.headers = status, body, headers
        self.t0, self.t1, self.error = t0, t1, error

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def ms(self) -> float:
        return (self.t1 - self.t0) * 1000

    def json(self):
        try:
            return json.loads(self.body)
        except (ValueError, TypeError):
            return None

    @property
    def name(self) -> str | None:
        j = self.json()
        return j.get("name") if isinstance(j, dict) else None

    def label(self) -> str:
        if self.status == 0:
            return f"no answer ({self.error})"
        j = self.json()
        probe = j.get("status") if isinstance(j, dict) and isinstance(j.get("status"), str) else None
        return f"{self.status} {self.name or probe or '-'}"  # probes answer {"status": "..."}

    def short(self) -> str:
        return f"{self.label()} in {self.ms:.0f} ms: {self.body[:300]!r}"


def envelope_problem(resp: Resp) -> str | None:
    """Why an error answer is not wxauth's JSON error envelope (None when it is)."""
    if resp.status == 0:
        return resp.label()
    if resp.status < 400:
        return None
    if not resp.body:
        return f"{resp.status} with an empty body"
    j = resp.json()
    if not isinstance(j, dict):
        return f"{resp.status} with a body that is not a JSON object: {resp.body[:120]!r}"
    if set(j) != ENVELOPE_KEYS:
        return f"{resp.status} envelope keys {sorted(j)} (want {sorted(ENVELOPE_KEYS)})"
    if j.get("status") != resp.status:
        return f"{resp.status} envelope says status {j.get('status')}"
    if not isinstance(j.get("name"), str) or not j["name"]:
        return f"{resp.status} envelope without a name"
    return None


class Client:
    """HTTP/1.1 keep-alive connections, one per thread and port.

    A connection idle longer than 2 s is replaced before use (wxauth closes idle keep-alive
    connections after 5 s), so a failed exchange is always a real one, never a stale socket.
    """

    IDLE_REUSE_SECS = 2.0

    def __init__(self, timeout: float = 30.0):
        self.timeout = timeout
        self.local = threading.local()

    def request(self, port: int, method: str, path: str, body=None,
                headers: dict | None = None, raw_body: bytes | None = None) -> Resp:
        conns = self.local.__dict__.setdefault("conns", {})
        conn, last = conns.pop(port, (None, 0.0))
        if conn is not None and time.monotonic() - last > self.IDLE_REUSE_SECS:
            conn.close()
            conn = None
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
        hdrs = dict(headers or {})
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        t0 = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            payload = r.read()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            return Resp(0, b"", {}, t0, time.monotonic(), f"{type(e).__name__}: {e}")
        t1 = time.monotonic()
        if r.will_close:
            conn.close()
        else:
            conns[port] = (conn, t1)
        return Resp(r.status, payload, {k.lower(): v for k, v in r.getheaders()}, t0, t1)


# ───────────────────────────── checks and their bookkeeping ─────────────────────────────


class Check:
    """One named check: what it sent, what came back, and what was wrong."""

    def __init__(self, number: int, title: str):
        self.number, self.title = number, title
        self.requests = 0
        self.errors: collections.Counter = collections.Counter()
        self.gap_ms: float | None = None
        self.token_fetches: str = ""
        self.integrity: list[str] = []
        self.notes: list[str] = []
        self.violations: list[str] = []
        self.logs: list[str] = []  # names of the processes whose log tails matter on failure
        self.ran = False
        self.seconds = 0.0
        self._lock = threading.Lock()

    @property
    def passed(self) -> bool:
        return self.ran and not self.violations

    def record(self, resp: Resp, what: str, envelope: bool = True) -> Resp:
        """Counts an exchange. A 500, no answer, or an error body that is not the JSON envelope
        is a violation wherever it happens; everything else is judged by the check. (`/readyz`
        answers `{"status": "unavailable"}` by design: `envelope=False`.)"""
        problem = envelope_problem(resp) if envelope or resp.status == 0 else None
        with self._lock:
            self.requests += 1
            if not resp.ok:
                self.errors[resp.label() if resp.status else "no answer"] += 1
            if resp.status >= 500 and resp.status != 503:
                self.violations.append(f"{what}: {resp.short()}")
            elif problem:
                self.violations.append(f"{what}: not an error envelope: {problem}")
        return resp

    def expect(self, condition: bool, message: str) -> bool:
        if not condition:
            with self._lock:
                self.violations.append(message)
        return condition

    def expect_status(self, resp: Resp, status: int, what: str, name: str | None = None) -> bool:
        good = resp.status == status and (name is None or resp.name == name)
        want = f"{status} {name}" if name else str(status)
        return self.expect(good, f"{what}: want {want}, got {resp.short()}")

    def integrity_result(self, label: str, good: bool, detail: str = "") -> None:
        self.integrity.append(f"{label}: {'ok' if good else 'FAIL'}{' (' + detail + ')' if detail else ''}")
        self.expect(good, f"integrity: {label} {detail}".strip())


@dataclass
class Op:
    """One request of a background load."""
    op: str
    kind: str  # "read" or "write"
    inst: str
    t0: float
    t1: float
    status: int
    label: str


@dataclass
class Load:
    """What a background load did."""
    ops: list[Op] = field(default_factory=list)
    logins: list[tuple[dict, float]] = field(default_factory=list)  # (sign-in body, done at)
    rotations: list[tuple[dict, float]] = field(default_factory=list)  # (refresh body, done at)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: str, kind: str, inst: "Instance", r: Resp) -> None:
        with self.lock:
            self.ops.append(Op(op, kind, inst.name, r.t0, r.t1, r.status, r.label()))

    def failures(self) -> list[Op]:
        return [o for o in self.ops if not 200 <= o.status < 300]


# ───────────────────────────── the topology ─────────────────────────────


@dataclass
class Ports:
    base: int

    @property
    def primary(self): return self.base + 432
    @property
    def replica(self): return self.base + 433
    @property
    def pgbouncer(self): return self.base + 1432
    @property
    def redis(self): return self.base + 1379
    @property
    def sim(self): return self.base + 4100

    def wxauth(self, i: int) -> int:  # 0-2: the main set, 3-5: the rate-limit set
        return self.base + 3081 + i

    def all(self) -> list[int]:
        return [self.primary, self.replica, self.pgbouncer, self.redis, self.sim,
                *[self.wxauth(i) for i in range(6)]]


@dataclass
class Instance:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class Apps:
    """The apps, identical in the simulator and in wxauth's configuration."""
    shop: str = field(default_factory=lambda: "wx" + secrets.token_hex(8))
    phones: str = field(default_factory=lambda: "wx" + secrets.token_hex(8))
    oa: str = field(default_factory=lambda: "wx" + secrets.token_hex(8))
    web: str = field(default_factory=lambda: "wx" + secrets.token_hex(8))
    secrets: dict = field(default_factory=lambda: {k: secrets.token_hex(16) for k in
                                                   ("shop", "phones", "oa", "web")})
    event_token: str = field(default_factory=lambda: secrets.token_hex(16))


class Topology:
    """Starts, drives and removes the processes and clusters."""

    def __init__(self, args):
        self.args = args
        self.ports = Ports(args.base_port)
        self.bin_dir = Path(args.bin_dir).resolve()
        self.pg_version = sorted(os.listdir("/etc/postgresql"), key=int)[-1]
        self.pg_bin = Path(f"/usr/lib/postgresql/{self.pg_version}/bin")
        tag = f"wxtopo{self.ports.base}"
        self.primary_cluster = f"{tag}_primary"
        self.replica_cluster = f"{tag}_replica"
        self.state_file = Path(tempfile.gettempdir()) / f"wxauth-topology-{self.ports.base}.json"
        self.dir: Path | None = None
        self.procs: dict[str, subprocess.Popen] = {}
        self.log_paths: dict[str, Path] = {}
        self.instances: list[Instance] = []
        self.rl_instances: list[Instance] = []
        self.clusters: list[str] = []
        self.apps = Apps()
        self.master_key = base64.b64encode(os.urandom(32)).decode()
        self.jwt_secret = secrets.token_hex(32)
        # Where writes go now (pgbouncer's target) and which cluster that is.
        self.write_cluster = self.primary_cluster
        self.write_port = self.ports.primary

    # ── bookkeeping for a later run's cleanup ──

    def save_state(self) -> None:
        state = {
            "dir": str(self.dir) if self.dir else None,
            "pids": [[p.pid, Path(p.args[0]).name] for p in self.procs.values()],
        }
        self.state_file.write_text(json.dumps(state))

    def remove_leftovers(self) -> None:
        """Removes what an earlier, crashed run with the same base port left behind."""
        if self.state_file.exists():
            try:
                state = json.loads(self.state_file.read_text())
            except ValueError:
                state = {}
            for pid, exe in state.get("pids", []):
                try:  # redis rewrites its title: "redis-server 127.0.0.1:PORT"
                    argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
                except OSError:
                    continue
                if argv0 and Path(argv0.split()[0]).name == exe:
                    log(f"leftover: stopping {exe} (pid {pid}) of an earlier run")
                    self._stop_pid(pid)
            if state.get("dir"):
                shutil.rmtree(state["dir"], ignore_errors=True)
            self.state_file.unlink(missing_ok=True)
        for cluster in (self.primary_cluster, self.replica_cluster):
            if self.conf_dir(cluster).exists() or self.data_dir(cluster).exists():
                log(f"leftover: dropping cluster {self.pg_version}/{cluster}")
                self.drop_cluster(cluster)
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
        if any(low <= p <= high for p in self.ports.all()):
            log(f"warning: some ports lie in the ephemeral range {low}-{high}; an outgoing "
                "connection may hold one (choose --base-port so that they do not)")
        busy = [p for p in self.ports.all() if port_in_use(p)]
        if busy:
            raise TopologyError(f"ports {busy} are in use by something else: pass another --base-port")

    @staticmethod
    def _stop_pid(pid: int, grace: float = 5.0) -> None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        def gone() -> bool:  # exited, or a zombie nobody reaps
            try:
                return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                return True

        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if gone():
                return
            time.sleep(0.05)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # ── set-up ──

    def setup(self) -> None:
        self.remove_leftovers()
        self.dir = Path(tempfile.mkdtemp(prefix=f"wxauth-topology-{self.ports.base}-"))
        self.dir.chmod(0o755)  # pgbouncer runs as postgres and keeps its files in here
        self.save_state()
        self.ensure_binaries()
        self.ensure_pgbouncer()
        self.setup_postgres()
        self.start_pgbouncer()
        self.start_redis()
        self.start_sim()
        self.migrate()

    def ensure_binaries(self) -> None:
        missing = [b for b in ("wxauth-server", "wxauth-sim") if not (self.bin_dir / b).exists()]
        if not missing:
            return
        if self.bin_dir.resolve() != (ROOT / "target" / "debug").resolve():
            raise TopologyError(f"{', '.join(missing)} not found in {self.bin_dir}")
        log("building wxauth-server and wxauth-sim (cargo build)")
        done = subprocess.run(["cargo", "build", "-p", "wxauth-server", "-p", "wxauth-sim"], cwd=ROOT)
        if done.returncode != 0:
            raise TopologyError("cargo build failed")

    def ensure_pgbouncer(self) -> None:
        if shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists():
            return
        log("installing pgbouncer (apt-get); its own service is not started")
        policy = Path("/usr/sbin/policy-rc.d")
        had_policy = policy.exists()
        if not had_policy:
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
        try:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "pgbouncer"]):
                if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
                    raise TopologyError(f"{' '.join(cmd)} failed")
        finally:
            if not had_policy:
                policy.unlink(missing_ok=True)

    def drop_cluster(self, cluster: str) -> None:
        sh(["pg_dropcluster", "--stop", self.pg_version, cluster], check=False, timeout=60)
        # pg_dropcluster leaves files it did not create (our conf.d file) and the log behind.
        shutil.rmtree(self.conf_dir(cluster), ignore_errors=True)
        shutil.rmtree(self.data_dir(cluster), ignore_errors=True)
        Path(f"/var/log/postgresql/postgresql-{self.pg_version}-{cluster}.log").unlink(missing_ok=True)

    def conf_dir(self, cluster: str) -> Path:
        return Path(f"/etc/postgresql/{self.pg_version}/{cluster}")

    def data_dir(self, cluster: str) -> Path:
        return Path(f"/var/lib/postgresql/{self.pg_version}/{cluster}")

    def write_pg_conf(self, cluster: str, extra: str) -> None:
        conf = self.conf_dir(cluster)
        (conf / "conf.d" / "topology.conf").write_text(textwrap.dedent(f"""\
            listen_addresses = '127.0.0.1'
            max_connections = 200
            shared_buffers = 64MB
            wal_level = replica
            max_wal_senders = 5
            max_replication_slots = 5
            hot_standby = on
            hot_standby_feedback = on
            wal_receiver_status_interval = 1s
            log_min_messages = warning
            log_line_prefix = '%m [%p] %q%u@%d '
            {extra}
            """))
        (conf / "pg_hba.conf").write_text(textwrap.dedent("""\
            local   all          all                 peer
            host    all          all   127.0.0.1/32  trust
            host    replication  all   127.0.0.1/32  trust
            """))
        sh(["chown", "-R", "postgres:postgres", str(conf)])

    def setup_postgres(self) -> None:
        v, p = self.pg_version, self.ports
        log(f"PostgreSQL {v}: primary {self.primary_cluster} on {p.primary}")
        self.log_paths["postgres-primary"] = self.dir / "postgres-primary.log"
        sh(["pg_createcluster", v, self.primary_cluster, "-p", str(p.primary), "--start-conf", "manual",
            "-l", str(self.log_paths["postgres-primary"])])
        self.clusters.append(self.primary_cluster)
        self.write_pg_conf(self.primary_cluster, "")
        sh(["pg_ctlcluster", v, self.primary_cluster, "start"])
        self.psql(p.primary, "CREATE ROLE wxauth LOGIN", db="postgres")
        self.psql(p.primary, "CREATE DATABASE wxauth OWNER wxauth", db="postgres")
        # pgbouncer mode sends no session settings: the timeouts live on the role.
        self.psql(p.primary, f"""
            ALTER ROLE wxauth SET statement_timeout = '{STATEMENT_TIMEOUT_MS}ms';
            ALTER ROLE wxauth SET lock_timeout = '{LOCK_TIMEOUT_MS}ms';
            ALTER ROLE wxauth SET idle_in_transaction_session_timeout = '30s';
        """, db="postgres")

        log(f"PostgreSQL {v}: streaming replica {self.replica_cluster} on {p.replica}")
        self.log_paths["postgres-replica"] = self.dir / "postgres-replica.log"
        sh(["pg_createcluster", v, self.replica_cluster, "-p", str(p.replica), "--start-conf", "manual",
            "-l", str(self.log_paths["postgres-replica"])])
        self.clusters.append(self.replica_cluster)
        self.write_pg_conf(self.replica_cluster, "synchronous_standby_names = ''")
        data = self.data_dir(self.replica_cluster)
        for entry in data.iterdir():  # pg_basebackup fills the (empty) data directory
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        sh([str(self.pg_bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(p.primary), "-U", "postgres",
            "-D", str(data), "-R", "-X", "stream", "-C", "-S", "replica", "--checkpoint=fast"],
           user="postgres")
        sh(["pg_ctlcluster", v, self.replica_cluster, "start"])
        # Once the standby streams, commits wait until it has their WAL on disk: an acknowledged
        # write survives a failover (asynchronous replication loses the last commits by design).
        # Not before: with no standby attached a synchronous primary blocks every commit.
        self.write_pg_conf(self.primary_cluster,
                           "synchronous_standby_names = '*'\nsynchronous_commit = on")
        sh(["pg_ctlcluster", v, self.primary_cluster, "reload"])
        deadline = time.monotonic() + 30
        while True:
            state = self.psql(p.primary, "SELECT state || ',' || sync_state FROM pg_stat_replication", db="postgres")
            if state == "streaming,sync":
                break
            if time.monotonic() > deadline:
                raise TopologyError(f"replication not streaming/sync: {state!r}")
            time.sleep(0.2)

    def psql(self, port: int, sql: str, db: str = "wxauth", timeout: float = 30) -> str:
        done = sh([str(self.pg_bin / "psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                   "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db],
                  input=sql if sql.rstrip().endswith(";") else sql + ";", timeout=timeout)
        return done.stdout.strip()

    def pgbouncer_ini(self, target_port: int) -> None:
        d = self.dir / "pgbouncer"
        d.mkdir(exist_ok=True)
        (d / "userlist.txt").write_text('"wxauth" ""\n"pgbadmin" ""\n')
        (d / "pgbouncer.ini").write_text(textwrap.dedent(f"""\
            [databases]
            wxauth = host=127.0.0.1 port={target_port} dbname=wxauth

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {self.ports.pgbouncer}
            unix_socket_dir =
            auth_type = trust
            auth_file = {d}/userlist.txt
            admin_users = pgbadmin
            pool_mode = transaction
            max_client_conn = 500
            default_pool_size = 20
            ; sqlx sends extra_float_digits in its startup packet; pgbouncer refuses parameters
            ; it does not track unless they are listed here.
            ignore_startup_parameters = extra_float_digits
            ; A failed server login is retried after 1 s (default 15 s), connects give up
            ; after 2 s, and a client waits at most 10 s for a server connection.
            server_login_retry = 1
            server_connect_timeout = 2
            query_wait_timeout = 10
            logfile = {d}/pgbouncer.log
            pidfile = {d}/pgbouncer.pid
            """))
        sh(["chown", "-R", "postgres:postgres", str(d)])

    def start_pgbouncer(self) -> None:
        log(f"pgbouncer (transaction pooling) on {self.ports.pgbouncer} -> {self.ports.primary}")
        self.pgbouncer_ini(self.ports.primary)
        d = self.dir / "pgbouncer"
        self.log_paths["pgbouncer"] = d / "pgbouncer.log"
        # pgbouncer refuses to run as root.
        self.spawn("pgbouncer", ["pgbouncer", str(d / "pgbouncer.ini")], user="postgres",
                   log_path=d / "stderr.log")
        self.wait_for(lambda: self.pgbouncer_admin("SHOW VERSION", check=False) is not None,
                      "pgbouncer", 15)

    def pgbouncer_admin(self, command: str, check: bool = True) -> str | None:
        done = sh([str(self.pg_bin / "psql"), "-X", "-A", "-F", "|", "-h", "127.0.0.1",
                   "-p", str(self.ports.pgbouncer), "-U", "pgbadmin", "-d", "pgbouncer", "-c", command],
                  check=check, timeout=10)
        return done.stdout if done.returncode == 0 else None

    def pgbouncer_show(self, what: str) -> list[dict]:
        lines = [l for l in self.pgbouncer_admin(f"SHOW {what}").splitlines() if "|" in l]
        header = lines[0].split("|")
        return [dict(zip(header, l.split("|"))) for l in lines[1:]]

    def retarget_pgbouncer(self, port: int) -> None:
        self.pgbouncer_ini(port)
        self.pgbouncer_admin("RELOAD")

    def start_redis(self) -> None:
        log(f"Redis on {self.ports.redis}")
        self.spawn("redis", ["redis-server", "--port", str(self.ports.redis), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(self.dir)])
        self.wait_for(lambda: self._redis_ping(), "redis", 10)

    def _redis_ping(self) -> bool:
        try:
            return redis_command(self.ports.redis, "PING") == "PONG"
        except (OSError, TopologyError):
            return False

    def start_sim(self) -> None:
        log(f"wxauth-sim on {self.ports.sim}")
        a = self.apps
        config = {"apps": [
            {"appid": a.shop, "secret": a.secrets["shop"], "kind": "mini_program"},
            {"appid": a.phones, "secret": a.secrets["phones"], "kind": "mini_program"},
            # WeChat pushes the Official Account's events to one instance (the third).
            {"appid": a.oa, "secret": a.secrets["oa"], "kind": "official_account",
             "event_url": f"http://127.0.0.1:{self.ports.wxauth(2)}/api/v1/official/oa/events",
             "event_token": a.event_token, "event_mode": "plain"},
            {"appid": a.web, "secret": a.secrets["web"], "kind": "website"},
        ]}
        path = self.dir / "sim.json"
        path.write_text(json.dumps(config))
        self.spawn("sim", [str(self.bin_dir / "wxauth-sim"), "--listen", f"127.0.0.1:{self.ports.sim}",
                           "--workers", "2", "--no-rate-limits", "--config", str(path)])
        self.wait_for(lambda: Client(2).request(self.ports.sim, "GET", "/__sim/healthz").status == 200,
                      "sim", 15)

    def wxauth_env(self, port: int) -> dict:
        p, a = self.ports, self.apps
        sim = f"http://127.0.0.1:{p.sim}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "WXAUTH__SERVER__LISTEN": f"127.0.0.1:{port}",
            "WXAUTH__SERVER__MAX_CONNECTIONS": "4096",
            "WXAUTH__SERVER__MAX_CONNECTIONS_PER_IP": str(MAX_CONNECTIONS_PER_IP),
            "WXAUTH__DATABASE__URL": f"postgres://wxauth@127.0.0.1:{p.pgbouncer}/wxauth",
            "WXAUTH__DATABASE__PGBOUNCER": "true",
            "WXAUTH__DATABASE__READ_URL": f"postgres://wxauth@127.0.0.1:{p.replica}/wxauth",
            "WXAUTH__DATABASE__MIGRATE_ON_START": "false",
            "WXAUTH__DATABASE__MAX_CONNECTIONS": "10",
            "WXAUTH__DATABASE__STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
            "WXAUTH__DATABASE__LOCK_TIMEOUT_MS": str(LOCK_TIMEOUT_MS),
            "WXAUTH__REDIS__URL": f"redis://127.0.0.1:{p.redis}/0",
            "WXAUTH__REDIS__FAIL": "open",
            "WXAUTH__RATE_LIMITS__ENABLED": "true",
            "WXAUTH__SECRETS__MASTER_KEY": self.master_key,
            "WXAUTH__JWT__SECRET": self.jwt_secret,
            "WXAUTH__WECHAT__API_BASE_URL": sim,
            "WXAUTH__WECHAT__OPEN_BASE_URL": sim,
            "WXAUTH__WECHAT__MP_BASE_URL": sim,
            "WXAUTH__AUTH__DEFAULT_APP": "shop",
            "WXAUTH__LOG__LEVEL": "info",
        }
        for cls in ("LOGIN", "PHONE", "OPENID", "OAUTH", "POLL"):
            for key in ("PER_IP_PER_MINUTE", "PER_IP_BURST", "PER_APP_PER_SECOND"):
                env[f"WXAUTH__RATE_LIMITS__{cls}__{key}"] = str(HUGE)
        for key, kind, appid in (("shop", "mini_program", a.shop), ("phones", "mini_program", a.phones),
                                 ("oa", "official_account", a.oa), ("web", "website", a.web)):
            k = key.upper()
            env[f"WXAUTH__APPS__{k}__KIND"] = kind
            env[f"WXAUTH__APPS__{k}__APPID"] = appid
            env[f"WXAUTH__APPS__{k}__SECRET"] = a.secrets[key]
            if kind != "mini_program":
                env[f"WXAUTH__APPS__{k}__REDIRECT_ALLOW_LIST"] = REDIRECT_BASE
        env["WXAUTH__APPS__OA__EVENT_TOKEN"] = a.event_token
        return env

    def migrate(self) -> None:
        log("migrations: wxauth-server migrate, directly against the primary")
        env = self.wxauth_env(0)
        env["WXAUTH__DATABASE__URL"] = f"postgres://wxauth@127.0.0.1:{self.ports.primary}/wxauth"
        env["WXAUTH__DATABASE__PGBOUNCER"] = "false"
        del env["WXAUTH__DATABASE__READ_URL"]
        done = subprocess.run([str(self.bin_dir / "wxauth-server"), "migrate"], env=env,
                              cwd=self.dir, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise TopologyError(f"wxauth-server migrate failed:\n{done.stdout}{done.stderr}")

    def start_wxauth_set(self, prefix: str, indexes, overrides: dict) -> tuple[list[Instance], list[str]]:
        """Starts instances at once, as a deployment does, and waits until each is ready.

        An instance that exits during start-up is reported (the second list) and started once
        more, as an orchestrator's restart policy would, so that the other checks can run."""
        started, failures = [], []
        for i in indexes:
            port = self.ports.wxauth(i)
            name = f"{prefix}{len(started) + 1}:{port}"
            env = {**self.wxauth_env(port), **overrides}
            proc = self.spawn(name, [str(self.bin_dir / "wxauth-server"), "serve"], env=env)
            started.append(Instance(name, port, proc, self.log_paths[name]))
        log(f"wxauth instances {', '.join(i.name for i in started)} starting")
        client = Client(2)
        for inst in started:
            try:
                self.wait_for(lambda: client.request(inst.port, "GET", "/readyz").status == 200,
                              inst.name, 60, proc=inst.proc)
            except TopologyError:
                if inst.proc.poll() is None:
                    raise
                last = tail(inst.log_path, 3).strip().splitlines()
                failures.append(f"{inst.name} exited with {inst.proc.returncode} during start-up: "
                                f"{last[-1] if last else '(no output)'}")
                log(f"{failures[-1]}; starting it once more")
                env = {**self.wxauth_env(inst.port), **overrides}
                inst.proc = self.spawn(inst.name, [str(self.bin_dir / "wxauth-server"), "serve"], env=env)
                self.wait_for(lambda: client.request(inst.port, "GET", "/readyz").status == 200,
                              inst.name, 60, proc=inst.proc)
        return started, failures

    @staticmethod
    def stop_proc(proc: subprocess.Popen, grace: float = 5.0) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_instances(self, instances: list[Instance]) -> None:
        for inst in instances:
            self.stop_proc(inst.proc)
            self.procs.pop(inst.name, None)
        self.save_state()

    def spawn(self, name: str, args: list[str], env: dict | None = None, user: str | None = None,
              log_path: Path | None = None) -> subprocess.Popen:
        log_path = log_path or self.dir / f"{name.replace(':', '-')}.log"
        self.log_paths.setdefault(name, log_path)
        out = open(log_path, "ab")
        kwargs = {}
        if user:
            kwargs = {"user": user, "group": user, "extra_groups": []}
            pw = pwd.getpwnam(user)
            os.chown(log_path, pw.pw_uid, pw.pw_gid)
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.dir,
                                start_new_session=True, **kwargs)
        out.close()
        self.procs[name] = proc
        self.save_state()
        return proc

    def wait_for(self, ready, what: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
        proc = proc or self.procs.get(what)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ready():
                    return
            except (OSError, TopologyError):
                pass
            if proc is not None and proc.poll() is not None:
                raise TopologyError(f"{what} exited with {proc.returncode}:\n"
                                    f"{tail(self.log_paths.get(what, Path('/dev/null')))}")
            if time.monotonic() > deadline:
                raise TopologyError(f"{what} not ready after {timeout}s:\n"
                                    f"{tail(self.log_paths.get(what, Path('/dev/null')))}")
            time.sleep(0.1)

    def crashed(self) -> list[str]:
        return [f"{i.name} exited with {i.proc.returncode}" for i in self.instances
                if i.proc.poll() is not None]

    # ── tear-down ──

    def cleanup(self) -> None:
        for proc in reversed(list(self.procs.values())):
            self.stop_proc(proc)
        self.procs.clear()
        if self.args.keep:  # pg_dropcluster removes the server logs with the clusters
            for name in ("postgres-primary", "postgres-replica"):
                if name in self.log_paths and self.log_paths[name].exists():
                    shutil.copy(self.log_paths[name], self.dir / f"{name}.kept.log")
        for cluster in reversed(self.clusters):
            self.drop_cluster(cluster)
        self.clusters.clear()
        if self.dir and not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir:
            log(f"kept logs and files in {self.dir}")
        self.state_file.unlink(missing_ok=True)


# ───────────────────────────── the WeChat simulator's control API ─────────────────────────────


class Sim:
    def __init__(self, port: int):
        self.port = port
        self.client = Client(10)

    def _call(self, method: str, path: str, body=None):
        r = self.client.request(self.port, method, path, body)
        if r.status != 200:
            raise TopologyError(f"simulator {method} {path}: {r.short()}")
        return r.json()

    def user(self, appid: str, **fields) -> str:
        return self._call("POST", "/__sim/users", {"appid": appid, **fields})["openid"]

    def login_code(self, appid: str, openid: str) -> str:
        return self._call("POST", "/__sim/login-codes", {"appid": appid, "openid": openid})["code"]

    def phone_code(self, appid: str, openid: str) -> str:
        return self._call("POST", "/__sim/phone-codes", {"appid": appid, "openid": openid})["code"]

    def consent(self, appid: str, openid: str) -> None:
        self._call("POST", "/__sim/oauth/consent", {"appid": appid, "openid": openid})

    def scan(self, ticket: str, openid: str) -> dict:
        return self._call("POST", "/__sim/scan", {"ticket": ticket, "openid": openid})

    def token_fetches(self, appid: str) -> int:
        f = self._call("GET", "/__sim/stats")["token_fetches"].get(appid, {})
        return f.get("stable", 0) + f.get("plain", 0)

    def invalidate(self, appid: str) -> None:
        self._call("POST", "/__sim/access-tokens/invalidate", {"appid": appid})

    def get(self, path_and_query: str) -> Resp:
        return self.client.request(self.port, "GET", path_and_query)


# ───────────────────────────── the checks ─────────────────────────────


class Run:
    """Shared state of one run: the topology, clients and the checks' results."""

    def __init__(self, topo: Topology):
        self.topo = topo
        self.sim = Sim(topo.ports.sim)
        self.client = Client()
        self.checks: dict[int, Check] = {}

    @property
    def insts(self) -> list[Instance]:
        return self.topo.instances

    # ── wxauth calls, each counted in a check ──

    def req(self, check: Check, inst: Instance, method: str, path: str, body=None,
            token: str | None = None) -> Resp:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        r = self.client.request(inst.port, method, path, body, headers)
        return check.record(r, f"{method} {path.split('?')[0]} on {inst.name}",
                            envelope=not path.startswith("/readyz"))

    def new_mp_user(self, appid: str | None = None, **fields) -> str:
        return self.sim.user(appid or self.topo.apps.shop, **fields)

    def login(self, check: Check, inst: Instance, openid: str, app: str | None = None,
              phone_code: str | None = None) -> Resp:
        appid = self.topo.apps.phones if app == "phones" else self.topo.apps.shop
        body = {"code": self.sim.login_code(appid, openid)}
        if app:
            body["app"] = app
        if phone_code:
            body["phoneCode"] = phone_code
        return self.req(check, inst, "POST", "/api/v1/miniprogram/login", body)

    def me(self, check: Check, inst: Instance, token: str) -> Resp:
        return self.req(check, inst, "GET", "/api/v1/me", token=token)

    def refresh(self, check: Check, inst: Instance, refresh_token: str) -> Resp:
        return self.req(check, inst, "POST", "/api/v1/auth/refresh", {"refreshToken": refresh_token})

    def signed_in(self, check: Check, r: Resp, what: str) -> dict | None:
        if not check.expect_status(r, 200, what):
            return None
        body = r.json()
        if not check.expect(body.get("status") == "signed_in" and body.get("accessToken")
                            and body.get("refreshToken"), f"{what}: not signed in: {r.body[:200]!r}"):
            return None
        return body


def check_cross_instance(run: Run, check: Check) -> None:
    """Every flow with its steps spread over the three instances."""
    a, b, c = run.insts
    apps = run.topo.apps
    # Mini Program logins on each instance; each access token accepted by all three.
    sessions = []
    for i in range(6):
        openid = run.new_mp_user()
        inst = run.insts[i % 3]
        s = run.signed_in(check, run.login(check, inst, openid), f"first login on {inst.name}")
        if not s:
            continue
        check.expect(s.get("isNewUser") is True, f"first login: isNewUser {s.get('isNewUser')}")
        sessions.append((openid, s))
        for other in run.insts:
            r = run.me(check, other, s["accessToken"])
            if check.expect_status(r, 200, f"/me on {other.name} with a token of {inst.name}"):
                me = r.json()
                check.expect(me["user"]["id"] == s["user"]["id"], "/me names another user")
                check.expect(any(x["openid"] == openid for x in me.get("identities", [])),
                             f"/me on {other.name}: identity {openid} missing")
    # A returning login on another instance finds the same account.
    for i, (openid, s) in enumerate(sessions[:3]):
        inst = run.insts[(i + 1) % 3]
        again = run.signed_in(check, run.login(check, inst, openid), f"returning login on {inst.name}")
        if again:
            check.expect(again["user"]["id"] == s["user"]["id"] and again["isNewUser"] is False,
                         f"returning login on {inst.name} gave another account or isNewUser")
    # Phone-keyed login and phone-number calls.
    phone = f"+86139{secrets.randbelow(10**8):08d}"
    openid = run.new_mp_user(phone=phone)
    s = run.signed_in(check, run.login(check, b, openid, phone_code=run.sim.phone_code(apps.shop, openid)),
                      "phone-keyed login")
    if s:
        check.expect(s["user"]["phone"] == phone, f"phone-keyed login: phone {s['user']['phone']} != {phone}")
    for inst in run.insts:
        r = run.req(check, inst, "POST", "/api/v1/miniprogram/phone-number",
                    {"code": run.sim.phone_code(apps.shop, openid)})
        if check.expect_status(r, 200, f"phone-number on {inst.name}"):
            check.expect(r.json().get("e164") == phone, f"phone-number on {inst.name}: {r.body[:200]!r}")
    # Refresh chain across instances, then reuse detection across instances.
    if sessions:
        s = sessions[0][1]
        for inst in (b, c):
            nxt = run.signed_in(check, run.refresh(check, inst, s["refreshToken"]), f"refresh on {inst.name}")
            if not nxt:
                return
            check.expect(nxt["user"]["id"] == s["user"]["id"], "refresh: another user")
            s = nxt
        check.expect_status(run.me(check, a, s["accessToken"]), 200, "/me with a refreshed token")
        old = s["refreshToken"]
        new = run.signed_in(check, run.refresh(check, a, old), f"refresh on {a.name}")
        if new:
            check.expect_status(run.refresh(check, b, old), 401, f"reuse of the old refresh token on {b.name}",
                                "REFRESH_TOKEN_REUSED")
            r = run.refresh(check, c, new["refreshToken"])
            check.expect(r.status == 401, f"the new refresh token after reuse on {c.name}: want 401, "
                                          f"got {r.short()}")
            check.notes.append(f"after reuse, the new token answers {r.label()}")
    # Official Account and website OAuth: authorize on one, callback exchange on another.
    for app, appid, scope in (("oa", apps.oa, "snsapi_userinfo"), ("web", apps.web, None)):
        openid = run.sim.user(appid, unionid=f"u{secrets.token_hex(8)}", nickname=f"{app}-user")
        run.sim.consent(appid, openid)
        query = {"app": app, "redirectUri": REDIRECT_BASE + "home", "callback": REDIRECT_BASE + "callback"}
        if scope:
            query["scope"] = scope
        r = run.req(check, a, "GET", "/api/v1/oauth/authorize?" + urllib.parse.urlencode(query))
        if not check.expect_status(r, 200, f"{app} authorize on {a.name}"):
            continue
        auth = r.json()
        url = urllib.parse.urlsplit(auth["authorizeUrl"])
        page = run.sim.get(f"{url.path}?{url.query}")
        location = page.headers.get("location", "")
        if not check.expect(page.status == 302 and location.startswith(REDIRECT_BASE + "callback"),
                            f"{app}: WeChat's authorize page did not redirect: {page.short()}"):
            continue
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        check.expect(q.get("state") == auth["state"], f"{app}: state changed on the way")
        token_path = "/api/v1/oauth/token?" + urllib.parse.urlencode({"code": q["code"], "state": q["state"]})
        s = run.signed_in(check, run.req(check, b, "GET", token_path), f"{app} token exchange on {b.name}")
        if s:
            check.expect(s.get("redirectUri") == REDIRECT_BASE + "home", f"{app}: redirectUri {s.get('redirectUri')}")
            r = run.me(check, c, s["accessToken"])
            if check.expect_status(r, 200, f"{app}: /me on {c.name}"):
                check.expect(any(x["openid"] == openid and x["app"] == app for x in r.json()["identities"]),
                             f"{app}: identity missing on /me")
        # The state is single-use across instances.
        check.expect_status(run.req(check, c, "GET", token_path), 400, f"{app}: state replayed on {c.name}",
                            "INVALID_STATE")
    # Scan-to-login: QR on the first instance, WeChat pushes the scan to the third, polls on the second.
    r = run.req(check, a, "POST", "/api/v1/official/qr-login", {"app": "oa"})
    if check.expect_status(r, 200, f"qr-login start on {a.name}"):
        start = r.json()
        poll = f"/api/v1/official/qr-login/{start['loginId']}"
        r = run.req(check, b, "GET", poll)
        check.expect(r.status == 200 and r.json().get("status") == "pending", f"poll before scan: {r.short()}")
        ticket = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start["qrImageUrl"]).query))["ticket"]
        scanner = run.sim.user(apps.oa, nickname="scanner")
        report = run.sim.scan(ticket, scanner)
        check.expect(report.get("delivered") and report.get("status") == 200,
                     f"scan event to {c.name} not delivered: {report}")
        s = run.signed_in(check, run.req(check, b, "GET", poll), f"poll after scan on {b.name}")
        if s:
            check.expect_status(run.me(check, c, s["accessToken"]), 200, "/me after scan-to-login")
        check.expect_status(run.req(check, a, "GET", poll), 410, f"poll after sign-in on {a.name}",
                            "QR_LOGIN_CONSUMED")


def check_token_fetches(run: Run, check: Check) -> None:
    """One access-token fetch for 300 concurrent phone calls; one more after invalidation."""
    appid = run.topo.apps.phones
    users = []
    for i in range(600):
        phone = f"+86137{i:08d}"
        users.append((run.sim.user(appid, phone=phone), phone))
    codes = [(run.sim.phone_code(appid, o), p) for o, p in users]

    def call(i: int, code: str, phone: str, barrier: threading.Barrier | None) -> Resp:
        if barrier:
            barrier.wait()
        inst = run.insts[i % 3]
        r = run.req(check, inst, "POST", "/api/v1/miniprogram/phone-number", {"code": code, "app": "phones"})
        if check.expect_status(r, 200, f"phone-number on {inst.name}"):
            check.expect(r.json().get("e164") == phone, f"phone-number: wrong number {r.body[:120]!r}")
        return r

    workers = 30
    before = run.sim.token_fetches(appid)
    barrier = threading.Barrier(workers)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda ix: call(ix[0], *ix[1], barrier if ix[0] < workers else None),
                      enumerate(codes[:300])))
    first = run.sim.token_fetches(appid) - before
    check.expect(first == 1, f"{first} token fetches for 300 phone calls (want 1)")

    # The token WeChat issued is invalidated while 30 workers keep calling.
    second_batch = list(enumerate(codes[300:], start=300))
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(call, i, code, phone, None) for i, (code, phone) in second_batch[:100]]
        for f in futures:
            f.result()
        run.sim.invalidate(appid)
        futures = [pool.submit(call, i, code, phone, None) for i, (code, phone) in second_batch[100:]]
        for f in futures:
            f.result()
    second = run.sim.token_fetches(appid) - before - first
    check.expect(second == 1, f"{second} token fetches after the invalidation under load (want 1)")
    check.token_fetches = f"{first} for 300 calls; +{second} after invalidate"


def check_shared_rate_limit(run: Run, check: Check, burst: int = 12) -> None:
    """A per-IP login burst of N shared through Redis: N admitted over three instances."""
    topo = run.topo
    prefix = f"wxauth:rlcheck:{secrets.token_hex(4)}:"
    overrides = {
        "WXAUTH__RATE_LIMITS__LOGIN__PER_IP_BURST": str(burst),
        "WXAUTH__RATE_LIMITS__LOGIN__PER_IP_PER_MINUTE": str(burst),
        "WXAUTH__REDIS__KEY_PREFIX": prefix,
    }
    rl, failures = topo.start_wxauth_set("rl", range(3, 6), overrides)
    topo.rl_instances = rl
    check.logs = [i.name for i in rl]
    for failure in failures:
        check.expect(False, failure)
    try:
        openids = [run.new_mp_user() for _ in range(burst * 3)]
        codes = [run.sim.login_code(topo.apps.shop, o) for o in openids]
        started = time.monotonic()

        def one(ix):
            i, code = ix
            inst = rl[i % 3]
            return inst.name, run.req(check, inst, "POST", "/api/v1/miniprogram/login", {"code": code})

        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(one, enumerate(codes)))
        elapsed = time.monotonic() - started
        admitted = collections.Counter(name for name, r in results if r.status == 200)
        limited = [r for _, r in results if r.status == 429]
        others = [r for _, r in results if r.status not in (200, 429)]
        # GCRA refills one request every 60/N s: allow what the elapsed time refilled.
        allowance = burst + int(elapsed / (60 / burst))
        total = sum(admitted.values())
        check.expect(burst <= total <= allowance,
                     f"{total} logins admitted over three instances (want {burst}"
                     f"{f'..{allowance}' if allowance > burst else ''})")
        check.expect(len(admitted) >= 2, f"only {dict(admitted)} admitted: not spread over instances")
        check.expect(not others, f"answers other than 200/429: {[r.short() for r in others[:3]]}")
        for r in limited:
            check.expect(r.name == "RATE_LIMITED" and r.headers.get("retry-after"),
                         f"429 without RATE_LIMITED/Retry-After: {r.short()}")
        keys = redis_command(topo.ports.redis, "KEYS", prefix + "*")
        check.expect(bool(keys), "no rate-limit keys in Redis")
        check.notes.append(f"burst {burst}: admitted {dict(admitted)} = {total}, 429: {len(limited)}, "
                           f"{elapsed * 1000:.0f} ms, Redis keys {len(keys)}")
    finally:
        topo.stop_instances(rl)
        topo.rl_instances = []


def check_pgbouncer(run: Run, check: Check) -> None:
    """pgbouncer in transaction mode carried every write above (evaluated at the end)."""
    topo = run.topo
    config = {row["key"]: row["value"] for row in topo.pgbouncer_show("CONFIG")}
    check.expect(config.get("pool_mode") == "transaction", f"pool_mode is {config.get('pool_mode')}")
    stats = {row["database"]: row for row in topo.pgbouncer_show("STATS")}
    xacts = int(stats.get("wxauth", {}).get("total_xact_count", 0))
    queries = int(stats.get("wxauth", {}).get("total_query_count", 0))
    clients = [r for r in topo.pgbouncer_show("CLIENTS") if r.get("database") == "wxauth"]
    servers = [r for r in topo.pgbouncer_show("SERVERS") if r.get("database") == "wxauth"]
    check.expect(xacts > 1000, f"pgbouncer saw only {xacts} transactions")
    others = [c for c in run.checks.values() if c is not check and c.ran]
    check.requests = sum(c.requests for c in others)
    for c in others:
        for label, n in c.errors.items():
            if label.startswith("500") or label.startswith("no answer"):
                check.errors[label] += n
    check.expect(not check.errors, f"500s or missing answers in other checks: {dict(check.errors)}")
    # Errors pgbouncer would raise for prepared statements or session state in transaction mode.
    bad = re.compile(r"prepared statement|unsupported startup parameter|extended query", re.I)
    for name, path in topo.log_paths.items():
        if name == "pgbouncer" or name.startswith("wx") or name.startswith("rl"):
            hits = [l for l in path.read_text(errors="replace").splitlines() if bad.search(l)]
            check.expect(not hits, f"{name} log: {hits[:3]}")
    check.integrity.append(f"{xacts} transactions / {queries} queries through pgbouncer; "
                           f"{len(clients)} client conns on {len(servers)} server conns")


def replica_caught_up(topo: Topology, timeout: float = 30) -> None:
    target = topo.psql(topo.ports.primary, "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if topo.psql(topo.ports.replica, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") == "t":
            return
        time.sleep(0.1)
    raise TopologyError("the replica did not catch up")


def check_replica_reads(run: Run, check: Check) -> None:
    """Reads served by the replica; read-your-writes while its replay is paused."""
    topo = run.topo
    a, b, c = run.insts
    primary, replica = topo.ports.primary, topo.ports.replica
    state = topo.psql(primary, "SELECT application_name || ' ' || state || ' ' || sync_state FROM pg_stat_replication")
    check.integrity.append(f"replication: {state}")
    check.expect(state.endswith("streaming sync"), f"replication state {state!r}")
    # A user known to the replica, for the data-lag probe below.
    known = run.signed_in(check, run.login(check, a, run.new_mp_user()), "login")
    if not known:
        return
    replica_caught_up(topo)
    for i in range(30):
        run.me(check, run.insts[i % 3], known["accessToken"])
    activity = topo.psql(replica, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'wxauth' "
                                  "AND query ILIKE '%wechat_identities%'")
    check.expect(int(activity or 0) > 0, "no wxauth backend on the replica ever read wechat_identities")
    check.integrity.append(f"replica backends that read identities: {activity}")

    topo.psql(replica, "SELECT pg_wal_replay_pause()")
    try:
        deadline = time.monotonic() + 10
        while topo.psql(replica, "SELECT pg_get_wal_replay_pause_state()") != "paused":
            if time.monotonic() > deadline:
                raise TopologyError("replay did not pause")
            time.sleep(0.05)
        fresh = []
        for i in range(6):
            inst = run.insts[i % 3]
            s = run.signed_in(check, run.login(check, inst, run.new_mp_user()), f"login on {inst.name} (lagging)")
            if not s:
                continue
            fresh.append(s)
            for other in (run.insts[(i + 1) % 3], run.insts[(i + 2) % 3]):
                r = run.me(check, other, s["accessToken"])
                if check.expect_status(r, 200, f"/me on {other.name} right after login on {inst.name} "
                                               "(replica lagging)"):
                    check.expect(r.json()["user"]["id"] == s["user"]["id"], "/me: another user")
        ids = ",".join(f"'{s['user']['id']}'" for s in fresh)
        on_replica = topo.psql(replica, f"SELECT count(*) FROM users WHERE public_id IN ({ids})") if ids else "0"
        on_primary = topo.psql(primary, f"SELECT count(*) FROM users WHERE public_id IN ({ids})") if ids else "0"
        check.expect(on_replica == "0", f"replica already has {on_replica} of the new users: it did not lag")
        check.expect(on_primary == str(len(fresh)), f"primary has {on_primary} of {len(fresh)} new users")
        check.integrity.append(f"lagging: new users on replica {on_replica}, on primary {on_primary}; "
                               f"read-your-writes {len(fresh)}/{len(fresh)}")
        # Refresh-token reuse is still detected while the replica lags.
        if fresh:
            s = fresh[0]
            nxt = run.signed_in(check, run.refresh(check, b, s["refreshToken"]), "refresh (lagging)")
            if nxt:
                check.expect_status(run.refresh(check, c, s["refreshToken"]), 401,
                                    "reuse of a refresh token while the replica lags", "REFRESH_TOKEN_REUSED")
        # A data-lag effect: a profile change is not on the replica yet.
        r = run.req(check, a, "PATCH", "/api/v1/me", {"nickname": "lag-probe"}, token=known["accessToken"])
        if check.expect_status(r, 200, "PATCH /me (lagging)"):
            seen = run.me(check, b, known["accessToken"]).json() or {}
            nick = (seen.get("user") or {}).get("nickname")
            check.notes.append(f"while replay is paused, /me after PATCH nickname shows {nick!r} "
                               f"({'stale: served by the replica' if nick != 'lag-probe' else 'fresh'})")
    finally:
        topo.psql(replica, "SELECT pg_wal_replay_resume()")
    replica_caught_up(topo)
    r = run.me(check, c, known["accessToken"])
    if check.expect_status(r, 200, "/me after replay resumed"):
        check.expect(r.json()["user"]["nickname"] == "lag-probe", "replica never showed the profile change")


def load_worker(run: Run, check: Check, load: Load, stop: threading.Event, wid: int,
                backoff: float = 0.1) -> None:
    """Logins, /me and refreshes, each step on the next instance."""
    i = wid
    apps = run.topo.apps
    while not stop.is_set():
        a, b, c = (run.insts[(i + k) % 3] for k in range(3))
        i += 1
        try:
            openid = run.sim.user(apps.shop)
            code = run.sim.login_code(apps.shop, openid)
        except TopologyError as e:
            check.expect(False, f"load worker {wid}: {e}")
            return
        r = run.req(check, a, "POST", "/api/v1/miniprogram/login", {"code": code})
        load.add("login", "write", a, r)
        if r.status != 200:
            time.sleep(backoff)
            continue
        s = r.json()
        with load.lock:
            load.logins.append((s, r.t1))
        r = run.me(check, b, s["accessToken"])
        load.add("me", "read", b, r)
        r = run.refresh(check, c, s["refreshToken"])
        load.add("refresh", "write", c, r)
        if r.status != 200:
            time.sleep(backoff)
            continue
        s2 = r.json()
        with load.lock:
            load.rotations.append((s2, r.t1))
        r = run.me(check, a, s2["accessToken"])
        load.add("me", "read", a, r)
        if r.status != 200:
            time.sleep(backoff)


def run_load(run: Run, check: Check, workers: int, action, before: float, after: float) -> tuple[Load, dict]:
    """Runs the load for `before` seconds, then `action()` (which returns its timestamps), then
    `after` more seconds."""
    load, stop = Load(), threading.Event()
    threads = [threading.Thread(target=load_worker, args=(run, check, load, stop, w), daemon=True)
               for w in range(workers)]
    for t in threads:
        t.start()
    try:
        time.sleep(before)
        marks = action()
        time.sleep(after)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    return load, marks


def check_failover(run: Run, check: Check) -> None:
    """Primary stopped under load, replica promoted, pgbouncer retargeted: recovery without restarts."""
    topo = run.topo
    check.logs = [i.name for i in run.insts] + ["pgbouncer"]
    # Sessions from before the failover, kept aside for the integrity checks.
    pre = []
    for i in range(24):
        inst = run.insts[i % 3]
        s = run.signed_in(check, run.login(check, inst, run.new_mp_user()), f"pre-failover login on {inst.name}")
        if s:
            pre.append(s)

    def failover():
        marks = {"stop": time.monotonic()}
        sh(["pg_ctlcluster", topo.pg_version, topo.primary_cluster, "stop", "-m", "immediate"])
        marks["stopped"] = time.monotonic()
        sh(["pg_ctlcluster", topo.pg_version, topo.replica_cluster, "promote"])
        marks["promoted"] = time.monotonic()
        topo.retarget_pgbouncer(topo.ports.replica)
        marks["reload"] = time.monotonic()
        topo.write_cluster, topo.write_port = topo.replica_cluster, topo.ports.replica
        return marks

    load, m = run_load(run, check, 20, failover, before=3.0, after=6.0)
    t_stop, t_reload = m["stop"], m["reload"]
    check.notes.append(f"stop -> stopped {1000 * (m['stopped'] - t_stop):.0f} ms, promoted "
                       f"{1000 * (m['promoted'] - t_stop):.0f} ms, pgbouncer RELOAD {1000 * (t_reload - t_stop):.0f} ms")
    recovery = topo.psql(topo.ports.replica, "SELECT pg_is_in_recovery()")
    check.expect(recovery == "f", f"the replica is still in recovery after promote ({recovery})")

    fails = load.failures()
    writes_ok = sorted(o.t1 for o in load.ops if o.kind == "write" and 200 <= o.status < 300)
    if fails:
        first = min(fails, key=lambda o: o.t1)
        later = [o.t1 for o in load.ops if o.kind == "write" and 200 <= o.status < 300 and o.t0 >= first.t1]
        check.gap_ms = (min(later) - first.t1) * 1000 if later else None
        check.expect(bool(later), "no successful write after the first failure")
    # The longest stretch without a completed write, around the switch.
    stretches = [(b - a) for a, b in zip(writes_ok, writes_ok[1:]) if b >= t_stop and a <= t_reload + 2]
    longest = max(stretches, default=0) * 1000
    # pg_ctlcluster (a Perl wrapper) kills the server shortly before it returns: requests
    # started before it returned were in flight when the primary went away.
    t_down = m["stopped"]
    in_flight = sum(1 for o in fails if o.t0 <= t_down)
    before_reload = sum(1 for o in fails if t_down < o.t0 <= t_reload)
    late = [o for o in fails if o.t0 > t_reload + 2.0]
    check.notes.append(f"{len(load.ops)} load requests, {len(fails)} failed: {in_flight} in flight when the primary stopped, "
                       f"{before_reload} started before RELOAD, {len(fails) - in_flight - before_reload} after; "
                       f"longest time without a completed write {longest:.0f} ms")
    check.expect(not late, f"{len(late)} requests started more than 2 s after RELOAD failed: "
                           f"{collections.Counter(o.label for o in late)}")
    wrong = [o for o in fails if o.label != "503 DATABASE_UNAVAILABLE"]
    check.expect(not wrong, f"failures other than 503 DATABASE_UNAVAILABLE: "
                            f"{collections.Counter(f'{o.op} {o.label}' for o in wrong)}")

    # Integrity on the new primary.
    port = topo.ports.replica
    orphans = topo.psql(port, "SELECT count(*) FROM users u WHERE NOT EXISTS "
                              "(SELECT 1 FROM wechat_identities i WHERE i.user_id = u.id)")
    check.integrity_result("users without an identity", orphans == "0", orphans)
    dups = topo.psql(port, "SELECT count(*) FROM (SELECT app_id, openid FROM wechat_identities "
                           "GROUP BY 1, 2 HAVING count(*) > 1) d")
    check.integrity_result("duplicate (app, openid)", dups == "0", dups)
    known = set(topo.psql(port, "SELECT public_id FROM users").split())
    signed = {s["user"]["id"] for s in pre} | {s["user"]["id"] for s, _ in load.logins}
    lost = signed - known
    check.integrity_result("accounts acknowledged but missing", not lost, f"{len(lost)} of {len(signed)}")
    # Refresh tokens issued before the failover refresh exactly once.
    rotated = [s for s, t in load.rotations if t < t_stop][-30:]
    twice = 0
    once_failed = []
    for i, s in enumerate(pre + rotated):
        first_use = run.refresh(check, run.insts[i % 3], s["refreshToken"])
        if first_use.status != 200:
            once_failed.append(first_use.label())
            continue
        second = run.refresh(check, run.insts[(i + 1) % 3], s["refreshToken"])
        if second.status == 200:
            twice += 1
        else:
            check.expect(second.name == "REFRESH_TOKEN_REUSED", f"second use: {second.short()}")
    n = len(pre) + len(rotated)
    check.integrity_result("pre-failover refresh tokens usable once", not once_failed,
                           f"{n - len(once_failed)}/{n}" + (f" {collections.Counter(once_failed)}" if once_failed else ""))
    check.integrity_result("refresh tokens usable twice", twice == 0, str(twice))
    # Access tokens issued before the failover are valid on every instance.
    bad = 0
    for s in pre:
        for inst in run.insts:
            if run.me(check, inst, s["accessToken"]).status != 200:
                bad += 1
    check.integrity_result("pre-failover access tokens valid everywhere", bad == 0,
                           f"{len(pre) * 3 - bad}/{len(pre) * 3}")


def check_stall(run: Run, check: Check) -> None:
    """A table lock held for 8 s: sign-ins fail fast with 503, /readyz reports it."""
    topo = run.topo
    a, b, c = run.insts
    port = topo.write_port
    check.logs = [a.name, b.name, "postgres-primary" if port == topo.ports.primary else "postgres-replica"]
    hold = 8
    locker = subprocess.Popen(
        [str(topo.pg_bin / "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
         "-d", "wxauth", "-c", f"BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({hold}); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 5
        while topo.psql(port, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                              "WHERE c.relname = 'users' AND l.mode = 'AccessExclusiveLock' AND l.granted") != "1":
            if time.monotonic() > deadline:
                raise TopologyError("the table lock was not taken")
            time.sleep(0.05)
        locked_at = time.monotonic()
        limit_ms = LOCK_TIMEOUT_MS + STALL_SLACK_MS
        r = run.login(check, a, run.new_mp_user())
        check.expect_status(r, 503, f"login on {a.name} during the stall", "DATABASE_UNAVAILABLE")
        check.expect(r.ms <= limit_ms, f"login during the stall took {r.ms:.0f} ms (lock timeout "
                                       f"{LOCK_TIMEOUT_MS} ms, limit {limit_ms} ms)")
        check.expect(r.headers.get("retry-after") == "1", f"503 without Retry-After: 1 ({r.headers})")
        ready = run.req(check, b, "GET", "/readyz")
        check.expect(ready.status == 503 and ready.json() == {"status": "unavailable"},
                     f"/readyz on {b.name} during the stall: {ready.short()}")
        check.expect(ready.ms <= limit_ms, f"/readyz during the stall took {ready.ms:.0f} ms")
        check.notes.append(f"during the stall: login {r.label()} in {r.ms:.0f} ms, /readyz {ready.status} "
                           f"in {ready.ms:.0f} ms (lock held {hold} s, lock_timeout {LOCK_TIMEOUT_MS} ms)")
        check.expect(time.monotonic() - locked_at < hold, "the probes ran longer than the lock was held")
    finally:
        locker.wait(hold + 10)
    for inst in run.insts:
        deadline = time.monotonic() + 5
        while True:
            r = run.req(check, inst, "GET", "/readyz")
            if r.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check.expect_status(r, 200, f"/readyz on {inst.name} after the stall")
    run.signed_in(check, run.login(check, c, run.new_mp_user()), f"login on {c.name} after the stall")


def check_restart(run: Run, check: Check) -> None:
    """The primary restarts under load: afterwards at most one failed write per instance, no failed read."""
    topo = run.topo

    def restart():
        marks = {"start": time.monotonic()}
        sh(["pg_ctlcluster", topo.pg_version, topo.write_cluster, "restart", "-m", "fast"])
        marks["done"] = time.monotonic()
        return marks

    load, m = run_load(run, check, 9, restart, before=2.0, after=4.0)
    fails = load.failures()
    after = [o for o in fails if o.t0 >= m["done"]]
    writes = collections.Counter(o.inst for o in after if o.kind == "write")
    reads = [o for o in after if o.kind == "read"]
    during = [o for o in fails if o.t0 < m["done"]]
    check.notes.append(f"restart took {1000 * (m['done'] - m['start']):.0f} ms; {len(load.ops)} requests, "
                       f"{len(during)} failed during it, after it: writes {dict(writes) or 0}, reads {len(reads)}")
    check.expect(all(n <= 1 for n in writes.values()), f"failed writes after the restart per instance: {dict(writes)}")
    check.expect(not reads, f"failed reads after the restart: {collections.Counter(o.label for o in reads)}")
    wrong = [o for o in fails if o.label != "503 DATABASE_UNAVAILABLE"]
    check.expect(not wrong, f"failures other than 503 DATABASE_UNAVAILABLE: "
                            f"{collections.Counter(f'{o.op} {o.label}' for o in wrong)}")
    for inst in run.insts:
        check.expect_status(run.req(check, inst, "GET", "/readyz"), 200, f"/readyz on {inst.name} after the restart")


async def flood(port: int, connections: int, timeout: float = 30) -> collections.Counter:
    """`connections` TCP connections at once, each sending GET /healthz and reading the answer;
    every one is held open until all have their answer."""
    results: collections.Counter = collections.Counter()
    connecting = asyncio.Semaphore(1000)
    all_done = asyncio.Event()
    remaining = connections
    linger = struct.pack("ii", 1, 0)

    def finished(label: str) -> None:
        nonlocal remaining
        results[label] += 1
        remaining -= 1
        if remaining == 0:
            all_done.set()

    async def one() -> None:
        try:
            async with connecting:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        except (OSError, asyncio.TimeoutError) as e:
            finished(f"connect failed ({type(e).__name__})")
            return
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            status = int(head.split(b" ", 2)[1])
            length = int(re.search(rb"content-length: *(\d+)", head, re.I).group(1))
            body = await asyncio.wait_for(reader.readexactly(length), timeout)
            resp = Resp(status, body, {}, 0, 0)
            if status == 200:
                finished("200")
            else:
                problem = envelope_problem(resp)
                finished(f"{status} {resp.name}" + (f" (not an envelope: {problem})" if problem else ""))
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, AttributeError) as e:
            finished(f"no answer ({type(e).__name__})")
        try:
            await asyncio.wait_for(all_done.wait(), timeout * 2)
        except asyncio.TimeoutError:
            pass
        sock = writer.get_extra_info("socket")
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        except OSError:
            pass
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return results


def oversized_head(port: int) -> Resp:
    """A request whose head carries a 200 KB header."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: big\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before reading it all
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
                if b"\r\n\r\n" in data:
                    head, _, body = data.partition(b"\r\n\r\n")
                    m = re.search(rb"content-length: *(\d+)", head, re.I)
                    if m and len(body) >= int(m.group(1)):
                        break
        except OSError as e:
            if not data:
                return Resp(0, b"", {}, t0, time.monotonic(), f"{type(e).__name__}: {e}")
    if not data:
        return Resp(0, b"", {}, t0, time.monotonic(), "connection closed without an answer")
    head, _, body = data.partition(b"\r\n\r\n")
    return Resp(int(head.split(b" ", 2)[1]), body, {}, t0, time.monotonic())


def check_flood(run: Run, check: Check, connections: int, rounds: int = 4) -> None:
    """Connection floods against one instance: refusals in the envelope, memory back near idle."""
    inst = run.insts[0]
    check.logs = [inst.name]
    time.sleep(3)
    idle = rss_kib(inst.pid)
    after = []
    for n in range(rounds):
        started = time.monotonic()
        results = asyncio.run(flood(inst.port, connections))
        took = time.monotonic() - started
        check.requests += connections
        for label, count in results.items():
            if label != "200":
                check.errors[label] += count
        ok, refused = results.get("200", 0), results.get("503 TOO_MANY_CONNECTIONS", 0)
        check.expect(ok + refused == connections,
                     f"flood {n + 1}: {connections - ok - refused} connections got neither 200 nor a 503 "
                     f"TOO_MANY_CONNECTIONS envelope: {dict(results)}")
        check.expect(0 < ok <= MAX_CONNECTIONS_PER_IP,
                     f"flood {n + 1}: {ok} connections served (per-IP limit {MAX_CONNECTIONS_PER_IP})")
        check.expect(refused > 0, f"flood {n + 1}: no connection refused")
        time.sleep(3)
        after.append(rss_kib(inst.pid))
        check.notes.append(f"flood {n + 1}: {connections} conns in {took:.1f} s: 200 x{ok}, 503 x{refused}; "
                           f"VmRSS {after[-1] / 1024:.1f} MiB")
    check.notes.insert(0, f"idle VmRSS {idle / 1024:.1f} MiB")
    for n, rss in enumerate(after):
        check.expect(rss <= idle + 16 * 1024, f"VmRSS after flood {n + 1}: {rss / 1024:.1f} MiB > idle "
                                              f"{idle / 1024:.1f} + 16 MiB")
    for n in range(1, len(after)):
        check.expect(after[n] - after[n - 1] <= 4 * 1024,
                     f"VmRSS grew {(after[n] - after[n - 1]) / 1024:.1f} MiB from flood {n} to {n + 1}")
    big = check.record(oversized_head(inst.port), f"200 KB header to {inst.name}")
    check.expect(big.status == 431 and big.name, f"200 KB request head: want a 431 envelope, got {big.short()}")
    check.notes.append(f"200 KB header: {big.label()}")
    check.expect_status(run.req(check, inst, "GET", "/healthz"), 200, "/healthz after the floods")
    run.signed_in(check, run.login(check, inst, run.new_mp_user()), "login after the floods")


CHECKS = [
    (1, "cross-instance flows", check_cross_instance),
    (2, "one WeChat token fetch", check_token_fetches),
    (3, "rate limit shared via Redis", check_shared_rate_limit),
    (5, "replica reads", check_replica_reads),
    (6, "failover under load", check_failover),
    (7, "stalled table", check_stall),
    (8, "primary restart", check_restart),
    (9, "connection floods", lambda run, check: check_flood(run, check, run.topo.args.flood_connections)),
    (4, "pgbouncer transaction mode", check_pgbouncer),  # judged last: it carried all the rest
]


# ───────────────────────────── the summary ─────────────────────────────


def render_table(rows: list[list[str]], widths: list[int]) -> str:
    """A plain-text table whose cells wrap within their column."""
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line]
    for r, row in enumerate(rows):
        cells = [textwrap.wrap(str(c), w) or [""] for c, w in zip(row, widths)]
        for k in range(max(len(c) for c in cells)):
            out.append("| " + " | ".join((c[k] if k < len(c) else "").ljust(w)
                                         for c, w in zip(cells, widths)) + " |")
        out.append(line if r in (0, len(rows) - 1) else
                   "+" + "+".join("·" * (w + 2) for w in widths) + "+")
    return "\n".join(out)


def summary(run: Run, elapsed: float) -> str:
    header = ["#", "check", "requests", "errors by status", "gap ms", "token fetches", "integrity", "result"]
    rows = [header]
    for number in sorted(run.checks):
        c = run.checks[number]
        errors = ", ".join(f"{label} x{n}" for label, n in c.errors.most_common()) or "-"
        rows.append([str(number), c.title, str(c.requests), errors,
                     f"{c.gap_ms:.0f}" if c.gap_ms is not None else "-",
                     c.token_fetches or "-", "; ".join(c.integrity) or "-",
                     ("PASS" if c.passed else "FAIL" if c.ran else "SKIP") + f" {c.seconds:.1f}s"])
    text = render_table(rows, [2, 20, 8, 32, 6, 14, 44, 10])
    passed = sum(c.passed for c in run.checks.values())
    return f"{text}\n{passed}/{len(run.checks)} checks passed in {elapsed:.0f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", default=str(ROOT / "target" / "debug"),
                        help="where wxauth-server and wxauth-sim are (default: target/debug; built "
                             "with cargo when missing there)")
    parser.add_argument("--base-port", type=int, default=61000,
                        help="ports are base+432 (primary), +433 (replica), +1432 (pgbouncer), +1379 "
                             "(Redis), +4100 (simulator), +3081..3086 (wxauth); default 61000, which "
                             "keeps them above Linux's ephemeral range (32768-60999), so no client "
                             "connection on the machine can be sitting on one of them")
    parser.add_argument("--flood-connections", type=int, default=6000,
                        help="connections per flood in check 9 (default 6000)")
    parser.add_argument("--checks", default="1,2,3,4,5,6,7,8,9", help="which checks to run (comma-separated)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory with the logs")
    args = parser.parse_args()
    if not 1024 <= args.base_port <= 65535 - 4100:
        parser.error("--base-port must be 1024..61435")
    wanted = {int(x) for x in args.checks.split(",") if x.strip()}

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the servers too

    def interrupted(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    started = time.monotonic()
    topo = Topology(args)
    run = Run(topo)
    try:
        topo.setup()
        # Check 0: the three instances start at once against the fresh database, as in a
        # first deployment (each applies the configured apps).
        boot = run.checks[0] = Check(0, "simultaneous start")
        t0 = time.monotonic()
        topo.instances, failures = topo.start_wxauth_set("wx", range(3), {})
        for failure in failures:
            boot.errors["exited during start-up"] += 1
            boot.expect(False, failure)
        boot.logs = [i.name for i in topo.instances]
        boot.ran, boot.seconds = True, time.monotonic() - t0
        log(f"topology up in {time.monotonic() - started:.0f} s (logs in {topo.dir})")
        for number, title, fn in CHECKS:
            if number not in wanted:
                continue
            check = run.checks[number] = Check(number, title)
            check.logs = check.logs or [i.name for i in topo.instances]
            log(f"check {number}: {title}")
            t0 = time.monotonic()
            try:
                fn(run, check)
            except TopologyError as e:
                check.violations.append(f"could not be carried out: {e}")
            except Exception as e:  # a broken expectation about an answer's shape, say
                check.violations.append(f"crashed: {type(e).__name__}: {e}\n{traceback.format_exc()}")
            check.ran = True
            check.seconds = time.monotonic() - t0
            for crash in topo.crashed():
                check.violations.append(f"wxauth crashed: {crash}")
            log(f"check {number}: {'PASS' if check.passed else 'FAIL'} ({check.seconds:.1f} s)")
            if topo.crashed():
                log("a wxauth instance is gone: the remaining checks are skipped")
                break
        elapsed = time.monotonic() - started
        print()
        print(summary(run, elapsed))
        for number in sorted(run.checks):
            c = run.checks[number]
            if c.notes:
                print(f"\ncheck {number} ({c.title}):")
                for note in c.notes:
                    print(f"  - {note}")
        failed = [c for c in run.checks.values() if not c.passed]
        for c in sorted(failed, key=lambda c: c.number):
            print(f"\n=== check {c.number} ({c.title}) FAILED ===")
            for v in c.violations[:20]:
                print(f"  * {v}")
            if len(c.violations) > 20:
                print(f"  * ... and {len(c.violations) - 20} more")
            for name in c.logs:
                path = topo.log_paths.get(name)
                if path:
                    print(f"--- last lines of {name} ({path}) ---")
                    print(tail(path, 30))
        return 1 if failed or not run.checks else 0
    except (KeyboardInterrupt, Interrupted) as e:
        log(f"interrupted ({str(e) or 'Ctrl-C'}): cleaning up")
        return 130
    except TopologyError as e:
        log(f"topology error: {e}")
        return 2
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        topo.cleanup()
        log(f"cleaned up; total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
