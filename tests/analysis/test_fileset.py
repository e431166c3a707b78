from __future__ import annotations

import json

import pytest

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
    with open("samples.json") as f:
        assert json.load(f) == real_fileset()
    fileset = load_fileset("samples.json")
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
