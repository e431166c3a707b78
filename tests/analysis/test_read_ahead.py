"""The iterative run's read-ahead (analysis.work.read_ahead): each chunk is read while the one before it is
processed, with the histograms, the errors and the files of a run that reads each chunk when its turn comes."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import awkward as ak
import pytest
import uproot
from coffea.processor import ProcessorABC

from analysis.fileset import load_fileset, validate_fileset
from analysis.runner import ChunkError, run_fileset
from processors import HZZ4lProcessor
from processors.processor import COLUMNS
from tests import reference
from tests.helpers import ATLAS, assert_same
from tests.http_server import serving

BINS = (34, 80.0, 250.0)


@pytest.fixture(scope="module")
def shipped() -> dict:
    return load_fileset(ATLAS / "fileset.json")


def test_read_ahead_gives_the_histograms_and_cutflows_of_reading_in_turn(shipped):
    # chunks of 100 events: several per file, read ahead across chunk and file boundaries
    ahead = run_fileset(shipped, HZZ4lProcessor(), chunksize=100, status=False)
    in_turn = run_fileset(shipped, HZZ4lProcessor(), chunksize=100, status=False, read_ahead=False)
    assert_same(in_turn.output, ahead.output)
    assert ahead.events == in_turn.events and ahead.bytes_read == in_turn.bytes_read
    expected = reference.reference(shipped, "default", lumi_fb=10.0, bins=BINS)  # shares no code with the processor
    for name, ref in expected.items():
        assert ahead.output["cutflow"][name]["events"] == {c: ref["cutflow"].get(c, 0) for c in ref["cutflow"]}


#: The byte counters of the test's HTTP server, per path, where the processor below finds them (it is copied
#: into the run: cloudpickle keeps a test module's globals by reference).
SERVED: dict[str, Counter] = {}
#: The real file with the most baskets (4 clusters, 832 events), served by that server.
SERVED_FILE = "/ok/Data/data.4lep.root"


class Watching(HZZ4lProcessor):
    """The processor, noting at the end of each chunk how many bytes of the file the server has sent. For the
    chunks in ``before`` (what it had sent by the end of each chunk in a run reading each chunk in its turn), it
    first waits up to 10 s for the server to have sent more than that: the next chunk's baskets, if it is read
    meanwhile."""

    def __init__(self, before: dict[str, int] | None = None) -> None:
        super().__init__()
        self.before = before or {}

    def process(self, events: Any) -> Any:
        out = super().process(events)
        chunk, served = str(events.metadata["entrystart"]), SERVED["served"]
        deadline = time.monotonic() + 10.0
        while chunk in self.before and served[SERVED_FILE] <= self.before[chunk] and time.monotonic() < deadline:
            time.sleep(0.01)
        out["served"] = {chunk: served[SERVED_FILE]}
        return out


@pytest.mark.slow
def test_each_chunk_is_read_while_the_one_before_is_processed():
    with serving(ATLAS) as (base, handler):
        SERVED["served"] = handler.served
        fileset = validate_fileset({"data": {"files": [f"{base}{SERVED_FILE}"], "metadata": {"role": "data"}}})
        # reading each chunk in its turn, a chunk's end sees the bytes of that chunk and those before it
        handler.served.clear()
        in_turn = run_fileset(fileset, Watching(), chunksize=100, status=False, read_ahead=False).output["served"]
        chunks = sorted(in_turn, key=int)
        handler.served.clear()  # after the last chunk there is nothing to wait for
        before = {c: in_turn[c] for c in chunks[:-1]}
        ahead = run_fileset(fileset, Watching(before), chunksize=100, status=False).output["served"]
    assert len(chunks) > 3 and sorted(ahead, key=int) == chunks
    assert [in_turn[c] for c in chunks] == sorted(set(in_turn.values()))  # every chunk reads bytes of its own
    # read ahead, the next chunk's bytes are sent before a chunk ends (all there is by the last one's)
    assert all(ahead[c] > in_turn[c] for c in chunks[:-1]), (in_turn, ahead)
    assert ahead[chunks[-1]] == in_turn[chunks[-1]]


def corrupted_copy(folder: Path) -> Path:
    """A copy of the real ``data.4lep.root`` (4 baskets per branch) whose third ``lep_eta`` basket (entries
    195-432) has garbage in its zlib stream: the file opens and passes its checks, the chunks reading that
    basket fail."""
    path = folder / "data.4lep.root"
    shutil.copy(ATLAS / "Data" / path.name, path)
    with uproot.open(path) as f:
        branch = f["mini"]["lep_eta"]
        assert branch.basket_entry_start_stop(2) == (195, 432)
        # after the basket's key and the 9 bytes of the compression header
        start = int(branch.member("fBasketSeek")[2]) + branch.basket(2).member("fKeylen") + 9
    data = bytearray(path.read_bytes())
    data[start : start + 64] = bytes(range(64))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("skip", [False, True])
def test_a_chunk_read_ahead_that_fails_fails_as_that_chunk(tmp_path, skip):
    bad = corrupted_copy(tmp_path)
    fileset = validate_fileset({"data": {"files": [str(bad)], "metadata": {"role": "data"}}})
    outcomes = []
    for ahead in (False, True):  # chunks of 100 (on the basket edges): the first that fails is the second
        if skip:
            result = run_fileset(
                fileset, HZZ4lProcessor(), chunksize=100, status=False, retries=1, skip_bad_files=True, read_ahead=ahead
            )
            outcomes.append((result.skipped, result.lost_events, result.events))
        else:
            with pytest.raises(ChunkError) as err:
                run_fileset(fileset, HZZ4lProcessor(), chunksize=100, status=False, retries=1, read_ahead=ahead)
            outcomes.append(str(err.value))
    assert outcomes[0] == outcomes[1]
    if skip:  # the three chunks reading the bad basket are lost, the others processed
        [skipped], lost, events = outcomes[1]
        assert skipped.path == str(bad) and skipped.reason.startswith("entries 139-295 failed: zlib.error: ")
        assert skipped.reason.endswith("(and 2 more chunk(s))")
        assert skipped.events == lost["data"] == 532 - 139 and events == 832 - (532 - 139)
    else:
        assert outcomes[1].startswith(f"{bad} (dataset 'data', entries 139-295) failed: zlib.error: ")


def open_descriptors(*paths: Path) -> list[str]:
    """This process's open file descriptors on ``paths``."""
    targets = {str(p.resolve()) for p in paths}
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") in targets:
                found.append(fd)
    return found


@pytest.mark.parametrize("fails", [False, True])
def test_no_file_stays_open_and_no_reader_is_left_at_the_end(shipped, tmp_path, fails):
    if fails:  # the run stops at a chunk read ahead, while the reader may be reading the next one
        shipped = {**shipped, "data": {**shipped["data"], "files": {str(corrupted_copy(tmp_path)): "mini"}}}
    paths = [Path(p) for entry in shipped.values() for p in entry["files"]]
    with pytest.raises(ChunkError) if fails else contextlib.nullcontext():
        run_fileset(shipped, HZZ4lProcessor(), chunksize=100, status=False, retries=0)
    assert open_descriptors(*paths) == []
    assert not [t.name for t in threading.enumerate() if t.name.startswith("hzz4l-read-ahead")]


class Undeclared(ProcessorABC):
    """A processor that declares no branches: each is read when it uses it, in its turn (nothing to read ahead)."""

    def process(self, events: Any) -> Any:
        name = events.metadata["dataset"]
        return {"processed": {name: len(events)}, "leptons": {name: int(ak.sum(events.lep_n))}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def test_a_processor_declaring_no_branches_reads_those_it_uses(shipped):
    result = run_fileset(shipped, Undeclared(), chunksize=100, status=False)
    for name, entry in shipped.items():  # counted here with uproot alone
        expected = sum(int(ak.sum(uproot.open(p)["mini"]["lep_n"].array())) for p in entry["files"])
        assert result.output["leptons"][name] == expected


@pytest.mark.parametrize("chunksize", [100, 100_000])
def test_the_bytes_read_count_the_checks_and_the_chunks(shipped, chunksize):
    # the shipped files are small: the checks read their baskets with the tree's metadata (ROOT embeds a small tree's
    # baskets in it), so that the chunks request little more; the run reported "0.0 MB read" when only chunks counted
    result = run_fileset(shipped, HZZ4lProcessor(), chunksize=chunksize, status=False)
    needed = 0  # uproot's own count: open each file and read the processor's branches at once
    for path in (path for entry in shipped.values() for path in entry["files"]):
        with uproot.open(path) as f:
            f["mini"].arrays(list(COLUMNS), how=dict)
            needed += f.file.source.num_requested_bytes
    if chunksize == 100_000:  # one chunk per file: exactly that
        assert result.bytes_read == needed
    else:  # the chunks of a file request some of its bytes again
        assert result.bytes_read > needed
