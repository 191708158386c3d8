"""Frozen dataclass instances made from fields already checked, without their ``__init__``.

A frozen dataclass's ``__init__`` assigns each field through
``object.__setattr__``, a slot-wrapper call a field: building the
:class:`~issuer.sources.SourceMetadata`, :class:`~issuer.record.CanonicalRecord`,
:class:`~issuer.identifiers.PithNumber` and :class:`~issuer.derive.Derivation`
of one snapshot line that way costs more than hashing its title. :func:`assemble`
gives the instance its whole ``__dict__`` at once instead. It is only for
classes whose ``__init__`` does nothing but assign (no ``__post_init__``, no
default factories, no validation: tests/unit/test_derive_fast.py pins both that
and that the instances equal the constructor's), and only where the caller
names every field, in order.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

_new = object.__new__
_setattr = object.__setattr__


def assemble(cls: type[T], fields: dict[str, Any]) -> T:
    """``cls(**fields)``, for a frozen dataclass whose ``__init__`` only assigns its fields."""
    obj = _new(cls)
    _setattr(obj, "__dict__", fields)
    return obj
