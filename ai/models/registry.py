"""The one model registry (`ml_models`): every trained or configured model or method, with its type, version,
algorithm, training window, metrics on unseen data, hyperparameters and whether it is the active one.

Artefacts (what a model learned, when it is more than a few numbers) are stored by content hash under the data
dir, in safe formats only (JSON here; ONNX or skops elsewhere), never pickled: `store_artifact` writes one and
`load_artifact` reads it back after checking its hash.

Writing needs the manage permission of what the model serves (`forecasts:manage` for forecasts, `scores:manage`
for scores); reading needs the read one. Like every service, these functions never commit.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.actor import Actor
from core.config import get_settings
from core.errors import NotFound, ValidationFailed
from core.forecasts.models import MlModel
from core.ids import new_id

# model_type -> the permission resource it serves
RESOURCES = {
    "revenue_forecast": "forecasts",
    "forecast": "forecasts",
    "lead_scoring": "scores",
    "churn_prediction": "scores",
    "next_best_action": "insights",
    "sentiment": "insights",
}
DEFAULT_RESOURCE = "settings"


def resource_of(model_type: str) -> str:
    return RESOURCES.get(model_type, DEFAULT_RESOURCE)


def _score(value: float | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(round(min(max(float(value), 0.0), 1.0), 4)))


def record(
    session: Session,
    actor: Actor,
    *,
    model_type: str,
    version: str,
    algorithm: str,
    training_start: datetime | None = None,
    training_end: datetime | None = None,
    metrics: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    feature_importance: dict[str, Any] | None = None,
    accuracy_score: float | None = None,
    precision_score: float | None = None,
    recall_score: float | None = None,
    f1_score: float | None = None,
    artifact_sha256: str | None = None,
    activate: bool = False,
    trained_at: datetime | None = None,
) -> MlModel:
    """Record a model (or update the one of the same type and version: recording is idempotent, so a job run
    twice keeps one row). With `activate`, it becomes the one active model of its type."""
    actor.require(resource_of(model_type), "manage")
    if not model_type.strip() or not version.strip():
        raise ValidationFailed(
            "A model needs a type and a version", details=[{"field": "version", "message": "must not be empty"}]
        )
    values: dict[str, Any] = {
        "algorithm": algorithm,
        "training_data_start_date": training_start,
        "training_data_end_date": training_end,
        "metrics": json.loads(json.dumps(metrics or {}, default=str)),
        "hyperparameters": json.loads(json.dumps(hyperparameters or {}, default=str)),
        "feature_importance": feature_importance,
        "accuracy_score": _score(accuracy_score),
        "precision_score": _score(precision_score),
        "recall_score": _score(recall_score),
        "f1_score": _score(f1_score),
        "artifact_sha256": artifact_sha256,
        "model_file_path": artifact_path(actor.tenant_id, artifact_sha256).name if artifact_sha256 else None,
        "trained_at": trained_at or datetime.now(UTC),
        "is_active": False,  # activated below when asked (recording the same version again re-decides)
    }
    statement = (
        insert(MlModel)
        .values(id=new_id(), tenant_id=actor.tenant_id, model_type=model_type, version=version, **values)
        .on_conflict_do_update(index_elements=[MlModel.tenant_id, MlModel.model_type, MlModel.version], set_=values)
        .returning(MlModel.id)
    )
    model_id = session.execute(statement).scalar_one()
    if activate:
        return activate_model(session, actor, model_id)
    model = session.scalar(select(MlModel).where(MlModel.id == model_id).execution_options(populate_existing=True))
    assert model is not None
    return model


def activate_model(session: Session, actor: Actor, model_id: UUID) -> MlModel:
    """Make a model the active one of its type (the others of that type are deactivated)."""
    model = get(session, actor, model_id)
    actor.require(resource_of(model.model_type), "manage")
    session.execute(
        update(MlModel)
        .where(
            MlModel.tenant_id == actor.tenant_id,
            MlModel.model_type == model.model_type,
            MlModel.id != model.id,
            MlModel.is_active.is_(True),
        )
        .values(is_active=False)
        .execution_options(synchronize_session=False)
    )
    model.is_active = True
    session.flush()
    return model


def get(session: Session, actor: Actor, model_id: UUID) -> MlModel:
    model = session.scalar(select(MlModel).where(MlModel.tenant_id == actor.tenant_id, MlModel.id == model_id))
    if model is None:
        raise NotFound("Model not found")
    actor.require(resource_of(model.model_type), "read")
    return model


def active(session: Session, actor: Actor, model_type: str) -> MlModel | None:
    """The active model of a type (the newest, should several be marked active)."""
    actor.require(resource_of(model_type), "read")
    return session.scalar(
        select(MlModel)
        .where(MlModel.tenant_id == actor.tenant_id, MlModel.model_type == model_type, MlModel.is_active.is_(True))
        .order_by(MlModel.trained_at.desc().nulls_last(), MlModel.created_at.desc())
        .limit(1)
    )


def list_models(session: Session, actor: Actor, model_type: str, *, limit: int = 50) -> list[MlModel]:
    """The models of a type, newest first."""
    actor.require(resource_of(model_type), "read")
    return list(
        session.scalars(
            select(MlModel)
            .where(MlModel.tenant_id == actor.tenant_id, MlModel.model_type == model_type)
            .order_by(MlModel.trained_at.desc().nulls_last(), MlModel.created_at.desc())
            .limit(limit)
        ).all()
    )


# Artefacts -----------------------------------------------------------------------------------------------------


def artifact_path(tenant_id: UUID, sha256: str) -> Path:
    return get_settings().data_path / "models" / str(tenant_id) / f"{sha256}.json"


def store_artifact(tenant_id: UUID, content: dict[str, Any] | list[Any]) -> str:
    """Write a JSON artefact by its content hash (the same content is written once) and return the hash."""
    return store_bytes(tenant_id, json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode())


def store_bytes(tenant_id: UUID, data: bytes) -> str:
    """Write an artefact's bytes (JSON text) by their SHA-256 and return the hash."""
    sha = hashlib.sha256(data).hexdigest()
    path = artifact_path(tenant_id, sha)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return sha


def load_bytes(tenant_id: UUID, sha256: str) -> bytes:
    """A stored artefact's bytes, refused when they no longer match their hash."""
    data = artifact_path(tenant_id, sha256).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"artefact {sha256} is corrupt: its content does not match its hash")
    return data


def load_artifact(tenant_id: UUID, sha256: str) -> Any:
    """A stored JSON artefact, refused when its bytes no longer match their hash."""
    return json.loads(load_bytes(tenant_id, sha256))
