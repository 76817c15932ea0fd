"""After-commit callbacks (`core.db.on_commit`) and savepoints: side effects outside PostgreSQL (Redis sessions,
authorization versions) follow the outermost commit, whatever savepoints came and went inside it."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from core.auth import service as auth
from core.auth import sessions
from core.db import on_commit, unit_of_work
from core.users import service as users
from core.users.schemas import TeamCreate
from tests.factories import PASSWORD


def _rep_with_a_session(world) -> tuple:
    email = f"rep-uow@{world.slug}.example.com"
    rep = world.add_user("rep", email=email)
    pair = auth.login_committing_failures(email=email, password=PASSWORD, tenant_slug=world.slug)
    assert sessions.is_active(pair.session_id)
    return rep, pair


def test_a_savepoint_rolled_back_after_a_deactivation_does_not_keep_the_users_sessions_alive(tenant):
    admin = tenant.admin
    rep, pair = _rep_with_a_session(tenant)
    with unit_of_work(admin) as session:
        users.deactivate(session, admin, rep)
        with pytest.raises(RuntimeError), session.begin_nested():  # e.g. a bad item of a bulk request
            users.create_team(session, admin, TeamCreate(name="never"))
            raise RuntimeError("this item fails")
        assert sessions.is_active(pair.session_id)  # nothing runs before the commit
    assert not sessions.is_active(pair.session_id)
    assert sessions.list_for_user(rep) == []


def test_callbacks_follow_their_savepoint_and_only_the_outermost_commit_runs_them(tenant):
    ran: list[str] = []
    with unit_of_work(tenant.admin) as session:
        session.execute(text("SELECT 1"))
        on_commit(session, lambda: ran.append("outer"))
        with session.begin_nested():
            on_commit(session, lambda: ran.append("kept savepoint"))
        assert ran == []  # a released savepoint is no commit
        with pytest.raises(RuntimeError), session.begin_nested():
            on_commit(session, lambda: ran.append("rolled back savepoint"))
            with session.begin_nested():
                on_commit(session, lambda: ran.append("inside the rolled back one"))
            raise RuntimeError("undo this savepoint")
    assert ran == ["outer", "kept savepoint"]

    ran.clear()
    with pytest.raises(RuntimeError), unit_of_work(tenant.admin) as session:
        session.execute(text("SELECT 1"))
        with session.begin_nested():
            on_commit(session, lambda: ran.append("released, then the whole transaction rolled back"))
        raise RuntimeError("undo everything")
    assert ran == []


def test_a_failing_callback_is_logged_and_the_commit_stands(tenant, caplog):
    admin = tenant.admin
    ran: list[str] = []

    def redis_down() -> None:
        raise ConnectionError("Redis is unreachable")

    with caplog.at_level(logging.ERROR, logger="core.db"), unit_of_work(admin) as session:
        team = users.create_team(session, admin, TeamCreate(name="committed anyway"))
        on_commit(session, redis_down)
        on_commit(session, lambda: ran.append("the next callback still runs"))
    assert ran == ["the next callback still runs"]
    assert "Redis is unreachable" in caplog.text and "committed change stands" in caplog.text
    with unit_of_work(admin) as session:
        assert users.get_team(session, admin, team.id).name == "committed anyway"
