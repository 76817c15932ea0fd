"""The list query language on a real table: what a client asking for contacts would notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import unit_of_work
from core.errors import ValidationFailed
from core.ids import new_id
from core.models import Contact
from core.records import query as q

SPECS = {
    "id": q.FieldSpec("id", Contact.id, "uuid"),
    "firstName": q.FieldSpec("firstName", Contact.first_name),
    "lastName": q.FieldSpec("lastName", Contact.last_name),
    "email": q.FieldSpec("email", Contact.email),
    "leadStatus": q.FieldSpec("leadStatus", Contact.lead_status),
    "leadScore": q.FieldSpec("leadScore", Contact.lead_score, "int"),
    "tags": q.FieldSpec("tags", Contact.tags, "str_list", sortable=False),
    "createdAt": q.FieldSpec("createdAt", Contact.created_at, "datetime"),
    "isActive": q.FieldSpec("isActive", Contact.is_active, "bool"),
    "lastContactedAt": q.FieldSpec("lastContactedAt", Contact.last_contacted_at, "datetime"),
}
PEOPLE = [
    ("Ada", "Lovelace", "new", 90, ["vip"]),
    ("Alan", "Turing", "qualified", 70, []),
    ("Grace", "Hopper", "contacted", 55, ["vip", "navy"]),
    ("Edsger", "Dijkstra", "new", 20, []),
    ("Barbara", "Liskov", "qualified", 85, ["ml"]),
    ("Ada", "Yonath", "unqualified", 40, []),
]


@pytest.fixture
def people(tenant):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with unit_of_work(tenant.admin) as session:
        for i, (first, last, status, score, tags) in enumerate(PEOPLE):
            session.add(
                Contact(
                    id=new_id(),
                    tenant_id=tenant.tenant_id,
                    owner_id=tenant.admin_id,
                    first_name=first,
                    last_name=last,
                    email=f"{first}.{last}@example.com".lower(),
                    lead_status=status,
                    lead_score=score,
                    tags=tags,
                    created_at=start + timedelta(days=i),
                )
            )
    return tenant


def run(world, **params):
    listed = q.parse({k: [v] if isinstance(v, str) else v for k, v in params.items()}, SPECS)
    with unit_of_work(world.admin) as session:
        statement = q.apply(world.admin.readable(Contact), listed, id_column=Contact.id, search_column=Contact.search)
        result = q.page(session, statement, listed, id_spec=SPECS["id"])
        return [row[0].last_name for row in result.rows], result


def test_equality_lists_ranges_and_tags(people):
    assert run(people, leadStatus="new", sort="lastName")[0] == ["Dijkstra", "Lovelace"]
    assert run(people, leadStatus="new,qualified", sort="lastName")[0] == ["Dijkstra", "Liskov", "Lovelace", "Turing"]
    assert run(people, **{"leadScore[gte]": "55", "leadScore[lt]": "90"}, sort="-leadScore")[0] == [
        "Liskov",
        "Turing",
        "Hopper",
    ]
    assert run(people, tags="vip", sort="lastName")[0] == ["Hopper", "Lovelace"]
    assert run(people, **{"leadStatus[ne]": "new,qualified", "sort": "lastName"})[0] == ["Hopper", "Yonath"]
    assert run(people, **{"email[isnull]": "true"})[0] == []


def test_sort_by_several_fields_and_offset_pages_with_totals(people):
    names, result = run(people, sort="firstName,-leadScore", limit="2", page="1")
    assert names == ["Lovelace", "Yonath"] and result.total == 6
    names, result = run(people, sort="firstName,-leadScore", limit="2", page="3")
    assert names == ["Dijkstra", "Hopper"] and result.total == 6


def test_search_matches_words_and_prefixes(people):
    assert sorted(run(people, search="ada")[0]) == ["Lovelace", "Yonath"]
    assert run(people, search="ada lov")[0] == ["Lovelace"]
    assert run(people, search="grace.hopper@example.com")[0] == ["Hopper"]


def test_cursor_pages_are_stable_under_inserts(people):
    first_names, first = run(people, sort="-createdAt", limit="2", cursor="")
    assert first_names == ["Yonath", "Liskov"] and first.next_cursor and first.total is None
    with unit_of_work(people.admin) as session:  # a newer contact arrives while the client pages
        session.add(
            Contact(
                id=new_id(),
                tenant_id=people.tenant_id,
                owner_id=people.admin_id,
                first_name="New",
                last_name="Comer",
                created_at=datetime(2027, 1, 1, tzinfo=UTC),
            )
        )
    seen = list(first_names)
    cursor = first.next_cursor
    while cursor:
        names, result = run(people, sort="-createdAt", limit="2", cursor=cursor)
        seen += names
        cursor = result.next_cursor
    assert seen == ["Yonath", "Liskov", "Dijkstra", "Hopper", "Turing", "Lovelace"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"shoeSize": "42"}, "shoeSize"),
        ({"sort": "-favouriteColour"}, "favouriteColour"),
        ({"leadScore[near]": "5"}, "leadScore[near]"),
        ({"leadScore[gte]": "lots"}, "leadScore"),
        ({"limit": "500"}, "limit"),
        ({"fields": "id,password"}, "password"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"email[isnull]": "maybe"}, "email[isnull]"),
    ],
)
def test_unknown_fields_operators_and_values_are_named_in_one_error(people, params, named):
    with pytest.raises(ValidationFailed) as raised:
        run(people, **params)
    assert named in raised.value.message or any(named in str(d) for d in raised.value.details)


def test_field_selection_keeps_the_id():
    listed = q.parse({"fields": ["email"]}, SPECS)
    assert listed.fields == ["email", "id"]
    assert q.select_fields({"id": 1, "email": "a", "firstName": "b"}, listed.fields) == {"id": 1, "email": "a"}


def test_sql_looking_values_are_only_values(people):
    assert run(people, email="x' OR '1'='1")[0] == []
    with unit_of_work(people.admin) as session:
        assert session.scalar(select(Contact.id).where(Contact.tenant_id == people.tenant_id).limit(1))


def test_cursor_pages_through_booleans_and_empty_values_which_come_last(people):
    with unit_of_work(people.admin) as session:
        for contact in session.scalars(select(Contact).where(Contact.tenant_id == people.tenant_id)):
            contact.is_active = contact.last_name in ("Hopper", "Turing")
            if contact.last_name in ("Lovelace", "Liskov"):
                contact.last_contacted_at = datetime(2026, 5, 1 if contact.last_name == "Liskov" else 2, tzinfo=UTC)
    for sort, expected in [
        ("-isActive,lastName", ["Hopper", "Turing", "Dijkstra", "Liskov", "Lovelace", "Yonath"]),
        ("lastContactedAt,lastName", ["Liskov", "Lovelace", "Dijkstra", "Hopper", "Turing", "Yonath"]),
        ("-lastContactedAt,lastName", ["Lovelace", "Liskov", "Dijkstra", "Hopper", "Turing", "Yonath"]),
    ]:
        seen, cursor = [], ""
        while cursor is not None:
            names, result = run(people, sort=sort, limit="2", cursor=cursor)
            seen += names
            cursor = result.next_cursor
        assert seen == expected, sort
        assert run(people, sort=sort, limit="6")[0] == expected  # offset pages agree
