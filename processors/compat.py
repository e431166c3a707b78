"""Every use of coffea's and awkward's internals in one place, each checked by ``tests/processors/test_compat.py``.

The public APIs of coffea and awkward do not offer what hzz4l needs in a few places: the flat columns of a
jagged collection of records (read without building jagged arrays), and, in :mod:`analysis.runner`, coffea's
``Runner`` hooks and work items. They are named here, so that an upgrade that changes them fails the compat
tests, not a physics result.

Example:
    >>> import awkward as ak
    >>> offsets, columns = flat_columns(ak.Array([[{"pt": 1.0}, {"pt": 2.0}], [], [{"pt": 3.0}]]), ("pt",))
    >>> offsets.tolist(), columns["pt"].tolist()
    ([0, 2, 2, 3], [1.0, 2.0, 3.0])
"""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import numpy as np

__all__ = ["flat_columns"]


def flat_columns(collection: ak.Array, fields: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The offsets ``(events + 1,)`` of a jagged collection of records and the flat column of each of ``fields``.

    Event ``i``'s objects are ``column[offsets[i]:offsets[i + 1]]``; ``offsets[0]`` need not be 0 (a slice of
    a larger buffer). A collection that is not plain lists of records (e.g. an indexed one) is packed first.
    """
    layout = ak.to_layout(collection)
    if not (isinstance(layout, ak.contents.ListOffsetArray) and isinstance(layout.content, ak.contents.RecordArray)):
        layout = ak.to_layout(ak.to_packed(collection))
    offsets = np.asarray(layout.offsets.data)
    return offsets, {field: np.asarray(layout.content.content(field).data) for field in fields}
