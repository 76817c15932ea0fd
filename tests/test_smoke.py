from core.auth import service as auth


def test_admin_logs_in_and_gets_an_actor(tenant):
    pair = auth.login_committing_failures(
        email=tenant.admin_email, password="Correct-Horse-9-Battery", tenant_slug=tenant.slug
    )
    assert pair.access_token and pair.refresh_token
    assert "users:manage" in tenant.admin.permissions
