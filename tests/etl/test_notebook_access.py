"""Analysts' notebook access (`etl.warehouse.connect/read/sql`): the same credentials and permissions as the API,
one workspace only, read-only, no files beyond its own warehouse; and notebooks/pipeline_analysis.ipynb runs
from top to bottom."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pandas as pd
import polars as pl
import pytest
from nbclient import NotebookClient

from core.auth import service as auth
from core.contacts import service as contacts
from core.contacts.schemas import ContactCreate
from core.db import unit_of_work
from core.errors import AuthenticationFailed, PermissionDenied
from etl import pipeline, warehouse
from tests.factories import PASSWORD, TenantWorld

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "pipeline_analysis.ipynb"


def api_key(world: TenantWorld, permissions: list[str]) -> str:
    actor = world.admin
    with unit_of_work(actor) as session:
        _, full = auth.create_api_key(session, actor, name="notebook", permissions=permissions)
    return full


@pytest.fixture
def loaded(tenant: TenantWorld) -> TenantWorld:
    actor = tenant.admin
    with unit_of_work(actor) as session:
        for first in ("Ada", "Grace"):
            contacts.create(session, actor, ContactCreate(first_name=first, last_name="Analyst"))
    pipeline.run(tenant.tenant_id)
    return tenant


def test_an_analyst_reads_tables_and_sql_as_polars_or_pandas(loaded: TenantWorld) -> None:
    wh = warehouse.connect(loaded.slug, api_key=api_key(loaded, ["warehouse:read"]))
    assert {"fact_deals", "dim_contact", "fact_pipeline_snapshot", "dim_date"} <= set(wh.tables())
    assert "etl_state" not in warehouse.tables()
    people = warehouse.read("dim_contact")
    assert isinstance(people, pl.DataFrame) and sorted(people["first_name"]) == ["Ada", "Grace"]
    counted = warehouse.sql("SELECT count(*) AS n FROM dim_contact WHERE first_name = ?", ["Ada"])
    assert counted["n"].to_list() == [1]
    assert isinstance(warehouse.sql("SELECT 1 AS one", pandas=True), pd.DataFrame)
    with pytest.raises(KeyError, match="no table 'contacts'"):
        warehouse.read("contacts")  # the CRM's tables are not here: the warehouse's are

    analyst_id = loaded.add_user("analyst")
    by_password = warehouse.connect(loaded.slug, email=_email(loaded, analyst_id), password=PASSWORD)
    assert by_password.read("dim_contact").height == 2


def _email(world: TenantWorld, user_id: object) -> str:
    from tests.core.conftest import owner_rows

    return owner_rows("SELECT email FROM users WHERE id = :u", u=user_id)[0].email


def test_only_whole_workspace_readers_of_the_right_workspace_get_in(
    loaded: TenantWorld, other_tenant: TenantWorld
) -> None:
    with pytest.raises(PermissionDenied, match="warehouse"):
        warehouse.connect(loaded.slug, api_key=api_key(loaded, ["contacts:read"]))
    manager_id = loaded.add_user("manager")
    with pytest.raises(PermissionDenied, match="your team's records"):
        warehouse.connect(loaded.slug, email=_email(loaded, manager_id), password=PASSWORD)
    with pytest.raises(AuthenticationFailed, match="not for workspace"):
        warehouse.connect(loaded.slug, api_key=api_key(other_tenant, ["warehouse:read"]))
    with pytest.raises(AuthenticationFailed):
        warehouse.connect(loaded.slug, email=loaded.admin_email, password="wrong-password-123")
    with pytest.raises(AuthenticationFailed, match="No active workspace"):
        warehouse.connect("no-such-workspace", api_key=api_key(loaded, ["warehouse:read"]))


def test_the_warehouse_is_read_only_and_reaches_no_other_file(loaded: TenantWorld, other_tenant: TenantWorld) -> None:
    pipeline.run(other_tenant.tenant_id)
    wh = warehouse.connect(loaded.slug, api_key=api_key(loaded, ["warehouse:read"]))
    other_file = warehouse.current(other_tenant.tenant_id).path  # type: ignore[union-attr]
    refused = [
        f"ATTACH '{other_file}' AS other",
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY dim_contact TO '/tmp/leak.csv'",
        "SET enable_external_access = true",
        "DELETE FROM dim_contact",
    ]
    for statement in refused:
        with pytest.raises(Exception, match="Permission|Cannot|read-only|read only"):
            wh.sql(statement)
    assert wh.read("dim_contact").height == 2


def test_the_pipeline_analysis_notebook_runs_top_to_bottom(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from core.demo import service as demo

    seeded = demo.seed(slug=f"nb-{os.urandom(3).hex()}", scale="small", seed=5, as_of=datetime.now(UTC).date(),
                       password=PASSWORD)  # fmt: skip
    pipeline.run(seeded.tenant_id)
    world = TenantWorld(seeded.tenant_id, seeded.slug, seeded.admin_email, _admin_id(seeded.tenant_id))
    monkeypatch.setenv("CLIENTFORGE_API_KEY", api_key(world, ["warehouse:read"]))
    monkeypatch.setenv("CLIENTFORGE_WORKSPACE", seeded.slug)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "reps," in printed and "overall win rate" in printed
    charts = [  # Altair's output: a Vega-Lite spec, as an embed or as the spec itself
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "vega" in str(output.get("data", {}).get("text/html", ""))
        or any("vegalite" in k for k in output.get("data", {}))
    ]
    assert len(charts) == 2


def _admin_id(tenant_id: object) -> object:
    from tests.core.conftest import owner_rows

    return owner_rows(
        "SELECT u.id FROM users u JOIN roles r ON r.id = u.role_id WHERE u.tenant_id = :t AND r.name = 'admin'"
        " ORDER BY u.created_at LIMIT 1",
        t=tenant_id,
    )[0].id
