"""``fit.json``, the record of a fit: one typed definition, written by ``hzz4l fit`` and read by every reader.

:class:`FitDocument` is what :meth:`fitting.analysis.FitReport.document` makes and ``fit.json`` holds after a fit
(with ``s_s,s_b`` for :attr:`Fits.both`), composed of small parts: the :class:`Prefit` comparison, the :class:`Fits`
(:class:`Fit1D` of each parameter alone, the :class:`Fit2D` of both with its :class:`Interval` s and
:class:`Contour` s), the :class:`Significance`, the :class:`GoodnessOfFit`, the :class:`Coverage` study and, with
``--systematics``, the :class:`Systematics`. :class:`FailedFit` is what ``fit.json`` holds when the fit of the data did
not converge. :func:`read_fit` gives either back, checked: a bad, old or foreign document is one
:class:`~analysis.errors.ResultsError` line naming the file.

Strict JSON: no ``NaN`` or ``Infinity``. The few values that may not exist (an infinite significance, the covariance
of a best fit on the physical boundary, a p-value without degrees of freedom, a fraction of no toys) are ``null``, and
``nulls`` maps the dotted path of each to the reason; every other value must be there and finite.
:data:`SCHEMA_VERSION` changes when a key changes meaning or goes; a reader refuses a version it does not know.
``docs/fit.schema.json`` is the JSON schema of the file (``python -m fitting.document`` prints it).

Example:
    >>> document = report.document()
    >>> document.status, document.fits.both.s_s.value == report.fit_2d.s_s.value
    ('ok', True)
    >>> _ = Path("fit.json").write_text(document.to_json())
    >>> read_fit("fit.json") == document
    True
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analysis.errors import parse_json, read_text
from fitting.statistics import Statistic

__all__ = [
    "SCHEMA_VERSION",
    "Contour",
    "Coverage",
    "Ends",
    "FailedFit",
    "Fit1D",
    "Fit2D",
    "FitDocument",
    "Fits",
    "GoodnessOfFit",
    "Interval",
    "Method",
    "Nominal",
    "Prefit",
    "Significance",
    "Systematics",
    "Yields",
    "json_schema",
    "read_fit",
]

#: The layout of ``fit.json``: 2 added the boundary flags, the significance definitions and ``nulls``.
SCHEMA_VERSION = 2
#: How ``analyse`` fits: minimising, or the tutorial's grids and Gaussian toys.
Method = Literal["profile", "tutorial"]
ToyKind = Literal["poisson", "gaussian"]

Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True, frozen=True)


class Ends(_Strict):
    """Whether each end of an interval is where the physical region ends, before the statistic reached its level
    (a one-sided interval on that side)."""

    low: bool
    high: bool


class Interval(_Strict):
    """A best value and the positive distances to the ends of its Delta chi^2 = 1 interval."""

    value: Finite
    err_low: Positive
    err_high: Positive
    at_boundary: Ends


class Fit1D(Interval):
    """A one-parameter fit, the other parameter fixed at 1; ``best_at_boundary``: the best value lies on the
    physical boundary."""

    best_at_boundary: bool
    chi2: Finite
    ndf: Count


class Contour(_Strict):
    """Points ``[s_s, s_b]`` on a Delta chi^2 contour; ``at_boundary``: the point is where the physical region cuts
    the region first."""

    points: list[tuple[Finite, Finite]]
    at_boundary: list[bool]

    @model_validator(mode="after")
    def _same_length(self) -> Self:
        if len(self.points) != len(self.at_boundary):
            raise ValueError(f"{len(self.points)} points but {len(self.at_boundary)} at_boundary flags")
        return self


class Fit2D(_Strict):
    """The fit of both parameters: profile intervals, goodness of fit, correlation and covariance (``null`` where
    the best fit lies on the physical boundary or the curvature there is not positive), and the contours by their
    Delta chi^2 (``"2.30"``, ``"6.18"``)."""

    s_s: Interval
    s_b: Interval
    best_at_boundary: bool
    chi2: Finite
    ndf: Count
    chi2_ndf: Finite | None
    p_value: Probability | None
    correlation: Annotated[float, Field(ge=-1, le=1)] | None
    covariance: tuple[tuple[Finite, Finite], tuple[Finite, Finite]] | None
    contours: dict[str, Contour]


class Fits(_Strict):
    """Each parameter alone, and both (``s_s,s_b`` in the file)."""

    s_s: Fit1D
    s_b: Fit1D
    both: Fit2D = Field(validation_alias="s_s,s_b", serialization_alias="s_s,s_b")


class Yields(_Strict):
    """Events in the fitted bins: the data, and the signal and background templates."""

    data: Positive
    signal: Positive
    background: Positive


class Prefit(_Strict):
    """The statistic at s_s = s_b = 1 against the data."""

    chi2: Positive
    ndf: Annotated[int, Field(ge=1)]
    chi2_ndf: Positive
    p_value: Probability


class Significance(_Strict):
    """The discovery significance of the Poisson likelihood ratio (``definition`` says which); ``null`` where it is
    infinite."""

    definition: str
    likelihood: str
    observed: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None
    observed_signed: Finite | None
    q0: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None
    s_s_hat: Finite
    expected: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None
    expected_sm: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None
    s_b_at_s_s_1: Finite


class GoodnessOfFit(_Strict):
    """The data's post-fit statistic against toys drawn at the best fit."""

    chi2: Finite
    ndf: Count
    p_value: Probability | None
    p_value_toys: Probability | None
    toys: Count
    failed_toys: Count
    toy_kind: ToyKind
    refit: bool


class Nominal(_Strict):
    """The coverage of Delta chi^2 <= ``d``: nominal (the chi^2 cdf with 2 dof) and measured, with its binomial
    error."""

    d: Positive
    nominal: Probability
    measured: Probability | None
    error: Positive | None
    toys: Count


class Coverage(_Strict):
    """The fraction of toys with Delta chi^2 at the truth <= d, for each ``d``, against the chi^2 cdf."""

    d: list[Positive]
    fraction: list[Probability | None]
    error: list[Positive | None]
    chi2_cdf: list[Probability]
    toys: Count
    same_toys_for_every_d: bool
    failed_toys: Count
    toy_kind: ToyKind
    nominal: list[Nominal]

    @model_validator(mode="after")
    def _same_length(self) -> Self:
        lengths = {len(values) for values in (self.d, self.fraction, self.error, self.chi2_cdf)}
        if len(lengths) > 1:
            raise ValueError("d, fraction, error and chi2_cdf differ in length")
        return self


class Uncertainty(_Strict):
    """An asymmetric uncertainty: positive distances down and up."""

    down: Positive
    up: Positive


class SignalStrength(_Strict):
    """s_s of the fit with nuisance parameters: total, statistical and systematic uncertainties."""

    value: Finite
    total: Uncertainty
    stat: Uncertainty
    syst: Uncertainty
    at_boundary: bool


class BackgroundScale(_Strict):
    """s_b of the fit with nuisance parameters, with its (symmetric) error."""

    value: Finite
    error: Positive


class Pull(_Strict):
    """A nuisance parameter's (best fit - prior) / prior width, and its post-fit width over the prior one."""

    name: str
    pull: Finite
    constraint: Positive


class Impact(_Strict):
    """The shift of s_s when a nuisance parameter moves by +-1 pre-fit or post-fit width."""

    name: str
    prefit_up: Finite
    prefit_down: Finite
    postfit_up: Finite
    postfit_down: Finite


class Normalisation(_Strict):
    """A normalisation uncertainty of the model: relative size, on which process groups (``null``: every
    simulated one), and where the number comes from."""

    size: Positive
    samples: list[str] | None
    source: str


class Systematics(_Strict):
    """The fit with nuisance parameters (``hzz4l fit --systematics``)."""

    s_s: SignalStrength
    s_b: BackgroundScale
    pulls: list[Pull]
    impacts: list[Impact]
    twice_nll: Finite
    normalisations: dict[str, Normalisation]
    per_channel: bool


class _FitFile(_Strict):
    """What every ``fit.json`` says: its layout, whether the fit succeeded, and what was fitted how."""

    schema_version: Literal[2] = 2  # SCHEMA_VERSION
    status: Literal["ok", "failed"]
    statistic: Statistic
    method: Method
    mc_stat: bool

    def to_json(self) -> str:
        """The text of ``fit.json``; an optional part that is absent (``systematics``) is left out."""
        fields = type(self).model_fields
        absent = {name for name, field in fields.items() if field.default is None and getattr(self, name) is None}
        return self.model_dump_json(by_alias=True, indent=2, exclude=absent) + "\n"


class FitDocument(_FitFile):
    """``fit.json`` of a fit: what was fitted how, and every result (see the module)."""

    status: Literal["ok"] = "ok"
    range: tuple[Finite, Finite]
    nbins: Annotated[int, Field(ge=1)]
    yields: Yields
    prefit: Prefit
    fits: Fits
    significance: Significance
    gof: GoodnessOfFit
    coverage: Coverage
    seed: int
    nulls: dict[str, str] = Field(default_factory=dict)
    systematics: Systematics | None = None

    @model_validator(mode="after")
    def _every_null_explained(self) -> Self:
        found = _null_paths(self.model_dump(by_alias=True, exclude={"nulls", "systematics"}))
        unexplained = next((path for path in found if path not in self.nulls), None)
        if unexplained is not None:
            raise ValueError(f"{unexplained} is null without its reason in nulls")
        stray = next((path for path in self.nulls if path not in found), None)
        if stray is not None:
            raise ValueError(f"nulls names {stray}, which is not null")
        return self


class FailedFit(_FitFile):
    """``fit.json`` when the fit of the data did not converge: the reason, and what was fitted how; no result."""

    status: Literal["failed"] = "failed"
    error: str


class _Header(BaseModel):
    """What tells the two documents apart."""

    model_config = ConfigDict(strict=True, extra="allow")
    schema_version: Literal[2]
    status: Literal["ok", "failed"]


def _null_paths(tree: Any, prefix: str = "") -> list[str]:
    """The dotted paths of the ``None`` values in nested dicts and lists."""
    if isinstance(tree, dict):
        return [p for key, value in tree.items() for p in _null_paths(value, f"{prefix}{key}.")]
    if isinstance(tree, list | tuple):
        return [p for i, value in enumerate(tree) for p in _null_paths(value, f"{prefix}{i}.")]
    return [prefix[:-1]] if tree is None else []


def read_fit(path: str | os.PathLike[str]) -> FitDocument | FailedFit:
    """``fit.json`` at ``path``, checked: a :class:`FitDocument`, or the :class:`FailedFit` of a fit that did not
    converge.

    Raises:
        ResultsError: missing, truncated, not JSON, of a schema version this hzz4l does not know, not a fit, or a
            value missing, extra, null without a reason or of the wrong type (the first named).
    """
    path = Path(path)
    what = "the fit results"
    text = read_text(path, what)
    if parse_json(path, text, _Header, what).status == "failed":
        return parse_json(path, text, FailedFit, what)
    return parse_json(path, text, FitDocument, what)


def json_schema() -> dict[str, Any]:
    """The JSON schema of ``fit.json``: a :class:`FitDocument` or a :class:`FailedFit` (``docs/fit.schema.json``).

    Example:
        >>> schema = json_schema()
        >>> schema["$defs"]["FitDocument"]["required"][:2], sorted(schema["$defs"]["Fits"]["properties"])
        (['schema_version', 'status'], ['s_b', 's_s', 's_s,s_b'])
    """
    definitions: dict[str, Any] = {}
    for model in (FitDocument, FailedFit):
        part = model.model_json_schema(by_alias=True, ref_template="#/$defs/{model}")
        definitions |= part.pop("$defs", {})
        part["required"] = ["schema_version", "status", *part["required"]]  # what tells a fit.json (defaults here)
        definitions[model.__name__] = part
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"hzz4l fit.json, schema_version {SCHEMA_VERSION}",
        "oneOf": [{"$ref": "#/$defs/FitDocument"}, {"$ref": "#/$defs/FailedFit"}],
        "$defs": definitions,
    }


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
