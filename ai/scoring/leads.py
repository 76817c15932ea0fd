"""The CRM's leads as a scoring frame: one row per contact, its outcome, and its features as they stood at the
moment that matters (point in time, no leakage).

- **Outcome** (per the tenant's settings): converted when the contact reached a converted lifecycle stage or
  has a won deal; not converted when disqualified (lead status "unqualified"), when all its deals were lost, or
  when untouched for `idle_days`; otherwise open (scored, never trained on).
- **The moment** (`cutoff`): for a converted lead, when it converted (its first deal's creation, else the
  audited change of its lifecycle stage, else its last update); for a disqualified one, when it was
  disqualified (audited, else its last update); for a lost one, its last deal's close; for an idle one, its
  last touch; for an open one, `as_of`.
- **Features** (core/scoring/fields.py names them) use only what was recorded before that moment: activities
  that occurred and were logged before it, deals at the account created or won before it, custom field values
  last written before it (a value written later is unknown then, so it is missing). Fit fields (source,
  title, industry, size, country) are taken as they are now: they describe who the lead is, not what happened.

One SQL statement per frame (aggregates in PostgreSQL, under the caller's tenant binding and row-level
security) plus one for custom field values; Polars does the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.scoring.fields import ACCOUNT_CUSTOM_PREFIX, CUSTOM_PREFIX, FIELDS
from core.scoring.models import ScoringSettings

# columns besides the features
OUTCOME, CUTOFF, CONTACT, ACCOUNT, OWNER = "converted", "cutoff", "contact_id", "account_id", "owner_id"
KEYS = (CONTACT, ACCOUNT, OWNER, OUTCOME, CUTOFF)
DAY = 86_400.0

_FREE_MAIL = (
    "gmail.com|googlemail.com|yahoo.com|yahoo.co.uk|hotmail.com|outlook.com|live.com|icloud.com|me.com|aol.com"
    "|proton.me|protonmail.com|gmx.de|gmx.net|web.de|mail.ru|yandex.ru|qq.com|163.com|126.com|zoho.com|fastmail.com"
)

# Seniority and function from a job title: first match wins, checked in this order.
SENIORITY = (
    ("Executive", r"\b(chief|ceo|cfo|cto|coo|cmo|cio|cro|founder|co-founder|owner|president|partner)\b"),
    ("VP", r"\b(vp|svp|evp|vice president)\b"),
    ("Director", r"\b(director|head of|head)\b"),
    ("Manager", r"\b(manager|lead|supervisor|principal)\b"),
    ("Individual contributor", r"."),
)
FUNCTION = (
    ("Sales", r"\b(sales|account executive|business development|bdr|sdr|revenue)\b"),
    ("Marketing", r"\b(marketing|brand|growth|demand|content|communications)\b"),
    ("Engineering", r"\b(engineer|engineering|developer|software|cto|architect|devops|technical)\b"),
    ("IT", r"\b(it|information|systems|infrastructure|security|cio)\b"),
    ("Finance", r"\b(finance|financial|cfo|accounting|accountant|controller|treasury)\b"),
    ("Operations", r"\b(operations|coo|logistics|supply|procurement|purchasing)\b"),
    ("Product", r"\b(product)\b"),
    ("People", r"\b(hr|human resources|people|talent|recruit\w*)\b"),
    ("Customer success", r"\b(customer|support|success|service)\b"),
    ("Executive", r"\b(ceo|founder|owner|president|chief)\b"),
)

_CHANGE_TO = """(SELECT min(al.created_at) FROM audit_logs al
      WHERE al.tenant_id = b.tenant_id AND al.entity_type = 'contacts' AND al.entity_id = b.id
        AND al.action = 'update' AND al.new_values ->> '{column}' = {values})"""

_LEADS = f"""
WITH base AS (
  SELECT c.id, c.tenant_id, c.owner_id, c.account_id, c.created_at, c.updated_at, c.lead_status,
         coalesce(c.lifecycle_stage, 'lead') AS stage, c.lead_source, c.title, c.department, c.email,
         coalesce(c.phone, c.mobile) IS NOT NULL AS has_phone, c.social_linkedin IS NOT NULL AS has_linkedin,
         coalesce(c.address_country, ac.address_country) AS country, ac.industry, ac.company_size,
         ac.annual_revenue, dl.first_deal_at, coalesce(dl.has_won, false) AS has_won,
         coalesce(dl.deals, 0) AS deals, coalesce(dl.open_deals, 0) AS open_deals, dl.last_close, tl.last_touch
  FROM contacts c
  LEFT JOIN accounts ac ON ac.tenant_id = c.tenant_id AND ac.id = c.account_id AND ac.deleted_at IS NULL
  LEFT JOIN LATERAL (
    SELECT min(d.created_at) AS first_deal_at, bool_or(d.is_won) AS has_won, count(*) AS deals,
           count(*) FILTER (WHERE NOT d.is_closed) AS open_deals, max(d.actual_close_date) AS last_close
      FROM deals d
     WHERE d.tenant_id = c.tenant_id AND d.contact_id = c.id AND d.deleted_at IS NULL
  ) dl ON true
  LEFT JOIN LATERAL (
    SELECT max(a.occurred_at) AS last_touch FROM activities a
     WHERE a.tenant_id = c.tenant_id AND a.contact_id = c.id AND a.deleted_at IS NULL AND a.occurred_at <= :as_of
  ) tl ON true
  WHERE c.tenant_id = :tenant AND c.deleted_at IS NULL AND c.merged_into_id IS NULL AND c.created_at <= :as_of
    {{ids}}
),
resolved AS (  -- when each lead was resolved, whatever the moment asked about
  SELECT b.*,
    CASE WHEN b.has_won OR b.stage = ANY(:converted) THEN coalesce(b.first_deal_at,
      {_CHANGE_TO.format(column="lifecycle_stage", values="ANY(:converted)")}, b.updated_at) END AS converted_at,
    CASE WHEN b.lead_status = 'unqualified' AND NOT (b.has_won OR b.stage = ANY(:converted)) THEN coalesce(
      {_CHANGE_TO.format(column="lead_status", values="'unqualified'")}, b.updated_at)
         WHEN b.deals > 0 AND b.open_deals = 0 AND NOT (b.has_won OR b.stage = ANY(:converted))
           THEN b.last_close::timestamptz END AS lost_at
  FROM base b
),
timed AS (  -- the outcome as of :as_of and the moment its features are taken at
  SELECT r.*,
    CASE WHEN r.converted_at <= :as_of THEN 1
         WHEN r.lost_at <= :as_of THEN 0
         WHEN greatest(r.created_at, r.last_touch) < :as_of - make_interval(days => :idle) THEN 0
    END AS converted,
    CASE WHEN r.converted_at <= :as_of THEN r.converted_at
         WHEN r.lost_at <= :as_of THEN r.lost_at
         WHEN greatest(r.created_at, r.last_touch) < :as_of - make_interval(days => :idle)
           THEN greatest(r.created_at, r.last_touch)
         ELSE :as_of
    END AS cutoff
  FROM resolved r
),
chosen AS (SELECT * FROM timed t WHERE {{which}})
SELECT t.id AS contact_id, t.account_id, t.owner_id, t.converted, t.cutoff,
       t.lead_source, t.title, t.department, t.country,
       CASE WHEN t.email IS NULL THEN NULL
            WHEN lower(split_part(t.email, '@', 2)) ~ '^({_FREE_MAIL})$' THEN 'Free mail'
            ELSE 'Company domain' END AS email_kind,
       t.has_phone, t.has_linkedin,
       t.industry, t.company_size, t.annual_revenue::float8 AS annual_revenue,
       extract(epoch FROM t.cutoff - t.created_at) / 86400.0 AS lead_age_days,
       coalesce(ag.activities, 0) AS activities, coalesce(ag.emails, 0) AS emails, coalesce(ag.calls, 0) AS calls,
       coalesce(ag.meetings, 0) AS meetings, coalesce(ag.emails_opened, 0) AS emails_opened,
       coalesce(ag.emails_clicked, 0) AS emails_clicked, coalesce(ag.emails_replied, 0) AS emails_replied,
       coalesce(ag.inbound_touches, 0) AS inbound_touches, coalesce(ag.calls_connected, 0) AS calls_connected,
       coalesce(ag.meetings_held, 0) AS meetings_held,
       extract(epoch FROM t.cutoff - ag.last_at) / 86400.0 AS days_since_last_activity,
       extract(epoch FROM ag.first_at - t.created_at) / 86400.0 AS first_response_days,
       coalesce(aw.won, 0) AS account_won_deals, coalesce(aw.open, 0) AS account_open_deals,
       aw.won_cycle_days AS account_won_cycle_days
FROM chosen t
LEFT JOIN LATERAL (
  SELECT count(*) AS activities,
         count(*) FILTER (WHERE a.type = 'email') AS emails,
         count(*) FILTER (WHERE a.type = 'call') AS calls,
         count(*) FILTER (WHERE a.type = 'meeting') AS meetings,
         count(*) FILTER (WHERE a.type = 'email' AND a.outcome IN ('opened', 'clicked', 'replied')) AS emails_opened,
         count(*) FILTER (WHERE a.type = 'email' AND a.outcome IN ('clicked', 'replied')) AS emails_clicked,
         count(*) FILTER (WHERE a.type = 'email' AND a.outcome = 'replied') AS emails_replied,
         count(*) FILTER (WHERE a.direction = 'inbound') AS inbound_touches,
         count(*) FILTER (WHERE a.type = 'call' AND a.outcome = 'connected') AS calls_connected,
         count(*) FILTER (WHERE a.type = 'meeting' AND a.outcome = 'completed') AS meetings_held,
         max(a.occurred_at) AS last_at, min(a.occurred_at) AS first_at
    FROM activities a
   WHERE a.tenant_id = t.tenant_id AND a.contact_id = t.id AND a.deleted_at IS NULL
     AND a.occurred_at < t.cutoff AND a.created_at <= t.cutoff
) ag ON true
LEFT JOIN LATERAL (
  SELECT count(*) FILTER (WHERE d.is_won AND d.actual_close_date < t.cutoff::date) AS won,
         count(*) FILTER (WHERE d.created_at < t.cutoff
                            AND (NOT d.is_closed OR d.actual_close_date >= t.cutoff::date)) AS open,
         avg(d.actual_close_date - d.created_at::date)
           FILTER (WHERE d.is_won AND d.actual_close_date < t.cutoff::date)::float8 AS won_cycle_days
    FROM deals d
   WHERE t.account_id IS NOT NULL AND d.tenant_id = t.tenant_id AND d.account_id = t.account_id
     AND d.deleted_at IS NULL AND d.contact_id IS DISTINCT FROM t.id AND d.created_at < t.cutoff
) aw ON true
ORDER BY t.id
"""

_WHICH = {"resolved": "t.converted IS NOT NULL", "open": "t.converted IS NULL", "all": "true"}

_CUSTOM = """
SELECT v.entity_id, f.entity_type, f.field_name, f.field_type, v.value_text, v.value_number::float8 AS value_number,
       v.value_date, v.value_bool, v.value_multi::text AS value_multi, v.updated_at
  FROM custom_field_values v JOIN custom_fields f ON f.tenant_id = v.tenant_id AND f.id = v.custom_field_id
 WHERE v.tenant_id = :tenant AND f.entity_type IN ('contacts', 'accounts') AND v.entity_id = ANY(CAST(:ids AS uuid[]))
"""

_SCHEMA: dict[str, Any] = {
    CONTACT: pl.String,
    ACCOUNT: pl.String,
    OWNER: pl.String,
    OUTCOME: pl.Int8,
    CUTOFF: pl.Datetime("us", "UTC"),
    "lead_source": pl.String,
    "title": pl.String,
    "department": pl.String,
    "country": pl.String,
    "email_kind": pl.String,
    "has_phone": pl.Boolean,
    "has_linkedin": pl.Boolean,
    "industry": pl.String,
    "company_size": pl.String,
    **{name: pl.Float64 for name, (_, kind) in FIELDS.items() if kind == "number"},
}


def _classify(title: pl.Expr, table: tuple[tuple[str, str], ...], default: str | None) -> pl.Expr:
    lowered = title.str.to_lowercase()
    out: pl.Expr = pl.lit(default, dtype=pl.String)
    for name, pattern in reversed(table):
        out = pl.when(lowered.str.contains(pattern)).then(pl.lit(name)).otherwise(out)
    return pl.when(title.is_null()).then(None).otherwise(out)


def lead_frame(
    session: Session,
    settings: ScoringSettings,
    *,
    as_of: datetime,
    which: str = "all",
    contact_ids: list[UUID] | None = None,
) -> pl.DataFrame:
    """The leads of the session's tenant: `which` is "resolved" (training), "open" (scoring) or "all".

    Columns: contact_id, account_id, owner_id, converted (1/0/null), cutoff, then every feature of
    core/scoring/fields.py and the custom fields (cf_<name>, account_cf_<name>).
    """
    if which not in _WHICH:
        raise ValueError(f"which must be one of {', '.join(_WHICH)}")
    sql = _LEADS.replace("{ids}", "AND c.id = ANY(CAST(:ids AS uuid[]))" if contact_ids is not None else "")
    sql = sql.replace("{which}", _WHICH[which])
    params: dict[str, Any] = {
        "tenant": settings.tenant_id,
        "as_of": as_of,
        "converted": list(settings.converted_stages),
        "idle": int(settings.idle_days),
    }
    if contact_ids is not None:
        params["ids"] = [str(i) for i in contact_ids]
    result = session.execute(text(sql), params)
    columns = list(result.keys())
    rows = [tuple(str(v) if isinstance(v, UUID) else v for v in row) for row in result]
    frame = pl.DataFrame(rows, schema={c: _SCHEMA.get(c, pl.String) for c in columns}, orient="row")
    frame = frame.with_columns(
        _classify(pl.col("title"), SENIORITY, None).alias("title_seniority"),
        _classify(pl.col("title"), FUNCTION, "Other").alias("title_function"),
        (pl.col("activities") / pl.max_horizontal(pl.col("lead_age_days"), pl.lit(1.0)) * 7).alias(
            "activities_per_week"
        ),
    ).drop("title")
    return _with_custom_fields(session, frame, settings.tenant_id)


def _with_custom_fields(session: Session, frame: pl.DataFrame, tenant: UUID) -> pl.DataFrame:
    """Custom field values of the contacts and of their accounts, each known only if written before the cutoff."""
    if frame.is_empty():
        return frame
    ids = frame[CONTACT].to_list() + frame[ACCOUNT].drop_nulls().unique().to_list()
    result = session.execute(text(_CUSTOM), {"ids": ids, "tenant": tenant})
    rows = [tuple(str(v) if isinstance(v, UUID) else v for v in row) for row in result]
    if not rows:
        return frame
    values = pl.DataFrame(
        rows,
        schema={
            "entity_id": pl.String,
            "entity_type": pl.String,
            "field_name": pl.String,
            "field_type": pl.String,
            "value_text": pl.String,
            "value_number": pl.Float64,
            "value_date": pl.Date,
            "value_bool": pl.Boolean,
            "value_multi": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )
    for entity, key, prefix in (("contacts", CONTACT, CUSTOM_PREFIX), ("accounts", ACCOUNT, ACCOUNT_CUSTOM_PREFIX)):
        part = values.filter(pl.col("entity_type") == entity)
        for (name, kind), group in part.group_by("field_name", "field_type", maintain_order=True):
            column = f"{prefix}{name}"
            if kind in ("number",):
                value = pl.col("value_number")
            elif kind == "boolean":
                value = pl.col("value_bool")
            elif kind == "date":
                value = pl.col("value_date")
            elif kind == "multi_select":
                value = pl.col("value_multi")
            else:
                value = pl.col("value_text")
            picked = group.select(pl.col("entity_id").alias(key), value.alias(column), pl.col("updated_at"))
            joined = frame.select(key, CUTOFF).join(picked, on=key, how="left", maintain_order="left")
            known = pl.col("updated_at") <= pl.col(CUTOFF)
            if kind == "date":  # days before the moment of scoring
                expr = (pl.col(CUTOFF).dt.date() - pl.col(column)).dt.total_days().cast(pl.Float64)
            else:
                expr = pl.col(column)
            frame = frame.with_columns(joined.select(pl.when(known).then(expr).otherwise(None).alias(column)))
    return frame


def feature_columns(frame: pl.DataFrame) -> list[str]:
    """The columns of a lead frame a model may learn from (everything but the keys and the outcome)."""
    return [c for c in frame.columns if c not in KEYS]
