"""`deertrack up`: the whole service on one machine, in the foreground, until Ctrl-C or SIGTERM.

In order: Redis and PostgreSQL (the configured ones, or throwaway servers), the AWS emulator
(the one AWS_ENDPOINT_URL names, else an embedded LocalStack, or embedded moto when asked for or when
LocalStack cannot start), migrations, the AWS resources declared in template.yaml (on LocalStack
with the schedules as EventBridge rules), the local user pool (signing key + JWKS, unless AUTH_JWKS_URL
names one), the HTTP API (processes of its own on one listening socket), the event pump, the batch
workers, then demo data in the background.
Stopping undoes it in reverse; every child runs in its own process group and is stopped with it.
While it runs, a crashed worker is restarted, and so is a throwaway Redis, PostgreSQL or embedded
emulator that dies (on the same port; the emulator's resources are created again); a configured one
that stops answering is reported, not restarted (service_watch.py).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from deertrack.caches import reset_caches
from deertrack.logs import logger
from deertrack.settings import Settings, get_settings
from infra.localstack.runtime import LocalStackUnavailable
from infra.ports import port_free
from infra.template import TEMPLATE_PATH

if TYPE_CHECKING:
    from infra.api_processes import ApiProcesses

DEFAULT_STATE_DIR = TEMPLATE_PATH.parent / ".local"
#: The embedded emulators' usual ports (LocalStack's own default; moto's as before).
DEFAULT_EMULATOR_PORTS = {"localstack": 4566, "moto": 5001}
WORKERS = ("exports", "reid")
#: Lifetime of the demo users' tokens in the banner of `deertrack up --demo`.
DEMO_TOKEN_TTL_SECONDS = 12 * 3600
#: `deertrack up --demo`, in the background and in order: the data set and its pictures (detections
#: pending, no deer), every detection through the re-ID queue and worker in time order (the worker
#: creates and assigns the deer, as in production), the merge job (as after the nightly backfill),
#: one backfill so the score log holds every detection against every final deer, and the evaluation
#: of what re-identification found against the demo's truth.
DEMO_STEPS = (("seed", "--demo"), ("reid", "enqueue", "--wait"), ("reid", "merge"), ("backfill",),
              ("reid", "evaluate"))


class StackError(RuntimeError):
    """The stack could not come up; the message says which part and how to fix it."""


class Interrupted(RuntimeError):
    """Ctrl-C / SIGTERM arrived while the stack was starting."""


@dataclass
class StackOptions:
    demo: bool = False
    #: "localstack" or "moto"; None: LocalStack, falling back to moto (with the reason) when it cannot start.
    emulator: str | None = None
    #: How the user named the emulator ("--emulator localstack", "DEERTRACK_EMULATOR=moto"), for messages.
    emulator_asked_by: str | None = None
    #: None: the emulator's usual port (DEFAULT_EMULATOR_PORTS); 0: any free port.
    emulator_port: int | None = None
    #: Always use throwaway Redis and PostgreSQL, even when configured ones are reachable.
    isolated: bool = False
    state_dir: Path = DEFAULT_STATE_DIR
    workers: bool = True
    pump_wait_seconds: int = 2
    #: Processes serving the API (infra/api_processes.py); None: one per CPU, 2 to 8.
    api_processes: int | None = None


@dataclass
class Endpoint:
    url: str
    origin: str  # "configured", "throwaway", "embedded", …


@dataclass
class StackState:
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    workers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: role -> (user, token) of the demo users (`--demo`).
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)


def _http_reachable(url: str) -> str | None:
    try:
        urllib.request.urlopen(url, timeout=3).close()
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))
    return None


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.state = StackState()
        self._stop = threading.Event()
        self._stopping = False
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self._explicit = {name: name in os.environ for name in ("REDIS_URL", "DATABASE_URL")}
        #: The servers this stack started (Redis, PostgreSQL, AWS emulator): restarted when they die.
        self._throwaway: dict[str, Any] = {}
        #: Which emulator answers AWS calls ("localstack", "moto", or what AWS_ENDPOINT_URL turned out to be).
        self.emulator_name: str | None = None
        self._api_processes: ApiProcesses | None = None

    # ---------------------------------------------------------------- steps

    def _check(self) -> None:
        if self._stop.is_set():
            raise Interrupted()

    def _on_stop(self, what: str, action: Callable[[], None]) -> None:
        self._undo.append((what, action))

    def _redis(self, settings: Settings) -> None:
        from infra.services import ServiceError, ThrowawayRedis, find_binary, redis_problem, redis_target

        if not self.options.isolated:
            problem = redis_problem(settings.redis_url)
            if problem is None:
                self.state.endpoints["Redis"] = Endpoint(settings.redis_url, "configured")
                return
            if self._explicit["REDIS_URL"]:
                port = redis_target(settings.redis_url).rsplit(":", 1)[1]
                raise StackError(
                    f"Redis is not reachable at REDIS_URL={settings.redis_url} ({problem}).\n"
                    f"Start it (sudo systemctl start redis-server, or: redis-server --port {port} --daemonize yes), "
                    "fix REDIS_URL, or unset REDIS_URL to let `deertrack up` start a throwaway Redis."
                )
            if find_binary("redis-server") is None:
                raise StackError(
                    f"Redis is not reachable at the default {settings.redis_url} ({problem}) and redis-server is "
                    "not installed, so no throwaway Redis can be started.\n"
                    "Install it: sudo apt-get install redis-server (or set REDIS_URL to a running Redis)."
                )
            logger.info("no Redis at the default address; starting a throwaway one",
                        extra={"default": settings.redis_url, "problem": problem})
        try:
            server = ThrowawayRedis(self.options.state_dir).start(self._stop)
        except ServiceError as exc:
            self._check()
            raise StackError(f"Redis: {exc}") from exc
        self._on_stop("throwaway Redis", server.stop)
        self._throwaway["Redis"] = server
        os.environ["REDIS_URL"] = server.url
        self.state.endpoints["Redis"] = Endpoint(server.url, f"throwaway, {server.directory}")

    def _postgres(self, settings: Settings) -> None:
        from deertrack.db import DatabaseAddress
        from infra.services import ServiceError, ThrowawayPostgres, postgres_binaries, postgres_problem

        if not self.options.isolated:
            problem = postgres_problem(settings.database_url)
            if problem is None:
                self.state.endpoints["PostgreSQL"] = Endpoint(settings.database_url, "configured")
                return
            address = DatabaseAddress.parse(settings.database_url)
            if self._explicit["DATABASE_URL"]:
                binaries = postgres_binaries()
                version = re.search(r"/postgresql/(\d+)/", os.path.realpath(binaries[0])) if binaries else None
                raise StackError(
                    f"PostgreSQL is not reachable at DATABASE_URL={settings.database_url} ({problem}).\n"
                    "Start it (sudo systemctl start postgresql, or: "
                    f"pg_ctlcluster {version.group(1) if version else '<version>'} main start; "
                    f"it must listen on {address.host}:{address.port}), fix DATABASE_URL, or unset DATABASE_URL "
                    "to let `deertrack up` start a throwaway PostgreSQL."
                )
            if postgres_binaries() is None:
                raise StackError(
                    f"PostgreSQL is not reachable at the default {settings.database_url} ({problem}) and its server "
                    "binaries (initdb, postgres) are not installed, so no throwaway PostgreSQL can be started.\n"
                    "Install them: sudo apt-get install postgresql (or set DATABASE_URL to a running PostgreSQL)."
                )
            logger.info("no PostgreSQL at the default address; starting a throwaway one",
                        extra={"default": settings.database_url, "problem": problem})
        try:
            server = ThrowawayPostgres(self.options.state_dir).start(self._stop)
        except ServiceError as exc:
            self._check()
            raise StackError(f"PostgreSQL: {exc}") from exc
        self._on_stop("throwaway PostgreSQL", server.stop)
        self._throwaway["PostgreSQL"] = server
        os.environ["DATABASE_URL"] = server.database_url(settings.database_url)
        os.environ["DATABASE_ADMIN_URL"] = server.admin_url
        self.state.endpoints["PostgreSQL"] = Endpoint(os.environ["DATABASE_URL"], f"throwaway, {server.directory}")

    def _aws(self, settings: Settings) -> None:
        from deertrack.health import describe_emulator, emulator_identity

        if settings.aws_endpoint_url:
            problem = _http_reachable(settings.aws_endpoint_url)
            if problem is not None:
                raise StackError(
                    f"the AWS emulator at AWS_ENDPOINT_URL={settings.aws_endpoint_url} is not reachable ({problem}).\n"
                    "Start it (with Docker: docker compose -f localstack-compose.yml up -d), or unset "
                    "AWS_ENDPOINT_URL to let `deertrack up` start an embedded LocalStack (or moto: --emulator moto)."
                )
            identity = emulator_identity(settings.aws_endpoint_url)
            self.emulator_name = identity["name"]
            self.state.endpoints["AWS emulator"] = Endpoint(
                settings.aws_endpoint_url, f"AWS_ENDPOINT_URL, {describe_emulator(identity)}")
            if self.options.emulator and self.options.emulator != identity["name"]:
                self.state.notes.append(f"{self.options.emulator_asked_by} is ignored: AWS_ENDPOINT_URL names the "
                                        f"emulator to use ({describe_emulator(identity)})")
            return
        if self.options.emulator == "moto":
            self._moto()
            return
        try:
            self._localstack()
        except LocalStackUnavailable as exc:
            self._check()
            if self.options.emulator == "localstack":
                raise StackError(f"LocalStack ({self.options.emulator_asked_by}) could not start: {exc}") from exc
            logger.warning("LocalStack could not start; the embedded moto server runs instead",
                           extra={"reason": str(exc)})
            self.state.notes.append(
                "LocalStack could not start, so the embedded moto server runs instead. Why: "
                + str(exc).replace("\n", "\n    ")
                + "\n  (--emulator localstack makes this an error; --emulator moto does not try LocalStack)"
            )
            self._moto()

    def _emulator_port(self, name: str) -> int:
        port = DEFAULT_EMULATOR_PORTS[name] if self.options.emulator_port is None else self.options.emulator_port
        if port and not port_free("127.0.0.1", port):
            self.state.notes.append(f"port {port} was taken, so the embedded {name} is on another port")
            port = 0
        return port

    def _localstack(self) -> None:
        from infra.localstack import EmbeddedLocalStack

        emulator = EmbeddedLocalStack(self.options.state_dir, port=self._emulator_port("localstack") or None)
        emulator.start(self._stop)
        self._on_stop("LocalStack", emulator.stop)
        self._throwaway["AWS emulator"] = emulator
        os.environ["AWS_ENDPOINT_URL"] = emulator.url
        self.emulator_name = "localstack"
        self.state.endpoints["AWS emulator"] = Endpoint(
            emulator.url, f"embedded LocalStack {emulator.version}, files in {emulator.directory}")

    def _moto(self) -> None:
        from infra.emulator import EmulatorUnavailable, MotoProcess

        emulator = MotoProcess(port=self._emulator_port("moto") or None)
        try:
            emulator.start(self._stop)
        except EmulatorUnavailable as exc:
            raise StackError(f"the embedded moto server could not start: {exc}") from exc
        self._check()
        self._on_stop("AWS emulator", emulator.stop)
        self._throwaway["AWS emulator"] = emulator
        os.environ["AWS_ENDPOINT_URL"] = emulator.url
        self.emulator_name = "moto"
        self.state.endpoints["AWS emulator"] = Endpoint(emulator.url, "embedded moto")

    def _sign_in(self, settings: Settings) -> None:
        """The local user pool: its key under the state dir, its JWKS on loopback (AUTH_JWKS_URL)."""
        from infra.user_pool import DEMO_USERS, UserPool, user_pool_dir

        if settings.auth_jwks_url:
            self.state.endpoints["sign-in JWKS"] = Endpoint(settings.auth_jwks_url, "AUTH_JWKS_URL")
            return
        pool = UserPool(user_pool_dir(self.options.state_dir))
        os.environ["AUTH_JWKS_URL"] = pool.serve()
        self._on_stop("user pool JWKS", pool.stop)
        reset_caches()
        self.state.endpoints["sign-in JWKS"] = Endpoint(pool.jwks_url, f"local user pool, key in {pool.directory}")
        if self.options.demo:
            for role, user in DEMO_USERS.items():
                self.state.tokens[role.value] = (user, pool.mint(user, role, ttl_seconds=DEMO_TOKEN_TTL_SECONDS))

    def _api(self, settings: Settings) -> None:
        from infra.api_processes import ApiProcesses
        from infra.api_server import LISTEN_BACKLOG

        try:
            api = ApiProcesses(settings.api_host, settings.api_port, self.options.api_processes)
        except OSError as exc:
            raise StackError(
                f"cannot serve the API on {settings.api_host}:{settings.api_port} ({exc.strerror or exc}); "
                "is another `deertrack up` running? Stop it or set API_PORT to a free port."
            ) from exc
        self._on_stop("HTTP API", api.start().stop)
        self._api_processes = api
        self.state.endpoints["API"] = Endpoint(
            api.url, f"Chalice, {api.count} processes, listen backlog {LISTEN_BACKLOG}")

    def _api_ready(self) -> None:
        """Wait until an API process serves (they import the app while the pump and workers start)."""
        api = self._api_processes
        assert api is not None
        problem = api.wait_ready(stop=self._stop)
        self._check()
        if problem is not None:
            raise StackError(f"the API on {api.url} did not come up: {problem}")

    @property
    def _schedules(self) -> str:
        """Who fires the schedules: EventBridge on LocalStack, the pump's clock elsewhere (moto never fires)."""
        return "eventbridge" if self.emulator_name == "localstack" else "clock"

    def _pump(self) -> None:
        from infra.event_sources import EventPump

        pump = EventPump(wait_seconds=self.options.pump_wait_seconds, schedules=self._schedules).start()
        self._on_stop("event pump", pump.stop)
        if pump.eventbridge_routes:
            schedules = f"{len(pump.eventbridge_routes)} schedule(s) fired by EventBridge"
        else:
            schedules = f"{len(pump.schedule_routes)} schedule(s) fired by the pump's clock"
        self.state.notes.append(f"event pump: {len(pump.sqs_routes)} queue handler(s), {schedules}")

    def _workers(self) -> None:
        from infra.processes import Supervised, cli_argv, stop_all

        if not self.options.workers:
            return
        workers: list[Supervised] = []
        for name in WORKERS:
            # On SIGTERM an idle worker stops at once; one with a message in hand finishes it first: give it 25 s.
            workers.append(Supervised(f"worker {name}", cli_argv("worker", name), stop_timeout=25).start())
            self.state.workers.append(name)
        if workers:
            self._on_stop("batch workers", lambda: stop_all(workers))

    def _demo(self) -> None:
        from infra.processes import CommandChain, cli_argv

        if not self.options.demo:
            return
        steps = [(" ".join(argv), cli_argv(*argv)) for argv in DEMO_STEPS]
        loading = CommandChain("demo data", steps, done_message="demo data ready: re-identified, merged, "
                               "scored and evaluated").start()
        self._on_stop("demo data", loading.stop)
        self.state.notes.append("demo data: " + ", then ".join(f"`deertrack {step}`" for step, _ in steps)
                                + " run in the background")

    def start(self) -> None:
        """Bring everything up; on any failure raise StackError (the caller runs stop())."""
        from deertrack.db import DatabaseAddress
        from infra.cli.commands.migrate import migrate_database

        settings = get_settings()
        if not port_free(settings.api_host, settings.api_port):  # before anything is started
            raise StackError(
                f"cannot serve the API on {settings.api_host}:{settings.api_port}: the port is in use; is another "
                "`deertrack up` running? Stop it or set API_PORT to a free port."
            )
        if settings.log_level != "DEBUG":
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request at INFO
        self._redis(settings)
        self._check()
        self._postgres(settings)
        self._check()
        self._aws(settings)
        reset_caches()
        settings = get_settings()
        self._check()
        try:
            migrate_database(create=True)
        except Exception as exc:
            address = DatabaseAddress.parse(settings.database_url)
            raise StackError(f"migrations on {address.host}:{address.port}/{address.database} failed: {exc}") from exc
        self._check()
        for rule in self._provision():
            self.state.notes.append(f"EventBridge rule {rule.name} ({rule.expression}) -> SQS "
                                    f"{rule.target_queue} -> {rule.handler}")
        self._check()
        self._sign_in(settings)
        settings = get_settings()
        self._api(settings)
        self._pump()
        self._check()
        self._workers()
        self._demo()
        self._watch()
        self._api_ready()

    def _provision(self) -> list[Any]:
        """The emulator's resources and schedule rules (infra/resources.py): at start, and after it restarted."""
        from infra.resources import provision

        return provision(get_settings().stage, eventbridge=self._schedules == "eventbridge")

    def _watch(self) -> None:
        """Restart the servers this stack started when they die; report the configured ones (service_watch.py)."""
        from infra.service_watch import ServiceWatch, Watched
        from infra.services import postgres_problem, redis_problem

        settings = get_settings()
        probes: dict[str, tuple[str, Callable[[], bool]]] = {
            "Redis": (settings.redis_url, lambda: redis_problem(settings.redis_url) is None),
            "PostgreSQL": (settings.database_url, lambda: postgres_problem(settings.database_url) is None),
            "AWS emulator": (settings.aws_endpoint_url or "",
                             lambda: _http_reachable(settings.aws_endpoint_url or "") is None),
        }
        services = []
        for name, (url, probe) in probes.items():
            server = self._throwaway.get(name)
            restart = None if server is None else (lambda server=server: server.restart(self._stop))
            services.append(Watched(name, url, server.alive if server is not None else probe, restart,
                                    provision=self._provision if name == "AWS emulator" else None))
        watch = ServiceWatch(services).start()
        self._on_stop("service watch", watch.stop)

    def stop(self) -> None:
        self._stopping = True
        while self._undo:
            what, action = self._undo.pop()
            try:
                action()
            except Exception:
                logger.exception("error while stopping", extra={"part": what})
            else:
                logger.info("stopped", extra={"part": what})

    # ---------------------------------------------------------------- foreground

    def banner(self) -> str:
        settings = get_settings()
        lines = [f"deertrack is up (stage {settings.stage})", ""]
        for name, endpoint in self.state.endpoints.items():
            lines.append(f"  {name:<13} {endpoint.url}  ({endpoint.origin})")
        idle = "none (no `deertrack worker` command yet)" if self.options.workers else "not started (--no-workers)"
        lines.append(f"  {'workers':<13} {', '.join(self.state.workers) or idle}")
        lines += [f"  {note}" for note in self.state.notes]
        api = self.state.endpoints["API"].url
        env = {
            "AWS_ENDPOINT_URL": settings.aws_endpoint_url or "",
            "AWS_REGION": settings.aws_region,
            "STAGE": settings.stage,
            "REDIS_URL": settings.redis_url,
            "DATABASE_URL": settings.database_url,
            "AUTH_ISSUER": settings.auth_issuer,
            "AUTH_AUDIENCE": settings.auth_audience,
            "AUTH_JWKS_URL": settings.auth_jwks_url or "",
        }
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # the emulator's dummies; never real keys
            if os.environ.get(name, "testing") == "testing":
                env[name] = "testing"
        if settings.redis_key_prefix:
            env["REDIS_KEY_PREFIX"] = settings.redis_key_prefix
        lines += [
            "",
            f"  try:  curl -s {api}/api/health",
            "",
            "From another shell, to use the same services (aws cli, deertrack commands, tests):",
            *[f"  export {k}={v}" for k, v in env.items()],
            "",
            "Ctrl-C stops everything started here.",
        ]
        if self.state.tokens:
            hours = DEMO_TOKEN_TTL_SECONDS // 3600
            lines += ["", f"Sign-in tokens of the demo users (valid {hours} h; more: deertrack token --user NAME "
                          "--role viewer|reviewer|admin):"]
            for role, (user, token) in self.state.tokens.items():
                lines.append(f"  export {role.upper()}_TOKEN={token}   # {user}")
            reviewer = self.state.tokens.get("reviewer")
            if reviewer:  # the page keeps the token in sessionStorage and drops it from the address bar
                lines += ["", f"Review page, signed in as {reviewer[0]} (the demo reviewer):",
                          f"  {api}/review#token={reviewer[1]}"]
            admin = self.state.tokens.get("admin")
            if admin:
                lines += [f"  try:  curl -s -H \"Authorization: Bearer $TOKEN\" '{api}/api/deer?limit=3'", "",
                          f"export TOKEN={admin[1]}"]
        return "\n".join(lines)

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            from infra.processes import kill_all

            killed = kill_all()
            logger.warning("second stop request: child processes killed without waiting",
                           extra={"signal": signal.Signals(signum).name, "killed": killed})
            return
        logger.info("stop requested", extra={"signal": signal.Signals(signum).name})
        self._stop.set()

    def run(self) -> int:
        """Start, print the banner, wait for Ctrl-C / SIGTERM, stop. 0 after a clean stop."""
        previous = {sig: signal.signal(sig, self._signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        code = 0
        try:
            try:
                self.start()
            except Interrupted:
                return 0
            print(self.banner(), flush=True)
            while not self._stop.wait(0.5):  # the service watch keeps Redis, PostgreSQL and the emulator up
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        print("deertrack stopped", flush=True)
        return code
