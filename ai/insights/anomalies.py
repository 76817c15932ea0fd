"""Anomalies in deals and activity: transparent detectors, each finding records far from their own norm, with a
one-line reason a rep understands and the figures behind it.

Every detector works as of a moment `as_of` (default: now) from what the CRM recorded up to then, with the
tenant's thresholds (core/insights/models.py documents the defaults):

- `amount_outlier` (deals): robust z-score of log(amount) against the median and MAD of the deal's segment
  (pipeline x owner's team x account industry; small segments fall back to pipeline x team, then pipeline), the
  MAD shrunk toward the spread of all segments (a segment of 8 deals alone says little about its spread).
  Log scale: deal sizes are log-normal, and a 10x deal is as odd as a 1/10 one.
- `close_date_pushed` (open deals): the audit trail's updates of `expected_close_date` to a later date, counted.
- `stage_backwards` / `stage_skipped` (deals): moves in `deal_stage_history` between open stages of a pipeline
  that go back, or jump over `skip_min_stages` stages or more (one skipped stage is common practice).
- `late_discount` (deals): the amount cut by `late_cut_pct`% or more while the deal was in (or leaving) one of its
  pipeline's last `late_stages` open stages: from the amounts in the stage history and the audit trail's
  amount updates.
- `rep_activity_drop` (users): activities a rep logged in the last `window_days` against their own average over
  the `baseline_days` before, when Poisson-unlikely (p < 0.001) and down by `rep_activity_drop_pct`% or more.
- `rep_win_rate_drop` (users): a rep's win rate over the last `win_window_days` against their own over the year
  before, when binomially unlikely (p < `rep_win_p`) and down by a third or more.
- `account_engagement_drop` (accounts): the account's activities in the last `window_days` against its own average
  over the `baseline_days` before (down `engagement_drop_pct`%+, Poisson p < 0.001), while it still has an open
  deal or had been engaged steadily (most windows of the baseline): the quiet after a deal closes is expected.

Deal anomalies are kept for deals open at `as_of` or closed in the last `lookback_days` (`lookback=False` looks
at all history: what the benchmark does against the demo's planted truth). Precision and recall per kind on the
medium demo: benchmarks/anomalies.py.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
from scipy import stats
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.actor import Actor
from core.insights import service as insights
from core.insights.models import CODES, InsightSettings
from core.insights.service import Found

MODEL = "anomaly-rules"
VERSION = "1.0"
POISSON_P = 0.001
MAD_SCALE = 1.4826  # MAD x this estimates the standard deviation of a normal
SHRINK = 20  # deals' worth of weight the level's pooled spread gets in a segment's spread


@dataclass(frozen=True)
class Context:
    settings: InsightSettings
    as_of: datetime
    lookback: bool

    @property
    def since(self) -> datetime | None:
        return self.as_of - timedelta(days=self.settings.lookback_days) if self.lookback else None


def _money(amount: float, currency: str | None) -> str:
    return f"{currency or ''} {amount:,.0f}".strip()


def _day(value: date | datetime | str) -> str:
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value.day} {value:%b %Y}"


def _severity(value: float, medium: float, high: float) -> str:
    return "high" if value >= high else "medium" if value >= medium else "low"


def _in_scope(ctx: Context, closed_on: date | None) -> bool:
    """A deal's anomaly is kept while the deal is open at as_of or closed within the lookback."""
    if closed_on is None or closed_on > ctx.as_of.date():
        return True
    since = ctx.since
    return since is None or closed_on >= since.date()


_OPEN_AT = "(d.actual_close_date IS NULL OR d.actual_close_date > CAST(:as_of AS date))"


# Amounts -------------------------------------------------------------------------------------------------------


def amount_outliers(session: Session, ctx: Context) -> list[Found]:
    rows = session.execute(
        text(
            """
SELECT d.id, d.amount::float8 AS amount, d.currency, d.pipeline_id, u.team_id, t.name AS team, a.industry,
       CASE WHEN d.actual_close_date <= CAST(:as_of AS date) THEN d.actual_close_date END AS closed_on
  FROM deals d
  LEFT JOIN users u ON u.id = d.owner_id
  LEFT JOIN teams t ON t.id = u.team_id
  LEFT JOIN accounts a ON a.id = d.account_id
 WHERE d.tenant_id = cf_current_tenant() AND d.deleted_at IS NULL AND d.amount > 0 AND d.created_at <= :as_of"""
        ),
        {"as_of": ctx.as_of},
    ).all()
    if not rows:
        return []
    settings = ctx.settings
    logs = np.log(np.array([r.amount for r in rows]))
    keys: list[Callable[[Any], tuple[Any, ...]]] = [
        lambda r: (r.pipeline_id, r.team_id, r.industry),
        lambda r: (r.pipeline_id, r.team_id),
        lambda r: (r.pipeline_id,),
    ]
    norms: list[dict[tuple[Any, ...], tuple[float, float, int]]] = []
    for key in keys:
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            groups[key(r)].append(i)
        medians = {k: float(np.median(logs[m])) for k, m in groups.items()}
        residuals = np.array([logs[i] - medians[key(r)] for i, r in enumerate(rows)])
        # a small segment's own spread is a noisy estimate: shrunk toward the spread of all segments of this level
        pooled = max(float(np.median(np.abs(residuals))) * MAD_SCALE, 0.05)
        level = {}
        for k, members in groups.items():
            if len(members) >= settings.amount_min_group:
                mad = float(np.median(np.abs(logs[members] - medians[k]))) * MAD_SCALE
                spread = math.sqrt((len(members) * mad**2 + SHRINK * pooled**2) / (len(members) + SHRINK))
                level[k] = (medians[k], max(spread, 0.05), len(members))
        norms.append(level)
    threshold = float(settings.amount_z)
    found = []
    for i, r in enumerate(rows):
        for depth, key in enumerate(keys):
            norm = norms[depth].get(key(r))
            if norm is not None:
                break
        else:
            continue
        median, spread, size = norm
        z = (logs[i] - median) / spread
        if abs(z) < threshold or not _in_scope(ctx, r.closed_on):
            continue
        usual = math.exp(median)
        ratio = r.amount / usual
        team = f" of the {r.team} team" if r.team and depth < 2 else ""
        label = (
            f"{r.industry} deals{team}"
            if r.industry and depth == 0
            else f"deals{team}"
            if team
            else "deals in this pipeline"
        )
        how = f"{ratio:.0f}x" if ratio >= 1 else f"1/{1 / ratio:.0f} of"
        found.append(
            Found(
                "amount_outlier",
                "deals",
                r.id,
                _severity(abs(z), threshold * 1.25, threshold * 1.5),
                round(float(z), 3),
                f"Amount {_money(r.amount, r.currency)} is {how} the usual {_money(usual, r.currency)} for {label}",
                {
                    "amount": r.amount,
                    "segmentMedian": round(usual, 2),
                    "ratio": round(ratio, 3),
                    "robustZ": round(float(z), 2),
                    "segmentDeals": size,
                    "segment": {"team": r.team, "industry": r.industry if depth == 0 else None},
                },
            )
        )
    return found


# Close dates ---------------------------------------------------------------------------------------------------


def close_date_pushes(session: Session, ctx: Context) -> list[Found]:
    rows = session.execute(
        text(
            f"""
SELECT DISTINCT l.entity_id AS deal_id, l.created_at, l.old_values->>'expected_close_date' AS old,
       l.new_values->>'expected_close_date' AS new
  FROM audit_logs l JOIN deals d ON d.id = l.entity_id
 WHERE l.tenant_id = cf_current_tenant() AND l.entity_type = 'deals' AND l.action = 'update'
   AND l.new_values ? 'expected_close_date' AND l.created_at <= :as_of
   AND d.deleted_at IS NULL AND d.created_at <= :as_of AND {_OPEN_AT}
 ORDER BY 1, 2"""
        ),
        {"as_of": ctx.as_of},
    ).all()
    pushes: dict[UUID, list[tuple[datetime, date, date]]] = defaultdict(list)
    for r in rows:
        if r.old and r.new and r.new > r.old:
            pushes[r.deal_id].append((r.created_at, date.fromisoformat(r.old[:10]), date.fromisoformat(r.new[:10])))
    found = []
    for deal_id, moves in pushes.items():
        if len(moves) < ctx.settings.close_push_min:
            continue
        first, last = moves[0][1], moves[-1][2]
        days = (last - first).days
        found.append(
            Found(
                "close_date_pushed",
                "deals",
                deal_id,
                "high" if len(moves) >= 4 or days >= 90 else "medium" if len(moves) >= 3 or days >= 45 else "low",
                float(len(moves)),
                f"Close date pushed {len(moves)} times, {days} days in all (from {_day(first)} to {_day(last)})",
                {
                    "pushes": len(moves),
                    "days": days,
                    "from": first.isoformat(),
                    "to": last.isoformat(),
                    "at": [m[0].isoformat() for m in moves],
                },
            )
        )
    return found


# Stage moves and late cuts -------------------------------------------------------------------------------------

_STAGES = """
SELECT s.id, s.pipeline_id, s.name, s.is_closed_stage,
       CASE WHEN NOT s.is_closed_stage AND s.deleted_at IS NULL
            THEN rank() OVER (PARTITION BY s.pipeline_id, (NOT s.is_closed_stage AND s.deleted_at IS NULL)
                              ORDER BY s.display_order) END AS rank
  FROM deal_stages s WHERE s.tenant_id = cf_current_tenant()"""


def _stages(session: Session) -> tuple[dict[UUID, Any], dict[UUID, int]]:
    stages = {r.id: r for r in session.execute(text(_STAGES))}
    open_count: dict[UUID, int] = defaultdict(int)
    for s in stages.values():
        if s.rank is not None:
            open_count[s.pipeline_id] += 1
    return stages, open_count


def stage_moves(session: Session, ctx: Context) -> list[Found]:
    """Backward moves and big skips, and late cuts seen in the stage history's amounts."""
    stages, open_count = _stages(session)
    rows = session.execute(
        text(
            """
SELECT h.deal_id, h.changed_at, h.from_stage_id, h.to_stage_id, h.amount::float8 AS amount,
       lag(h.amount::float8) OVER (PARTITION BY h.deal_id ORDER BY h.changed_at, h.id) AS before,
       d.currency, d.pipeline_id,
       CASE WHEN d.actual_close_date <= CAST(:as_of AS date) THEN d.actual_close_date END AS closed_on
  FROM deal_stage_history h JOIN deals d ON d.id = h.deal_id
 WHERE h.tenant_id = cf_current_tenant() AND d.deleted_at IS NULL AND h.changed_at <= :as_of
 ORDER BY h.deal_id, h.changed_at, h.id"""
        ),
        {"as_of": ctx.as_of},
    ).all()
    settings, since = ctx.settings, ctx.since
    backwards: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    skipped: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    cuts: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    scope: dict[UUID, bool] = {}
    currency: dict[UUID, str] = {}
    for r in rows:
        if r.from_stage_id is None or (since is not None and r.changed_at < since):
            continue
        scope[r.deal_id] = _in_scope(ctx, r.closed_on)
        currency[r.deal_id] = r.currency
        src, dst = stages.get(r.from_stage_id), stages.get(r.to_stage_id)
        if src is None or dst is None or src.pipeline_id != dst.pipeline_id:
            continue
        move = {"at": r.changed_at.isoformat(), "from": src.name, "to": dst.name}
        if src.rank is not None and dst.rank is not None:
            if dst.rank < src.rank:
                backwards[r.deal_id].append(move)
            elif dst.rank - src.rank - 1 >= settings.skip_min_stages:
                skipped[r.deal_id].append({**move, "skipped": int(dst.rank - src.rank - 1)})
        late_from = open_count[dst.pipeline_id] - settings.late_stages
        late = (dst.rank is not None and dst.rank > late_from) or (
            dst.is_closed_stage and src.rank is not None and src.rank > late_from
        )
        if late and r.before and r.amount is not None and r.amount <= r.before * (1 - settings.late_cut_pct / 100):
            cuts[r.deal_id].append({**move, "before": r.before, "after": r.amount})
    found = []
    for deal_id, moves in backwards.items():
        if not scope.get(deal_id):
            continue
        m = moves[-1]
        times = f" ({len(moves)} times)" if len(moves) > 1 else ""
        found.append(
            Found(
                "stage_backwards",
                "deals",
                deal_id,
                "high" if len(moves) >= 2 else "medium",
                float(len(moves)),
                f"Moved back from {m['from']} to {m['to']} on {_day(m['at'])}{times}",
                {"moves": moves},
            )
        )
    for deal_id, moves in skipped.items():
        if not scope.get(deal_id):
            continue
        m = moves[-1]
        found.append(
            Found(
                "stage_skipped",
                "deals",
                deal_id,
                "medium" if m["skipped"] >= 3 else "low",
                float(m["skipped"]),
                f"Jumped from {m['from']} to {m['to']} on {_day(m['at'])}, skipping {m['skipped']} stages",
                {"moves": moves},
            )
        )
    found += _late_cuts(session, ctx, stages, open_count, cuts, scope, currency)
    return found


def _late_cuts(
    session: Session,
    ctx: Context,
    stages: dict[UUID, Any],
    open_count: dict[UUID, int],
    cuts: dict[UUID, list[dict[str, Any]]],
    scope: dict[UUID, bool],
    currency: dict[UUID, str],
) -> list[Found]:
    """Late cuts from the stage history (`cuts`) and from the audit trail's amount updates."""
    settings, since = ctx.settings, ctx.since
    updates = session.execute(
        text(
            """
SELECT l.entity_id AS deal_id, l.created_at, (l.old_values->>'amount')::float8 AS before,
       (l.new_values->>'amount')::float8 AS after, d.currency,
       CASE WHEN d.actual_close_date <= CAST(:as_of AS date) THEN d.actual_close_date END AS closed_on,
       (SELECT h.to_stage_id FROM deal_stage_history h WHERE h.deal_id = l.entity_id AND h.changed_at <= l.created_at
         ORDER BY h.changed_at DESC, h.id DESC LIMIT 1) AS stage_id
  FROM audit_logs l JOIN deals d ON d.id = l.entity_id
 WHERE l.tenant_id = cf_current_tenant() AND l.entity_type = 'deals' AND l.action = 'update'
   AND l.new_values ? 'amount' AND l.old_values ? 'amount' AND l.created_at <= :as_of
   AND (CAST(:since AS timestamptz) IS NULL OR l.created_at >= :since) AND d.deleted_at IS NULL"""
        ),
        {"as_of": ctx.as_of, "since": since},
    ).all()
    for u in updates:
        stage = stages.get(u.stage_id)
        if stage is None or stage.rank is None or not u.before or u.after is None:
            continue
        if stage.rank > open_count[stage.pipeline_id] - settings.late_stages and u.after <= u.before * (
            1 - settings.late_cut_pct / 100
        ):
            cuts[u.deal_id].append(
                {
                    "at": u.created_at.isoformat(),
                    "from": stage.name,
                    "to": stage.name,
                    "before": u.before,
                    "after": u.after,
                }
            )
            scope[u.deal_id] = _in_scope(ctx, u.closed_on)
            currency[u.deal_id] = u.currency
    found = []
    for deal_id, moves in cuts.items():
        if not scope.get(deal_id):
            continue
        m = max(moves, key=lambda c: 1 - c["after"] / c["before"])
        pct = round(100 * (1 - m["after"] / m["before"]))
        where = f"at {m['to']}" if m["from"] == m["to"] else f"moving from {m['from']} to {m['to']}"
        cur = currency.get(deal_id)
        found.append(
            Found(
                "late_discount",
                "deals",
                deal_id,
                _severity(pct, 35, 50),
                float(pct),
                f"Amount cut {pct}% late in the cycle ({_money(m['before'], cur)} to {_money(m['after'], cur)}, "
                f"{where} on {_day(m['at'])})",
                {"cutPct": pct, "cuts": moves},
            )
        )
    return found


# Reps ----------------------------------------------------------------------------------------------------------


def rep_activity_drops(session: Session, ctx: Context) -> list[Found]:
    s = ctx.settings
    recent_from = ctx.as_of - timedelta(days=s.window_days)
    base_from = recent_from - timedelta(days=s.baseline_days)
    rows = session.execute(
        text(
            """
SELECT a.owner_id, count(*) FILTER (WHERE a.occurred_at >= :w0) AS recent,
       count(*) FILTER (WHERE a.occurred_at < :w0) AS base
  FROM activities a JOIN users u ON u.id = a.owner_id
 WHERE a.tenant_id = cf_current_tenant() AND a.deleted_at IS NULL AND u.is_active AND u.deleted_at IS NULL
   AND a.occurred_at >= :b0 AND a.occurred_at < :as_of
 GROUP BY a.owner_id"""
        ),
        {"w0": recent_from, "b0": base_from, "as_of": ctx.as_of},
    ).all()
    found = []
    for r in rows:
        expected = r.base * s.window_days / s.baseline_days
        if expected < s.rep_min_baseline or r.recent > expected * (1 - s.rep_activity_drop_pct / 100):
            continue
        p = float(stats.poisson.cdf(r.recent, expected))
        if p >= POISSON_P:
            continue
        drop = round(100 * (1 - r.recent / expected))
        found.append(
            Found(
                "rep_activity_drop",
                "users",
                r.owner_id,
                _severity(drop, 75, 90),
                round(-math.log10(max(p, 1e-300)), 3),
                f"Logged {r.recent} activities in the last {s.window_days} days against a usual {expected:.0f} "
                f"(-{drop}%)",
                {
                    "recent": r.recent,
                    "expected": round(expected, 1),
                    "dropPct": drop,
                    "windowDays": s.window_days,
                    "baselineDays": s.baseline_days,
                    "p": p,
                },
            )
        )
    return found


def rep_win_rate_drops(session: Session, ctx: Context) -> list[Found]:
    s = ctx.settings
    today = ctx.as_of.date()
    recent_from = today - timedelta(days=s.win_window_days)
    base_from = recent_from - timedelta(days=365)
    rows = session.execute(
        text(
            """
SELECT d.owner_id,
       count(*) FILTER (WHERE d.actual_close_date > :r0) AS recent_closed,
       count(*) FILTER (WHERE d.actual_close_date > :r0 AND d.is_won) AS recent_won,
       count(*) FILTER (WHERE d.actual_close_date <= :r0) AS base_closed,
       count(*) FILTER (WHERE d.actual_close_date <= :r0 AND d.is_won) AS base_won
  FROM deals d JOIN users u ON u.id = d.owner_id
 WHERE d.tenant_id = cf_current_tenant() AND d.deleted_at IS NULL AND d.is_closed AND u.is_active
   AND u.deleted_at IS NULL AND d.actual_close_date > :b0 AND d.actual_close_date <= :today
 GROUP BY d.owner_id"""
        ),
        {"r0": recent_from, "b0": base_from, "today": today},
    ).all()
    found = []
    for r in rows:
        if r.recent_closed < s.rep_min_closed or r.base_closed < s.rep_min_closed or r.base_won == 0:
            continue
        usual = r.base_won / r.base_closed
        rate = r.recent_won / r.recent_closed
        if rate > usual * 2 / 3:
            continue
        p = float(stats.binom.cdf(r.recent_won, r.recent_closed, usual))
        if p >= float(s.rep_win_p):
            continue
        found.append(
            Found(
                "rep_win_rate_drop",
                "users",
                r.owner_id,
                _severity(-math.log10(max(p, 1e-300)), 3, 5),
                round(-math.log10(max(p, 1e-300)), 3),
                f"Won {r.recent_won} of {r.recent_closed} deals closed in the last {s.win_window_days} days "
                f"({rate:.0%}) against {usual:.0%} in the year before",
                {
                    "recentWon": r.recent_won,
                    "recentClosed": r.recent_closed,
                    "usualWon": r.base_won,
                    "usualClosed": r.base_closed,
                    "p": p,
                },
            )
        )
    return found


# Accounts ------------------------------------------------------------------------------------------------------


def account_engagement_drops(session: Session, ctx: Context) -> list[Found]:
    s = ctx.settings
    recent_from = ctx.as_of - timedelta(days=s.window_days)
    base_from = recent_from - timedelta(days=s.baseline_days)
    windows = max(1, s.baseline_days // s.window_days)
    rows = session.execute(
        text(
            f"""
WITH acts AS (
  SELECT a.account_id, count(*) FILTER (WHERE a.occurred_at >= :w0) AS recent,
         count(*) FILTER (WHERE a.occurred_at < :w0) AS base,
         count(DISTINCT floor(extract(epoch FROM a.occurred_at - :b0) / (:win * 86400)))
           FILTER (WHERE a.occurred_at < :w0) AS active_windows,
         max(a.occurred_at) AS last_at
    FROM activities a
   WHERE a.tenant_id = cf_current_tenant() AND a.deleted_at IS NULL AND a.account_id IS NOT NULL
     AND a.occurred_at >= :b0 AND a.occurred_at < :as_of
   GROUP BY a.account_id
)
SELECT acts.*, (SELECT count(*) FROM deals d WHERE d.account_id = acts.account_id AND d.deleted_at IS NULL
                  AND d.created_at <= :as_of AND {_OPEN_AT}) AS open_deals
  FROM acts JOIN accounts x ON x.id = acts.account_id
 WHERE x.deleted_at IS NULL AND x.merged_into_id IS NULL
   AND acts.base * :win / :base_days >= :min_base"""
        ),
        {
            "w0": recent_from,
            "b0": base_from,
            "as_of": ctx.as_of,
            "win": s.window_days,
            "base_days": s.baseline_days,
            "min_base": s.engagement_min_baseline,
        },
    ).all()
    found = []
    for r in rows:
        expected = r.base * s.window_days / s.baseline_days
        if r.recent > expected * (1 - s.engagement_drop_pct / 100):
            continue
        steady = r.active_windows >= math.ceil(windows * 2 / 3)
        if not (r.open_deals or steady):
            continue
        p = float(stats.poisson.cdf(r.recent, expected))
        if p >= POISSON_P:
            continue
        drop = round(100 * (1 - r.recent / expected))
        context = f", with {r.open_deals} open deal{'s' if r.open_deals != 1 else ''}" if r.open_deals else ""
        found.append(
            Found(
                "account_engagement_drop",
                "accounts",
                r.account_id,
                _severity(drop, 90, 100),
                round(-math.log10(max(p, 1e-300)), 3),
                f"{r.recent} activities in the last {s.window_days} days against a usual {expected:.0f} "
                f"(-{drop}%){context}",
                {
                    "recent": r.recent,
                    "expected": round(expected, 1),
                    "dropPct": drop,
                    "openDeals": r.open_deals,
                    "lastActivityAt": r.last_at.isoformat() if r.last_at else None,
                    "p": p,
                },
            )
        )
    return found


# Passes --------------------------------------------------------------------------------------------------------

DETECTORS: dict[str, Callable[[Session, Context], list[Found]]] = {
    "amount_outlier": amount_outliers,
    "close_date_pushed": close_date_pushes,
    "stage_moves": stage_moves,  # stage_backwards, stage_skipped, late_discount
    "rep_activity_drop": rep_activity_drops,
    "rep_win_rate_drop": rep_win_rate_drops,
    "account_engagement_drop": account_engagement_drops,
}
_STAGE_CODES = {"stage_backwards", "stage_skipped", "late_discount"}


def detect(session: Session, actor: Actor, *, as_of: datetime | None = None, lookback: bool = True) -> list[Found]:
    """Every anomaly as of `as_of` (default now) with the tenant's thresholds; disabled kinds are skipped."""
    settings = insights.get_settings(session, actor)
    ctx = Context(settings, as_of or datetime.now(UTC), lookback)
    disabled = set(settings.disabled_codes or ())
    found: list[Found] = []
    for name, detector in DETECTORS.items():
        codes = _STAGE_CODES if name == "stage_moves" else {name}
        if codes <= disabled:
            continue
        found += [f for f in detector(session, ctx) if f.code not in disabled]
    return found


def refresh(session: Session, actor: Actor, *, as_of: datetime | None = None) -> dict[str, Any]:
    """A full pass: detect, keep (new ones open, known ones updated, gone ones resolved). Returns the counts."""
    at = as_of or datetime.now(UTC)
    found = detect(session, actor, as_of=at)
    counts = insights.record_anomalies(
        session, actor, found, computed_at=at, codes=CODES, model=MODEL, model_version=VERSION
    )
    by_code: dict[str, int] = defaultdict(int)
    for f in found:
        by_code[f.code] += 1
    return {**counts, "found": len(found), "byCode": dict(by_code)}
