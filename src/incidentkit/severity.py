"""Severity levels and classification.

SEV1 is the most severe. Compare severities with :meth:`Severity.is_worse_than`
or by :attr:`Severity.rank` (1 = most severe); the enum itself does not define
``<`` so nobody has to remember which way it points.
"""

from __future__ import annotations

import enum

__all__ = ["Severity"]


class Severity(enum.StrEnum):
    """An incident's severity, ``SEV1`` (critical) to ``SEV4`` (low)."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def rank(self) -> int:
        """1 for SEV1 (most severe) … 4 for SEV4."""
        return int(self.value[3:])

    def is_worse_than(self, other: Severity) -> bool:
        """True when ``self`` is more severe than ``other`` (SEV1 is worse than SEV2)."""
        return self.rank < other.rank

    def is_at_least(self, other: Severity) -> bool:
        """True when ``self`` is as severe as ``other`` or worse."""
        return self.rank <= other.rank

    @classmethod
    def parse(cls, value: str | int | Severity) -> Severity:
        """Accept ``Severity.SEV1``, ``"SEV1"``, ``"sev1"``, ``"1"`` or ``1``."""
        from incidentkit.errors import ValidationError

        if isinstance(value, Severity):
            return value
        text = str(value).strip().upper()
        if text.isdigit():
            text = f"SEV{text}"
        try:
            return cls(text)
        except ValueError:
            raise ValidationError(
                "severity", f"unknown severity {value!r} (known: SEV1, SEV2, SEV3, SEV4)"
            ) from None
