"""CRM records

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Accounts, contacts, pipelines and stages, deals with stage history, activities, tasks, notes, typed custom
fields, idempotency keys and webhooks; every table under row-level security, the records audited.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.helpers import (
    attach_audit,
    attach_updated_at,
    detach_audit,
    detach_updated_at,
    disable_tenant_rls,
    enable_tenant_rls,
)
from sqlalchemy.dialects import postgresql
revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ['accounts', 'contacts', 'pipelines', 'deal_stages', 'deals', 'deal_stage_history', 'activities', 'tasks', 'notes', 'custom_fields', 'custom_field_values', 'idempotency_keys', 'webhooks', 'webhook_deliveries']
AUDITED = ['accounts', 'contacts', 'pipelines', 'deal_stages', 'deals', 'activities', 'tasks', 'notes', 'custom_fields', 'custom_field_values', 'webhooks']
WITH_UPDATED_AT = ['accounts', 'contacts', 'pipelines', 'deal_stages', 'deals', 'activities', 'tasks', 'notes', 'custom_fields', 'custom_field_values', 'webhooks', 'webhook_deliveries']


def upgrade() -> None:
    op.create_table('custom_fields',
    sa.Column('entity_type', sa.String(length=20), nullable=False),
    sa.Column('field_name', sa.String(length=63), nullable=False),
    sa.Column('field_label', sa.String(length=100), nullable=False),
    sa.Column('field_type', sa.String(length=20), nullable=False),
    sa.Column('field_options', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('is_required', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('display_order', sa.Integer(), server_default='0', nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("entity_type IN ('contacts', 'accounts', 'deals')", name='ck_custom_fields_entity_type'),
    sa.CheckConstraint("field_name ~ '^[a-z][a-z0-9_]{0,62}$'", name='ck_custom_fields_field_name'),
    sa.CheckConstraint("field_type IN ('text', 'number', 'date', 'boolean', 'select', 'multi_select')", name='ck_custom_fields_field_type'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_custom_fields_tenant_entity_name', 'custom_fields', ['tenant_id', 'entity_type', 'field_name'], unique=True)
    op.create_table('idempotency_keys',
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('principal', sa.Uuid(), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_idempotency_keys_created', 'idempotency_keys', ['created_at'], unique=False)
    op.create_index('uq_idempotency_keys_tenant_key', 'idempotency_keys', ['tenant_id', 'key'], unique=True)
    op.create_table('pipelines',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('is_default', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_pipelines_tenant_default', 'pipelines', ['tenant_id'], unique=True, postgresql_where=sa.text('is_default AND deleted_at IS NULL'))
    op.create_index('uq_pipelines_tenant_name', 'pipelines', ['tenant_id', 'name'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('custom_field_values',
    sa.Column('custom_field_id', sa.Uuid(), nullable=False),
    sa.Column('entity_type', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('value_text', sa.Text(), nullable=True),
    sa.Column('value_number', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('value_date', sa.Date(), nullable=True),
    sa.Column('value_bool', sa.Boolean(), nullable=True),
    sa.Column('value_multi', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['custom_field_id'], ['custom_fields.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_custom_field_values_field_date', 'custom_field_values', ['tenant_id', 'custom_field_id', 'value_date'], unique=False)
    op.create_index('ix_custom_field_values_field_number', 'custom_field_values', ['tenant_id', 'custom_field_id', 'value_number'], unique=False)
    op.create_index('ix_custom_field_values_field_text', 'custom_field_values', ['tenant_id', 'custom_field_id', 'value_text'], unique=False)
    op.create_index('ix_custom_field_values_multi', 'custom_field_values', ['value_multi'], unique=False, postgresql_using='gin')
    op.create_index('uq_custom_field_values_entity_field', 'custom_field_values', ['tenant_id', 'entity_id', 'custom_field_id'], unique=True)
    op.create_table('deal_stages',
    sa.Column('pipeline_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('display_order', sa.Integer(), nullable=False),
    sa.Column('probability', sa.Integer(), server_default='0', nullable=False),
    sa.Column('is_closed_stage', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('is_won_stage', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('rotting_days', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('NOT is_won_stage OR is_closed_stage', name='ck_deal_stages_won_is_closed'),
    sa.CheckConstraint('probability BETWEEN 0 AND 100', name='ck_deal_stages_probability'),
    sa.CheckConstraint('rotting_days IS NULL OR rotting_days > 0', name='ck_deal_stages_rotting_days'),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pipeline_id', 'display_order', deferrable=True, initially='DEFERRED', name='uq_deal_stages_pipeline_order')
    )
    op.create_index('ix_deal_stages_tenant_pipeline', 'deal_stages', ['tenant_id', 'pipeline_id'], unique=False)
    op.create_index('uq_deal_stages_pipeline_name', 'deal_stages', ['pipeline_id', 'name'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('accounts',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=True),
    sa.Column('website', sa.String(length=255), nullable=True),
    sa.Column('industry', sa.String(length=100), nullable=True),
    sa.Column('company_size', sa.String(length=50), nullable=True),
    sa.Column('annual_revenue', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('search', postgresql.TSVECTOR(), sa.Computed("to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || coalesce(domain, '') || ' ' || coalesce(website, '') || ' ' || coalesce(industry, '') || ' ' || coalesce(address_city, ''))", persisted=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('address_street', sa.String(length=255), nullable=True),
    sa.Column('address_city', sa.String(length=100), nullable=True),
    sa.Column('address_state', sa.String(length=100), nullable=True),
    sa.Column('address_postal_code', sa.String(length=20), nullable=True),
    sa.Column('address_country', sa.String(length=100), nullable=True),
    sa.Column('tags', sa.ARRAY(sa.String(length=50)), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('annual_revenue IS NULL OR annual_revenue >= 0', name='ck_accounts_revenue'),
    sa.CheckConstraint('parent_id IS NULL OR parent_id <> id', name='ck_accounts_not_own_parent'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['accounts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_accounts_search', 'accounts', ['search'], unique=False, postgresql_using='gin')
    op.create_index('ix_accounts_tags', 'accounts', ['tags'], unique=False, postgresql_using='gin')
    op.create_index('ix_accounts_tenant_created', 'accounts', ['tenant_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_accounts_tenant_domain', 'accounts', ['tenant_id', 'domain'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_accounts_tenant_name', 'accounts', ['tenant_id', 'name'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_accounts_tenant_owner', 'accounts', ['tenant_id', 'owner_id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_accounts_tenant_parent', 'accounts', ['tenant_id', 'parent_id'], unique=False)
    op.create_table('notes',
    sa.Column('entity_type', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('is_pinned', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('search', postgresql.TSVECTOR(), sa.Computed("to_tsvector('simple'::regconfig, coalesce(body, ''))", persisted=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("entity_type IN ('contacts', 'accounts', 'deals')", name='ck_notes_entity_type'),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_notes_search', 'notes', ['search'], unique=False, postgresql_using='gin')
    op.create_index('ix_notes_tenant_entity', 'notes', ['tenant_id', 'entity_type', 'entity_id', 'created_at'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('webhooks',
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('event_types', sa.ARRAY(sa.String(length=100)), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=255), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('consecutive_failures >= 0', name='ck_webhooks_failures'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_webhooks_tenant_active', 'webhooks', ['tenant_id', 'is_active'], unique=False)
    op.create_table('contacts',
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('mobile', sa.String(length=50), nullable=True),
    sa.Column('title', sa.String(length=100), nullable=True),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('company', sa.String(length=255), nullable=True),
    sa.Column('lead_source', sa.String(length=100), nullable=True),
    sa.Column('lead_status', sa.String(length=50), nullable=True),
    sa.Column('lifecycle_stage', sa.String(length=50), nullable=True),
    sa.Column('lead_score', sa.Integer(), server_default='0', nullable=False),
    sa.Column('social_linkedin', sa.String(length=255), nullable=True),
    sa.Column('social_twitter', sa.String(length=255), nullable=True),
    sa.Column('social_facebook', sa.String(length=255), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('last_contacted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('search', postgresql.TSVECTOR(), sa.Computed("to_tsvector('simple'::regconfig, coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' || coalesce(title, ''))", persisted=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('address_street', sa.String(length=255), nullable=True),
    sa.Column('address_city', sa.String(length=100), nullable=True),
    sa.Column('address_state', sa.String(length=100), nullable=True),
    sa.Column('address_postal_code', sa.String(length=20), nullable=True),
    sa.Column('address_country', sa.String(length=100), nullable=True),
    sa.Column('tags', sa.ARRAY(sa.String(length=50)), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("lead_status IS NULL OR lead_status IN ('new', 'contacted', 'qualified', 'unqualified')", name='ck_contacts_lead_status'),
    sa.CheckConstraint("lifecycle_stage IS NULL OR lifecycle_stage IN ('subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer', 'evangelist', 'other')", name='ck_contacts_lifecycle_stage'),
    sa.CheckConstraint('email IS NULL OR email = lower(email)', name='ck_contacts_email_lowercase'),
    sa.CheckConstraint('lead_score BETWEEN 0 AND 100', name='ck_contacts_lead_score'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_contacts_search', 'contacts', ['search'], unique=False, postgresql_using='gin')
    op.create_index('ix_contacts_tags', 'contacts', ['tags'], unique=False, postgresql_using='gin')
    op.create_index('ix_contacts_tenant_account', 'contacts', ['tenant_id', 'account_id'], unique=False)
    op.create_index('ix_contacts_tenant_created', 'contacts', ['tenant_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_contacts_tenant_email', 'contacts', ['tenant_id', 'email'], unique=False, postgresql_where=sa.text('deleted_at IS NULL AND email IS NOT NULL'))
    op.create_index('ix_contacts_tenant_lifecycle', 'contacts', ['tenant_id', 'lifecycle_stage'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_contacts_tenant_name', 'contacts', ['tenant_id', 'last_name', 'first_name'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_contacts_tenant_owner', 'contacts', ['tenant_id', 'owner_id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_contacts_tenant_score', 'contacts', ['tenant_id', 'lead_score'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_contacts_tenant_status', 'contacts', ['tenant_id', 'lead_status', 'created_at'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('webhook_deliveries',
    sa.Column('webhook_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_excerpt', sa.String(length=1000), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name='ck_webhook_deliveries_status'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_webhook_deliveries_tenant_webhook', 'webhook_deliveries', ['tenant_id', 'webhook_id', 'created_at'], unique=False)
    op.create_index('uq_webhook_deliveries_webhook_event', 'webhook_deliveries', ['webhook_id', 'event_id'], unique=True)
    op.create_table('deals',
    sa.Column('pipeline_id', sa.Uuid(), nullable=False),
    sa.Column('stage_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('amount', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('probability', sa.Integer(), server_default='0', nullable=False),
    sa.Column('expected_close_date', sa.Date(), nullable=True),
    sa.Column('actual_close_date', sa.Date(), nullable=True),
    sa.Column('lead_source', sa.String(length=100), nullable=True),
    sa.Column('next_step', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_closed', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('is_won', sa.Boolean(), nullable=True),
    sa.Column('lost_reason', sa.String(length=255), nullable=True),
    sa.Column('stage_entered_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('search', postgresql.TSVECTOR(), sa.Computed("to_tsvector('simple'::regconfig, coalesce(name, '') || ' ' || coalesce(lead_source, '') || ' ' || coalesce(next_step, ''))", persisted=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('tags', sa.ARRAY(sa.String(length=50)), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name='ck_deals_currency'),
    sa.CheckConstraint('NOT is_closed OR actual_close_date IS NOT NULL', name='ck_deals_closed_has_date'),
    sa.CheckConstraint('amount IS NULL OR amount >= 0', name='ck_deals_amount'),
    sa.CheckConstraint('is_won IS NULL OR is_closed', name='ck_deals_won_is_closed'),
    sa.CheckConstraint('probability BETWEEN 0 AND 100', name='ck_deals_probability'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], ),
    sa.ForeignKeyConstraint(['stage_id'], ['deal_stages.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_deals_search', 'deals', ['search'], unique=False, postgresql_using='gin')
    op.create_index('ix_deals_tags', 'deals', ['tags'], unique=False, postgresql_using='gin')
    op.create_index('ix_deals_tenant_account', 'deals', ['tenant_id', 'account_id'], unique=False)
    op.create_index('ix_deals_tenant_close', 'deals', ['tenant_id', 'expected_close_date'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_deals_tenant_contact', 'deals', ['tenant_id', 'contact_id'], unique=False)
    op.create_index('ix_deals_tenant_created', 'deals', ['tenant_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_deals_tenant_owner', 'deals', ['tenant_id', 'owner_id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_deals_tenant_stage', 'deals', ['tenant_id', 'pipeline_id', 'stage_id'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('activities',
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('direction', sa.String(length=10), nullable=True),
    sa.Column('outcome', sa.String(length=100), nullable=True),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('deal_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("direction IS NULL OR direction IN ('inbound', 'outbound')", name='ck_activities_direction'),
    sa.CheckConstraint("type IN ('call', 'meeting', 'email', 'note', 'other')", name='ck_activities_type'),
    sa.CheckConstraint('contact_id IS NOT NULL OR account_id IS NOT NULL OR deal_id IS NOT NULL', name='ck_activities_related'),
    sa.CheckConstraint('duration_seconds IS NULL OR duration_seconds >= 0', name='ck_activities_duration'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_activities_tenant_account', 'activities', ['tenant_id', 'account_id', 'occurred_at'], unique=False)
    op.create_index('ix_activities_tenant_contact', 'activities', ['tenant_id', 'contact_id', 'occurred_at'], unique=False)
    op.create_index('ix_activities_tenant_deal', 'activities', ['tenant_id', 'deal_id', 'occurred_at'], unique=False)
    op.create_index('ix_activities_tenant_occurred', 'activities', ['tenant_id', 'occurred_at'], unique=False)
    op.create_index('ix_activities_tenant_owner', 'activities', ['tenant_id', 'owner_id', 'occurred_at'], unique=False)
    op.create_table('deal_stage_history',
    sa.Column('deal_id', sa.Uuid(), nullable=False),
    sa.Column('from_stage_id', sa.Uuid(), nullable=True),
    sa.Column('to_stage_id', sa.Uuid(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=15, scale=2), nullable=True),
    sa.Column('probability', sa.Integer(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['from_stage_id'], ['deal_stages.id'], ),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_stage_id'], ['deal_stages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_deal_stage_history_tenant_changed', 'deal_stage_history', ['tenant_id', 'changed_at'], unique=False)
    op.create_index('ix_deal_stage_history_tenant_deal', 'deal_stage_history', ['tenant_id', 'deal_id', 'changed_at'], unique=False)
    op.create_table('tasks',
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('priority', sa.String(length=10), server_default='normal', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('assignee_id', sa.Uuid(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('deal_id', sa.Uuid(), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("(status = 'done') = (completed_at IS NOT NULL)", name='ck_tasks_completed_at'),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name='ck_tasks_priority'),
    sa.CheckConstraint("status IN ('open', 'in_progress', 'done', 'cancelled')", name='ck_tasks_status'),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_tasks_tenant_account', 'tasks', ['tenant_id', 'account_id'], unique=False)
    op.create_index('ix_tasks_tenant_assignee_due', 'tasks', ['tenant_id', 'assignee_id', 'due_at'], unique=False, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index('ix_tasks_tenant_contact', 'tasks', ['tenant_id', 'contact_id'], unique=False)
    op.create_index('ix_tasks_tenant_deal', 'tasks', ['tenant_id', 'deal_id'], unique=False)
    op.create_index('ix_tasks_tenant_open_due', 'tasks', ['tenant_id', 'due_at'], unique=False, postgresql_where=sa.text("deleted_at IS NULL AND status IN ('open', 'in_progress')"))

    for table in TABLES:
        enable_tenant_rls(table)
    for table in AUDITED:
        attach_audit(table)
    for table in WITH_UPDATED_AT:
        attach_updated_at(table)

def downgrade() -> None:
    for table in WITH_UPDATED_AT:
        detach_updated_at(table)
    for table in AUDITED:
        detach_audit(table)
    for table in TABLES:
        disable_tenant_rls(table)
    op.drop_index('ix_tasks_tenant_open_due', table_name='tasks', postgresql_where=sa.text("deleted_at IS NULL AND status IN ('open', 'in_progress')"))
    op.drop_index('ix_tasks_tenant_deal', table_name='tasks')
    op.drop_index('ix_tasks_tenant_contact', table_name='tasks')
    op.drop_index('ix_tasks_tenant_assignee_due', table_name='tasks', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_tasks_tenant_account', table_name='tasks')
    op.drop_table('tasks')
    op.drop_index('ix_deal_stage_history_tenant_deal', table_name='deal_stage_history')
    op.drop_index('ix_deal_stage_history_tenant_changed', table_name='deal_stage_history')
    op.drop_table('deal_stage_history')
    op.drop_index('ix_activities_tenant_owner', table_name='activities')
    op.drop_index('ix_activities_tenant_occurred', table_name='activities')
    op.drop_index('ix_activities_tenant_deal', table_name='activities')
    op.drop_index('ix_activities_tenant_contact', table_name='activities')
    op.drop_index('ix_activities_tenant_account', table_name='activities')
    op.drop_table('activities')
    op.drop_index('ix_deals_tenant_stage', table_name='deals', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_deals_tenant_owner', table_name='deals', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_deals_tenant_created', table_name='deals', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_deals_tenant_contact', table_name='deals')
    op.drop_index('ix_deals_tenant_close', table_name='deals', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_deals_tenant_account', table_name='deals')
    op.drop_index('ix_deals_tags', table_name='deals', postgresql_using='gin')
    op.drop_index('ix_deals_search', table_name='deals', postgresql_using='gin')
    op.drop_table('deals')
    op.drop_index('uq_webhook_deliveries_webhook_event', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_tenant_webhook', table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index('ix_contacts_tenant_status', table_name='contacts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_contacts_tenant_score', table_name='contacts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_contacts_tenant_owner', table_name='contacts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_contacts_tenant_name', table_name='contacts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_contacts_tenant_lifecycle', table_name='contacts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_contacts_tenant_email', table_name='contacts', postgresql_where=sa.text('deleted_at IS NULL AND email IS NOT NULL'))
    op.drop_index('ix_contacts_tenant_created', table_name='contacts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_contacts_tenant_account', table_name='contacts')
    op.drop_index('ix_contacts_tags', table_name='contacts', postgresql_using='gin')
    op.drop_index('ix_contacts_search', table_name='contacts', postgresql_using='gin')
    op.drop_table('contacts')
    op.drop_index('ix_webhooks_tenant_active', table_name='webhooks')
    op.drop_table('webhooks')
    op.drop_index('ix_notes_tenant_entity', table_name='notes', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_notes_search', table_name='notes', postgresql_using='gin')
    op.drop_table('notes')
    op.drop_index('ix_accounts_tenant_parent', table_name='accounts')
    op.drop_index('ix_accounts_tenant_owner', table_name='accounts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_accounts_tenant_name', table_name='accounts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_accounts_tenant_domain', table_name='accounts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_accounts_tenant_created', table_name='accounts', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_accounts_tags', table_name='accounts', postgresql_using='gin')
    op.drop_index('ix_accounts_search', table_name='accounts', postgresql_using='gin')
    op.drop_table('accounts')
    op.drop_index('uq_deal_stages_pipeline_name', table_name='deal_stages', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_deal_stages_tenant_pipeline', table_name='deal_stages')
    op.drop_table('deal_stages')
    op.drop_index('uq_custom_field_values_entity_field', table_name='custom_field_values')
    op.drop_index('ix_custom_field_values_multi', table_name='custom_field_values', postgresql_using='gin')
    op.drop_index('ix_custom_field_values_field_text', table_name='custom_field_values')
    op.drop_index('ix_custom_field_values_field_number', table_name='custom_field_values')
    op.drop_index('ix_custom_field_values_field_date', table_name='custom_field_values')
    op.drop_table('custom_field_values')
    op.drop_index('uq_pipelines_tenant_name', table_name='pipelines', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('uq_pipelines_tenant_default', table_name='pipelines', postgresql_where=sa.text('is_default AND deleted_at IS NULL'))
    op.drop_table('pipelines')
    op.drop_index('uq_idempotency_keys_tenant_key', table_name='idempotency_keys')
    op.drop_index('ix_idempotency_keys_created', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.drop_index('uq_custom_fields_tenant_entity_name', table_name='custom_fields')
    op.drop_table('custom_fields')
