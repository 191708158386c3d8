"""``compare_mirrors`` against an in-memory set of mirrors (a fake ``fetch``, no network)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from issuer import cjson
from issuer.errors import NetworkError
from issuer.fetch import Fetched, mirror_bundle_url
from issuer.reasons import Reason
from issuer.verify import _mirrors, compare_mirrors
from tests.conformance.forge import GOOD, NUMBER, TRUSTED, bundle, created, snapshot

CODE = NUMBER.rsplit(":", 1)[1]
PRIMARY, LAGGING, DOWN = "https://a.example", "https://b.example", "https://down.example"

Serve = Callable[[dict[str, bytes]], None]


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Serve:
    """Serve ``{base_url: bundle bytes}``; any other URL fails as a network error."""

    def install(mirrors: dict[str, bytes]) -> None:
        served = {mirror_bundle_url(base, CODE): data for base, data in mirrors.items()}

        def fake_fetch(url: str, **_: object) -> Fetched:
            if url not in served:
                raise NetworkError(f"cannot reach {url}")
            return Fetched(url, served[url], CODE)

        monkeypatch.setattr(_mirrors, "fetch", fake_fetch)

    return install


def test_agreeing_mirrors_are_ok(serve: Serve) -> None:
    serve({PRIMARY: cjson.dumps(GOOD), LAGGING: cjson.dumps(GOOD)})
    comparison = compare_mirrors(NUMBER, [PRIMARY, LAGGING], TRUSTED)
    assert comparison.ok and not comparison.disagreements and comparison.reason is None
    assert [r.ok for r in comparison.reports] == [True, True]


def test_an_unreachable_mirror_is_unreadable(serve: Serve) -> None:
    serve({PRIMARY: cjson.dumps(GOOD)})
    comparison = compare_mirrors(NUMBER, [PRIMARY, DOWN], TRUSTED)
    down = comparison.reports[1]
    assert (down.ok, down.failed_step, down.reason) == (False, "fetch", Reason.UNREADABLE)
    assert not comparison.ok and not comparison.unreachable
    serve({})
    assert compare_mirrors(NUMBER, [DOWN], TRUSTED).unreachable


def test_mirrors_serving_different_states_disagree(serve: Serve) -> None:
    newer = bundle([created(), snapshot(), snapshot(n="newer")])
    serve({PRIMARY: cjson.dumps(newer), LAGGING: cjson.dumps(GOOD)})
    comparison = compare_mirrors(NUMBER, [PRIMARY, LAGGING], TRUSTED)
    assert all(r.ok for r in comparison.reports)
    assert not comparison.ok
    assert [d["field"] for d in comparison.disagreements] == ["state_sha256"]
    assert comparison.to_dict()["agree"] is False
    assert comparison.reason == comparison.to_dict()["reason"] == Reason.MIRRORS_DISAGREE
