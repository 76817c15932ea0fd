"""Every mapped table, imported in one place for Alembic and for the mapper registry."""

from core.accounts.models import Account
from core.actions.models import NextActionDecision, NextBestAction
from core.activities.models import Activity
from core.albedo.models import Conversation, Message, Proposal
from core.analytics.models import Dashboard, DashboardWidget, EtlRun, Report, ReportSchedule
from core.audit.models import AuditLog
from core.auth.models import ApiKey
from core.churn.models import ChurnRisk
from core.contacts.models import Contact
from core.custom_fields.models import CustomField, CustomFieldValue
from core.db import Base
from core.deals.models import Deal, DealStageHistory
from core.events.models import Event
from core.forecasts.models import ForecastBreakdown, MlModel, Quota, SalesForecast
from core.imports.models import Import, ImportFile, ImportRow
from core.insights.models import Anomaly, InsightSettings
from core.jobs.models import Job
from core.notes.models import Note
from core.pipelines.models import Pipeline, Stage
from core.rbac.models import Permission, Role, RolePermission
from core.records.models import IdempotencyKey
from core.scoring.models import LeadScore, ScoringRule, ScoringSettings
from core.search.models import Embedding
from core.sentiment.models import SentimentExample, TextSentiment
from core.suggestions.models import EnrichmentState, FieldSuggestion
from core.tasks.models import Task
from core.tenants.models import Tenant
from core.users.models import Team, User
from core.webhooks.models import Webhook, WebhookDelivery

__all__ = [
    "Account",
    "Activity",
    "ApiKey",
    "Anomaly",
    "AuditLog",
    "ChurnRisk",
    "Dashboard",
    "DashboardWidget",
    "EtlRun",
    "Base",
    "Contact",
    "Conversation",
    "CustomField",
    "CustomFieldValue",
    "Deal",
    "DealStageHistory",
    "Embedding",
    "EnrichmentState",
    "FieldSuggestion",
    "Event",
    "ForecastBreakdown",
    "IdempotencyKey",
    "Import",
    "ImportFile",
    "ImportRow",
    "InsightSettings",
    "Job",
    "LeadScore",
    "Message",
    "Proposal",
    "NextActionDecision",
    "NextBestAction",
    "MlModel",
    "Note",
    "Report",
    "ReportSchedule",
    "Permission",
    "Pipeline",
    "Quota",
    "Role",
    "RolePermission",
    "SalesForecast",
    "ScoringRule",
    "ScoringSettings",
    "SentimentExample",
    "Stage",
    "Task",
    "Team",
    "TextSentiment",
    "Tenant",
    "User",
    "Webhook",
    "WebhookDelivery",
    "tenant_tables",
]


def tenant_tables() -> list[str]:
    """Tables under row-level security: every tenant-owned table plus `tenants` itself."""
    owned = [mp.class_.__tablename__ for mp in Base.registry.mappers if getattr(mp.class_, "__tenant_owned__", False)]
    return ["tenants", *sorted(owned)]
