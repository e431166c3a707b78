"""Shared fixtures: small demo samples, hand-built events written to real ROOT files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from analysis.demo import generate_demo
from tests.helpers import SCALE_FACTORS


@pytest.fixture(scope="session")
def demo_fileset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo (5% of the default simulated events), shared by the whole session."""
    return generate_demo(tmp_path_factory.mktemp("demo") / "samples", scale=0.05, seed=7)


@pytest.fixture
def write_events(tmp_path: Path) -> Callable[[list[dict[str, Any]]], Path]:
    """Write hand-built events to a real ROOT file (tree ``mini``) and return its path."""
    counter = iter(range(10**6))

    def write(events: list[dict[str, Any]]) -> Path:
        path = tmp_path / f"hand{next(counter)}.root"
        fields = ("pt", "eta", "phi", "E", "charge", "type", "ptcone30", "etcone20")
        dtypes = {"charge": "i4", "type": "u4"}
        counts = [len(ev["leptons"]) for ev in events]
        lep = ak.zip(
            {
                f: ak.unflatten(
                    np.array([lp[f] for ev in events for lp in ev["leptons"]], dtype=dtypes.get(f, "f4")),
                    np.array(counts, dtype=np.int64),
                )
                for f in fields
            }
        )
        n = len(events)
        columns: dict[str, Any] = {
            "trigE": np.array([ev["trigE"] for ev in events], dtype=bool),
            "trigM": np.array([ev["trigM"] for ev in events], dtype=bool),
            "mcWeight": np.array([ev["mcWeight"] for ev in events], dtype="f4"),
            **{sf: np.array([ev.get(sf, 1.0) for ev in events], dtype="f4") for sf in SCALE_FACTORS},
            "lep": lep,
        }
        with uproot.recreate(path) as f:
            types = {k: v.dtype for k, v in columns.items() if k != "lep"} | {"lep": lep.type.content}
            tree = f.mktree(
                "mini",
                types,
                counter_name=lambda name: f"{name}_n",
                field_name=lambda outer, inner: f"{outer}_{inner}",
            )
            if n:
                tree.extend(columns)
        return path

    return write
