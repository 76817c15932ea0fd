"""The Admin page's tabs, one function each: users, teams, roles and permissions, pipelines and stages, custom
fields, API keys, webhooks, the workspace's settings and sales quotas.

Each tab is shown only to an actor holding one of its permissions (`TABS`); every write goes through the core
service that checks the same permission again, so a tab is a convenience, not the lock. Reads are per tab
(`fetch`): a read a tab may not make shows its message in that tab and the other tabs go on. Secrets (a
generated password, an API key, a webhook's signing secret) are kept for one run only (`keep_once` /
`show_once`): shown after the write's rerun, gone after the next click.
"""

from __future__ import annotations

import calendar
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

from app.ui import widgets as ui
from app.ui.calls import attempt, problem_text
from app.ui.session import request_context
from core.actor import Actor
from core.auth import service as auth
from core.custom_fields import service as custom_fields
from core.custom_fields.schemas import CustomFieldCreate, CustomFieldRead, CustomFieldUpdate
from core.db import reset_context, set_context, unit_of_work
from core.errors import DomainError
from core.forecasts import service as forecasts
from core.forecasts.periods import period_of
from core.forecasts.schemas import QuotaCreate, QuotaRead, QuotaUpdate
from core.pipelines import service as pipelines
from core.pipelines.schemas import ISO_4217, PipelineCreate, PipelineRead, PipelineUpdate, StageCreate, StageUpdate
from core.rbac import service as rbac
from core.rbac.catalog import RESOURCES, SYSTEM_ROLES
from core.rbac.schemas import RoleCreate, RoleRead, RoleUpdate
from core.tenants import service as tenants
from core.tenants.calendar import today as calendar_today
from core.tenants.schemas import WorkspaceSettingsUpdate
from core.users import service as users
from core.users.schemas import TeamCreate, TeamRead, TeamUpdate, UserCreate, UserRead, UserUpdate
from core.webhooks import service as webhooks
from core.webhooks.schemas import WebhookCreate, WebhookDeliveryRead, WebhookRead, WebhookUpdate

T = TypeVar("T")


# Shared pieces ------------------------------------------------------------------------------------------


def fetch(actor: Actor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """A tab's read in its own unit of work: on a domain error the message is shown in the tab and None is
    returned, so the other tabs still render (`calls.load` would stop the whole page)."""
    token = set_context(request_context())
    try:
        with unit_of_work(actor) as session:
            return fn(session, actor, *args, **kwargs)
    except DomainError as exc:
        st.error(problem_text(exc), icon=":material/error:")
        return None
    finally:
        reset_context(token)


def keep_once(slot: str, title: str, secret: str) -> None:
    """Hold a secret for the next run only (the rerun after the write that produced it)."""
    st.session_state[f"adm_once_{slot}"] = (title, secret)


def show_once(slot: str) -> None:
    """Show the secret held for this slot, and forget it: the next run no longer has it."""
    held = st.session_state.pop(f"adm_once_{slot}", None)
    if held:
        title, secret = held
        st.success(
            f"{title}. Copy it now: it is shown only this once and is gone after your next click.",
            icon=":material/key:",
        )
        st.code(secret, language=None)


def _select_next(key: str) -> None:
    """Apply a selection a write asked for (`<key>_next`) before the widget `key` exists in this run."""
    chosen = st.session_state.pop(f"{key}_next", None)
    if chosen is not None:
        st.session_state[key] = chosen


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _name(user: UserRead) -> str:
    return f"{user.first_name} {user.last_name}"


def _team_options(teams: list[TeamRead]) -> tuple[list[str | None], Callable[[str | None], str]]:
    names = {str(t.id): t.name for t in teams}
    return [None, *names], lambda v: "No team" if v is None else names.get(v, v)


def _user_options(people: list[UserRead]) -> tuple[list[str | None], Callable[[str | None], str]]:
    names = {str(u.id): f"{_name(u)} · {u.email}" for u in people if u.is_active}
    return [None, *names], lambda v: "Nobody" if v is None else names.get(v, v)


def _uuid(value: str | None) -> UUID | None:
    return UUID(value) if value else None


# Users ---------------------------------------------------------------------------------------------------


def _people(session: Any, actor: Actor) -> tuple[list[UserRead], int, list[TeamRead], list[str]]:
    rows, total = users.list_users(session, actor, limit=500)
    teams = [TeamRead.model_validate(t) for t in users.list_teams(session, actor)]
    roles = [r.name for r in rbac.list_roles(session, actor)] if actor.can("roles", "read") else list(SYSTEM_ROLES)
    return users.to_reads(session, rows), total, teams, roles


def users_tab(actor: Actor) -> None:
    show_once("users")
    data = fetch(actor, _people)
    if data is None:
        return
    people, total, teams, roles = data
    team_names = {t.id: t.name for t in teams}
    st.dataframe(
        [
            {
                "Name": _name(u),
                "Email": u.email,
                "Role": u.role,
                "Team": team_names.get(u.team_id, "—") if u.team_id else "—",
                "Active": u.is_active,
                "Last sign-in": ui.when(u.last_login_at) if u.last_login_at else "Never",
            }
            for u in people
        ],
        hide_index=True,
        key="adm_users_table",
    )
    if total > len(people):
        st.caption(f"Showing {len(people)} of {total} users.")
    team_values, team_label = _team_options(teams)
    left, right = st.columns(2)
    with left:
        st.subheader("Change a user")
        by_id = {str(u.id): u for u in people}
        picked = st.selectbox(
            "User",
            list(by_id),
            key="adm_user_pick",
            format_func=lambda v: f"{_name(by_id[v])} · {by_id[v].email}",
            index=None,
            placeholder="Choose a user",
        )
        if picked is not None:
            _user_form(actor, by_id[picked], roles, team_values, team_label)
    with right:
        st.subheader("Add a user")
        box = st.container()
        with st.form("adm_user_new", clear_on_submit=False):
            email = st.text_input("Email", key="adm_user_email")
            first = st.text_input("First name", key="adm_user_first")
            last = st.text_input("Last name", key="adm_user_last")
            role = st.selectbox("Role", roles, index=roles.index("rep") if "rep" in roles else 0, key="adm_user_role")
            team = st.selectbox("Team", team_values, format_func=team_label, key="adm_user_team")
            password = st.text_input(
                "Password",
                type="password",
                key="adm_user_password",
                help="Leave empty to generate one; it is shown to you once.",
            )
            if st.form_submit_button("Add user", type="primary", icon=":material/person_add:"):
                made = attempt(
                    actor,
                    lambda s, a: users.create(
                        s,
                        a,
                        UserCreate(
                            email=email,
                            first_name=first,
                            last_name=last,
                            role=role,
                            team_id=_uuid(team),
                            password=password or None,
                        ),
                    ),
                    done=f"User {email} added",
                    where=box,
                    clear=("adm_user_email", "adm_user_first", "adm_user_last", "adm_user_password"),
                )
                if made is not None:
                    _, generated = made
                    if generated:
                        keep_once("users", f"The generated password of {email.strip().lower()}", generated)
                    st.rerun()


def _user_form(
    actor: Actor,
    user: UserRead,
    roles: list[str],
    team_values: list[str | None],
    team_label: Callable[[str | None], str],
) -> None:
    box = st.container()
    suffix = f"{user.id}_{user.version}"
    with st.form(f"adm_user_edit_{suffix}", clear_on_submit=False):
        role = st.selectbox(
            "Role", roles, index=roles.index(user.role) if user.role in roles else 0, key=f"adm_user_role_{suffix}"
        )
        current_team = str(user.team_id) if user.team_id else None
        team = st.selectbox(
            "Team",
            team_values,
            index=team_values.index(current_team) if current_team in team_values else 0,
            format_func=team_label,
            key=f"adm_user_team_{suffix}",
        )
        active = st.checkbox(
            "Active (may sign in)", value=user.is_active, key=f"adm_user_active_{suffix}", help="Untick to deactivate"
        )
        if st.form_submit_button("Save user", icon=":material/save:"):
            changes: dict[str, Any] = {}
            if role != user.role:
                changes["role"] = role
            if team != current_team:
                changes["team_id"] = _uuid(team)
            if active != user.is_active:
                changes["is_active"] = active
            if not changes:
                box.info("Nothing to change.")
            else:
                attempt(
                    actor,
                    lambda s, a: users.update(s, a, user.id, UserUpdate(**changes, version=user.version)),
                    done=f"{_name(user)} saved",
                    where=box,
                    rerun=True,
                )


# Teams ---------------------------------------------------------------------------------------------------


def _teams(session: Any, actor: Actor) -> tuple[list[TeamRead], list[UserRead]]:
    teams = [TeamRead.model_validate(t) for t in users.list_teams(session, actor)]
    rows, _ = users.list_users(session, actor, limit=500, include_inactive=False)
    return teams, users.to_reads(session, rows)


def teams_tab(actor: Actor) -> None:
    data = fetch(actor, _teams)
    if data is None:
        return
    teams, people = data
    names = {u.id: _name(u) for u in people}
    if teams:
        st.dataframe(
            [
                {
                    "Team": t.name,
                    "Manager": names.get(t.manager_id, "—") if t.manager_id else "—",
                    "Members": sum(1 for u in people if u.team_id == t.id),
                    "Description": t.description or "",
                }
                for t in teams
            ],
            hide_index=True,
            key="adm_teams_table",
        )
    else:
        ui.empty("No teams yet: create the first one.")
    manager_values, manager_label = _user_options(people)
    left, right = st.columns(2)
    with left:
        st.subheader("Change a team")
        _select_next("adm_team_pick")
        by_id = {str(t.id): t for t in teams}
        picked = st.selectbox(
            "Team",
            list(by_id),
            key="adm_team_pick",
            format_func=lambda v: by_id[v].name,
            index=None,
            placeholder="Choose a team",
        )
        if picked is not None:
            _team_form(actor, by_id[picked], manager_values, manager_label)
    with right:
        st.subheader("Create a team")
        box = st.container()
        with st.form("adm_team_new", clear_on_submit=False):
            name = st.text_input("Name", key="adm_team_name")
            description = st.text_area("Description", key="adm_team_description", height=80)
            manager = st.selectbox("Manager", manager_values, format_func=manager_label, key="adm_team_manager")
            if st.form_submit_button("Create team", type="primary", icon=":material/group_add:"):
                made = attempt(
                    actor,
                    lambda s, a: users.create_team(
                        s, a, TeamCreate(name=name, description=description or None, manager_id=_uuid(manager))
                    ),
                    done=f"Team {name} created",
                    where=box,
                    clear=("adm_team_name", "adm_team_description", "adm_team_manager"),
                )
                if made is not None:
                    st.session_state["adm_team_pick_next"] = str(made.id)
                    st.rerun()


def _team_form(
    actor: Actor, team: TeamRead, manager_values: list[str | None], manager_label: Callable[[str | None], str]
) -> None:
    box = st.container()
    suffix = f"{team.id}_{team.version}"
    with st.form(f"adm_team_edit_{suffix}", clear_on_submit=False):
        name = st.text_input("Name", value=team.name, key=f"adm_team_name_{suffix}")
        description = st.text_area(
            "Description", value=team.description or "", key=f"adm_team_description_{suffix}", height=80
        )
        current = str(team.manager_id) if team.manager_id else None
        manager = st.selectbox(
            "Manager",
            manager_values,
            index=manager_values.index(current) if current in manager_values else 0,
            format_func=manager_label,
            key=f"adm_team_manager_{suffix}",
        )
        if st.form_submit_button("Save team", icon=":material/save:"):
            attempt(
                actor,
                lambda s, a: users.update_team(
                    s,
                    a,
                    team.id,
                    TeamUpdate(
                        name=name, description=description or None, manager_id=_uuid(manager), version=team.version
                    ),
                ),
                done=f"Team {name} saved",
                where=box,
                rerun=True,
            )
    with st.popover("Delete team", icon=":material/delete:"):
        st.warning(f"Delete {team.name}? Its members stay, without a team.")
        if st.button(f"Delete {team.name}", key=f"adm_team_delete_{team.id}", type="primary"):
            attempt(actor, lambda s, a: users.delete_team(s, a, team.id), done=f"Team {team.name} deleted", rerun=True)


# Roles and permissions -----------------------------------------------------------------------------------

ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(a for actions in RESOURCES.values() for a in actions))


def permission_matrix(granted: set[str] | list[str]) -> pd.DataFrame:
    """Resources (rows) × actions (columns): True/False where the catalogue has the permission, None where it
    does not (e.g. `contacts:use`)."""
    held = set(granted)
    rows = [
        {
            "resource": resource,
            **{a: (f"{resource}:{a}" in held) if a in actions else None for a in ACTIONS},
        }
        for resource, actions in RESOURCES.items()
    ]
    return pd.DataFrame(rows).set_index("resource")


def granted_in(matrix: pd.DataFrame) -> list[str]:
    """The permissions ticked in a (possibly edited) matrix. A tick where the catalogue has no such action is
    passed on as it is, for core to refuse with its message."""
    return sorted(
        f"{resource}:{action}"
        for resource, row in matrix.iterrows()
        for action, value in row.items()
        if value is not None and not pd.isna(value) and bool(value)
    )


def _roles(session: Any, actor: Actor) -> tuple[list[RoleRead], dict[str, int]]:
    roles = [rbac.to_read(session, r) for r in rbac.list_roles(session, actor)]
    counts: dict[str, int] = {}
    if actor.can("users", "read"):
        rows, _ = users.list_users(session, actor, limit=10_000, include_inactive=False)
        for user in users.to_reads(session, rows):
            counts[user.role] = counts.get(user.role, 0) + 1
    return roles, counts


def roles_tab(actor: Actor) -> None:
    data = fetch(actor, _roles)
    if data is None:
        return
    roles, counts = data
    st.dataframe(
        [
            {
                "Role": r.name,
                "Kind": "system" if r.is_system_role else "custom",
                "Record scope": r.record_scope,
                "Permissions": len(r.permissions),
                "Active users": counts.get(r.name, 0),
                "Description": r.description or "",
            }
            for r in roles
        ],
        hide_index=True,
        key="adm_roles_table",
    )
    _select_next("adm_role_pick")
    by_id = {str(r.id): r for r in roles}
    picked = st.selectbox(
        "Role",
        list(by_id),
        key="adm_role_pick",
        format_func=lambda v: f"{by_id[v].name} ({'system' if by_id[v].is_system_role else 'custom'})",
        index=None,
        placeholder="Choose a role to see or change its permissions",
    )
    if picked is not None:
        _role_editor(actor, by_id[picked])
    st.subheader("Create a custom role")
    box = st.container()
    with st.form("adm_role_new", clear_on_submit=False):
        name = st.text_input(
            "Name", key="adm_role_name", help="Lower-case letters, digits, spaces, - and _; e.g. sales_ops"
        )
        description = st.text_input("Description", key="adm_role_description")
        scope = st.selectbox(
            "Record scope",
            ["own", "team", "all"],
            key="adm_role_scope",
            help="Which records the role reaches: its own, its team's, or all",
        )
        source = st.selectbox(
            "Start from the permissions of",
            [None, *by_id],
            format_func=lambda v: "No permissions" if v is None else by_id[v].name,
            key="adm_role_source",
        )
        if st.form_submit_button("Create role", type="primary", icon=":material/add_moderator:"):
            granted = list(by_id[source].permissions) if source else []
            made = attempt(
                actor,
                lambda s, a: rbac.create(
                    s,
                    a,
                    RoleCreate(name=name, description=description or None, record_scope=scope, permissions=granted),
                ),
                done=f"Role {name} created",
                where=box,
                clear=("adm_role_name", "adm_role_description"),
            )
            if made is not None:
                st.session_state["adm_role_pick_next"] = str(made.id)
                st.rerun()


def _role_editor(actor: Actor, role: RoleRead) -> None:
    box = st.container()
    locked = role.is_system_role
    if locked:
        st.caption(
            f"{role.name} is a system role: its permissions come with ClientForge and cannot be changed. "
            "Create a custom role from it to grant something else."
        )
    suffix = f"{role.id}_{role.version}"
    scope = st.selectbox(
        "Record scope",
        ["own", "team", "all"],
        index=["own", "team", "all"].index(role.record_scope),
        disabled=locked,
        key=f"adm_role_scope_{suffix}",
    )
    edited = st.data_editor(
        permission_matrix(role.permissions),
        key=f"adm_role_matrix_{suffix}",
        disabled=locked,
        column_config={a: st.column_config.CheckboxColumn(a, width="small") for a in ACTIONS},
        height=35 * (len(RESOURCES) + 1) + 3,
    )
    if locked:
        return
    st.caption("Empty cells are actions a resource does not have.")
    save, delete = st.columns([1, 1])
    if save.button("Save role", key="adm_role_save", type="primary", icon=":material/save:"):
        attempt(
            actor,
            lambda s, a: rbac.update(
                s, a, role.id, RoleUpdate(permissions=granted_in(edited), record_scope=scope, version=role.version)
            ),
            done=f"Role {role.name} saved",
            where=box,
            rerun=True,
        )
    with delete.popover("Delete role", icon=":material/delete:"):
        st.warning(f"Delete the role {role.name}? Users who have it must get another role first.")
        if st.button(f"Delete {role.name}", key=f"adm_role_delete_{role.id}", type="primary"):
            if attempt(
                actor, lambda s, a: rbac.delete_role(s, a, role.id) or True, done=f"Role {role.name} deleted", where=box
            ):
                st.session_state.pop("adm_role_pick", None)
                st.rerun()


# Pipelines and stages ------------------------------------------------------------------------------------

OUTCOMES = ("open", "won", "lost")
CURRENCIES = sorted(ISO_4217)


def _outcome(is_closed: bool, is_won: bool) -> str:
    return "won" if is_won else "lost" if is_closed else "open"


def stage_frame(pipeline: PipelineRead) -> pd.DataFrame:
    """A pipeline's stages as the stage editor shows them (indexed by stage id)."""
    return pd.DataFrame(
        [
            {
                "id": str(s.id),
                "Position": s.position,
                "Stage": s.name,
                "Probability %": s.probability,
                "Rotting days": s.rotting_days,
                "Outcome": _outcome(s.is_closed, s.is_won),
            }
            for s in pipeline.stages
        ],
        columns=["id", "Position", "Stage", "Probability %", "Rotting days", "Outcome"],
    ).set_index("id")


def _number(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def stage_changes(pipeline: PipelineRead, edited: pd.DataFrame) -> tuple[dict[UUID, StageUpdate], list[UUID] | None]:
    """What the stage editor's rows change: the updates per stage (only the fields that differ, with the
    version read) and the new order when positions moved (ties keep the old order), else None."""
    updates: dict[UUID, StageUpdate] = {}
    for stage in pipeline.stages:
        row = edited.loc[str(stage.id)]
        fields: dict[str, Any] = {}
        name = str(row["Stage"] or "").strip()
        if name != stage.name:
            fields["name"] = name
        probability = _number(row["Probability %"])
        if probability != stage.probability:
            fields["probability"] = probability
        rotting = _number(row["Rotting days"])
        if rotting != stage.rotting_days:
            fields["rotting_days"] = rotting
        outcome = row["Outcome"] or _outcome(stage.is_closed, stage.is_won)
        if outcome != _outcome(stage.is_closed, stage.is_won):
            fields.update(
                {"open": {"is_closed": False}, "won": {"is_won": True}, "lost": {"is_closed": True, "is_won": False}}[
                    outcome
                ]
            )
        if fields:
            updates[stage.id] = StageUpdate(**fields, version=stage.version)
    current = [s.id for s in pipeline.stages]
    places = {s.id: (_number(edited.loc[str(s.id), "Position"]) or s.position, s.position) for s in pipeline.stages}
    order = sorted(current, key=places.__getitem__)
    return updates, (order if order != current else None)


def _save_stages(
    session: Any, actor: Actor, pipeline_id: UUID, updates: dict[UUID, StageUpdate], order: list[UUID] | None
) -> int:
    for stage_id, data in updates.items():
        pipelines.update_stage(session, actor, pipeline_id, stage_id, data)
    if order is not None:
        pipelines.reorder_stages(session, actor, pipeline_id, order)
    return len(updates) + (order is not None)


def pipelines_tab(actor: Actor) -> None:
    found = fetch(actor, lambda s, a: pipelines.to_reads(s, a, pipelines.list_pipelines(s, a)))
    if found is None:
        return
    st.dataframe(
        [
            {
                "Pipeline": p.name,
                "Default": p.is_default,
                "Currency": p.currency,
                "Stages": " → ".join(s.name for s in p.stages),
            }
            for p in found
        ],
        hide_index=True,
        key="adm_pipelines_table",
    )
    _select_next("adm_pipe_pick")
    by_id = {str(p.id): p for p in found}
    picked = st.selectbox(
        "Pipeline",
        list(by_id),
        key="adm_pipe_pick",
        format_func=lambda v: by_id[v].name + (" (default)" if by_id[v].is_default else ""),
    )
    if picked is not None and actor.can("pipelines", "update"):
        _pipeline_editor(actor, by_id[picked])
    if actor.can("pipelines", "create"):
        st.subheader("Create a pipeline")
        box = st.container()
        with st.form("adm_pipe_new", clear_on_submit=False):
            name = st.text_input("Name", key="adm_pipe_name")
            currency = st.selectbox("Currency", CURRENCIES, index=CURRENCIES.index("USD"), key="adm_pipe_currency")
            default = st.checkbox("Make it the default pipeline", key="adm_pipe_default")
            st.caption("It starts with the standard stages (Prospecting to Closed Lost); change them afterwards.")
            if st.form_submit_button("Create pipeline", type="primary", icon=":material/add:"):
                made = attempt(
                    actor,
                    lambda s, a: pipelines.create(
                        s, a, PipelineCreate(name=name, currency=currency, is_default=default)
                    ),
                    done=f"Pipeline {name} created",
                    where=box,
                    clear=("adm_pipe_name",),
                )
                if made is not None:
                    st.session_state["adm_pipe_pick_next"] = str(made.id)
                    st.rerun()


def _pipeline_editor(actor: Actor, pipeline: PipelineRead) -> None:
    box = st.container()
    suffix = f"{pipeline.id}_{pipeline.version}"
    with st.form(f"adm_pipe_edit_{suffix}", clear_on_submit=False):
        cols = st.columns([3, 1, 2])
        name = cols[0].text_input("Name", value=pipeline.name, key=f"adm_pipe_name_{suffix}")
        currency = cols[1].selectbox(
            "Currency",
            CURRENCIES,
            index=CURRENCIES.index(pipeline.currency) if pipeline.currency in CURRENCIES else 0,
            key=f"adm_pipe_currency_{suffix}",
        )
        default = cols[2].checkbox(
            "Default pipeline",
            value=pipeline.is_default,
            disabled=pipeline.is_default,
            key=f"adm_pipe_default_{suffix}",
            help="Where deals go when none is named; make another pipeline the default to change it",
        )
        if st.form_submit_button("Save pipeline", icon=":material/save:"):

            def save(s: Any, a: Actor) -> Any:
                pipelines.update(
                    s, a, pipeline.id, PipelineUpdate(name=name, currency=currency, version=pipeline.version)
                )
                if default and not pipeline.is_default:
                    pipelines.set_default(s, a, pipeline.id)
                return True

            attempt(actor, save, done=f"Pipeline {name} saved", where=box, rerun=True)

    st.markdown("**Stages**")
    stamp = zlib.crc32(" ".join(f"{s.id}.{s.version}.{s.position}" for s in pipeline.stages).encode())
    edited = st.data_editor(
        stage_frame(pipeline),
        key=f"adm_stages_{pipeline.id}_{stamp}",
        hide_index=True,
        column_config={
            "Position": st.column_config.NumberColumn(min_value=1, max_value=100, step=1, width="small"),
            "Stage": st.column_config.TextColumn(required=True, max_chars=100),
            "Probability %": st.column_config.NumberColumn(min_value=0, max_value=100, step=1, width="small"),
            "Rotting days": st.column_config.NumberColumn(
                min_value=1, max_value=3650, step=1, help="An open deal rots after this many days; empty: never"
            ),
            "Outcome": st.column_config.SelectboxColumn(
                options=list(OUTCOMES), required=True, help="won and lost stages close the deal"
            ),
        },
    )
    st.caption("Change a position to reorder the stages; closed (won or lost) stages never rot.")
    if st.button("Save stages", key=f"adm_stages_save_{pipeline.id}", type="primary", icon=":material/save:"):
        updates, order = stage_changes(pipeline, edited)
        if not updates and order is None:
            box.info("Nothing to change.")
        else:
            attempt(
                actor,
                lambda s, a: _save_stages(s, a, pipeline.id, updates, order),
                done=f"Stages of {pipeline.name} saved",
                where=box,
                rerun=True,
            )

    left, right = st.columns(2)
    with left, st.form(f"adm_stage_new_{pipeline.id}", clear_on_submit=False):
        st.markdown("**Add a stage**")
        stage_name = st.text_input("Stage name", key=f"adm_stage_name_{pipeline.id}")
        probability = st.number_input(
            "Probability %", min_value=0, max_value=100, value=None, step=1, key=f"adm_stage_probability_{pipeline.id}"
        )
        rotting = st.number_input(
            "Rotting days", min_value=1, max_value=3650, value=None, step=1, key=f"adm_stage_rotting_{pipeline.id}"
        )
        outcome = st.selectbox("Outcome", list(OUTCOMES), key=f"adm_stage_outcome_{pipeline.id}")
        position = st.number_input(
            "Position",
            min_value=1,
            max_value=len(pipeline.stages) + 1,
            value=len(pipeline.stages) + 1,
            step=1,
            key=f"adm_stage_position_{pipeline.id}",
        )
        if st.form_submit_button("Add stage", icon=":material/add:"):
            attempt(
                actor,
                lambda s, a: pipelines.add_stage(
                    s,
                    a,
                    pipeline.id,
                    StageCreate(
                        name=stage_name,
                        probability=probability,
                        rotting_days=rotting,
                        is_closed=outcome != "open",
                        is_won=outcome == "won",
                        position=position,
                    ),
                ),
                done=f"Stage {stage_name} added",
                where=box,
                clear=(f"adm_stage_name_{pipeline.id}",),
                rerun=True,
            )
    with right:
        st.markdown("**Remove**")
        stages = {str(s.id): s.name for s in pipeline.stages}
        doomed = st.selectbox(
            "Stage", list(stages), format_func=stages.__getitem__, key=f"adm_stage_pick_{pipeline.id}", index=None
        )
        if st.button(
            "Delete stage", key=f"adm_stage_delete_{pipeline.id}", disabled=doomed is None, icon=":material/delete:"
        ):
            attempt(
                actor,
                lambda s, a: pipelines.delete_stage(s, a, pipeline.id, UUID(doomed)),
                done=f"Stage {stages.get(doomed or '', '')} deleted",
                where=box,
                rerun=True,
            )
        if actor.can("pipelines", "delete") and not pipeline.is_default:
            with st.popover("Delete pipeline", icon=":material/delete_forever:"):
                st.warning(f"Delete {pipeline.name}? Refused while open deals are on it.")
                if st.button(f"Delete {pipeline.name}", key=f"adm_pipe_delete_{pipeline.id}", type="primary"):
                    if attempt(
                        actor,
                        lambda s, a: pipelines.delete(s, a, pipeline.id) or True,
                        done=f"Pipeline {pipeline.name} deleted",
                        where=box,
                    ):
                        st.session_state.pop("adm_pipe_pick", None)
                        st.rerun()


# Custom fields -------------------------------------------------------------------------------------------

FIELD_TYPES = {
    "text": "Text",
    "number": "Number",
    "date": "Date",
    "boolean": "Yes / no",
    "select": "Select (one option)",
    "multi_select": "Multi-select (several options)",
}
ENTITIES = {"contacts": "Contacts", "accounts": "Accounts", "deals": "Deals"}


def custom_fields_tab(actor: Actor) -> None:
    entity = (
        st.segmented_control(
            "Record type",
            list(ENTITIES),
            default="contacts",
            format_func=ENTITIES.__getitem__,
            key="adm_cf_entity",
            required=True,
        )
        or "contacts"
    )
    found = fetch(
        actor, lambda s, a: [custom_fields.to_read(f) for f in custom_fields.list_fields(s, a, entity_type=entity)]
    )
    if found is None:
        return
    if found:
        st.dataframe(
            [
                {
                    "Label": f.field_label,
                    "Name": f.field_name,
                    "Type": FIELD_TYPES.get(f.field_type, f.field_type),
                    "Options": ", ".join(f.field_options or []),
                    "Required": f.is_required,
                    "Order": f.display_order,
                    "Description": f.description or "",
                }
                for f in found
            ],
            hide_index=True,
            key="adm_cf_table",
        )
    else:
        ui.empty(f"No custom fields on {ENTITIES[entity].lower()} yet.")
    left, right = st.columns(2)
    with left:
        st.subheader("Change a field")
        _select_next("adm_cf_pick")
        by_id = {str(f.id): f for f in found}
        picked = st.selectbox(
            "Field",
            list(by_id),
            key="adm_cf_pick",
            format_func=lambda v: f"{by_id[v].field_label} ({by_id[v].field_name})",
            index=None,
            placeholder="Choose a field",
        )
        if picked is not None and picked in by_id:
            _field_form(actor, by_id[picked])
    with right:
        st.subheader(f"Add a field to {ENTITIES[entity].lower()}")
        box = st.container()
        with st.form("adm_cf_new", clear_on_submit=False):
            label = st.text_input("Label", key="adm_cf_label", placeholder="Industry segment")
            name = st.text_input(
                "Name",
                key="adm_cf_name",
                placeholder="industry_segment",
                help="Lower-case letters, digits and underscores; used by the API and imports; cannot change later",
            )
            kind = st.selectbox("Type", list(FIELD_TYPES), format_func=FIELD_TYPES.__getitem__, key="adm_cf_type")
            options = st.text_area(
                "Options (one per line)", key="adm_cf_options", height=100, help="For select and multi-select only"
            )
            required = st.checkbox("Required", key="adm_cf_required")
            description = st.text_input("Description", key="adm_cf_description")
            if st.form_submit_button("Add field", type="primary", icon=":material/add:"):
                made = attempt(
                    actor,
                    lambda s, a: custom_fields.create(
                        s,
                        a,
                        CustomFieldCreate(
                            entity_type=entity,
                            field_name=name,
                            field_label=label,
                            field_type=kind,
                            field_options=_lines(options) or None,
                            is_required=required,
                            display_order=len(found),
                            description=description or None,
                        ),
                    ),
                    done=f"Field {label} added to {ENTITIES[entity].lower()}",
                    where=box,
                    clear=("adm_cf_label", "adm_cf_name", "adm_cf_options", "adm_cf_required", "adm_cf_description"),
                )
                if made is not None:
                    st.session_state["adm_cf_pick_next"] = str(made.id)
                    st.rerun()


def _field_form(actor: Actor, field: CustomFieldRead) -> None:
    box = st.container()
    suffix = f"{field.id}_{field.version}"
    st.caption(f"Type: {FIELD_TYPES.get(field.field_type, field.field_type)} · name: `{field.field_name}`")
    with st.form(f"adm_cf_edit_{suffix}", clear_on_submit=False):
        label = st.text_input("Label", value=field.field_label, key=f"adm_cf_label_{suffix}")
        options = None
        if field.field_type in ("select", "multi_select"):
            options = st.text_area(
                "Options (one per line)",
                value="\n".join(field.field_options or []),
                key=f"adm_cf_options_{suffix}",
                height=100,
                help="An option records still use cannot be removed",
            )
        required = st.checkbox("Required", value=field.is_required, key=f"adm_cf_required_{suffix}")
        order = st.number_input(
            "Order", min_value=0, max_value=100_000, value=field.display_order, step=1, key=f"adm_cf_order_{suffix}"
        )
        description = st.text_input("Description", value=field.description or "", key=f"adm_cf_description_{suffix}")
        if st.form_submit_button("Save field", icon=":material/save:"):
            changes: dict[str, Any] = {
                "field_label": label,
                "is_required": required,
                "display_order": int(order),
                "description": description or None,
            }
            if options is not None:
                changes["field_options"] = _lines(options)
            attempt(
                actor,
                lambda s, a: custom_fields.update(s, a, field.id, CustomFieldUpdate(**changes, version=field.version)),
                done=f"Field {label} saved",
                where=box,
                rerun=True,
            )
    if actor.can("custom_fields", "delete"):
        with st.popover("Delete field", icon=":material/delete:"):
            st.warning(f"Delete {field.field_label}? Every value records have for it is deleted too.")
            if st.button(f"Delete {field.field_label}", key=f"adm_cf_delete_{field.id}", type="primary"):
                if attempt(
                    actor,
                    lambda s, a: custom_fields.delete_field(s, a, field.id) or True,
                    done=f"Field {field.field_label} deleted",
                    where=box,
                ):
                    st.session_state.pop("adm_cf_pick", None)
                    st.rerun()


# API keys ------------------------------------------------------------------------------------------------


def _key_rows(session: Any, actor: Actor) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "id": str(k.id),
            "Name": k.name,
            "Key": f"{auth.API_KEY_PREFIX}_{k.prefix}_…",
            "Status": "revoked"
            if k.revoked_at
            else "expired"
            if k.expires_at is not None and k.expires_at <= now
            else "active",
            "Permissions": ", ".join(k.permissions),
            "Expires": k.expires_at,
            "Last used": k.last_used_at,
            "Created": k.created_at,
        }
        for k in auth.list_api_keys(session, actor)
    ]


def api_keys_tab(actor: Actor) -> None:
    show_once("api_keys")
    rows = fetch(actor, _key_rows)
    if rows is None:
        return
    if rows:
        st.dataframe(
            rows,
            hide_index=True,
            key="adm_keys_table",
            column_order=["Name", "Key", "Status", "Permissions", "Expires", "Last used", "Created"],
            column_config={
                c: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
                for c in ("Expires", "Last used", "Created")
            },
        )
    else:
        ui.empty("No API keys yet. A key lets another system call the API with the permissions you give it.")
    left, right = st.columns(2)
    with left:
        st.subheader("Create a key")
        box = st.container()
        with st.form("adm_key_new", clear_on_submit=False):
            name = st.text_input("Name", key="adm_key_name", placeholder="Warehouse sync")
            granted = st.multiselect(
                "Permissions",
                sorted(actor.permissions),
                key="adm_key_permissions",
                help="Only permissions you hold; the key loses any its creator later loses",
            )
            expires = st.date_input(
                "Expires on", value=None, min_value=date.today(), key="adm_key_expires", help="Empty: never expires"
            )
            if st.form_submit_button("Create key", type="primary", icon=":material/key:"):
                made = attempt(
                    actor,
                    lambda s, a: auth.create_api_key(
                        s,
                        a,
                        name=name,
                        permissions=granted,
                        expires_at=datetime.combine(expires, time.max, tzinfo=UTC) if expires else None,
                    ),
                    done=f"API key {name} created",
                    where=box,
                    clear=("adm_key_name", "adm_key_permissions", "adm_key_expires"),
                )
                if made is not None:
                    keep_once("api_keys", f"The API key {name.strip()}", made[1])
                    st.rerun()
    with right:
        st.subheader("Revoke a key")
        live = {r["id"]: f"{r['Name']} ({r['Key']})" for r in rows if r["Status"] == "active"}
        doomed = st.selectbox(
            "Key", list(live), format_func=live.__getitem__, key="adm_key_pick", index=None, placeholder="Choose a key"
        )
        if st.button("Revoke key", key="adm_key_revoke", disabled=doomed is None, icon=":material/key_off:"):
            attempt(
                actor,
                lambda s, a: auth.revoke_api_key(s, a, UUID(doomed)) or True,
                done=f"API key {live.get(doomed or '', '')} revoked",
                rerun=True,
            )


# Webhooks ------------------------------------------------------------------------------------------------


def webhooks_tab(actor: Actor) -> None:
    show_once("webhooks")
    found = fetch(
        actor, lambda s, a: [WebhookRead.model_validate(w) for w in webhooks.list_webhooks(s, a, limit=200)[0]]
    )
    if found is None:
        return
    if found:
        st.dataframe(
            [
                {
                    "URL": w.url,
                    "Events": ", ".join(w.event_types),
                    "Active": w.is_active,
                    "Failures in a row": w.consecutive_failures,
                    "Disabled because": w.disabled_reason or "",
                    "Description": w.description or "",
                }
                for w in found
            ],
            hide_index=True,
            key="adm_hooks_table",
        )
    else:
        ui.empty("No webhooks yet. A webhook posts signed JSON to your endpoint when records change.")
    _select_next("adm_hook_pick")
    by_id = {str(w.id): w for w in found}
    picked = st.selectbox(
        "Webhook",
        list(by_id),
        key="adm_hook_pick",
        format_func=lambda v: by_id[v].url,
        index=None,
        placeholder="Choose a webhook to manage it and see its deliveries",
    )
    if picked is not None and picked in by_id:
        _webhook_detail(actor, by_id[picked])
    st.subheader("Add a webhook")
    box = st.container()
    with st.form("adm_hook_new", clear_on_submit=False):
        url = st.text_input("URL", key="adm_hook_url", placeholder="https://example.com/hooks/clientforge")
        description = st.text_input("Description", key="adm_hook_description")
        events = st.multiselect(
            "Events",
            list(webhooks.EVENT_TYPES),
            format_func=lambda t: f"{t} — {webhooks.EVENT_TYPES[t]}",
            key="adm_hook_events",
        )
        active = st.checkbox("Active", value=True, key="adm_hook_active")
        if st.form_submit_button("Add webhook", type="primary", icon=":material/webhook:"):
            made = attempt(
                actor,
                lambda s, a: webhooks.create(
                    s, a, WebhookCreate(url=url, description=description or None, event_types=events, is_active=active)
                ),
                done="Webhook added",
                where=box,
                clear=("adm_hook_url", "adm_hook_description", "adm_hook_events"),
            )
            if made is not None:
                keep_once("webhooks", f"The signing secret of {made[0].url}", made[1])
                st.session_state["adm_hook_pick_next"] = str(made[0].id)
                st.rerun()


def _webhook_detail(actor: Actor, hook: WebhookRead) -> None:
    box = st.container()
    if hook.disabled_reason:
        st.warning(f"Disabled automatically: {hook.disabled_reason}", icon=":material/warning:")
    cols = st.columns(4)
    toggle = "Disable" if hook.is_active else "Enable"
    if cols[0].button(toggle, key=f"adm_hook_toggle_{hook.id}", icon=":material/power_settings_new:"):
        attempt(
            actor,
            lambda s, a: webhooks.update(
                s, a, hook.id, WebhookUpdate(is_active=not hook.is_active, version=hook.version)
            ),
            done=f"Webhook {'disabled' if hook.is_active else 'enabled'}",
            where=box,
            rerun=True,
        )
    if cols[1].button("Send test ping", key=f"adm_hook_ping_{hook.id}", icon=":material/send:"):
        attempt(actor, lambda s, a: webhooks.ping(s, a, hook.id), done="Ping queued", where=box, rerun=True)
    if cols[2].button("New secret", key=f"adm_hook_rotate_{hook.id}", icon=":material/autorenew:"):
        made = attempt(actor, lambda s, a: webhooks.rotate_secret(s, a, hook.id), done="Secret replaced", where=box)
        if made is not None:
            keep_once("webhooks", f"The new signing secret of {hook.url}", made[1])
            st.rerun()
    with cols[3].popover("Delete", icon=":material/delete:"):
        st.warning("Delete this webhook and its delivery log?")
        if st.button("Delete webhook", key=f"adm_hook_delete_{hook.id}", type="primary") and attempt(
            actor, lambda s, a: webhooks.delete(s, a, hook.id) or True, done="Webhook deleted", where=box
        ):
            st.session_state.pop("adm_hook_pick", None)
            st.rerun()
    st.markdown("**Delivery log** (newest first)")
    log = fetch(
        actor,
        lambda s, a: [WebhookDeliveryRead.model_validate(d) for d in webhooks.list_deliveries(s, a, hook.id)[0]],
    )
    if log is None:
        return
    if not log:
        ui.empty("No deliveries yet: send a test ping.")
        return
    st.dataframe(
        [
            {
                "When": d.created_at,
                "Event": d.event_type,
                "Status": d.status,
                "Attempts": d.attempts,
                "HTTP status": d.response_status,
                "Duration ms": d.duration_ms,
                "Error": d.error or "",
                "Next attempt": d.next_attempt_at,
                "Delivered": d.delivered_at,
            }
            for d in log
        ],
        hide_index=True,
        key=f"adm_hook_log_{hook.id}",
        column_config={
            c: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")
            for c in ("When", "Next attempt", "Delivered")
        },
    )


# Workspace settings --------------------------------------------------------------------------------------


def settings_tab(actor: Actor) -> None:
    current = fetch(actor, tenants.workspace_settings)
    if current is None:
        return
    st.caption(f"Plan: {current.plan} · up to {current.max_users} active users")
    zones = sorted(available_timezones())
    if current.timezone not in zones:
        zones.insert(0, current.timezone)
    box = st.container()
    suffix = str(current.version)
    with st.form(f"adm_settings_{suffix}", clear_on_submit=False):
        name = st.text_input("Workspace name", value=current.name, key=f"adm_set_name_{suffix}")
        zone = st.selectbox("Time zone", zones, index=zones.index(current.timezone), key=f"adm_set_timezone_{suffix}")
        currency = st.selectbox(
            "Currency",
            CURRENCIES,
            index=CURRENCIES.index(current.currency) if current.currency in CURRENCIES else 0,
            key=f"adm_set_currency_{suffix}",
        )
        month = st.selectbox(
            "Fiscal year starts in",
            list(range(1, 13)),
            index=current.fiscal_year_start_month - 1,
            format_func=lambda m: calendar.month_name[m],
            key=f"adm_set_fiscal_{suffix}",
            help="Fiscal quarters in reports count from this month",
        )
        if st.form_submit_button("Save settings", type="primary", icon=":material/save:"):
            attempt(
                actor,
                lambda s, a: tenants.update_settings(
                    s,
                    a,
                    WorkspaceSettingsUpdate(
                        name=name,
                        timezone=zone,
                        currency=currency,
                        fiscal_year_start_month=month,
                        version=current.version,
                    ),
                ),
                done="Settings saved",
                where=box,
                rerun=True,
            )


# Quotas --------------------------------------------------------------------------------------------------

QUOTA_PERIODS = {"month": "Month", "quarter": "Quarter", "year": "Year"}


def _quotas(session: Any, actor: Actor) -> dict[str, Any]:
    rows, total = forecasts.list_quotas(session, actor, limit=500)
    teams = [TeamRead.model_validate(t) for t in users.list_teams(session, actor)]
    people, _ = users.list_users(session, actor, limit=1000, include_inactive=False)
    if actor.scope != "all":  # a manager sets their own team's and its reps' quotas (the service checks it too)
        teams = [t for t in teams if actor.team_id is not None and t.id == actor.team_id]
        people = [u for u in people if u.id == actor.user_id or (actor.team_id and u.team_id == actor.team_id)]
    today = calendar_today(session, actor)
    fiscal = forecasts.fiscal_start_month(session, actor)
    return {
        "quotas": [QuotaRead.model_validate(q) for q in rows],
        "total": total,
        "teams": {str(t.id): t.name for t in teams},
        "people": {str(u.id): f"{u.first_name} {u.last_name}" for u in people},
        "currency": forecasts.tenant_currency(session, actor),
        "starts": {kind: period_of(kind, today, fiscal).start for kind in QUOTA_PERIODS},
    }


def quotas_tab(actor: Actor) -> None:
    data = fetch(actor, _quotas)
    if data is None:
        return
    teams, people, currency = data["teams"], data["people"], data["currency"]

    def subject(q: QuotaRead) -> str:
        if q.user_id is not None:
            return f"{people.get(str(q.user_id), 'Former user')} (rep)"
        return f"{teams.get(str(q.team_id), 'Deleted team')} (team)"

    quotas: list[QuotaRead] = data["quotas"]
    st.caption(
        f"Sales targets per rep and team, for a month, fiscal quarter or fiscal year, in {currency}. The forecast "
        "page shows attainment and the gap to quota beside each forecast (the company's quota is its teams' sum)."
    )
    if quotas:
        st.dataframe(
            [
                {
                    "For": subject(q),
                    "Period": QUOTA_PERIODS.get(q.period, q.period),
                    "From": q.period_start,
                    "To": q.period_end,
                    "Amount": float(q.amount),
                    "Currency": q.currency,
                }
                for q in quotas
            ],
            column_config={"Amount": st.column_config.NumberColumn("Amount", format="localized")},
            hide_index=True,
            key="adm_quota_table",
        )
        if data["total"] > len(quotas):
            st.caption(f"The latest {len(quotas)} of {data['total']} quotas.")
    else:
        ui.empty("No quota yet: set the first one.")
    subjects: dict[str, str] = {f"team:{k}": f"{v} (team)" for k, v in teams.items()} | {
        f"user:{k}": f"{v} (rep)" for k, v in people.items()
    }
    left, right = st.columns(2)
    with left:
        st.subheader("Change a quota")
        by_id = {str(q.id): q for q in quotas}
        picked = st.selectbox(
            "Quota",
            list(by_id),
            key="adm_quota_pick",
            format_func=lambda v: f"{subject(by_id[v])} · {by_id[v].period} from {by_id[v].period_start}",
            index=None,
            placeholder="Choose a quota",
        )
        if picked is not None:
            _quota_form(actor, by_id[picked], subject(by_id[picked]))
    with right:
        st.subheader("Set a quota")
        box = st.container()
        period = st.selectbox(
            "Period", list(QUOTA_PERIODS), format_func=lambda k: QUOTA_PERIODS[k], index=1, key="adm_quota_period"
        )
        with st.form("adm_quota_new", clear_on_submit=False):
            who = st.selectbox(
                "For",
                list(subjects),
                format_func=lambda k: subjects[k],
                index=None,
                key="adm_quota_subject",
                placeholder="A team or a rep",
            )
            start = st.date_input(
                "First day of the period",
                value=data["starts"][period],
                key=f"adm_quota_start_{period}",
                help="The first day of the month, fiscal quarter or fiscal year",
            )
            amount = st.number_input(
                f"Amount ({currency})", min_value=None, value=None, step=1000.0, key="adm_quota_amount"
            )
            if st.form_submit_button("Set quota", type="primary", icon=":material/flag:"):
                kind, _, ref = (who or "").partition(":")
                attempt(
                    actor,
                    lambda s, a: forecasts.create_quota(
                        s,
                        a,
                        QuotaCreate(
                            user_id=_uuid(ref) if kind == "user" else None,
                            team_id=_uuid(ref) if kind == "team" else None,
                            period=period,
                            period_start=start,
                            amount=amount,
                        ),
                    ),
                    done=f"Quota set for {subjects.get(who or '', 'the subject')}",
                    where=box,
                    clear=("adm_quota_subject", "adm_quota_amount"),
                    rerun=True,
                )


def _quota_form(actor: Actor, quota: QuotaRead, label: str) -> None:
    box = st.container()
    suffix = f"{quota.id}_{quota.version}"
    st.caption(f"{label} · {quota.period} {quota.period_start} to {quota.period_end}")
    with st.form(f"adm_quota_edit_{suffix}", clear_on_submit=False):
        amount = st.number_input(
            f"Amount ({quota.currency})", value=float(quota.amount), step=1000.0, key=f"adm_quota_amount_{suffix}"
        )
        if st.form_submit_button("Save quota", icon=":material/save:"):
            attempt(
                actor,
                lambda s, a: forecasts.update_quota(s, a, quota.id, QuotaUpdate(amount=amount, version=quota.version)),
                done=f"Quota of {label} saved",
                where=box,
                rerun=True,
            )
    with st.popover("Delete quota", icon=":material/delete:"):
        st.warning(f"Delete the {quota.period} quota of {label} from {quota.period_start}?")
        if st.button("Delete quota", key=f"adm_quota_delete_{quota.id}", type="primary"):
            attempt(actor, lambda s, a: forecasts.delete_quota(s, a, quota.id), done="Quota deleted", rerun=True)


# The tabs ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tab:
    title: str
    any_of: tuple[str, ...]  # permissions, any one of which shows the tab
    render: Callable[[Actor], None]

    def allows(self, actor: Actor) -> bool:
        return any(p in actor.permissions for p in self.any_of)


TABS: tuple[Tab, ...] = (
    Tab("Users", ("users:manage",), users_tab),
    Tab("Teams", ("teams:manage",), teams_tab),
    Tab("Roles and permissions", ("roles:manage",), roles_tab),
    Tab("Pipelines and stages", ("pipelines:update", "pipelines:create"), pipelines_tab),
    Tab("Custom fields", ("custom_fields:create", "custom_fields:update", "custom_fields:delete"), custom_fields_tab),
    Tab("API keys", ("api_keys:manage",), api_keys_tab),
    Tab("Webhooks", ("webhooks:manage",), webhooks_tab),
    Tab("Workspace settings", ("settings:manage",), settings_tab),
    Tab("Quotas", ("forecasts:manage",), quotas_tab),
)


def tabs_for(actor: Actor) -> list[Tab]:
    return [tab for tab in TABS if tab.allows(actor)]
