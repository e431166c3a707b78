"""Remote files over a real HTTP server with Range support, bad inputs, skipped files, checkpoints."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis.cache import RemoteCache
from analysis.fileset import load_fileset, validate_fileset
from analysis.inputs import InputError
from analysis.runner import run_fileset
from processors import HZZ4lProcessor
from tests.helpers import SUBSET, assert_same, dask_cluster, good_event, hzz4l, rewrite, rewrite_counted, write_root
from tests.http_server import serving

#: command-line runs, servers, clusters: the --runslow lane
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def server(demo_fileset):
    with serving(demo_fileset.parent) as served:
        yield served


def subset(demo_fileset, base: str | None = None, mode: str = "ok") -> dict:
    """The SUBSET datasets of the demo, local or served at ``base/mode/``."""
    local = load_fileset(demo_fileset)
    out = {}
    for name in SUBSET:
        files = {(f"{base}/{mode}/{Path(p).name}" if base else p): t for p, t in local[name]["files"].items()}
        out[name] = {"files": files, "metadata": local[name]["metadata"]}
    return validate_fileset(out)


@pytest.fixture(scope="module")
def local_output(demo_fileset):
    return run_fileset(subset(demo_fileset), HZZ4lProcessor(), status=False, chunksize=2000).output


def test_https_path_equals_local_run(server, demo_fileset, local_output):
    base, handler = server
    result = run_fileset(subset(demo_fileset, base), HZZ4lProcessor(), status=False, chunksize=2000, timeout=10)
    assert_same(local_output, result.output)
    assert result.lost_events == {} and result.skipped == ()
    assert any(path.startswith("/ok/") for path in handler.requests)


def test_flaky_server_recovers_with_retries(server, demo_fileset, local_output):
    base, _ = server
    result = run_fileset(
        subset(demo_fileset, base, "flaky"), HZZ4lProcessor(), status=False, chunksize=2000, timeout=10, retries=2
    )
    assert_same(local_output, result.output)


@pytest.mark.parametrize("mode", ["404", "500", "drop"])
def test_server_failures_give_a_clear_error_not_a_hang(server, demo_fileset, mode):
    base, _ = server
    start = time.monotonic()
    with pytest.raises(InputError, match=rf"dataset '\w+': {base}/{mode}/\S+\.root: cannot be read after 2 attempts"):
        run_fileset(subset(demo_fileset, base, mode), HZZ4lProcessor(), status=False, timeout=5, retries=1)
    assert time.monotonic() - start < 60


def test_a_host_that_does_not_resolve_is_said_so(demo_fileset, tmp_path):
    """Offline, or a typo in the host: the remote cache's first request fails, and fsspec reports any failure as
    FileNotFoundError(url); the line gives its cause, the name that does not resolve, not what reads as a 404."""
    fileset = subset(demo_fileset, "https://no-such-host.invalid")
    cache = RemoteCache(tmp_path, 10**9)
    with pytest.raises(InputError, match=r"cannot be read: FileNotFoundError: \S+ \(socket\.gaierror: "):
        run_fileset(fileset, HZZ4lProcessor(), status=False, timeout=5, retries=0, cache=cache)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("branch type", "branch 'trigE' holds one int32 per event"),
        ("NaN weight", "(dataset 's', entries 0-3) failed: entry 1: mcWeight is nan"),
        ("lep_n disagrees", "(dataset 's', entries 0-3) failed: branch 'lep_eta' has 3 entries in entry 1"),
    ],
)
def test_failures_that_cannot_pass_are_not_retried(tmp_path, damage, message):
    events = [good_event(), good_event(mcWeight=float("nan") if damage == "NaN weight" else 1.0), good_event()]
    path = write_root(tmp_path / "hand.root", events)
    if damage == "branch type":
        trig = uproot.open(path)["mini"]["trigE"].array(library="ak")
        path = rewrite(path, tmp_path / "x.root", trigE=ak.values_astype(trig, np.int32))
    elif damage == "lep_n disagrees":  # an HZZ4lError of the processor's own checks
        eta = uproot.open(path)["mini"]["lep_eta"].array()
        path = rewrite_counted(path, tmp_path / "x.root", {"lep_eta": ak.concatenate([eta[:1], eta[1:2, :3], eta[2:]])})
    metadata = {"role": "signal", "xsec": 1.0, "sumw": 10.0}
    with serving(tmp_path) as (base, handler):
        fileset = validate_fileset({"s": {"files": [f"{base}/ok/{path.name}"], "metadata": metadata}})
        requests = []
        for retries in (0, 3):
            handler.requests.clear()
            with pytest.raises(InputError) as err:
                run_fileset(fileset, HZZ4lProcessor(), status=False, retries=retries, timeout=5)
            assert message in str(err.value) and "attempts" not in str(err.value)
            requests.append(sum(handler.requests.values()))
    assert requests[0] == requests[1] > 0  # three more attempts would have read the file again


def test_the_output_folder_is_checked_before_anything_is_read(server, demo_fileset, tmp_path):
    base, handler = server
    fileset = {
        name: {"files": list(entry["files"]), "metadata": entry["metadata"]}
        for name, entry in subset(demo_fileset, base).items()
    }
    (tmp_path / "fs.json").write_text(json.dumps(fileset))
    (tmp_path / "file").write_text("")
    handler.requests.clear()
    ran = hzz4l("run", "--fileset", "fs.json", "--no-progress", "-o", "file/out", cwd=tmp_path)
    assert ran.returncode == 2 and "hzz4l run: error: file/out: cannot be made" in ran.stderr, ran.stderr
    assert sum(handler.requests.values()) == 0


# ------------------------------------------------------------------------------------------ bad local files


def bad_copy(demo_fileset: Path, tmp_path: Path, damage: str) -> Path:
    """A copy of the demo whose llll file is damaged in one way; returns its fileset.json."""
    folder = tmp_path / "demo"
    shutil.copytree(demo_fileset.parent, folder)
    target = folder / "mc_363490.llll.4lep.root"
    if damage == "missing":
        target.unlink()
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "corrupt":  # garbage in the middle: the header and tree are fine, baskets are not
        data = bytearray(target.read_bytes())
        middle = len(data) // 3
        data[middle : middle + len(data) // 3] = os.urandom(len(data) // 3)
        target.write_bytes(bytes(data))
    elif damage in ("tree", "branch"):
        events = uproot.open(target)["mini"].arrays(["trigE", "trigM", "mcWeight"], library="np")
        target.unlink()
        with uproot.recreate(target) as f:
            f.mktree("other" if damage == "tree" else "mini", {k: v.dtype for k, v in events.items()})
            f["other" if damage == "tree" else "mini"].extend(events)
    return folder / "fileset.json"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", "do not exist"),
        ("truncated", "failed: OSError"),
        ("tree", "no tree 'mini'"),
        ("branch", "lacks the branch(es) scaleFactor_PILEUP"),
        ("corrupt", "(dataset 'llll', entries"),
    ],
)
def test_bad_file_stops_the_run_naming_it(demo_fileset, tmp_path, damage, message):
    fileset = bad_copy(demo_fileset, tmp_path, damage)
    args = ("--no-progress", "--no-plots", "--retries", "0", "-o", "out")
    ran = hzz4l("run", "--fileset", str(fileset), *args, cwd=tmp_path)
    assert ran.returncode == 2
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and "mc_363490.llll.4lep.root" in lines[0] and message in lines[0], ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.parametrize("damage", ["missing", "truncated", "tree", "branch", "corrupt"])
def test_skip_bad_files_lists_every_file_with_its_lost_events(demo_fileset, tmp_path, damage):
    fileset = bad_copy(demo_fileset, tmp_path, damage)
    ran = hzz4l(
        "run",
        "--fileset",
        str(fileset),
        "--no-progress",
        "--no-plots",
        "--retries",
        "0",
        "--skip-bad-files",
        "--chunksize",
        "500",
        "-o",
        "out",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    path = tmp_path / "demo" / "mc_363490.llll.4lep.root"
    entries = uproot.open(demo_fileset.parent / "mc_363490.llll.4lep.root")["mini"].num_entries
    [skipped] = summary["skipped_files"]  # one entry per file, whether it failed its checks or its chunks
    assert skipped["dataset"] == "llll" and skipped["path"] == str(path) and skipped["reason"]
    if damage in ("missing", "tree"):  # its entries cannot be read
        assert skipped["events"] is None and "llll" not in summary["lost_events"]
        assert summary["datasets"]["llll"]["events"] == 0
    elif damage == "branch":  # left out whole, its entries known
        assert skipped["events"] == uproot.open(path)["mini"].num_entries == summary["lost_events"]["llll"]
        assert summary["datasets"]["llll"]["events"] == 0
    else:  # the file opens, some chunks fail: their events are lost, the others processed
        assert skipped["reason"].startswith("entries ") and " failed: " in skipped["reason"]
        assert 0 < skipped["events"] == summary["lost_events"]["llll"] <= entries
        assert summary["datasets"]["llll"]["events"] + skipped["events"] == entries
    assert f"SKIPPED {path} (dataset 'llll'" in ran.stderr
    assert summary["datasets"]["ggH125_ZZ4lep"]["events"] > 0  # the rest of the run completed


# ------------------------------------------------------------------------------------------ checkpoints


def histograms(folder: Path) -> dict[str, np.ndarray]:
    with uproot.open(folder / "histograms.root") as f:
        return {key: f[key].values() for key in f.keys(cycle=False) if "/" in key}


def test_interrupted_run_resumes_from_checkpoints(demo_fileset, tmp_path):
    """A run that stopped part-way (here: a finished run's checkpoints with every other chunk removed, so that
    the test does not depend on when a signal lands) reuses the saved chunks and recomputes the rest."""
    args = ["run", "--fileset", str(demo_fileset), "--no-progress", "--no-plots", "--chunksize", "200"]
    args += ["--checkpoint", "ckpt"]
    first = hzz4l(*args, "-o", "first", cwd=tmp_path)  # computes every chunk: the reference
    assert first.returncode == 0, first.stderr
    chunks = sorted((tmp_path / "ckpt").rglob("*.json"))
    assert len(chunks) > 10
    for lost in chunks[::2]:
        lost.unlink()
    saved = {p: p.stat().st_mtime_ns for p in chunks[1::2]}
    resumed = hzz4l(*args, "-o", "out", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    for path, mtime in saved.items():  # reused, not recomputed
        assert path.stat().st_mtime_ns == mtime
    assert all(path.exists() for path in chunks)  # the lost ones computed and saved again
    ref, out = histograms(tmp_path / "first"), histograms(tmp_path / "out")
    assert ref.keys() == out.keys()
    for key in ref:
        np.testing.assert_allclose(out[key], ref[key], rtol=1e-12)
    # other settings never reuse these chunks: a different luminosity lands in another key
    other = hzz4l(*args, "-o", "other", "--lumi", "5", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    assert len([p for p in (tmp_path / "ckpt").iterdir() if p.is_dir()]) == 2


# ------------------------------------------------------------------------------------------ lost workers


@pytest.mark.dask
def test_killed_dask_worker_changes_nothing(demo_fileset, tmp_path):
    """SIGKILL one of three real workers in the middle of a run: the scheduler reruns its tasks elsewhere."""
    fileset = load_fileset(demo_fileset)
    reference = run_fileset(fileset, HZZ4lProcessor(), status=False, chunksize=150).output
    with dask_cluster(tmp_path, workers=3, nanny=False) as (address, workers):
        from distributed import Client

        outcome: dict = {}

        def work():
            outcome["result"] = run_fileset(
                fileset, HZZ4lProcessor(), executor="dask", scheduler=address, chunksize=150, status=False
            )

        thread = threading.Thread(target=work)
        thread.start()
        with Client(address) as client:
            deadline = time.monotonic() + 120
            while not any(
                state == "memory"
                for state in client.run_on_scheduler(
                    lambda dask_scheduler: [t.state for t in dask_scheduler.tasks.values()]
                )
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)
        thread.join(timeout=300)
        assert workers[0].wait(timeout=10) == -signal.SIGKILL
    assert_same(reference, outcome["result"].output)
    assert outcome["result"].lost_events == {}
