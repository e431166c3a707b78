"""The library internals hzz4l relies on (processors.compat): each test fails loudly when an upgrade of awkward
or coffea changes what the code assumes, before a physics result can change."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from processors.compat import flat_columns, preloaded_events
from processors.schema import BranchLengthError, MiniSchema, check_counts
from tests.helpers import ATLAS, read_events

RECORDS = ak.Array([[{"pt": 1.0, "q": 1}, {"pt": 2.0, "q": -1}], [], [{"pt": 3.0, "q": 1}], [{"pt": 4.0, "q": -1}]])


@pytest.mark.parametrize(
    "collection",
    [
        pytest.param(RECORDS, id="plain"),
        pytest.param(RECORDS[1:], id="sliced"),  # offsets start above 0
        pytest.param(RECORDS[[3, 0]], id="indexed"),  # not plain lists: packed first
        pytest.param(RECORDS[RECORDS.pt > 1.5], id="masked"),
    ],
)
def test_flat_columns_are_the_flattened_fields(collection):
    offsets, columns = flat_columns(collection, ("pt", "q"))
    assert offsets.shape == (len(collection) + 1,)
    for field in ("pt", "q"):
        flat = columns[field][offsets[0] : offsets[-1]]
        np.testing.assert_array_equal(flat, ak.to_numpy(ak.flatten(collection[field])))
    np.testing.assert_array_equal(np.diff(offsets), ak.to_numpy(ak.num(collection)))


def test_a_real_files_leptons_are_plain_lists_of_records():
    """Read as the processor reads it, the lepton collection of a real file needs no packing (a copy per chunk):
    if a coffea or awkward upgrade changes the layout, this says so."""
    lep = read_events(ATLAS / "Data/data_A.4lep.root").lep
    layout = ak.to_layout(lep)
    assert isinstance(layout, ak.contents.ListOffsetArray)
    assert isinstance(layout.content, ak.contents.RecordArray)
    offsets, columns = flat_columns(lep, ("pt", "type"))
    assert np.shares_memory(columns["pt"], np.asarray(layout.content.content("pt").data))
    np.testing.assert_array_equal(columns["type"][offsets[0] : offsets[-1]], ak.to_numpy(ak.flatten(lep["type"])))


def test_preloaded_events_are_the_events_of_the_file_built_when_used():
    """Events of arrays read ahead (analysis.work) equal those coffea reads from the file, field for field; their
    columns are built when used, so that a lepton branch disagreeing with ``lep_n`` reaches the schema's own
    check (coffea's from_preloaded builds every column at once: awkward fails first, naming nothing)."""
    import uproot

    with uproot.open(ATLAS / "MC/mc_361107.Zmumu.4lep.root") as f:
        tree = f["mini"]
        names = ["lep_n", "lep_pt", "lep_eta", "lep_phi", "lep_E", "lep_type", "mcWeight", "trigE"]
        arrays = tree.arrays(filter_branch=lambda b: b.name in names, how=dict)
        uuid = str(tree.file.uuid)
    events = preloaded_events(arrays, uuid, "mini", MiniSchema, {"dataset": "Zmumu"})
    expected = read_events(ATLAS / "MC/mc_361107.Zmumu.4lep.root")
    assert events.metadata == {"dataset": "Zmumu"} and len(events) == len(expected) == 684
    for field in ("lep_n", "mcWeight", "trigE"):
        assert events[field].tolist() == expected[field].tolist()
    for field in ("pt", "eta", "phi", "energy", "type"):
        assert events.lep[field].tolist() == expected.lep[field].tolist()
    assert float(events.lep[0].sum().mass) == float(expected.lep[0].sum().mass)

    arrays["lep_eta"] = ak.concatenate([arrays["lep_eta"][:1], arrays["lep_eta"][1:2, :3], arrays["lep_eta"][2:]])
    broken = preloaded_events(arrays, uuid, "mini", MiniSchema, {"dataset": "Zmumu", "filename": "f.root"})
    with pytest.raises(BranchLengthError, match="'lep_eta' has 3 entries in entry 1"):
        check_counts(broken, ["lep_eta"])


def test_coffeas_runner_hooks_are_the_ones_hzz4l_replaces():
    """analysis.runner._Runner replaces coffea's _work_function (same parameters: coffea calls it by keyword) and
    automatic_retries; if coffea renames or reshapes them, the replacement would silently not be used."""
    import inspect

    from coffea import processor

    from analysis.runner import _Runner
    from analysis.work import work_function
    from processors.compat import RUNNER_HOOKS

    for hook in RUNNER_HOOKS:
        assert hook in vars(processor.Runner), hook
        assert hook in vars(_Runner), hook
    ours, theirs = (inspect.signature(f).parameters for f in (work_function, processor.Runner._work_function))
    assert list(ours) == list(theirs)
    retries = inspect.signature(processor.Runner.automatic_retries).parameters
    assert list(retries)[:3] == ["retries", "skipbadfiles", "func"]
    fields = {f.name for f in __import__("dataclasses").fields(processor.Runner)}
    assert {"metadata_cache", "cachestrategy", "checkpointer", "schema"} <= fields


def test_coffeas_chunk_and_file_descriptions_have_the_fields_hzz4l_reads():
    import dataclasses

    from processors import compat

    work_item = {f.name for f in dataclasses.fields(compat.WorkItem)}
    assert {"dataset", "filename", "treename", "entrystart", "entrystop", "fileuuid", "usermeta", "preload"} <= (
        work_item
    )
    # the keys of the runner's metadata cache: with them coffea plans the chunks without opening the file again
    filled = {"numentries": 10, "uuid": b"0" * 16, "clusters": [0, 10]}
    meta = compat.FileMeta("d", "f.root", "mini", filled)
    assert (meta.dataset, meta.filename, meta.treename, meta.metadata) == ("d", "f.root", "mini", filled)
    assert meta.populated(clusters=True)
    assert not compat.FileMeta("d", "f.root", "mini", {"numentries": 10}).populated(clusters=False)


def test_uproots_fsspec_source_opens_a_real_file_by_path():
    import uproot

    from processors import compat

    with uproot.open({str(ATLAS / "Data/data_A.4lep.root"): None}, handler=compat.FSSpecSource) as f:
        assert f["mini"].num_entries > 0


@pytest.fixture
def coffea_screen():
    """What coffea's progress bars print, as text (coffea draws them on its own rich console)."""
    import io

    from coffea.util import coffea_console

    screen = io.StringIO()
    file, coffea_console.file = coffea_console.file, screen
    try:
        yield screen
    finally:
        coffea_console.file = file


def _count(item: int) -> dict[str, int]:
    return {"n": item}


def test_coffeas_progress_console_can_be_silenced(coffea_screen):
    """coffea's executors draw their bar on coffea.util.coffea_console whatever their status says; hzz4l silences
    that console for --no-progress."""
    from coffea import processor

    from processors.compat import progress_bars

    with progress_bars(False):
        processor.IterativeExecutor(status=False)([1, 2], _count, {"n": 0})
    assert coffea_screen.getvalue() == ""
    processor.IterativeExecutor(status=False)([1, 2], _count, {"n": 0})
    assert "Processing" in coffea_screen.getvalue()  # coffea's own behaviour, which progress_bars works around


def _final_counts(screen: str) -> dict[str, str]:
    """The last ``done/total`` each bar of the screen shows, by the bar's name."""
    import re

    return dict(re.findall(r"(Processing|Merging \(local\))\s.*?(\d+/\d+)", screen))


def test_the_futures_merge_bar_ends_full(coffea_screen):
    """coffea's futures executor merges finished chunks batch by batch into one bar, and rich's ``track`` restarts
    the count at every batch: with coffea's bar 14 merges ended as e.g. "1/14"."""
    import concurrent.futures
    import time

    from coffea import processor

    from processors.compat import progress_bars

    def slow(item: int) -> dict[str, int]:
        time.sleep(0.05 * (item % 3))  # finished in several batches
        return {"n": item}

    with concurrent.futures.ThreadPoolExecutor(2) as pool, progress_bars(True):
        out = processor.FuturesExecutor(pool=pool, workers=2, status=True)(list(range(14)), slow, {"n": 0})
    assert out[0]["n"] == sum(range(14))
    assert _final_counts(coffea_screen.getvalue()) == {"Processing": "14/14", "Merging (local)": "14/14"}


@pytest.mark.dask
def test_the_dask_bar_counts_the_chunks(coffea_screen):
    """coffea's Dask bar counted every task of the graph (the processor's broadcast and the merges: 16 for 14
    chunks); with hzz4l's it counts the chunks, as the other executors' bars do."""
    from coffea import processor
    from distributed import Client, LocalCluster

    from processors.compat import progress_bars

    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
        progress_bars(True, dask=True),
    ):
        executor = processor.DaskExecutor(client=client, status=True, heavy_input={"scale": 1}, treereduction=4)
        out = executor(list(range(14)), _weighted, {"n": 0})
    assert out[0]["n"] == sum(range(14))
    assert _final_counts(coffea_screen.getvalue()) == {"Processing": "14/14"}


def _weighted(task: tuple[int, dict[str, int]]) -> dict[str, int]:
    item, heavy = task
    return {"n": item * heavy["scale"]}
