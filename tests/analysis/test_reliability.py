"""Remote files over a real HTTP server with Range support, bad inputs, skipped files, checkpoints."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis.fileset import load_fileset, validate_fileset
from analysis.inputs import InputError
from analysis.runner import run_fileset
from processors import HZZ4lProcessor
from tests.analysis.test_cli import HZZ4L, hzz4l
from tests.analysis.test_inputs import rewrite
from tests.helpers import dask_cluster, good_event, write_root
from tests.processors.test_real_files import rewrite_counted

SUBSET = ("llll", "ggH125_ZZ4lep", "data")


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves files with single and multipart byte ranges, and HEAD (with ``ETag`` and ``Last-Modified``, as real
    servers give); the first path element picks a behaviour: ``ok``, ``404``, ``500`` (always), ``flaky`` (500 on
    the first request of each file), ``drop`` (closes the connection half-way through every body). ``requests``
    counts the requests per path, ``served`` the body bytes sent per path."""

    requests: ClassVar[Counter] = Counter()
    served: ClassVar[Counter] = Counter()

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        mode, _, name = self.path.lstrip("/").partition("/")
        type(self).requests[self.path] += 1
        if mode == "404":
            return self.send_error(HTTPStatus.NOT_FOUND)
        if mode == "500" or (mode == "flaky" and type(self).requests[self.path] == 1):
            return self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)
        path = Path(self.directory) / name
        if not path.is_file():
            return self.send_error(HTTPStatus.NOT_FOUND)
        data = path.read_bytes()
        stat = path.stat()
        self._validators = {
            "ETag": f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"',
            "Last-Modified": self.date_time_string(int(stat.st_mtime)),
        }
        header = self.headers.get("Range")
        if head:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Accept-Ranges", "bytes")
            for key, value in self._validators.items():
                self.send_header(key, value)
            return self.end_headers()
        if not header:
            return self._send(HTTPStatus.OK, data, "application/octet-stream", mode)
        ranges = []
        for part in header.removeprefix("bytes=").split(","):
            start, _, stop = part.strip().partition("-")
            ranges.append((int(start), min(int(stop), len(data) - 1)))
        if len(ranges) == 1:
            start, stop = ranges[0]
            return self._send(
                HTTPStatus.PARTIAL_CONTENT,
                data[start : stop + 1],
                "application/octet-stream",
                mode,
                {"Content-Range": f"bytes {start}-{stop}/{len(data)}"},
            )
        boundary = "hzz4lboundary"
        body = (
            b"".join(
                f"--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {a}-{b}/{len(data)}"
                f"\r\n\r\n".encode()
                + data[a : b + 1]
                + b"\r\n"
                for a, b in ranges
            )
            + f"--{boundary}--\r\n".encode()
        )
        return self._send(HTTPStatus.PARTIAL_CONTENT, body, f"multipart/byteranges; boundary={boundary}", mode)

    def _send(self, status, body, content_type, mode, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for key, value in (self._validators | (extra or {})).items():
            self.send_header(key, value)
        self.end_headers()
        type(self).served[self.path] += len(body) // 2 if mode == "drop" else len(body)
        if mode == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)
        return


@contextlib.contextmanager
def serving(folder: Path):
    """A real HTTP server on 127.0.0.1 serving ``folder`` (see RangeHandler); yields its URL and handler class."""
    handler = type("Handler", (RangeHandler,), {"requests": Counter(), "served": Counter()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: handler(*a, directory=str(folder), **k))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


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


def assert_same_histograms(a: dict, b: dict) -> None:
    assert set(a["mass"].axes["dataset"]) == set(b["mass"].axes["dataset"])
    for name in a["mass"].axes["dataset"]:
        got, want = (x["mass"][{"dataset": name}].values() for x in (a, b))
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert a["processed"] == b["processed"]


@pytest.fixture(scope="module")
def local_output(demo_fileset):
    return run_fileset(subset(demo_fileset), HZZ4lProcessor(), status=False, chunksize=2000).output


def test_https_path_equals_local_run(server, demo_fileset, local_output):
    base, handler = server
    result = run_fileset(subset(demo_fileset, base), HZZ4lProcessor(), status=False, chunksize=2000, timeout=10)
    assert_same_histograms(local_output, result.output)
    assert result.lost_events == {} and result.skipped == ()
    assert any(path.startswith("/ok/") for path in handler.requests)


def test_flaky_server_recovers_with_retries(server, demo_fileset, local_output):
    base, _ = server
    result = run_fileset(
        subset(demo_fileset, base, "flaky"), HZZ4lProcessor(), status=False, chunksize=2000, timeout=10, retries=2
    )
    assert_same_histograms(local_output, result.output)


@pytest.mark.parametrize("mode", ["404", "500", "drop"])
def test_server_failures_give_a_clear_error_not_a_hang(server, demo_fileset, mode):
    base, _ = server
    start = time.monotonic()
    with pytest.raises(InputError, match=rf"dataset '\w+': {base}/{mode}/\S+\.root: cannot be read after 2 attempts"):
        run_fileset(subset(demo_fileset, base, mode), HZZ4lProcessor(), status=False, timeout=5, retries=1)
    assert time.monotonic() - start < 60


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
    args = ["run", "--fileset", str(demo_fileset), "--no-progress", "--no-plots", "--chunksize", "200"]
    args += ["--checkpoint", "ckpt"]
    reference = hzz4l(*args[:-2], "-o", "reference", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    process = subprocess.Popen(
        [HZZ4L, *args, "-o", "out"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "ckpt").rglob("*.json"))) < 20 and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "out" / "summary.json").exists()
    saved = {p: p.stat().st_mtime_ns for p in (tmp_path / "ckpt").rglob("*.json")}
    assert saved
    resumed = hzz4l(*args, "-o", "out", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    for path, mtime in saved.items():  # reused, not recomputed
        assert path.stat().st_mtime_ns == mtime
    ref, out = histograms(tmp_path / "reference"), histograms(tmp_path / "out")
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
    assert_same_histograms(reference, outcome["result"].output)
    assert outcome["result"].lost_events == {}
