from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from analysis.errors import HZZ4lWarning
from analysis.fileset import FilesetError, load_fileset, roles, validate_fileset
from analysis.samples import SAMPLES, real_fileset

GOOD = {
    "sig": {"files": {"sig.root": "mini"}, "metadata": {"role": "signal", "xsec": 1.0, "sumw": 10.0}},
    "data": {"files": ["data.root"], "metadata": {"role": "data"}},
}


def write(tmp_path, content) -> str:
    path = tmp_path / "fileset.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_samples_json_is_the_catalogue():
    catalogue = Path(__file__).resolve().parents[2] / "samples.json"
    assert json.loads(catalogue.read_text()) == real_fileset()
    fileset = load_fileset(catalogue)
    assert roles(fileset)["data"] == "data"
    assert sum(r == "signal" for r in roles(fileset).values()) == 4
    assert len(fileset["data"]["files"]) == 4
    assert fileset["llll"]["metadata"]["xsec"] == SAMPLES["llll"].xsec


def test_relative_paths_resolved_and_defaults(tmp_path):
    fileset = load_fileset(write(tmp_path, GOOD))
    assert list(fileset["sig"]["files"]) == [str(tmp_path / "sig.root")]
    assert fileset["data"]["files"] == {str(tmp_path / "data.root"): "mini"}
    assert fileset["sig"]["metadata"]["red_eff"] == 1.0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["sig"]["metadata"].update(role="higgs"), "dataset 'sig': unknown role 'higgs'"),
        (lambda f: f["sig"]["metadata"].pop("xsec"), "dataset 'sig': simulation needs 'xsec'"),
        (lambda f: f["sig"]["metadata"].pop("sumw"), "dataset 'sig': simulation needs 'sumw'"),
        (lambda f: f["sig"]["metadata"].update(sumw=-3), "dataset 'sig': 'sumw' must be a positive number"),
        (lambda f: f["sig"].pop("metadata"), "dataset 'sig': no 'metadata' object"),
        (lambda f: f["sig"].update(files={}), "dataset 'sig': has no files"),
        (lambda f: f["sig"].pop("files"), "dataset 'sig': has no files"),
        (lambda f: f["data"].update(files=["sig.root"]), "file '"),
        # impossible or unknown entries (issue 11)
        (lambda f: f["sig"].update(filez=["x.root"]), "dataset 'sig': unknown key(s) 'filez'"),
        (lambda f: f["sig"]["metadata"].update(red_eff=1.5), "'red_eff' must be a positive number and at most 1"),
        (lambda f: f["sig"]["metadata"].update(xsec=1e308), "'xsec' must be a positive number and at most 1e+11"),
        (lambda f: f["sig"]["metadata"].update(sumw=0), "'sumw' must be a positive number"),
        (lambda f: f["sig"]["metadata"].update(sumw=True), "'sumw' must be a positive number"),
        (lambda f: f["sig"]["metadata"].update(dsid=-1), "'dsid' must be a non-negative integer"),
        (lambda f: f["sig"]["metadata"].update(synthetic="yes"), "'synthetic' must be true or false"),
        (lambda f: f["data"]["metadata"].update(truth={"s_s": 1.0}), "'truth' must be"),
        (lambda f: f["data"]["metadata"].update(truth={"s_s": -1.0, "s_b": 1.0}), "'truth' must be"),
        (lambda f: f["data"].update(files={"data.root": "mïni"}), "tree name 'mïni' is not printable ASCII"),
        (lambda f: f["data"].update(files=["data.root:mini"]), 'give the tree as the value ({"data.root": "mini"})'),
        (lambda f: f["data"].update(files=["a\nb.root"]), "is not a path or URL"),
        (lambda f: f["data"].update(files=["file://elsewhere/d.root"]), "a file:// URL on another host"),
    ],
)
def test_bad_filesets_name_dataset_and_problem(tmp_path, mutate, message):
    content = json.loads(json.dumps(GOOD))
    mutate(content)
    with pytest.raises(FilesetError, match=r"fileset\.json: ") as err:
        load_fileset(write(tmp_path, content))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_unreadable_inputs(tmp_path):
    with pytest.raises(FilesetError, match=r"not valid JSON: .* line 1"):
        load_fileset(write(tmp_path, "{not json"))
    with pytest.raises(FilesetError, match="cannot read fileset"):
        load_fileset(tmp_path / "missing.json")
    with pytest.raises(FilesetError, match="non-empty JSON object"):
        validate_fileset([])


def test_a_fileset_that_never_ends_or_nests_without_end_is_one_line(tmp_path, monkeypatch):
    # /dev/zero was read whole: the command ate the machine's 24 GB and was killed by the kernel
    monkeypatch.setattr("analysis.errors.MAX_TEXT_BYTES", 2**20)
    with pytest.raises(FilesetError, match=r"^/dev/zero: cannot read fileset: longer than 1 MB: not a file hzz4l"):
        load_fileset("/dev/zero")
    # a RecursionError escaped json with its traceback
    with pytest.raises(FilesetError, match=r"fileset.json: not a fileset: nested too deeply$"):
        load_fileset(write(tmp_path, '{"a": ' * 100_000 + "1" + "}" * 100_000))


def test_a_fileset_of_any_depth_is_checked_without_running_out_of_stack():
    # the check for repeated keys recursed: a fileset built in Python (or parsed just under json's own limit) deeper
    # than the interpreter's stack escaped validate_fileset as a RecursionError
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    fileset = {"x": {"files": ["/d/a.root"], "metadata": {"role": "data", "deep": deep}}}
    with pytest.warns(HZZ4lWarning, match="deep"):
        assert validate_fileset(fileset)["x"]["metadata"]["deep"] is deep


# ------------------------------------------------------------------------------------------ strictness (issue 11)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # JSON keeps the last of a repeated key: a second "data" would silently replace the first
        (
            '{"data": {"files": ["a.root"], "metadata": {"role": "data"}}, "data": {"files": ["b.root"], '
            '"metadata": {"role": "data"}}}',
            "dataset 'data' is defined twice",
        ),
        (
            '{"s": {"files": ["a.root"], "metadata": {"role": "signal", "xsec": 1.0, "xsec": 2.0, "sumw": 1.0}}}',
            "the key 'xsec' appears twice in 's.metadata'",
        ),
        (
            '{"s": {"files": {"a.root": "mini", "a.root": "other"}, "metadata": {"role": "data"}}}',
            "the key 'a.root' appears twice in 's.files'",
        ),
        (
            '{"s": {"files": ["a.root"], "metadata": {"role": "signal", "xsec": NaN, "sumw": 1.0}}}',
            "NaN is not a JSON number",
        ),
        (
            '{"s": {"files": ["a.root"], "metadata": {"role": "signal", "xsec": Infinity, "sumw": 1.0}}}',
            "Infinity is not a JSON number",
        ),
        (
            '{"s": {"files": ["a.root"], "metadata": {"role": "signal", "xsec": 1e999, "sumw": 1.0}}}',
            "'xsec' must be a positive number and at most 1e+11, got inf",
        ),
    ],
)
def test_json_that_would_be_read_silently_wrong_is_refused(tmp_path, text, message):
    with pytest.raises(FilesetError) as err:
        load_fileset(write(tmp_path, text))
    assert message in str(err.value) and str(err.value).startswith(str(tmp_path / "fileset.json"))


@pytest.mark.parametrize("name", ["", "a;1", "../../x", "m4l/x", "Zée", " data", "x" * 101, "-x", "a b", "<b>"])
def test_dataset_names_that_cannot_be_root_keys_are_refused(name):
    with pytest.raises(FilesetError, match="is not 1-100 ASCII letters"):
        validate_fileset({name: {"files": ["a.root"], "metadata": {"role": "data"}}})


def test_unknown_metadata_is_passed_on_with_a_warning_naming_it(tmp_path):
    from analysis.fileset import FilesetWarning

    content = json.loads(json.dumps(GOOD))
    content["data"]["metadata"].update(xsec_pb=3.0, comment="run 2")
    with pytest.warns(FilesetWarning, match=r"dataset 'data': unknown metadata key\(s\) 'xsec_pb', 'comment'"):
        fileset = load_fileset(write(tmp_path, content))
    assert fileset["data"]["metadata"]["xsec_pb"] == 3.0


def test_the_metadata_the_project_writes_is_accepted_silently(tmp_path):
    content = json.loads(json.dumps(GOOD))
    content["sig"]["metadata"].update(dsid=345060, red_eff=0.5, synthetic=True)
    content["data"]["metadata"].update(synthetic=True, truth={"s_s": 1.0, "s_b": 1.2}, generator={"seed": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fileset = load_fileset(write(tmp_path, content))
    assert fileset["data"]["metadata"]["truth"] == {"s_s": 1.0, "s_b": 1.2}


@pytest.fixture
def spellings(tmp_path):
    """One file and a symbolic link to its folder; returns a function giving the file under a spelling."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.root").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "d")
    forms = {
        "plain": f"{tmp_path}/d/f.root",
        "dot": f"{tmp_path}/d/./f.root",
        "double slash": f"{tmp_path}/d//f.root",
        "dot-dot": f"{tmp_path}/x/../d/f.root",
        "symlinked folder": f"{tmp_path}/link/f.root",
        "file URL": f"file://{tmp_path}/d/f.root",
        "relative": "d/f.root",
    }
    (tmp_path / "x").mkdir()
    return forms


@pytest.mark.parametrize("spelling", ["dot", "double slash", "dot-dot", "symlinked folder", "file URL", "relative"])
@pytest.mark.parametrize("datasets", ["one dataset", "two datasets"])
def test_one_file_under_two_spellings_is_refused_naming_both(tmp_path, spellings, spelling, datasets):
    first, second = spellings["plain"], spellings[spelling]
    if datasets == "one dataset":
        content = {"a": {"files": [first, second], "metadata": {"role": "data"}}}
    else:
        content = {
            "a": {"files": [first], "metadata": {"role": "data"}},
            "b": {"files": [second], "metadata": {"role": "data"}},
        }
    with pytest.raises(FilesetError) as err:
        load_fileset(write(tmp_path, content))
    message = str(err.value)
    assert f"file '{second}' is the same file as '{first}' of dataset 'a'" in message, message
    assert "counted twice" in message


def test_a_file_url_is_read_as_its_path(tmp_path):
    (tmp_path / "a b.root").write_bytes(b"")
    fileset = validate_fileset({"x": {"files": [(tmp_path / "a b.root").as_uri()], "metadata": {"role": "data"}}})
    assert list(fileset["x"]["files"]) == [str(tmp_path / "a b.root")]
