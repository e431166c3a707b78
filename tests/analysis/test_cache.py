"""The local cache of remote input files, over a real HTTP server with Range support: a second run downloads
nothing, a file changed on the server is fetched again, the folder keeps to its size limit, ``--no-cache``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from analysis.cache import RemoteCache
from analysis.fileset import load_fileset, validate_fileset
from analysis.runner import run_fileset
from processors import HZZ4lProcessor
from tests.helpers import SUBSET, assert_same, hzz4l
from tests.http_server import serving

#: runs over a real HTTP server: the --runslow lane
pytestmark = pytest.mark.slow


@pytest.fixture
def served(demo_fileset, tmp_path):
    """A copy of the SUBSET datasets' files (and one more, ``llvv``, unserved until a test swaps it in), served over
    HTTP; yields the folder, the remote fileset, the server's handler class."""
    local = load_fileset(demo_fileset)
    folder = tmp_path / "served"
    folder.mkdir()
    for name in (*SUBSET, "llvv"):
        for path in local[name]["files"]:
            shutil.copy2(path, folder / Path(path).name)
    with serving(folder) as (base, handler):
        remote = {
            name: {
                "files": {f"{base}/ok/{Path(p).name}": t for p, t in local[name]["files"].items()},
                "metadata": local[name]["metadata"],
            }
            for name in SUBSET
        }
        yield folder, validate_fileset(remote), handler


def local_run(fileset: dict, folder: Path) -> dict:
    """The run over the served files read from the served folder directly."""
    local = {
        name: {**entry, "files": {str(folder / Path(p).name): t for p, t in entry["files"].items()}}
        for name, entry in fileset.items()
    }
    return run_fileset(validate_fileset(local), HZZ4lProcessor(), status=False, chunksize=2000).output


def test_second_run_downloads_nothing(served, tmp_path):
    folder, fileset, handler = served
    cache = RemoteCache(tmp_path / "cache", limit_bytes=10**9)
    first = run_fileset(fileset, HZZ4lProcessor(), status=False, chunksize=2000, timeout=10, cache=cache)
    size = sum(p.stat().st_size for p in folder.glob("*.root") if "llvv" not in p.name)
    assert sum(handler.served.values()) == size  # each file fetched whole, once
    assert sorted(p.stat().st_size for p in (tmp_path / "cache").glob("*.root")) == sorted(
        p.stat().st_size for p in folder.glob("*.root") if "llvv" not in p.name
    )
    handler.served.clear()
    handler.requests.clear()
    second = run_fileset(fileset, HZZ4lProcessor(), status=False, chunksize=2000, timeout=10, cache=cache)
    assert sum(handler.served.values()) == 0
    assert sum(handler.requests.values()) > 0  # but every copy was checked against the server
    assert_same(first.output, second.output)
    assert_same(local_run(fileset, folder), second.output)


def test_a_file_changed_on_the_server_is_fetched_again(served, tmp_path):
    folder, fileset, handler = served
    cache = RemoteCache(tmp_path / "cache", limit_bytes=10**9)
    run_fileset(fileset, HZZ4lProcessor(), status=False, chunksize=2000, timeout=10, cache=cache)
    # the server's llll file is replaced by other events (those of llvv), under the same name
    (llll,) = (folder / Path(p).name for p in fileset["llll"]["files"])
    (llvv,) = folder.glob("*llvv*.root")
    os.replace(llvv, llll)
    handler.served.clear()
    second = run_fileset(fileset, HZZ4lProcessor(), status=False, chunksize=2000, timeout=10, cache=cache)
    assert set(handler.served) == {f"/ok/{llll.name}"}  # that file only, whole
    assert sum(handler.served.values()) == llll.stat().st_size
    assert_same(local_run(fileset, folder), second.output)


def test_the_cache_keeps_to_its_limit(served, tmp_path):
    folder, fileset, _ = served
    sizes = sorted(p.stat().st_size for p in folder.glob("*.root") if "llvv" not in p.name)
    limit = sizes[-1] + sizes[0]  # room for the largest file and the smallest, not for all six
    cache = RemoteCache(tmp_path / "cache", limit_bytes=limit)
    result = run_fileset(fileset, HZZ4lProcessor(), status=False, chunksize=2000, timeout=10, cache=cache)
    assert_same(local_run(fileset, folder), result.output)
    kept = sum(p.stat().st_size for p in (tmp_path / "cache").glob("*.root"))
    assert 0 < kept <= limit
    assert {p.suffix for p in (tmp_path / "cache").iterdir()} == {".root", ".json"}  # no partial downloads left
    # a file larger than the whole limit is read from the server, not cached
    small = RemoteCache(tmp_path / "small", limit_bytes=sizes[0] - 1)
    result = run_fileset(fileset, HZZ4lProcessor(), status=False, chunksize=2000, timeout=10, cache=small)
    assert_same(local_run(fileset, folder), result.output)
    assert not list((tmp_path / "small").glob("*.root"))


def test_cli_caches_remote_files_by_default_and_not_with_no_cache(served, tmp_path):
    _, fileset, handler = served
    (tmp_path / "fs.json").write_text(json.dumps(fileset))
    env = {"HZZ4L_CACHE": str(tmp_path / "home")}
    served_bytes = []
    for step, extra in enumerate(((), (), ("--no-cache",))):
        handler.served.clear()
        ran = hzz4l(
            "run", "--fileset", "fs.json", "--no-progress", "--no-plots", "-o", f"out{step}", *extra, cwd=tmp_path,
            env=env,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        served_bytes.append(sum(handler.served.values()))
    first, second, uncached = served_bytes
    assert first > 0 and second == 0 and uncached > 0
    assert len(list((tmp_path / "home" / "remote").glob("*.root"))) == sum(len(e["files"]) for e in fileset.values())
    summaries = [json.loads((tmp_path / f"out{i}" / "summary.json").read_text())["datasets"] for i in range(3)]
    assert summaries[0] == summaries[1] == summaries[2]
