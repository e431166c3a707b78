"""The plotting workers' warm-up (analysis.render): a throwaway figure made while a worker waits, which writes no
file, leaves the real figures as they are, and is skipped once a figure is asked for."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.testing.compare import compare_images

from analysis import render
from tests.figures import BASELINE

#: In a fresh process, in an empty folder: the warm-up (counting the mathtext it parses and the files it leaves),
#: then the m4l figure of the demo (tests/baseline/m4l_demo.png), counting what it parses in turn.
WORKER = """
import json, multiprocessing, os, sys
from matplotlib import _mathtext
from analysis import render, style
from analysis.plots import plot_stack
from tests import figures

parsed = []
parse = _mathtext.Parser.parse
_mathtext.Parser.parse = lambda self, s, *a: parsed.append(s) or parse(self, s, *a)
render._warm_up(render.WARM_UP, multiprocessing.get_context("fork").Event())
warm_up, files = len(parsed), os.listdir(".")
style.save(plot_stack(figures.m4l(), figures.ROLES, 10.0, synthetic=True), "m4l_demo", ("png",))
print(json.dumps({"warm_up": warm_up, "files": files, "figure": parsed[warm_up:]}))
"""


@pytest.mark.slow  # an image comparison, in a fresh process
def test_warm_up_writes_nothing_and_leaves_the_figures_as_they_are(tmp_path):
    root = Path(__file__).parents[2]
    env = {"PYTHONPATH": str(root), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", WORKER], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["files"] == []  # nothing written by the warm-up
    # the legend entries and the luminosity were parsed by the warm-up; the x title is laid out only when a figure is
    # saved, which the warm-up does not
    assert seen["warm_up"] > 0 and seen["figure"] == [r"$m_{4\ell}$ [GeV]"]
    assert compare_images(str(BASELINE / "m4l_demo.png"), str(tmp_path / "m4l_demo.png"), tol=0) is None


def explode() -> None:
    raise AssertionError("the warm-up drew after a figure was asked for")


def test_no_warm_up_once_a_figure_is_asked_for():
    asked = multiprocessing.get_context("fork").Event()
    with pytest.raises(AssertionError, match="the warm-up drew"):
        render._warm_up("tests.analysis.test_render:explode", asked)
    asked.set()
    render._warm_up("tests.analysis.test_render:explode", asked)  # not drawn
