import pytest
from cryptography.fernet import Fernet
from django.db import connection as db

from apps.connections.models import Connection
from apps.connections.services import connection_create
from apps.core import crypto


def test_round_trip(settings):
    token = crypto.encrypt_json({"token": "s3cr3t", "n": 1})
    assert "s3cr3t" not in token
    assert crypto.decrypt_json(token) == {"token": "s3cr3t", "n": 1}


def test_wrong_key_is_a_clear_error(settings):
    token = crypto.encrypt_json({"token": "x"})
    settings.SYNCLINE_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(crypto.DecryptionError, match="SYNCLINE_ENCRYPTION_KEY"):
        crypto.decrypt_json(token)


def test_key_rotation_keeps_old_ciphertext_readable(settings):
    old_key = settings.SYNCLINE_ENCRYPTION_KEY
    token = crypto.encrypt_json({"token": "before-rotation"})
    new_key = Fernet.generate_key().decode()
    settings.SYNCLINE_ENCRYPTION_KEY = f"{new_key},{old_key}"
    assert crypto.decrypt_json(token) == {"token": "before-rotation"}
    fresh = crypto.encrypt_json({"token": "after"})
    settings.SYNCLINE_ENCRYPTION_KEY = new_key
    assert crypto.decrypt_json(fresh) == {"token": "after"}


def test_malformed_key_names_the_setting(settings):
    settings.SYNCLINE_ENCRYPTION_KEY = "not-a-fernet-key"
    with pytest.raises(Exception, match="SYNCLINE_ENCRYPTION_KEY"):
        crypto.encrypt_json({})


@pytest.mark.django_db
def test_secrets_are_ciphertext_in_the_database(workspace, sandbox_path):
    conn = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path, "api_token": "tok-visible-nowhere"},
    )
    with db.cursor() as cursor:
        cursor.execute("SELECT config, secrets FROM connections_connection WHERE id = %s", [conn.id])
        config_raw, secrets_raw = cursor.fetchone()
    assert "tok-visible-nowhere" not in str(config_raw)
    assert "tok-visible-nowhere" not in secrets_raw
    assert Connection.objects.get(pk=conn.id).secrets == {"api_token": "tok-visible-nowhere"}
