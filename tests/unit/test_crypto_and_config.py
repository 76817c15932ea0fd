import os
import stat

import pytest
from pydantic import ValidationError

from core import crypto
from core.config import Settings, _data_dir_secrets
from core.errors import ValidationFailed


def test_encrypted_field_round_trips_and_hides_the_plaintext():
    token = crypto.encrypt("whsec_live_123", context="tenant-a")
    assert "whsec" not in token and token.startswith("v1:")
    assert crypto.decrypt(token, context="tenant-a") == "whsec_live_123"
    assert crypto.encrypt("same", context="x") != crypto.encrypt("same", context="x")  # random nonce


def test_ciphertext_moved_to_another_tenant_or_tampered_is_refused():
    token = crypto.encrypt("secret", context="tenant-a")
    with pytest.raises(ValidationFailed):
        crypto.decrypt(token, context="tenant-b")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(ValidationFailed):
        crypto.decrypt(tampered, context="tenant-a")


def test_generated_secrets_are_private_and_stable(tmp_path):
    first = _data_dir_secrets(tmp_path)
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets.json").st_mode)
    assert mode == 0o600
    assert set(first) == {"jwt_secret", "field_encryption_key", "app_db_password"}
    assert all(len(v) >= 32 for v in first.values())
    assert _data_dir_secrets(tmp_path) == first


@pytest.mark.parametrize("value", ["changeme", "secret", "short-but-not-placeholder"])
def test_placeholder_or_short_secrets_are_refused(value, monkeypatch):
    monkeypatch.setenv("JWT_SECRET", value)
    with pytest.raises(ValidationError):
        Settings()


def test_secret_from_environment_wins_over_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    monkeypatch.setenv("CLIENTFORGE_DATA_DIR", str(tmp_path))
    assert Settings().secret("jwt_secret") == "x" * 40
    assert Settings().secret("app_db_password") == _data_dir_secrets(tmp_path)["app_db_password"]
