"""The checks of every input file before a run: what is refused, with which message, and what is skipped."""

from __future__ import annotations

import errno
import os
import shutil
import threading

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis.fileset import validate_fileset
from analysis.inputs import InputError, SkippedFile, preflight
from processors.processor import COLUMNS
from tests.helpers import ATLAS, good_event, rewrite, write_root
from tests.http_server import serving


def check(files: dict, skip: bool = False):
    fileset = validate_fileset({"x": {"files": {str(p): "mini" for p in files}, "metadata": {"role": "data"}}})
    return preflight(fileset, COLUMNS, timeout=5, retries=3, skip_bad_files=skip)


@pytest.fixture
def hand(tmp_path):
    return write_root(tmp_path / "hand.root", [good_event(), good_event(mcWeight=2.0)])


def test_both_layouts_of_a_list_per_event_pass(hand):
    # the std::vector branches of the real files and the counted arrays uproot writes
    checked = check([ATLAS / "Data" / "data_A.4lep.root", ATLAS / "MC" / "mc_361106.Zee.4lep.root", hand])
    assert checked.skipped == ()
    assert checked.entries == {"x": 39 + 898 + 2}


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (
            {"lep_pt": lambda a: ak.fill_none(ak.firsts(a["lep_pt"]), 0.0)},
            "branch 'lep_pt' holds one float64 per event (double), expected a list of floating-point numbers per event",
        ),
        (
            {"mcWeight": lambda a: ak.unflatten(np.repeat(ak.to_numpy(a["mcWeight"]), 2), 2)},
            "branch 'mcWeight' is float[2], expected one floating-point number per event",
        ),
        (
            {"lep_charge": lambda a: ak.values_astype(a["lep_charge"], np.float32)},
            "branch 'lep_charge' holds a list of float32 per event (float[]), expected a list of integers per event",
        ),
        (
            {"trigE": lambda a: ak.values_astype(a["trigE"], np.int32)},
            "branch 'trigE' holds one int32 per event (int32_t), expected one boolean per event",
        ),
    ],
)
def test_a_branch_of_the_wrong_type_is_refused_naming_it(hand, tmp_path, replace, message):
    arrays = uproot.open(hand)["mini"].arrays(list(COLUMNS), library="ak", how=dict)
    bad = rewrite(hand, tmp_path / "bad.root", **{k: f(arrays) for k, f in replace.items()})
    with pytest.raises(InputError) as err:
        check([bad])
    assert str(err.value) == f"dataset 'x': {bad}: {message}"
    # with --skip-bad-files the file is left out, its events known
    assert check([bad, hand], skip=True).skipped == (SkippedFile("x", str(bad), message, 2),)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda f: f.__setitem__("mini", {"x": np.arange(3.0)}), "'mini' is a ROOT::RNTuple, not a TTree"),
        (lambda f: f.__setitem__("mini", np.histogram([1.0, 2.0])), "'mini' is a TH1D, not a TTree"),
        (lambda f: f.__setitem__("other", np.histogram([1.0, 2.0])), "no tree 'mini' (keys: other)"),
    ],
)
def test_something_else_than_a_tree_is_named(tmp_path, make, message):
    with uproot.recreate(tmp_path / "odd.root") as f:
        make(f)
    with pytest.raises(InputError, match=r"odd\.root: ") as err:
        check([tmp_path / "odd.root"])
    assert str(err.value).endswith(message)


def test_every_missing_local_file_is_reported_at_once(tmp_path, hand):
    missing = [tmp_path / f"gone{i}.root" for i in range(200)]
    with pytest.raises(InputError) as err:
        check([hand, *missing])
    message = str(err.value)
    assert message.startswith("200 input file(s) do not exist: ")
    assert all(f"{path} (dataset 'x')" in message for path in missing)
    assert "attempt" not in message and "\n" not in message
    skipped = check([hand, *missing], skip=True).skipped
    assert skipped == tuple(SkippedFile("x", str(p), "does not exist", None) for p in missing)


@pytest.mark.parametrize(("make", "kind"), [(os.mkfifo, "a FIFO (named pipe)"), (os.mkdir, "a directory")])
def test_a_path_that_is_not_a_file_is_named_without_being_opened(tmp_path, hand, make, kind):
    """A FIFO given as an input file blocked the run for ever (opening it waits for a writer)."""
    path = tmp_path / "odd.root"
    make(path)
    outcome = {}

    def checks():
        with pytest.raises(InputError) as err:
            check([hand, path])
        outcome["error"] = str(err.value)
        outcome["skipped"] = check([hand, path], skip=True).skipped

    thread = threading.Thread(target=checks, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), f"the checks still wait on {path}"
    assert outcome["error"] == f"dataset 'x': {path}: is {kind}, not a file"
    assert outcome["skipped"] == (SkippedFile("x", str(path), f"is {kind}, not a file", None),)


def test_a_device_is_not_read_as_a_file():
    with pytest.raises(InputError, match=r"^dataset 'x': /dev/zero: is a character device, not a file$"):
        check(["/dev/zero"])


def test_a_symbolic_link_to_nothing_is_said_to_be_one(tmp_path, hand):
    loop, dangling = tmp_path / "loop.root", tmp_path / "dangling.root"
    loop.symlink_to(tmp_path / "back.root")
    (tmp_path / "back.root").symlink_to(loop)
    dangling.symlink_to(tmp_path / "gone.root")
    link = "(a symbolic link to nothing: broken, or a loop)"
    with pytest.raises(InputError) as err:
        check([hand, loop, dangling])
    assert str(err.value) == (
        f"2 input file(s) do not exist: {loop} {link} (dataset 'x'), {dangling} {link} (dataset 'x')"
    )
    skipped = check([hand, loop, dangling], skip=True).skipped
    assert skipped == tuple(SkippedFile("x", str(p), f"does not exist {link}", None) for p in (loop, dangling))


def test_a_copy_of_a_file_is_refused_by_its_root_uuid(tmp_path, hand):
    shutil.copy(hand, tmp_path / "copy.root")
    with pytest.raises(InputError, match=r"copy\.root is the same file as .*hand\.root of dataset 'x'"):
        check([hand, tmp_path / "copy.root"])
    with pytest.raises(InputError, match="the same ROOT UUID"):  # even when bad files may be skipped
        check([hand, tmp_path / "copy.root"], skip=True)


@pytest.mark.parametrize(
    ("error", "path", "expected"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file"), "/d/a.root", False),
        (PermissionError(errno.EACCES, "Permission denied"), "/d/a.root", False),
        (OSError("file too short"), "/d/a.root", False),  # uproot's own message: the file is truncated
        (ValueError("not a ROOT file"), "/d/a.root", False),
        (OSError(errno.EIO, "Input/output error"), "/eos/a.root", True),
        (OSError(errno.ESTALE, "Stale file handle"), "/nfs/a.root", True),
        (TimeoutError("timed out"), "/d/a.root", True),
        (OSError("HTTP 500"), "https://host/a.root", True),
        (ValueError("not a ROOT file"), "root://host//a.root", True),
        (InputError("bad data"), "https://host/a.root", False),
    ],
)
def test_only_failures_that_may_pass_are_retried(error, path, expected):
    from analysis.inputs import retryable

    assert retryable(error, path) is expected


def test_local_files_are_checked_in_turn_and_remote_ones_side_by_side(hand, tmp_path):
    # parsing a local tree holds the GIL (threads only take turns); opening a remote one waits on the network

    other = write_root(tmp_path / "other.root", [good_event(), good_event(), good_event()])
    threads: list[int] = []

    def keep(path: str, tree: str, directory: object) -> bool:
        threads.append(threading.get_ident())
        return False

    def checked(paths: list[str]) -> dict[str, int]:
        fileset = validate_fileset({"x": {"files": dict.fromkeys(paths, "mini"), "metadata": {"role": "data"}}})
        return preflight(fileset, COLUMNS, timeout=5, retries=0, skip_bad_files=False, keep=keep).entries

    assert checked([str(hand), str(other)]) == {"x": 5}
    assert threads == [threading.get_ident()] * 2
    threads.clear()
    with serving(tmp_path) as (base, _):
        assert checked([f"{base}/ok/hand.root", f"{base}/ok/other.root"]) == {"x": 5}
    assert len(threads) == 2 and threading.get_ident() not in threads
