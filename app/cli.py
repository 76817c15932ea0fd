"""The `clientforge` command: run everything (`up`), or one part (`api`, `ui`, `worker`), and operate it
(`migrate`, `status`, `tenant create`, `user create`, `seed`).

Every expected failure is one line on stderr that says what to do, with exit status 1; no traceback.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from app.console import credentials_box, password_box
from app.runtime import (
    CliError,
    database_error,
    ensure_port_free,
    one_line,
    read_runtime,
    redis_error,
    services_for_command,
)

if TYPE_CHECKING:
    from core.demo.service import SeedResult


def _validation_message(exc: Any) -> str:
    """A pydantic ValidationError as one line naming the CLI options."""
    parts = []
    for error in exc.errors():
        field = "-".join(str(p) for p in error.get("loc", ()) if isinstance(p, str)).replace("_", "-")
        parts.append(f"--{field}: {error.get('msg', 'invalid')}" if field else str(error.get("msg")))
    return "invalid value " + "; ".join(parts)


def _current_url(name: str) -> str:
    from core.config import get_settings

    return getattr(get_settings(), name) or "(embedded)"


class CliGroup(TyperGroup):
    """Turns expected failures from any subcommand into one line on stderr and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        import redis
        from pydantic import ValidationError
        from sqlalchemy.exc import OperationalError

        from core.config import get_settings
        from core.errors import DomainError

        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except Exception as exc:
            if _is_cli_control(exc):  # usage errors, --help, typer.Exit: the framework handles them
                raise
            if isinstance(exc, CliError):
                _fail(str(exc))
            if isinstance(exc, DomainError):
                _fail(exc.message)
            if isinstance(exc, ValidationError):
                _fail(_validation_message(exc))
            if isinstance(exc, OperationalError):
                _fail(str(database_error(_current_url("database_url"), exc)))
            if isinstance(exc, redis.ConnectionError):
                _fail(str(redis_error(_current_url("redis_url"), exc)))
            if get_settings().log_level.upper() == "DEBUG":
                raise
            _fail(
                f"unexpected {type(exc).__name__}: {one_line(exc)} (this is a bug; rerun with "
                "CLIENTFORGE_LOG_LEVEL=DEBUG for the traceback and report it)"
            )


def _is_cli_control(exc: BaseException) -> bool:
    # Typer vendors click in recent releases and uses click itself in older ones: accept both.
    framework = type(exc).__module__.split(".")[0]
    return isinstance(exc, typer.Exit | typer.Abort) or framework in ("click", "typer")


def _fail(message: str) -> NoReturn:
    typer.echo("error: " + " ".join(message.split()), err=True)
    raise typer.Exit(1)


cli = typer.Typer(
    cls=CliGroup,
    name="clientforge",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help=__doc__.split("\n\n")[0] if __doc__ else None,
)
tenant_cli = typer.Typer(no_args_is_help=True, help="Workspaces (tenants).")
user_cli = typer.Typer(no_args_is_help=True, help="Users of a workspace.")
cli.add_typer(tenant_cli, name="tenant")
cli.add_typer(user_cli, name="user")
etl_cli = typer.Typer(no_args_is_help=True, help="The analytics warehouse (DuckDB, one per workspace).")
cli.add_typer(etl_cli, name="etl")
forecast_cli = typer.Typer(
    no_args_is_help=True, help="Forecasts with back-tested accuracy (the engine in ai.forecasting)."
)
cli.add_typer(forecast_cli, name="forecast")
app = cli  # the Typer application, for `typer.testing.CliRunner().invoke(app, [...])`


def _require_schema_current() -> None:
    from app.status import schema_revisions

    current, heads = schema_revisions()
    if current != heads:
        now = ", ".join(sorted(current)) or "an empty database"
        raise CliError(
            f"the database schema is not current ({now}; head is {', '.join(sorted(heads))}): "
            "run `clientforge migrate` first"
        )


class ScaleName(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


# up / api / ui / worker --------------------------------------------------------------------------------


@cli.command()
def up(
    api_port: Annotated[int | None, typer.Option("--api-port", help="API port [default: 8000]")] = None,
    ui_port: Annotated[int | None, typer.Option("--ui-port", help="UI port [default: 8501]")] = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not load demo data on first run.")] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Where data, secrets and the embedded servers live [default: .clientforge]"),
    ] = None,
    admin_email: Annotated[
        str | None,
        typer.Option("--admin-email", help="First admin's email on an empty database [default: admin@example.com]"),
    ] = None,
    demo_scale: Annotated[
        ScaleName, typer.Option("--demo-scale", help="Size of the demo workspace loaded on first run.")
    ] = ScaleName.medium,
) -> None:
    """Run everything: PostgreSQL and Redis (embedded unless configured), migrations, API, UI and worker.

    On a first run it also creates the workspace `default` and (unless --no-demo) the demo workspace `acme-demo`."""
    from app.supervisor import run

    raise typer.Exit(
        run(
            api_port=api_port,
            ui_port=ui_port,
            data_dir=data_dir,
            admin_email=admin_email,
            demo=not no_demo,
            demo_scale=demo_scale.value,
        )
    )


@cli.command()
def api(
    host: Annotated[str | None, typer.Option("--host", help="Address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port [default: 8000]")] = None,
) -> None:
    """Run the REST API alone (uvicorn, no reload)."""
    from core.config import get_settings

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    ensure_port_free(host, port, "--port")
    with services_for_command(database=True, redis=True):
        import uvicorn

        uvicorn.run("api.main:app", host=host, port=port, reload=False)


@cli.command()
def ui(port: Annotated[int | None, typer.Option("--port", help="Port [default: 8501]")] = None) -> None:
    """Run the Streamlit UI alone (headless, on 127.0.0.1)."""
    import os

    from app.supervisor import UI_ADDRESS, ui_command
    from core.config import get_settings

    settings = get_settings()
    port = port or settings.ui_port
    ensure_port_free(UI_ADDRESS, port, "--port")
    env = dict(os.environ)
    running = read_runtime(settings.data_path)
    for key, name in (("database_url", "DATABASE_URL"), ("redis_url", "REDIS_URL")):
        if running and running.get(key) and getattr(settings, key) is None:
            env[name] = running[key]
    process = subprocess.Popen(ui_command(port), env=env)
    try:
        code = process.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C: let it finish
        code = process.wait()
    raise typer.Exit(code)


@cli.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, help="Jobs run at once [default: CLIENTFORGE_WORKER_CONCURRENCY or 2]"),
    ] = None,
) -> None:
    """Run a job worker until SIGTERM / Ctrl-C."""
    with services_for_command(database=True, redis=True):
        try:
            from core.jobs.queue import run_worker
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("core.jobs"):
                raise CliError("the job worker is not in this build (core.jobs.queue is missing)") from None
            raise
        run_worker(concurrency=concurrency)


# migrate / status --------------------------------------------------------------------------------------


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to head and refresh the runtime role and permissions (idempotent)."""
    from app.status import schema_revisions
    from core.database_admin import migrate as run_migrations

    with services_for_command(database=True):
        run_migrations()
        current, _ = schema_revisions()
        typer.echo(f"Database schema is at head ({', '.join(sorted(current))}).")


@cli.command()
def status(
    api_port: Annotated[
        int | None,
        typer.Option("--api-port", help="API port to probe [default: the running `up`'s, else 8000]"),
    ] = None,
) -> None:
    """Report PostgreSQL, migrations, Redis, tenants, API and worker; exit 1 if PostgreSQL or Redis is down."""
    from app.status import collect

    report = collect(api_port)
    typer.echo(report.render())
    for error in report.errors:
        typer.echo("error: " + " ".join(error.split()), err=True)
    if not report.healthy:
        raise typer.Exit(1)


# etl ---------------------------------------------------------------------------------------------------------


def _workspaces(session: Any, tenant: str | None) -> list[tuple[Any, str]]:
    """(id, label) of the workspace with slug `tenant`, or of every active workspace."""
    from sqlalchemy import text

    from core.tenants.service import lookup_slug

    if tenant is None:
        return [(row.id, str(row.id)) for row in session.execute(text("SELECT id FROM cf_active_tenant_ids()"))]
    found = lookup_slug(session, tenant)
    if found is None:
        _fail(f"No workspace with slug '{tenant}'")
    return [(found[0], tenant)]


@etl_cli.command("run")
def etl_run(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Workspace slug [default: every active workspace]")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild from nothing instead of loading what changed.")] = False,
) -> None:
    """Load the warehouse now (what changed since the last load, or everything with --full)."""
    from core.db import unit_of_work
    from etl import pipeline

    with services_for_command(database=True, redis=True):
        _require_schema_current()
        with unit_of_work() as session:
            targets = _workspaces(session, tenant)
        for tenant_id, label in targets:
            result = pipeline.run(tenant_id, full=full, trigger="manual")
            kind = "full" if result.full else "incremental"
            tables = ", ".join(f"{name} {stats.rows_out:,}" for name, stats in result.tables.items() if stats.rows_out)
            typer.echo(
                f"{label}: {kind} load, version {result.version}, {result.rows_in:,} rows read,"
                f" {result.rows_out:,} written in {result.seconds:.2f} s" + (f" ({tables})" if tables else "")
            )


# embeddings --------------------------------------------------------------------------------------------

embeddings_cli = typer.Typer(no_args_is_help=True, help="Embeddings of records for semantic search (ai.nlp).")
cli.add_typer(embeddings_cli, name="embeddings")


@embeddings_cli.command("rebuild")
def embeddings_rebuild(
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Workspace slug [default: every active workspace]")
    ] = None,
) -> None:
    """Embed every record again now, with a progress bar (the worker keeps embeddings current by itself)."""
    from ai.nlp import store
    from core.actor import Actor
    from core.db import unit_of_work

    with services_for_command(database=True, redis=False):
        _require_schema_current()
        with unit_of_work() as session:
            targets = _workspaces(session, tenant)
        for tenant_id, label in targets:
            with unit_of_work(Actor.system(tenant_id)) as session, typer.progressbar(length=100, label=label) as bar:
                seen = [0]

                def advance(pct: int, _message: str, bar: Any = bar, seen: list[int] = seen) -> None:
                    bar.update(pct - seen[0])
                    seen[0] = pct

                result = store.refresh(session, tenant_id, full=True, progress=advance, commit=session.commit)
                bar.update(100 - seen[0])
            typer.echo(
                f"{label}: {sum(result['read'].values()):,} records read, {sum(result['embedded'].values()):,}"
                f" embedded, {result['removed']:,} vectors of deleted records removed"
            )


# forecast ----------------------------------------------------------------------------------------------


@forecast_cli.command("csv")
def forecast_csv(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT.csv", help="Long-format CSV: one row per series and date.")
    ],
    horizon: Annotated[int, typer.Option("--horizon", help="Periods to forecast.")],
    freq: Annotated[str, typer.Option("--freq", help="D, W, M or Q.")],
    output: Annotated[Path, typer.Option("--output", help="Forecasts CSV to write.")],
    backtest_output: Annotated[
        Path | None, typer.Option("--backtest-output", help="Also write each candidate's back-test errors here.")
    ] = None,
    id_col: Annotated[str, typer.Option("--id-col", help="Series id column.")] = "unique_id",
    ds_col: Annotated[str, typer.Option("--ds-col", help="Date column.")] = "ds",
    y_col: Annotated[str, typer.Option("--y-col", help="Value column.")] = "y",
) -> None:
    """Forecast every series of a CSV, each with the model its own back-test chose; nothing is written on bad input."""
    import polars as pl
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ai.forecasting import ForecastInputError, forecast

    if not input_path.is_file():
        raise CliError(f"no file {input_path}: check INPUT.csv")
    try:
        frame = pl.read_csv(input_path, infer_schema=False)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file, said in one line
        raise CliError(f"cannot read {input_path} as CSV: {one_line(exc)}") from None
    console = Console(stderr=True)
    columns = (TextColumn("Forecasting series"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
            task = bar.add_task("forecast", total=None)
            result = forecast(
                frame,
                horizon=horizon,
                freq=freq,
                id_col=id_col,
                ds_col=ds_col,
                y_col=y_col,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except ForecastInputError as exc:
        raise CliError(f"{input_path}: {exc}") from None
    result.forecasts.write_csv(output)
    if backtest_output is not None:
        result.backtest.write_csv(backtest_output)
    chosen = result.explanations["model"].value_counts(sort=True)
    typer.echo(
        f"Wrote {result.forecasts.height:,} rows for {result.explanations.height:,} series to {output}"
        + (f" and the back-test to {backtest_output}" if backtest_output else "")
        + f" in {result.seconds:.1f} s. Models chosen: "
        + ", ".join(f"{model} {count}" for model, count in chosen.iter_rows())
    )


# scoring -----------------------------------------------------------------------------------------------

scoring_cli = typer.Typer(no_args_is_help=True, help="Lead scoring (the engine in ai.scoring).")
cli.add_typer(scoring_cli, name="scoring")


@scoring_cli.command("evaluate")
def scoring_evaluate(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT.csv", help="Leads CSV with an outcome column.")],
    target: Annotated[str, typer.Option("--target", help="The outcome column.")],
    positive: Annotated[
        str | None, typer.Option("--positive", help="Value meaning converted [default: inferred].")
    ] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Column to leave out (repeatable).")] = None,
    test_size: Annotated[float, typer.Option("--test-size", help="Held-out share.")] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Train on a stratified split of a lead CSV; print ROC AUC, Brier, calibration and the baseline's AUC."""
    import polars as pl

    from ai.scoring import ScoringInputError, stratified_split, train

    if not input_path.is_file():
        raise CliError(f"no file {input_path}: check INPUT.csv")
    if not 0 < test_size < 1:
        raise CliError("--test-size must be between 0 and 1, e.g. 0.2")
    try:
        frame = pl.read_csv(input_path, try_parse_dates=True, infer_schema_length=10_000)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file, said in one line
        raise CliError(f"cannot read {input_path} as CSV: {one_line(exc)}") from None
    try:
        fit, test = stratified_split(frame, target, positive, test_size=test_size, seed=seed)
        model = train(fit, target, positive, exclude=exclude or [], seed=seed)
        result = model.evaluate(test)
    except ScoringInputError as exc:
        raise CliError(f"{input_path}: {exc}") from None
    m = model.metrics
    typer.echo(f"Leads: {fit.height:,} trained, {test.height:,} held out; positive class {model.positive!r}")
    typer.echo(f"Model: {m['choice']}")
    typer.echo(f"ROC AUC: {result['roc_auc']:.3f}")
    typer.echo(f"Brier score: {result['brier']:.4f}")
    typer.echo(f"Baseline (Odoo-style naive Bayes) ROC AUC: {result['baseline_roc_auc']:.3f}")
    typer.echo(
        f"At p >= {result['threshold']:.2f}: precision {result['precision']:.3f}, recall {result['recall']:.3f},"
        f" F1 {result['f1']:.3f}"
    )
    if m["dropped"]:
        typer.echo("Dropped: " + "; ".join(f"{c} ({why})" for c, why in m["dropped"].items()))
    typer.echo(f"Calibration (held out, error {result['calibration_error']:.3f}):")
    typer.echo("  bin   leads  predicted  observed")
    for row in result["calibration"].iter_rows(named=True):
        typer.echo(f"  {row['bin']:>3}  {row['leads']:>6}  {row['predicted']:>9.3f}  {row['observed']:>8.3f}")


# tenant / user -----------------------------------------------------------------------------------------


@tenant_cli.command("create")
def tenant_create(
    name: Annotated[str, typer.Option("--name", help="Company name.")],
    slug: Annotated[str, typer.Option("--slug", help="Workspace id used at login (a-z, 0-9, -).")],
    admin_email: Annotated[str, typer.Option("--admin-email", help="The first admin's email.")],
    plan: Annotated[str, typer.Option("--plan", help="starter|professional|business|enterprise")] = "starter",
    max_users: Annotated[int | None, typer.Option("--max-users", help="[default: by plan]")] = None,
    admin_first_name: Annotated[str, typer.Option("--admin-first-name")] = "Admin",
    admin_last_name: Annotated[str, typer.Option("--admin-last-name")] = "User",
    admin_password: Annotated[
        str | None, typer.Option("--admin-password", help="Omit to generate one (printed once).")
    ] = None,
) -> None:
    """Create a workspace with its system roles and first admin."""
    from core.db import unit_of_work
    from core.tenants import service as tenants
    from core.tenants.schemas import TenantCreate

    data = TenantCreate(
        name=name,
        slug=slug,
        plan=plan,
        max_users=max_users,
        admin_email=admin_email,  # type: ignore[arg-type]
        admin_first_name=admin_first_name,
        admin_last_name=admin_last_name,
        admin_password=admin_password,
    )
    with services_for_command(database=True):
        _require_schema_current()
        with unit_of_work() as session:
            created = tenants.create(session, data)
            summary = (
                f"Created workspace '{created.tenant.name}' (slug {created.tenant.slug}, plan "
                f"{created.tenant.plan}, up to {created.tenant.max_users} users) with admin "
                f"{created.admin.email}."
            )
            generated = created.admin_password
    typer.echo(summary)
    if generated:
        typer.echo(password_box(workspace=data.slug, email=data.admin_email, password=generated, what="Admin sign-in"))


@user_cli.command("create")
def user_create(
    tenant: Annotated[str, typer.Option("--tenant", help="Workspace slug.")],
    email: Annotated[str, typer.Option("--email")],
    first_name: Annotated[str, typer.Option("--first-name")],
    last_name: Annotated[str, typer.Option("--last-name")],
    role: Annotated[str, typer.Option("--role", help="Workspace role: admin, manager, rep...")] = "rep",
    team: Annotated[str | None, typer.Option("--team", help="Team name or id.")] = None,
    password: Annotated[str | None, typer.Option("--password", help="Omit to generate one.")] = None,
) -> None:
    """Add a user to a workspace."""
    from core.actor import Actor
    from core.db import bind_actor, unit_of_work
    from core.tenants import service as tenants
    from core.users import service as users
    from core.users.schemas import UserCreate

    with services_for_command(database=True):
        _require_schema_current()
        with unit_of_work() as session:
            found = tenants.lookup_slug(session, tenant.strip().lower())
            if found is None:
                raise CliError(
                    f"no workspace with slug '{tenant}': check --tenant, or create it with `clientforge tenant create`"
                )
            actor = Actor.system(found[0])
            bind_actor(session, actor)
            team_id = None
            if team is not None:
                matches = [t.id for t in users.list_teams(session, actor) if team in (t.name, str(t.id))]
                if not matches:
                    raise CliError(f"no team '{team}' in workspace '{tenant}': check --team")
                team_id = matches[0]
            user, generated = users.create(
                session,
                actor,
                UserCreate(
                    email=email,
                    first_name=first_name,
                    last_name=last_name,
                    role=role,
                    team_id=team_id,
                    password=password,
                ),
            )
            summary = f"Created user {user.email} ({role}) in workspace '{tenant}'."
            user_email = user.email
    typer.echo(summary)
    if generated:
        typer.echo(password_box(workspace=tenant, email=user_email, password=generated, what="User sign-in"))


# seed --------------------------------------------------------------------------------------------------


@cli.command()
def seed(
    tenant: Annotated[str, typer.Option("--tenant", help="Workspace slug; created when missing.")] = "acme-demo",
    scale: Annotated[
        ScaleName,
        typer.Option("--scale", help="small ~500 contacts, medium ~15,000, large ~1,000,000."),
    ] = ScaleName.medium,
    seed_number: Annotated[int, typer.Option("--seed", help="The same seed gives the same data.")] = 42,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], help="Last day of the history (default: today, UTC)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Workspace name when created (default: Acme Demo).")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Rebuild the records of a demo workspace an earlier seed made (users stay)."),
    ] = False,
    password: Annotated[
        str | None, typer.Option("--password", help="Every demo user's password (default: generated, printed once).")
    ] = None,
) -> None:
    """Fill a workspace with three years of generated sales history whose patterns are known.

    What was planted goes to DATA_DIR/demo/SLUG.truth.json. A workspace that already has records is refused."""
    with services_for_command(database=True, redis=True):
        _require_schema_current()
        result = run_seed(
            slug=tenant,
            scale=scale.value,
            seed=seed_number,
            as_of=as_of.date() if as_of else None,
            name=name,
            replace=replace,
            password=password,
        )
    typer.echo(seed_summary(result))
    if result.password:
        typer.echo(demo_credentials(result))


def run_seed(**options: Any) -> SeedResult:
    """`core.demo.service.seed` with a progress bar on a terminal (nothing on a pipe or in a log)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from core.demo import service as demo

    console = Console(stderr=True)
    labels = {
        "users": "Users, teams and fields",
        "accounts": "Accounts",
        "contacts": "Contacts and their deals, activities, tasks, notes",
        "finishing": "Finishing",
    }
    columns = (TextColumn("{task.description:<52}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        tasks: dict[str, Any] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done, total=total)

        return demo.seed(progress=report, **options)


def seed_summary(result: SeedResult) -> str:
    counts = result.counts
    action = "Rebuilt" if result.replaced else "Created" if result.created_tenant else "Filled"
    return (
        f"{action} demo workspace '{result.name}' (slug {result.slug}, {result.scale}, seed {result.seed}, "
        f"history to {result.as_of.isoformat()}) with {len(result.users)} users, {counts['accounts']:,} accounts, "
        f"{counts['contacts']:,} contacts, {counts['deals']:,} deals, {counts['activities']:,} activities, "
        f"{counts['tasks']:,} tasks and {counts['notes']:,} notes in {result.seconds:.1f} s.\n"
        f"Truth file: {result.truth_path}"
    )


def demo_credentials(result: SeedResult) -> str:
    """The one-time sign-in box of a demo workspace: the admin's email and the password all its users share."""
    assert result.password is not None
    return credentials_box(
        "Demo sign-in: the password is shown ONCE. Store it now.",
        [("Workspace", result.slug), ("Email", result.admin_email), ("Password", result.password)],
        f"All {len(result.users)} demo users (listed in the truth file) share it; it is not written anywhere.",
    )


def main() -> None:
    """Console-script entry point (`clientforge`)."""
    cli(prog_name="clientforge")


if __name__ == "__main__":
    main()
