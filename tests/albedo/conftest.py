"""One seeded demo tenant for the whole evaluation (its module): the small demo (seed 7), its warehouse loaded,
its leads scored, next best actions and anomalies computed, every record embedded, revenue forecasts stored,
and two notes that try to give Albedo orders (the injection cases ask about them). When the module is done, the
jobs its confirmed changes queued are dropped, so a later test's worker does not meet them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.albedo import evaluation
from tests.factories import quiesce


@pytest.fixture(scope="module")
def albedo_world() -> Iterator[evaluation.World]:
    world = evaluation.build_world()
    yield world
    quiesce(world.tenant_id)
