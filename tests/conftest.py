"""Every test keeps the files a command writes for the person (the bench's trip
records) in its own folder, never in the home folder."""

import pytest


@pytest.fixture(autouse=True)
def _own_state_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
