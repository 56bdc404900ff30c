"""The ``hub`` command."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hub import __version__
from hub.bootstrap import PROCESSORS, Hub, build_hub, build_worker, serve
from hub.cli_errors import HubGroup
from hub.errors import HubError, NotOwner
from hub.settings import ApiKey, HubSettings, Role, load_settings
from hub.streams.owner import Ownership, running_owner

app = typer.Typer(
    name="hub",
    help="svu-hub: integration hub for samverkan vid utskrivning (Lag 2017:612).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: [kafka], [hl7] … are settings sections, not markup
    cls=HubGroup,  # one-line failures, named value types (hub/cli_errors.py)
)
contracts_app = typer.Typer(help="Published contracts (JSON Schema, AsyncAPI).",
                     no_args_is_help=True, rich_markup_mode=None)
app.add_typer(contracts_app, name="contracts")
hl7_app = typer.Typer(help="HL7 v2 over MLLP.",
                     no_args_is_help=True, rich_markup_mode=None)
app.add_typer(hl7_app, name="hl7")


adapter_app = typer.Typer(help="Source adapters as their own processes, writing to Kafka.",
                     no_args_is_help=True, rich_markup_mode=None)
app.add_typer(adapter_app, name="adapter")
helm_app = typer.Typer(help="The Helm chart in deploy/helm/svu-hub.",
                     no_args_is_help=True, rich_markup_mode=None)
app.add_typer(helm_app, name="helm")
audit_app = typer.Typer(help="The audit log of patient-data access (svu.audit).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (HUB_* environment variables win).",
                 exists=True, dir_okay=False),
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="SQLite file of the log (default var/hub.db).")
]


def _settings(config: Path | None, data: Path | None = None, **overrides: object) -> HubSettings:
    try:
        settings = load_settings(config)
        if data is not None:
            settings = settings.model_copy(
                update={"log": settings.log.model_copy(update={"path": data})})
        return settings.model_copy(update=overrides) if overrides else settings
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            console.print(f"[red]settings error[/red] {loc}: {err['msg']}")
        raise typer.Exit(2) from None


def _refuse_default_secret(settings: HubSettings) -> None:
    from hub.api.app import refuse_default_secret

    refuse_default_secret(settings)  # a HubError: one line "error: …", exit 2 (hub.cli_errors)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console, transient=False)


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _kafka_ready(settings: HubSettings) -> None:
    """Fail in one line when a file the Kafka settings name is missing or no broker answers."""
    from hub.streams.kafka import preflight

    asyncio.run(preflight.check(settings.kafka))


def _existing_log(settings: HubSettings) -> None:
    """Fail in one line when the log file (--data or log.path) is not there, after the rule pack
    and directory were checked (a broken configuration is named first)."""
    from hub.bootstrap import load_resources

    load_resources(settings)
    if not settings.log.path.is_file():
        raise typer.BadParameter(f"no log at {settings.log.path} (mistyped --data?)",
                                 param_hint="'--data'")


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    from hub.streams import otel

    otel.configure()  # traces over OTLP when the OTEL_* variables ask for them; off by default
    if version:
        out.print(__version__)
        raise typer.Exit()


@app.command()
def run(config: ConfigOpt = None, data: DataOpt = None,
        port: Annotated[int | None, typer.Option(help="API port (default 8000).")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the hub embedded: log under ./var/, processors, ops API on 127.0.0.1:8000."""
    _logging(verbose)
    settings = _settings(config, data)
    _refuse_default_secret(settings)
    if port is not None:
        settings = settings.model_copy(update={"api": settings.api.model_copy(update={"port": port})})
    if not settings.api.keys:
        console.print("[yellow]No API keys configured (HUB_API__KEYS): endpoints with patient "
                      "data answer 401.[/yellow]")
    hub = build_hub(settings)

    def started(url: str) -> None:
        mllp = f"; MLLP {settings.hl7.host}:{hub.mllp_port}" if hub.mllp_port else ""
        console.print(f"svu-hub {__version__} running: API {url}/docs, dashboard {url}/dashboard{mllp} "
                      f"(log {settings.log.path}; Ctrl-C stops)")

    try:
        asyncio.run(serve(hub, on_started=started))
    except NotOwner as exc:
        console.print(f"[red]not started[/red]: {exc}")
        raise typer.Exit(2) from None
    finally:
        hub.close()


@app.command()
def demo(
    config: ConfigOpt = None,
    data: DataOpt = None,
    county: Annotated[str, typer.Option(help="vasterbotten, norrbotten, gavleborg or stockholm.")] = "vasterbotten",
    episodes: Annotated[int, typer.Option(help="Vårdtillfällen to play.")] = 60,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 3600.0,
    port: Annotated[int | None, typer.Option(help="API port (default 8000).")] = None,
    fresh: Annotated[bool, typer.Option(help="Start from an empty demo log.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the hub with a simulator playing a county's traffic (Västerbotten's 15 kommuner by default)."""
    import shutil

    from hub.demo.run import prepare
    from hub.streams.clock import ScaledClock

    _logging(verbose)
    settings = _settings(config, data or Path("var/demo.db"))
    from hub.demo.run import demo_keys

    demo_key = ApiKey(key=settings.demo.api_key, principal="demo-ops", role=Role.OPS_ADMIN)
    # the demo keys only when no keys are configured
    api = settings.api.model_copy(update={"keys": settings.api.keys or (demo_key, *demo_keys(county)),
                                          **({"port": port} if port is not None else {})})
    engine = settings.engine
    if engine.directory is None:  # the demo county's synthetic units, unless configured
        from importlib.resources import files

        directory = Path(str(files("hub.demo") / "data" / f"directory-{county}.yaml"))
        if not directory.is_file():  # a county without a shipped file: the simulator's own units
            from hub.demo.units import COUNTIES, directory_yaml

            if county in COUNTIES:
                directory = Path(str(settings.log.path) + f"-directory-{county}.yaml")
                directory.parent.mkdir(parents=True, exist_ok=True)
                directory.write_text(directory_yaml(county), encoding="utf-8")
        engine = engine.model_copy(update={"directory": directory, "rule_pack": county})
    settings = settings.model_copy(update={"api": api, "engine": engine})
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(str(settings.log.path) + suffix).unlink(missing_ok=True)
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    clock = ScaledClock(start, speed)
    work = Path(str(settings.log.path) + "-files")
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
    try:
        run = prepare(settings, county, episodes=episodes, start=start, seed=settings.demo.seed, speed=speed,
                      work=work)
    except KeyError:
        console.print(f"[red]unknown county {county!r}[/red]: vasterbotten, norrbotten, gavleborg or stockholm")
        raise typer.Exit(2) from None
    settings = run.settings
    hub = build_hub(settings, clock=clock)
    replayed = run.replay_history(hub.ingestor)
    urls: dict[str, str] = {}
    key = settings.demo.api_key.get_secret_value()
    jobs = run.jobs(clock=clock, ingestor=hub.ingestor, api_url=lambda: urls.get("api"), api_key=key,
                    mllp_port=lambda: hub.mllp_port, notify=hub.runtime.notify)

    def started(url: str) -> None:
        urls["api"] = url
        first = run.live[0].episode_id if run.live else run.history[0].episode_id
        console.print(f"svu-hub demo: {replayed} messages of history (3 months) replayed, {len(run.live)} live "
                      f"messages of {episodes} vårdtillfällen in {county}, 1 s = {speed:g} s simulated.")
        console.print(f"  Dashboard: {url}/dashboard")
        console.print(f"  API:       {url}/docs")
        if hub.mllp_port:
            console.print(f"  HL7 MLLP:  127.0.0.1:{hub.mllp_port}  (./dev hub hl7 send FILE --port {hub.mllp_port})")
        console.print(f"  LifeCare:  fake on 127.0.0.1:{run.lifecare_port}; Prator outbox and kommun inbox in {work}")
        console.print(f"  API key:   {key}  (header 'Authorization: Bearer <key>'); as a region: demo-region, "
                      f"as the kommun {run.kommun}: demo-kommun")
        console.print(f"  Timeline:  curl -H 'Authorization: Bearer {key}' {url}/episodes/{first}/timeline")
        console.print("  Ctrl-C stops.")

    feed = run.feed
    assert feed is not None
    try:
        asyncio.run(serve(hub, extra=jobs, on_started=started))
    except NotOwner as exc:
        console.print(f"[red]not started[/red]: {exc}")
        raise typer.Exit(2) from None
    finally:
        hub.close()
        console.print(f"demo stopped: {feed.sent} live messages sent "
                      f"({', '.join(f'{k} {v}' for k, v in sorted(feed.by_adapter.items()))}), "
                      f"{feed.rejected} rejected "
                      "(kept in the dead-letter topic with their reasons); "
                      f"the fake LifeCare received {len(run.fake.requests)} requests.")


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="Canonical events, one JSON object per line.",
                                         exists=True, dir_okay=False)],
    config: ConfigOpt = None,
    data: DataOpt = None,
    source: Annotated[str, typer.Option(help="Source name for the dead-letter topic.")] = "file",
    process: Annotated[bool, typer.Option(help="Run the processors over what was ingested.")] = True,
) -> None:
    """Ingest canonical events from a JSON-lines file. Bad lines are reported by line number and
    kept in the dead-letter topic; the exit code is 1 when any line was rejected. Beside a
    running hub on the same data file, only appends: the running hub processes the events."""
    settings = _settings(config, data)
    owner = Ownership(settings.log.path)
    try:
        owner.acquire()
    except NotOwner:
        if process:
            console.print(f"a running hub (pid {running_owner(settings.log.path)}) owns "
                          f"{settings.log.path}: the events are appended, and it processes them")
        process = False
    hub = build_hub(settings)
    hub.closers.append(owner.release)
    rejected: list[tuple[int, str]] = []
    accepted = 0
    try:
        lines = file.read_bytes().splitlines()
        with _progress() as bar:
            task = bar.add_task("ingest", total=len(lines))
            batch = settings.runtime.batch_size
            for start in range(0, len(lines), batch):
                chunk = [(n, ln) for n, ln in enumerate(lines[start:start + batch], start + 1)
                         if ln.strip()]
                outcomes = hub.ingestor.submit(source, [ln for _, ln in chunk],
                                               connection=f"file:{file.name}")
                for (n, _), o in zip(chunk, outcomes, strict=True):
                    if o.accepted:
                        accepted += 1
                    else:
                        rejected.append((n, o.reason))
                bar.advance(task, min(batch, len(lines) - start))
        if process:
            _process(hub, "process")
    finally:
        hub.close()
    for n, reason in rejected[:50]:
        console.print(f"[red]line {n}[/red]: {reason}")
    if len(rejected) > 50:
        console.print(f"… and {len(rejected) - 50} more rejected lines")
    out.print(f"{accepted} accepted, {len(rejected)} rejected")
    if rejected:
        raise typer.Exit(1)


def _process(hub: Hub, label: str) -> int:
    lag = sum(hub.runtime.lag().values())
    with _progress() as bar:
        task = bar.add_task(label, total=lag or None)
        return hub.runtime.run_until_idle(on_progress=lambda n: bar.advance(task, n))


@app.command()
def replay(
    config: ConfigOpt = None,
    data: DataOpt = None,
    processor: Annotated[list[str] | None, typer.Option(
        help=f"Processor to rebuild (repeatable; default all: {', '.join(PROCESSORS)}).")] = None,
    input_file: Annotated[Path | None, typer.Option(
        "--input", help="Simulate the engine over this JSON-lines file instead of the log.",
        exists=True, dir_okay=False)] = None,
    report: Annotated[Path | None, typer.Option(
        help="With --input: write the per-episode report here (JSON lines).")] = None,
    until: Annotated[dt.datetime | None, typer.Option(
        help="With --input: advance every clock to this time (ISO 8601 with offset; default: "
        "the last event's time).", formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"])] = None,
    pack: Annotated[list[str] | None, typer.Option(
        help="With --input: a rule pack for this run (repeatable; a shipped id or a file, a file "
        "with 'base: <pack>' holding only overrides); it replaces the configured pack of its län.")] = None,
) -> None:
    """Rebuild processors' state from offset 0 of the log, or, with --input, run the process
    engine over a file of canonical events with a simulated clock and write a report.
    Deterministic: the same input gives the same state and the same report."""
    settings = _settings(config, data)
    if input_file is not None:
        _simulate(_with_packs(settings, pack or []), input_file, report, until)
        return
    _existing_log(settings)
    names = processor or list(PROCESSORS)
    unknown = [n for n in names if n not in PROCESSORS]
    if unknown:
        console.print(f"[red]unknown processor[/red] {', '.join(unknown)}; known: {', '.join(PROCESSORS)}")
        raise typer.Exit(2)
    owner = Ownership(settings.log.path)
    try:
        owner.acquire()
    except NotOwner as exc:
        console.print(f"[red]not replayed[/red]: {exc}")
        raise typer.Exit(2) from None
    hub = build_hub(settings, processors=processor or None)
    hub.closers.append(owner.release)
    try:
        hub.runtime.reset()
        _process(hub, "replay")
        from hub.schemas import topics

        checked = hub.runtime.verify_stats
        out.print(f"replayed {hub.log.count(topics.EVENTS)} events through {', '.join(names)}: "
                  f"{checked.verified} outputs already published (verified, {checked.differs} with other "
                  f"bytes), {checked.new} new")
    finally:
        hub.close()


def _with_packs(settings: HubSettings, packs: list[str]) -> HubSettings:
    """``settings`` with each of ``packs`` in place of the configured pack of its län."""
    from hub.bootstrap import load_pack

    engine = settings.engine
    for name in packs:
        lan = load_pack(name).lanskod
        if load_pack(engine.rule_pack).lanskod == lan:
            engine = engine.model_copy(update={"rule_pack": name})
        else:
            others = [p for p in engine.packs if load_pack(p).lanskod != lan]
            engine = engine.model_copy(update={"packs": [*others, name]})
    return settings.model_copy(update={"engine": engine})


def _simulate(settings: HubSettings, input_file: Path, report: Path | None,
              until: dt.datetime | None) -> None:
    from hub.bootstrap import engine_for
    from hub.domain.replay import simulate
    from hub.schemas.envelope import parse_event

    events = []
    bad = 0
    for n, line in enumerate(input_file.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(parse_event(line))
        except HubError as exc:
            bad += 1
            console.print(f"[red]line {n}[/red]: {exc}")
    if not events:
        console.print("no valid events in the input")
        raise typer.Exit(1)
    end = (until or max(e.time for e in events)).astimezone(dt.UTC)
    engine = engine_for(settings)
    with _progress() as bar:
        bar.add_task("simulate", total=len(events))
        sim = simulate(engine, events, end)
    reports = sim.reports(engine, end)
    lines = [r.to_line() for r in reports]
    if report is not None:
        report.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    else:
        for ln in lines:
            out.print(ln, markup=False, highlight=False)
    alerts = sum(1 for e in sim.emitted if e.topic == "svu.alerts")
    console.print(f"{len(events)} events, {len(reports)} episodes, {alerts} alert events, "
                  f"{bad} bad lines; clock advanced to {end.isoformat()}")
    if bad:
        raise typer.Exit(1)


@app.command()
def status(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """Topics with their record counts, and each processor's lag."""
    settings = _settings(config, data)
    if not settings.log.path.exists():
        console.print(f"no log at {settings.log.path}")
        raise typer.Exit(1)
    hub = build_hub(settings)
    try:
        table = Table("topic", "partitions", "records")
        for topic in hub.log.topics():
            table.add_row(topic, str(hub.log.partitions(topic)), str(hub.log.count(topic)))
        out.print(table)
        lag = Table("processor", "lag")
        for name, value in hub.runtime.lag().items():
            lag.add_row(name, str(value))
        out.print(lag)
        _task_status(settings.log.path)
    finally:
        hub.close()


def _task_status(path: Path) -> None:
    """The supervised tasks of the hub that runs this data file, as it last wrote them."""
    from hub.streams.supervisor import read_status, status_file_for

    pid = running_owner(path)
    found = read_status(status_file_for(path)) if pid is not None else None
    if found is None:
        out.print("no hub runs this data file" if pid is None else f"hub pid {pid} runs this data file")
        return
    table = Table("task", "state", "restarts", "store errors", "last error", title=f"tasks of hub pid {pid}")
    for name, task in found.get("tasks", {}).items():
        state = task["state"] + (" (crash loop)" if task.get("crash_loop") else "")
        table.add_row(name, state, str(task["restarts"]), str(task["store_errors"]), task.get("last_error") or "")
    out.print(table)
    if not found.get("ok", False):
        out.print(f"[red]not ready[/red]: {', '.join(found.get('failing', []))}")


@contracts_app.command("export")
def contracts_export(
    directory: Annotated[Path, typer.Option("--dir", help="Target folder.")] = Path("contracts"),
    check: Annotated[bool, typer.Option(help="Only check; exit 1 when the files differ.")] = False,
) -> None:
    """Write JSON Schema per event type and the AsyncAPI 3.0 document into contracts/."""
    from hub.schemas.contracts import GENERATED_DIRS, generate

    files = generate()
    stale = [
        p.relative_to(directory).as_posix()
        for d in GENERATED_DIRS if (directory / d).is_dir()
        for p in sorted((directory / d).iterdir())
        if p.relative_to(directory).as_posix() not in files
    ]
    changed = [rel for rel, text in files.items()
               if not (directory / rel).is_file()
               or (directory / rel).read_text(encoding="utf-8") != text]
    if check:
        for rel in changed:
            console.print(f"[red]differs[/red] {rel}")
        for rel in stale:
            console.print(f"[red]not generated[/red] {rel}")
        if changed or stale:
            console.print("run 'hub contracts export' and commit the result")
            raise typer.Exit(1)
        out.print(f"contracts up to date ({len(files)} files)")
        return
    for rel in changed:
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[rel], encoding="utf-8")
    for rel in stale:
        (directory / rel).unlink()
    out.print(f"{len(changed)} written, {len(stale)} removed, {len(files)} in all")


@app.command("cutover-report")
def cutover_report(
    unit: Annotated[str, typer.Option(help="HSA-id of the unit that changes system.")],
    date: Annotated[dt.datetime, typer.Option(help="The cutover date (YYYY-MM-DD).", formats=["%Y-%m-%d"])],
    config: ConfigOpt = None,
    data: DataOpt = None,
    apply_: Annotated[bool, typer.Option("--apply", help="Send the hand-over now.")] = False,
) -> None:
    """List the open episodes a unit's cutover touches and what each will get on the new system;
    with --apply, send that hand-over (once: applying again sends nothing new)."""
    import orjson

    from hub.streams import cutover

    settings = _settings(config, data)
    hub = build_hub(settings)
    try:
        directory = hub.resources.directory.current()
        if directory is None:
            console.print("[red]no unit directory is configured (engine.directory)[/red]")
            raise typer.Exit(2)
        found = cutover.plan(hub.log, directory, unit, date.date())
        out.print(orjson.dumps(found.as_dict(), option=orjson.OPT_INDENT_2).decode(), markup=False, highlight=False)
        if apply_:
            sent = cutover.apply(hub.log, found, hub.clock.now())
            console.print(f"{sent} hand-over deliveries queued to {found.new_system}"
                          if found.handover else "the directory asks for no hand-over for this unit")
    finally:
        hub.close()


@hl7_app.command("send")
def hl7_send(
    files: Annotated[list[Path], typer.Argument(help="HL7 files: one message each, or FHS/BHS batches.",
                                                exists=True, dir_okay=False)],
    host: Annotated[str, typer.Option(help="MLLP host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="MLLP port.")] = 2575,
) -> None:
    """Send HL7 messages over MLLP and print each acknowledgement (MSA-1 and text)."""
    from hub.adapters.hl7.batch import messages_of
    from hub.adapters.hl7.transport import send

    messages = [m for f in files for m in messages_of(f.read_bytes())]
    try:
        acks = asyncio.run(send(host, port, messages))
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise HubError(f"the reply from {host}:{port} is not an MLLP-framed HL7 acknowledgement") from None
    bad = 0
    for n, (message, reply) in enumerate(zip(messages, acks, strict=True), 1):
        fields = message.split(b"\r", 1)[0].split(b"|")
        control = fields[9].decode("latin-1", "replace") if len(fields) > 9 else f"message {n}"
        msa = next((s for s in reply.split(b"\r") if s.startswith(b"MSA|")), None)
        if msa is None:
            bad += 1
            out.print(f"{control}: the reply is not an HL7 acknowledgement (no MSA segment)", markup=False)
            continue
        parts = msa.decode("utf-8", "replace").split("|")
        code = parts[1] if len(parts) > 1 else ""
        bad += code not in ("AA", "CA")
        out.print(f"{control}: {code} {parts[3] if len(parts) > 3 else ''}".rstrip(), markup=False)
    if bad:
        raise typer.Exit(1)


@app.command()
def worker(config: ConfigOpt = None,
           processor: Annotated[list[str] | None, typer.Option(
               help="Processor to run (repeatable; default all).")] = None,
           verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the processors as Faust agents on Kafka (settings under [kafka] / HUB_KAFKA__*).
    Several workers share the partitions; SIGTERM leaves the group cleanly."""
    _logging(verbose)
    settings = _settings(config)
    unknown = [n for n in processor or () if n not in PROCESSORS]
    if unknown:
        console.print(f"[red]unknown processor[/red] {', '.join(unknown)}; known: {', '.join(PROCESSORS)}")
        raise typer.Exit(2)
    _kafka_ready(settings)
    console.print(f"svu-hub {__version__} worker: {', '.join(processor or PROCESSORS)} on "
                  f"{', '.join(settings.kafka.bootstrap_servers)}")
    build_worker(settings, processors=processor).run()


@app.command("api")
def api_command(config: ConfigOpt = None, data: DataOpt = None,
                verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """The ops API and dashboard on Kafka (several replicas may run): reads from a local mirror of
    the cluster (the --data file, a cache rebuilt from Kafka when deleted); inbound messages,
    audit records and ops actions are written to Kafka before the caller is answered."""
    from hub.roles import serve_api

    _logging(verbose)
    settings = _settings(config, data)
    _refuse_default_secret(settings)
    _kafka_ready(settings)
    console.print(f"svu-hub {__version__} API on {settings.api.host}:{settings.api.port}, mirroring Kafka "
                  f"{', '.join(settings.kafka.bootstrap_servers)} into {settings.log.path}")
    try:
        asyncio.run(serve_api(settings))
    except HubError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None


@adapter_app.command("mllp")
def adapter_mllp(config: ConfigOpt = None,
                 verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """HL7 v2 over MLLP (settings [hl7]) writing to Kafka (settings [kafka]): each message is
    acknowledged only after the brokers acknowledged its records (acks=all); AR when Kafka
    refuses. Probes and metrics on the [api] address: /health, /ready, /metrics."""
    from hub.roles import serve_mllp_adapter

    _logging(verbose)
    settings = _settings(config)
    settings = settings.model_copy(update={"hl7": settings.hl7.model_copy(update={"enabled": True})})
    _kafka_ready(settings)
    console.print(f"svu-hub {__version__} MLLP adapter on {settings.hl7.host}:{settings.hl7.port} → Kafka "
                  f"{', '.join(settings.kafka.bootstrap_servers)}; probes on {settings.api.host}:{settings.api.port}")
    try:
        asyncio.run(serve_mllp_adapter(settings))
    except HubError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None


@adapter_app.command("delivery")
def adapter_delivery(
    system: Annotated[str, typer.Option("--system", help="Target system: lifecare or prator.")],
    config: ConfigOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Deliver from Kafka (svu.deliveries.<system>.*) to LifeCare (settings [lifecare]) or Prator
    ([prator] http or outbox): at least once, with idempotency keys; each status on Kafka before
    the offset is committed. Probes and metrics on the [api] address."""
    from hub.roles import serve_delivery

    if system not in ("lifecare", "prator"):
        console.print(f"[red]unknown system[/red] {system}; known: lifecare, prator")
        raise typer.Exit(2)
    _logging(verbose)
    settings = _settings(config)
    _kafka_ready(settings)
    console.print(f"svu-hub {__version__} deliveries to {system} from Kafka "
                  f"{', '.join(settings.kafka.bootstrap_servers)}")
    try:
        asyncio.run(serve_delivery(settings, system))
    except HubError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def topics(
    config: ConfigOpt = None,
    create: Annotated[bool, typer.Option(help="Create the missing topics (else only check).")] = False,
    source: Annotated[list[str] | None, typer.Option(help="Source of svu.raw/svu.dlq (repeatable).")] = None,
    deliveries: Annotated[list[str] | None, typer.Option(
        "--delivery", help="system.receiver of svu.deliveries (repeatable).")] = None,
) -> None:
    """Check (or create) the topics of contracts/asyncapi.yaml and the workers' changelogs:
    partitions, replication, retention, compaction. Exit 1 when a topic is missing or differs."""
    from hub.schemas.contracts import asyncapi
    from hub.streams.kafka import topics as kt

    settings = _settings(config)
    pairs = [d.split(".", 1) for d in deliveries or () if "." in d]
    params = {"source": source or [], "system": sorted({p[0] for p in pairs}),
              "receiver": sorted({p[1] for p in pairs})}
    changelogs = [f"{settings.kafka.app_id}-{n}-{kind}-changelog"
                  for n in PROCESSORS for kind in ("state", "timers")]
    _kafka_ready(settings)
    wanted = kt.desired(asyncapi(), params, changelogs, changelog_partitions=settings.kafka.partitions,
                        changelog_replicas=settings.kafka.replication_factor)
    existing = asyncio.run(kt.describe(settings.kafka, [w.name for w in wanted]))
    actions = kt.plan(wanted, existing)
    for a in actions:
        topic_config = " ".join(f"{k}={v}" for k, v in a.spec.config.items())
        problems = f"  ({'; '.join(a.problems)})" if a.problems else ""
        out.print(f"{a.action:8} {a.spec.name}  partitions={a.spec.partitions} "
                  f"replicas={a.spec.replicas} {topic_config}{problems}", highlight=False, markup=False)
    missing = [a.spec for a in actions if a.action == "create"]
    if create and missing:
        asyncio.run(kt.create(settings.kafka, missing))
        out.print(f"{len(missing)} topics created")
        missing = []
    if missing or any(a.action == "mismatch" for a in actions):
        raise typer.Exit(1)


@helm_app.command("schema")
def helm_schema(
    chart: Annotated[Path, typer.Option("--chart", help="Chart folder.")] = Path("deploy/helm/svu-hub"),
    check: Annotated[bool, typer.Option(help="Only check; exit 1 when the file differs.")] = False,
) -> None:
    """Write the chart's values.schema.json, generated from the settings models."""
    from hub.helm import values_schema_text

    target = chart / "values.schema.json"
    text = values_schema_text()
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            console.print(f"[red]differs[/red] {target}; run 'hub helm schema' and commit the result")
            raise typer.Exit(1)
        out.print(f"{target} up to date")
        return
    target.write_text(text, encoding="utf-8")
    out.print(f"{target} written")


@audit_app.command("extract")
def audit_extract(config: ConfigOpt = None, data: DataOpt = None) -> None:
    """One patient's log extract (patientdatalagen 8 kap. 1 §): every audit record that links to the
    patient, as JSON lines. The personnummer is read from standard input (never an argument, so
    that it stays out of the process list and the shell history) and hashed with the patient key."""
    import orjson

    from hub.domain.episode import patient_key
    from hub.schemas import topics
    from hub.schemas.identifiers import parse_patient_id
    from hub.streams.sqlite_log import SqliteLog

    settings = _settings(config, data)
    number = typer.prompt("personnummer", hide_input=True, err=True)
    try:
        key = patient_key(parse_patient_id(number.strip()).value,
                          settings.engine.patient_key_secret.get_secret_value().encode())
    except HubError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    with SqliteLog(settings.log.path) as log:
        if topics.AUDIT not in log.topics():
            return
        offset = 0
        while batch := log.read(topics.AUDIT, 0, offset, 1000):
            for record in batch:
                if key in orjson.loads(record.value).get("patient_keys", ()):
                    typer.echo(record.value.decode())
            offset = batch[-1].offset + 1


def main() -> None:
    """Entry point of the ``hub`` command; HubError becomes a one-line message and exit 2."""
    try:
        app()
    except HubError as exc:
        console.print(f"[red]error:[/red] {exc}")
        sys.exit(2)


if __name__ == "__main__":
    main()
