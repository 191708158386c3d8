"""Strict canonical JSON (spec §1): the bytes every hash and signature covers.

Output equals RFC 8785 (JCS) on the registry's domain: strings, integers in
±(2^53−1), booleans, null, arrays and objects with string keys. Anything
else (floats, NaN, big integers, lone surrogates, non-string keys) is refused
rather than rounded or coerced, because two registries that coerced
differently would mint different Pith numbers for the same paper.

Writing is done by orjson where it gives the same bytes (it escapes exactly as
JCS does and sorts keys by code point); objects whose keys would sort
differently by UTF-16 code units fall back to a small pure-Python encoder.
Reading (:func:`loads`) is for documents that will be verified: it also
refuses duplicate object keys, so no two parsers can see different documents.

Limits. Every document read or written stays within these, so hostile input
costs memory and time in proportion to its size and is refused with
:class:`CanonicalJSONError` (never ``RecursionError``, ``ValueError`` or
``MemoryError``):

- :data:`MAX_DOCUMENT_BYTES` (16 MiB) per document read, checked before parsing;
- :data:`MAX_DEPTH` (128) levels of nested arrays and objects;
- :data:`MAX_CONTAINER_ITEMS` (100,000) elements per array or members per object;
- integers within ±(2^53−1), so at most 16 digits: longer digit strings are
  refused before they are converted (CPython refuses to convert more than
  4,300 digits at all).

Fast path of :func:`loads`. Most documents read are canonical already (the
registry publishes its bundles as ``dumps`` output plus one newline), so
``loads`` first parses with the standard library's C scanner and no object
hook, writes the value back with orjson (sorted keys, the 53-bit integer
limit) and compares bytes with the input (less one trailing newline). Equal
bytes prove the input is canonical: no duplicate keys (the last value wins,
and the rewrite is shorter), no whitespace, no escape spelled another way,
no ``-0``. What equality does not prove is checked too, and any doubt sends
the document to the full strict parser, which alone produces the error
messages:

- floats: the scanner's float hook gives up at the first (``NaN`` and
  ``Infinity`` come back from the rewrite as ``null``, so the bytes differ);
- integers beyond ±(2^53−1): the rewrite refuses them (``OPT_STRICT_INTEGER``);
- invalid UTF-8, a byte-order mark, lone surrogates: the decode, the
  scanner or the rewrite refuses them;
- depth: more than :data:`MAX_DEPTH` nested containers. Counting every ``[``
  and ``{`` bounds it; past that bound, leaf containers are peeled off the
  bracket skeleton outside strings (at most ``_MAX_PEELED`` containers);
- container size: :data:`MAX_CONTAINER_ITEMS` commas or more (in strings too);
- key order: a byte that could start a character at or above U+E000, where
  UTF-16 order and orjson's may differ (as in :func:`dumps_parsed`);
- the scan: a document whose only non-ASCII characters are em dashes (those
  of signed notes, in bundles with log proofs) is scanned with them spelt as
  ``\u2014`` escapes, an ASCII text the scanner reads faster; the comparison
  is still with the bytes given, and they hold no byte of the key-order hazard;
- size: :data:`MAX_DOCUMENT_BYTES` is checked before either path.

Any exception on the fast path also means the full path: the fast path only
ever returns a value the full parser returns too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, NoReturn

import orjson

from issuer.errors import FormatError

MAX_SAFE_INTEGER = 2**53 - 1
#: Largest document :func:`loads` reads, in bytes (characters for ``str`` input).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: Deepest nesting of arrays and objects (orjson refuses to write beyond 255).
MAX_DEPTH = 128
#: Most elements in one array, or members in one object.
MAX_CONTAINER_ITEMS = 100_000
_MAX_INT_DIGITS = len(str(MAX_SAFE_INTEGER))
_SHOWN = 40  # characters of a refused value or key quoted in a message

_SORT = orjson.OPT_SORT_KEYS
_BMP_MAX = 0xFFFF
_PRIVATE_USE_START = 0xE000


class CanonicalJSONError(FormatError):
    """A value outside the canonical JSON domain, or a document that is not strict JSON."""


class _RefusalError(Exception):
    """Internal: carries a refusal up the tree, collecting the JSON path."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
        self.path: list[str] = []


def _shown(value: object) -> str:
    """``repr(value)``, cut short: a refusal names what it refused, not a 16 MiB string."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**_SHOWN else "<huge>"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be")


def _needs_utf16_sort(keys: Any) -> bool:
    """True when code-point order and UTF-16 order of ``keys`` differ.

    They differ only between a key character above U+FFFF (a surrogate pair,
    0xD800–0xDFFF in UTF-16) and one in U+E000–U+FFFF, so the common case is
    decided by ``isascii`` alone.
    """
    astral = bmp_high = False
    for key in keys:
        if key.isascii():
            continue
        for ch in key:
            code = ord(ch)
            if code > _BMP_MAX:
                astral = True
            elif code >= _PRIVATE_USE_START:
                bmp_high = True
    return astral and bmp_high


def _check_str(value: str) -> None:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise _RefusalError("lone surrogate in string (not valid Unicode text)") from e


def _check_leaf(value: Any, kind: type) -> None:
    """Check a value that is not a container (str, int, bool, None, or a refusal)."""
    if kind is str:
        _check_str(value)
    elif kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise _RefusalError(f"integer {_shown(value)} is outside +/-(2^53-1)")
    elif kind is float:
        raise _RefusalError(f"float {_shown(value)} is not allowed (use an integer or a string)")
    elif kind is not bool and value is not None:
        raise _RefusalError(f"{kind.__name__} is not a JSON value")


def _validate(value: Any) -> bool:
    """Check ``value`` is in the canonical domain; return True if UTF-16 key sorting matters.

    This walk runs before every write, so it is written for speed: leaves are
    checked inline (ASCII strings, the common case, cost one ``isascii``) and
    only containers recurse, counting their depth.
    """
    kind = type(value)
    if kind is dict:
        return _validate_dict(value, 1)
    if kind is list or kind is tuple:
        return _validate_list(value, 1)
    _check_leaf(value, kind)
    return False


def _check_container(value: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _RefusalError(f"nested more than {MAX_DEPTH} levels deep")
    if len(value) > MAX_CONTAINER_ITEMS:
        raise _RefusalError(f"{len(value)} items in one container (at most {MAX_CONTAINER_ITEMS})")


def _validate_dict(value: dict[Any, Any], depth: int) -> bool:
    _check_container(value, depth)
    hazard = False
    ascii_keys = True
    for key, item in value.items():
        try:
            if type(key) is not str:
                raise _RefusalError(f"object key {_shown(key)} is not a string")
            if not key.isascii():
                ascii_keys = False
                _check_str(key)
            kind = type(item)
            if kind is str:
                if not item.isascii():
                    _check_str(item)
            elif kind is dict:
                hazard |= _validate_dict(item, depth + 1)
            elif kind is list or kind is tuple:
                hazard |= _validate_list(item, depth + 1)
            else:
                _check_leaf(item, kind)
        except _RefusalError as r:
            r.path.append(
                f".{key}"
                if isinstance(key, str) and key.isidentifier() and len(key) <= _SHOWN
                else f"[{_shown(key)}]"
            )
            raise
    if ascii_keys:
        return hazard
    return hazard or _needs_utf16_sort(value.keys())


def _validate_list(value: list[Any] | tuple[Any, ...], depth: int) -> bool:
    _check_container(value, depth)
    hazard = False
    for index, item in enumerate(value):
        try:
            kind = type(item)
            if kind is str:
                if not item.isascii():
                    _check_str(item)
            elif kind is dict:
                hazard |= _validate_dict(item, depth + 1)
            elif kind is list or kind is tuple:
                hazard |= _validate_list(item, depth + 1)
            else:
                _check_leaf(item, kind)
        except _RefusalError as r:
            r.path.append(f"[{index}]")
            raise
    return hazard


def _raise(refusal: _RefusalError, doing: str) -> NoReturn:
    steps = refusal.path[::-1]
    if len(steps) > _SHOWN // 4:  # a deep path: its start and end say where
        steps = [*steps[:5], "...", *steps[-5:]]
    path = "$" + "".join(steps)
    raise CanonicalJSONError(f"{doing}: {path}: {refusal.what}") from refusal


def _encode_py(value: Any) -> str:
    """Pure-Python JCS encoder, used only when UTF-16 key order differs from code-point order."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: _utf16_key(kv[0]))
        body = ",".join(_encode_str(k) + ":" + _encode_py(v) for k, v in items)
        return "{" + body + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode_py(v) for v in value) + "]"
    if isinstance(value, str):
        return _encode_str(value)
    return json.dumps(value)  # int, bool, None: already validated


def _encode_str(value: str) -> str:
    # json.dumps with ensure_ascii=False escapes exactly as JCS does:
    # short escapes for \b \f \n \r \t \" \\, lowercase \u00xx for other controls.
    return json.dumps(value, ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Serialize ``value`` as canonical JSON bytes.

    Raises:
        CanonicalJSONError: if ``value`` holds anything outside the canonical
            domain; the message names the JSON path of the first offender.
    """
    try:
        hazard = _validate(value)
    except _RefusalError as r:
        _raise(r, "cannot write canonical JSON")
    except RecursionError as e:
        raise CanonicalJSONError(
            f"cannot write canonical JSON: nested more than {MAX_DEPTH} levels deep"
        ) from e
    if hazard:
        return _encode_py(value).encode("utf-8")
    return orjson.dumps(value, option=_SORT)


# The UTF-8 lead bytes of U+E000 and above. Searched for one at a time: a byte search
# runs at memory speed, a character class in a pattern at several ns a byte.
_KEY_HAZARD_LEADS = tuple(bytes([lead]) for lead in range(0xEE, 0xF5))


def _key_order_hazard(out: bytes) -> bool:
    """Whether ``out`` holds a byte that could start a character at or above U+E000."""
    return not out.isascii() and any(lead in out for lead in _KEY_HAZARD_LEADS)


def dumps_parsed(value: Any) -> bytes:
    """:func:`dumps` for a value already known to be in the canonical domain.

    That is: it came from :func:`loads`, or this toolkit built it from such
    values and typed fields. Skips the validation walk, the dominant cost of
    hashing parts of a large verified document or storing issued records.
    Falls back to :func:`dumps` whenever the output holds a byte that could
    start a character at or above U+E000, where UTF-16 key order might differ
    from orjson's.

    Raises:
        CanonicalJSONError: only on that fallback path.
    """
    try:
        out = orjson.dumps(value, option=_SORT | orjson.OPT_STRICT_INTEGER)
    except TypeError:
        return dumps(value)  # something not from loads(): let the strict path explain it
    if _key_order_hazard(out):
        return dumps(value)
    return out


def sha256_bytes(value: Any) -> bytes:
    """The 32 raw bytes of SHA-256 over ``dumps(value)``.

    Raises:
        CanonicalJSONError: as :func:`dumps`.
    """
    return hashlib.sha256(dumps(value)).digest()


def sha256_hex(value: Any) -> str:
    """Lowercase hex SHA-256 of ``dumps(value)``: the spec's ``sha256(x)``.

    Raises:
        CanonicalJSONError: as :func:`dumps`.
    """
    return hashlib.sha256(dumps(value)).hexdigest()


def duplicate_key(pairs: list[tuple[str, Any]]) -> str | None:
    """The first key that ``pairs`` (one JSON object, as parsed) holds twice, if any."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _RefusalError(f"duplicate object key {_shown(duplicate_key(pairs))}")
    return result


def _refuse_constant(name: str) -> NoReturn:
    raise _RefusalError(f"{name} is not allowed")


def _refuse_float(text: str) -> NoReturn:
    raise _RefusalError(f"number {text} is not an integer (floats are not allowed)")


def _parse_int(text: str) -> int:
    # Counted before int() runs: CPython refuses over 4,300 digits with a ValueError,
    # and converting a long digit string costs quadratic time.
    digits = len(text) - text.startswith("-")
    if digits > _MAX_INT_DIGITS:
        raise _RefusalError(f"a {digits}-digit integer is outside +/-(2^53-1)")
    return int(text)


_decoder = json.JSONDecoder(
    object_pairs_hook=_no_duplicates,
    parse_float=_refuse_float,
    parse_int=_parse_int,
    parse_constant=_refuse_constant,
)

Loader = Callable[[bytes | str], Any]


#: Private switch for the differential tests: False sends every document to the full parser.
_FAST = True
_FAST_OPTIONS = _SORT | orjson.OPT_STRICT_INTEGER
_DOUBT = object()  # the fast path's "ask the full parser"
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')
_LEAF_CONTAINER = re.compile(rb"\{\}|\[\]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_OPENERS = bytes(b for b in range(256) if b not in b"[{")
_MAX_PEELED = 4096  # more containers than this: the full parser measures the depth


def _outside_strings(doc: bytes) -> bytes:
    """The bytes of canonical ``doc`` that are not inside a string."""
    if b'\\"' not in doc:  # no escaped quote: every quote opens or closes a string
        return b"".join(doc.split(b'"')[::2])
    return _STRING.sub(b"", doc)


def _too_deep(doc: bytes) -> bool | None:
    """Whether canonical ``doc`` nests over :data:`MAX_DEPTH` deep (None: too many to tell).

    Counting every ``[`` and ``{``, in strings too, bounds the depth. Past that
    bound, each pass over the brackets outside strings removes every container
    that holds no container, so the depth is the number of passes that leave
    something.
    """
    if len(doc.translate(None, _NOT_OPENERS)) <= MAX_DEPTH:  # one pass, not two counts
        return False
    skeleton = _outside_strings(doc).translate(None, _NOT_BRACKETS)
    if len(skeleton) // 2 > _MAX_PEELED:
        return None
    for _ in range(MAX_DEPTH):
        skeleton = _LEAF_CONTAINER.sub(b"", skeleton)
        if not skeleton:
            return False
    return True


class _FastPathDoubtError(Exception):
    """Internal: the fast path met something only the full parser may judge."""


def _doubt(_: str) -> NoReturn:
    raise _FastPathDoubtError


# The C scanner of the standard library, with no hook on objects (so duplicate keys
# survive as the last value, which the byte comparison then catches) and a hook
# that gives up on any float. NaN and Infinity need none: orjson writes them as null.
_fast_decoder = json.JSONDecoder(parse_float=_doubt)


# A signed note's signature lines start with an em dash (U+2014), so every bundle with log
# proofs holds a few and no other non-ASCII character as often as not. Spelt as a JSON
# escape, the document is ASCII, which the scanner reads faster (its strings need no
# narrowing); the value is the same, and the comparison below is with ``doc`` as given.
_EM_DASH = "\u2014".encode()
_EM_DASH_LEAD = _EM_DASH[:1]


def _dashes_escaped(doc: bytes) -> bytes:
    r"""``doc`` with its em dashes spelt ``\u2014``, if they are its only non-ASCII bytes.

    Otherwise ``doc`` itself. Finds the dashes by their lead byte (a ``memchr``:
    ``bytes.replace`` of the three bytes costs more than the scan it saves).
    """
    parts = []
    start = 0
    at = doc.find(_EM_DASH_LEAD)
    while at >= 0:
        if not doc.startswith(_EM_DASH, at):
            return doc
        parts.append(doc[start:at])
        start = at + len(_EM_DASH)
        at = doc.find(_EM_DASH_LEAD, start)
    parts.append(doc[start:])
    escaped = b"\\u2014".join(parts)
    return escaped if escaped.isascii() else doc


def _loads_fast(doc: bytes) -> Any:
    """The value of ``doc`` when it is canonical and inside every limit, else ``_DOUBT``."""
    scanned = doc if doc.isascii() else _dashes_escaped(doc)
    try:
        value = _fast_decoder.decode(scanned.decode())
        out = orjson.dumps(value, option=_FAST_OPTIONS)
    except (_FastPathDoubtError, ValueError, TypeError, RecursionError):
        # a float; not UTF-8, not JSON, a BOM, a lone surrogate, an integer past
        # +/-(2^53-1) (OPT_STRICT_INTEGER) or past 4,300 digits; nesting too deep to scan
        return _DOUBT
    if out != (doc[:-1] if doc.endswith(b"\n") else doc):
        return _DOUBT
    if (
        # (a document shorter than the item limit cannot hold that many commas)
        (len(out) >= MAX_CONTAINER_ITEMS and out.count(b",") >= MAX_CONTAINER_ITEMS)
        or _too_deep(out) is not False
        # em dashes the only non-ASCII: no lead byte of U+E000 or above
        or (scanned is doc and _key_order_hazard(out))
    ):
        return _DOUBT
    return value


def loads(data: bytes | str) -> Any:
    """Parse a document that is to be verified, strictly.

    Refuses what :func:`dumps` refuses, plus duplicate object keys, invalid
    UTF-8, a byte-order mark and documents over :data:`MAX_DOCUMENT_BYTES`
    (checked first). It does not require the input to be in canonical form:
    hashes are always recomputed over :func:`dumps` output.

    Raises:
        CanonicalJSONError: if the document is not strict JSON in the domain,
            or exceeds one of the module's limits.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise CanonicalJSONError(
            f"invalid JSON: {len(data)} bytes is over the {MAX_DOCUMENT_BYTES}-byte limit"
        )
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if _FAST:
            value = _loads_fast(raw)
            if value is not _DOUBT:
                return value
        if raw.startswith(b"\xef\xbb\xbf"):
            raise CanonicalJSONError("invalid JSON: starts with a byte-order mark")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CanonicalJSONError(f"invalid JSON: not UTF-8 at byte {e.start}") from e
    else:
        text = data
    try:
        value = _decoder.decode(text)
    except _RefusalError as r:
        raise CanonicalJSONError(f"invalid JSON: {r.what}") from r
    except json.JSONDecodeError as e:
        raise CanonicalJSONError(
            f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from e
    except RecursionError as e:
        raise CanonicalJSONError(f"invalid JSON: nested more than {MAX_DEPTH} levels deep") from e
    try:
        _validate(value)
    except _RefusalError as r:
        _raise(r, "invalid JSON")
    return value
