"""Outputs are written atomically: an interrupted write leaves the previous file or nothing."""

from __future__ import annotations

import os
import stat

import pytest

from analysis.outputs import atomic_path


def test_interrupted_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text('{"old": true}')

    def interrupted_write():
        with atomic_path(target) as tmp:
            tmp.write_text('{"half')
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        interrupted_write()
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left behind


def test_completed_write_replaces_with_usual_permissions(tmp_path):
    target = tmp_path / "out" / "histograms.root"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
