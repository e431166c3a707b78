"""Numbers as a physicist writes them: a value with its uncertainties rounded by the Particle Data Group's rule.

The uncertainty decides the precision: its three leading digits from 100 to 354 keep two significant digits, from 355
to 949 one, from 950 up are rounded to 1000 and keep two; the value is rounded to the same decimal place (PDG,
"Introduction", section 5.3). With asymmetric uncertainties the smaller one decides. No module of the plots or the
report rounds on its own.

Example:
    >>> measurement(0.0795, 0.3213, 0.4104)
    ('0.08', '0.32', '0.41')
    >>> measurement(1.3839, 0.0833, 0.0868)
    ('1.38', '0.08', '0.09')
    >>> measurement(272.0, 16.49)
    ('272', '16')
    >>> measurement(7.442, 0.0967)
    ('7.44', '0.10')
    >>> measurement(1234.0, 47.0)
    ('1230', '50')
"""

from __future__ import annotations

import math

__all__ = ["decimals", "measurement"]


def decimals(error: float) -> int:
    """Decimal places of a value whose uncertainty is ``error`` (negative: tens, hundreds), by the PDG rule;
    3 for an uncertainty that is zero or not finite.

    Example:
        >>> decimals(0.0354), decimals(0.0355), decimals(0.0951), decimals(16.49), decimals(0.0)
        (3, 2, 2, 0, 3)
    """
    if not (math.isfinite(error) and error > 0):
        return 3
    exponent = math.floor(math.log10(error))
    leading = round(error / 10.0 ** (exponent - 2))  # the three leading digits, 100 ... 1000
    if leading >= 1000:  # 999.6 rounds to 1000: one order up
        exponent, leading = exponent + 1, 100
    figures = 2 if leading <= 354 or leading >= 950 else 1
    if leading >= 950:  # rounded up to 1000: two figures of the next order (0.0951 -> 0.10)
        exponent += 1
    return figures - 1 - exponent


def measurement(value: float, *errors: float) -> tuple[str, ...]:
    """``value`` and its ``errors`` as strings with the decimal places of :func:`decimals` of the smallest positive
    error; an error that is zero or not finite does not decide."""
    usable = [e for e in errors if math.isfinite(e) and e > 0]
    places = decimals(min(usable)) if usable else 3

    def text(x: float) -> str:
        if not math.isfinite(x):
            return str(x)
        return f"{x:.{places}f}" if places >= 0 else f"{round(x, places):.0f}"  # tens, hundreds: 1234 -> 1230

    return tuple(text(x) for x in (value, *errors))
