"""``summary.json``, the record of a run: one typed definition, written by ``hzz4l run`` and read by every reader.

:class:`Summary` is what :func:`analysis.outputs.build_summary` makes and ``summary.json`` holds (with
``yield`` for :attr:`DatasetSummary.yield_`); :func:`read_summary` gives it back, checked. ``hzz4l fit`` needs only
the roles and the luminosity (:class:`Roles`), so that a ``summary.json`` written by another tool will do.
:data:`SCHEMA_VERSION` changes when a key changes meaning or goes; a reader refuses a version it does not know.

Example:
    >>> summary = Summary.model_validate_json(EXAMPLE)
    >>> summary.datasets["data"].selected, summary.mass_bins.nbins, summary.schema_version
    (2, 34, 1)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from analysis.errors import ResultsError, first_error, read_json
from analysis.fileset import DATASET_NAME

__all__ = [
    "SCHEMA_VERSION",
    "Bins",
    "DatasetSummary",
    "Metrics",
    "ResultsError",
    "Roles",
    "Skipped",
    "Step",
    "Summary",
    "first_error",
    "read_json",
    "read_summary",
]

#: The layout of ``summary.json``: 1 is the first with a version.
SCHEMA_VERSION = 1

Finite = Annotated[float, Field(allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
Name = Annotated[str, Field(pattern=DATASET_NAME.pattern)]
Role = Literal["data", "signal", "background"]
Scalar = bool | int | float | str | None


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class Step(_Strict):
    """Events left after one cut: raw, and weighted."""

    events: Count
    weighted: Finite


class DatasetSummary(_Strict):
    """One dataset of a run: its role, events read, events selected, weighted yield (all channels, and per
    channel) and cutflow (cut name to :class:`Step`, in order)."""

    role: Role
    events: Count
    selected: Count
    yield_: Finite = Field(alias="yield")
    yield_by_channel: dict[str, Finite] = Field(default_factory=dict)
    cutflow: dict[str, Step]


class Bins(_Strict):
    """The m4l binning, in GeV."""

    nbins: Annotated[int, Field(ge=1)]
    low: Finite
    high: Finite
    unit: Literal["GeV"] = "GeV"


class Metrics(_Strict):
    """How the run went: events read, wall time (s), rate, bytes read, time of the file checks and of processing."""

    events: Count
    wall_s: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    events_per_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    bytes_read: Count = 0
    preflight_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    process_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0


class Skipped(_Strict):
    """A file left out of the run, whole or in part (``--skip-bad-files``): its dataset, path, why, and its events
    that were not processed (``None``: it could not be read to count them)."""

    dataset: str
    path: str
    reason: str
    events: Count | None


class Summary(_Strict):
    """``summary.json``: the run's configuration, provenance, per-dataset results, losses and metrics."""

    schema_version: Literal[1] = 1  # SCHEMA_VERSION
    run_id: str | None = None
    source: str = "ATLAS Open Data"
    synthetic: bool = False
    truth: dict[str, Finite] | None = None
    missing_samples: list[str] = Field(default_factory=list)
    lumi_fb: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    preset: str
    selection: dict[str, Scalar | list[Scalar]]
    mass_bins: Bins
    executor: str
    fileset: str | None
    created: str
    datasets: dict[Name, DatasetSummary]
    skipped_files: list[Skipped] = Field(default_factory=list)
    lost_events: dict[str, Count] = Field(default_factory=dict)
    metrics: Metrics
    versions: dict[str, str | None] = Field(default_factory=dict)

    def to_json(self) -> str:
        """The text of ``summary.json``."""
        return self.model_dump_json(by_alias=True, indent=2) + "\n"


class _RoleOnly(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    role: Role


class Roles(BaseModel):
    """What ``hzz4l fit`` reads from a ``summary.json`` (which any tool may write): the roles and the luminosity, and
    whether the run is the synthetic demo (with its truth)."""

    model_config = ConfigDict(strict=True, extra="allow")
    datasets: Annotated[dict[Name, _RoleOnly], Field(min_length=1)]
    lumi_fb: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 10.0
    synthetic: bool = False
    truth: dict[str, Finite] | None = None

    @property
    def roles(self) -> dict[str, str]:
        """``{dataset: role}``."""
        return {name: entry.role for name, entry in self.datasets.items()}


def read_summary(results: str | os.PathLike[str]) -> Summary:
    """``summary.json`` of a results folder, checked to hold everything a reader of a run needs.

    Raises:
        ResultsError: missing, truncated, not JSON, of a schema version this hzz4l does not know, or a value missing
            or of the wrong type (named).
    """
    return read_json(Path(results) / "summary.json", Summary, "the run summary")


#: A small but complete summary, for the examples.
EXAMPLE = json.dumps(
    {
        "schema_version": 1,
        "lumi_fb": 10.0,
        "preset": "default",
        "selection": {"lead_pt": 20.0},
        "mass_bins": {"nbins": 34, "low": 80.0, "high": 250.0},
        "executor": "iterative",
        "fileset": None,
        "created": "2026-11-26T00:00:00+00:00",
        "datasets": {
            "data": {
                "role": "data",
                "events": 9,
                "selected": 2,
                "yield": 2.0,
                "cutflow": {"all": {"events": 9, "weighted": 9.0}},
            }
        },
        "metrics": {"events": 9, "wall_s": 0.5},
    }
)
