"""Every executor gives the same histograms and cutflows: iterative, futures, Dask (LocalCluster and a
real ``dask scheduler`` with two ``dask worker`` processes on 127.0.0.1)."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from analysis.fileset import load_fileset
from analysis.runner import _chunk_edges, run_fileset
from processors import HZZ4lProcessor
from tests.helpers import assert_same, dask_cluster


@pytest.fixture(scope="module")
def iterative(demo_fileset):
    fileset = load_fileset(demo_fileset)
    return fileset, run_fileset(fileset, HZZ4lProcessor(), chunksize=500, status=False).output


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real scheduler and two single-threaded worker processes on 127.0.0.1; stopped afterwards."""
    with dask_cluster(tmp_path_factory.mktemp("dask"), workers=2) as (address, _):
        yield address


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["futures", pytest.param("dask", marks=pytest.mark.dask)])
def test_local_pool_matches_iterative(iterative, executor):
    fileset, reference = iterative
    result = run_fileset(fileset, HZZ4lProcessor(), executor=executor, workers=2, chunksize=500, status=False)
    assert_same(reference, result.output)


@pytest.mark.dask
def test_dask_existing_scheduler_matches_iterative(iterative, dask_scheduler):
    fileset, reference = iterative
    result = run_fileset(
        fileset, HZZ4lProcessor(), executor="dask", scheduler=dask_scheduler, chunksize=500, status=False
    )
    assert_same(reference, result.output)
    assert result.events == sum(reference["processed"].values())


def test_scheduler_needs_dask(iterative):
    with pytest.raises(ValueError, match="--scheduler needs --executor dask"):
        run_fileset(iterative[0], HZZ4lProcessor(), executor="futures", scheduler="tcp://127.0.0.1:1")


def test_unknown_executor(iterative):
    with pytest.raises(ValueError, match="unknown executor 'spark'"):
        run_fileset(iterative[0], HZZ4lProcessor(), executor="spark")


@pytest.mark.slow
@pytest.mark.parametrize("chunksize", [777, 10**9])
def test_chunk_size_does_not_change_the_result(iterative, chunksize):
    # chunks start on basket-cluster edges, with extra edges inside clusters longer than the chunk size
    fileset, reference = iterative
    result = run_fileset(fileset, HZZ4lProcessor(), chunksize=chunksize, status=False)
    assert_same(reference, result.output)


@pytest.mark.parametrize(
    ("clusters", "chunksize"),
    [((0, 10_000, 20_000, 22_450), 200), ((0, 10_000, 20_000, 22_450), 100_000), ((0, 1000), 300), ((0,), 100)],
)
def test_chunk_edges_keep_the_clusters_and_bound_the_chunks(clusters, chunksize):
    edges = _chunk_edges(clusters, chunksize)
    assert edges[0] == 0 and edges[-1] == clusters[-1]
    assert set(clusters) <= set(edges)
    steps = np.diff(edges)
    assert np.all(steps > 0) and np.all(steps <= chunksize)
    # nothing added where the clusters are already short enough
    assert len(edges) == len(clusters) + sum(-(-(b - a) // chunksize) - 1 for a, b in itertools.pairwise(clusters))


@pytest.mark.slow
def test_run_leaves_the_garbage_collector_as_it_found_it(iterative):
    # the run freezes the objects that exist before it (so collecting after each chunk is cheap) and
    # unfreezes them afterwards, but never undoes a freeze of the caller
    fileset, _ = iterative
    assert gc.get_freeze_count() == 0
    run_fileset(fileset, HZZ4lProcessor(), chunksize=5000, status=False)
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        run_fileset(fileset, HZZ4lProcessor(), chunksize=5000, status=False)
        assert gc.get_freeze_count() > frozen // 2  # some frozen objects die during the run; the freeze stays
    finally:
        gc.unfreeze()
