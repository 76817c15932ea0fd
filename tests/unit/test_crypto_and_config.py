import json
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
    assert set(first) == {"jwt_secret", "field_encryption_key", "api_key_pepper", "app_db_password"}
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


def test_a_secrets_file_from_an_older_version_gains_the_new_secret_and_keeps_the_old_ones(tmp_path):
    path = tmp_path / "secrets.json"
    old = {"jwt_secret": "j" * 48, "field_encryption_key": "f" * 48, "app_db_password": "p" * 48}
    path.write_text(json.dumps(old))
    upgraded = _data_dir_secrets(tmp_path)
    assert {k: upgraded[k] for k in old} == old
    assert len(upgraded["api_key_pepper"]) >= 32 and upgraded["api_key_pepper"] not in old.values()
    assert json.loads(path.read_text()) == upgraded
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _data_dir_secrets(tmp_path) == upgraded


SHARED = ("JWT_SECRET", "FIELD_ENCRYPTION_KEY", "API_KEY_PEPPER")


def test_production_refuses_to_start_without_the_shared_secrets_in_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIENTFORGE_ENV", "production")
    monkeypatch.setenv("CLIENTFORGE_DATA_DIR", str(tmp_path))
    for name in SHARED:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError) as raised:
        Settings()
    message = str(raised.value)
    assert "CLIENTFORGE_ENV=production requires JWT_SECRET, FIELD_ENCRYPTION_KEY, API_KEY_PEPPER" in message
    monkeypatch.setenv("JWT_SECRET", "j" * 40)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", "f" * 40)
    with pytest.raises(ValidationError, match="requires API_KEY_PEPPER in the environment"):
        Settings()
    monkeypatch.setenv("API_KEY_PEPPER", "k" * 40)
    settings = Settings()
    assert settings.secret("api_key_pepper") == "k" * 40
    assert not (tmp_path / "secrets.json").exists()  # nothing host-local was generated for them


def test_outside_production_missing_secrets_are_generated(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIENTFORGE_ENV", "development")
    monkeypatch.setenv("CLIENTFORGE_DATA_DIR", str(tmp_path))
    for name in SHARED:
        monkeypatch.delenv(name, raising=False)
    assert Settings().secret("api_key_pepper") == _data_dir_secrets(tmp_path)["api_key_pepper"]
