"""Where volumes live: names that become paths are validated first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.controller.storage.volume_fixtures import UID, vmi_with, volume_settings
from virtctl.controller.storage.layout import persistent_volume_path
from virtctl.controller.storage.plan import prepare_volumes
from virtctl.errors import Invalid


@pytest.mark.parametrize("namespace, name, uid, field", [
    ("Default", "vmi-a", UID, "metadata.namespace"),
    ("default", "../x", UID, "metadata.name"),
    ("default", "vmi-a", "../../x", "metadata.uid"),
    ("default", "vmi-a", None, "metadata.uid"),
])
def test_names_in_paths_are_validated(tmp_path: Path, namespace: str, name: str, uid: str | None,
                                      field: str) -> None:
    with pytest.raises(Invalid, match=rf"^{field}: "):
        prepare_volumes(vmi_with([], name=name, uid=uid), volume_settings(tmp_path), namespace=namespace)
    with pytest.raises(Invalid):
        persistent_volume_path(volume_settings(tmp_path), "default", "a/b")
