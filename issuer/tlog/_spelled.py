"""Inclusion proofs read as a bundle spells them: accepted cheaply, or handed back.

A bundle spells each proof hash as its canonical base64. Most of a proof is the
path it shares with the proof of a neighbouring leaf, already accepted:
:class:`SpelledInclusions` folds a proof only up to where it meets such a path,
then compares the rest of the spellings as text, without decoding them.

Its one answer is "accepted". Anything it cannot show is handed back (False)
to :class:`~issuer.tlog.InclusionVerifier`, whose verdict and message then
stand: a spelling that is not a hash's, a fold that leads elsewhere, a proof
longer or shorter than the tree is deep.

Why an acceptance here is :func:`~issuer.tlog.verify_inclusion`'s: every
spelling folded is decoded, and refused unless it is a hash's one canonical
spelling. The rest equals, text for text, the rest of a proof this object
accepted from the same node with the same two children. Those spellings were
canonical (by the same argument, down to a proof folded to the root), and a
canonical spelling names one hash, so the decoded rest is that accepted fold,
step for step.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from issuer.tlog._log import spelt_hash
from issuer.tlog._merkle import HASH_SIZE, RememberedPaths, _Step, node_hash

_Spelled = tuple[str, ...]


class SpelledInclusions(RememberedPaths[str]):
    """Proofs of one tree ``(size, root)``, accepted from their spellings where that is quick.

    Args: as :class:`~issuer.tlog._merkle.RememberedPaths`.
    """

    def accepts(self, index: int, leaf: bytes, proof: Sequence[object]) -> bool:
        """Whether ``proof`` (spellings) shows leaf hash ``leaf`` is leaf ``index`` of the tree.

        True only when :func:`~issuer.tlog.verify_inclusion` accepts the decoded
        proof. False: not shown here (the proof may still be valid); ask
        :class:`~issuer.tlog.InclusionVerifier` for the verdict.
        """
        if not 0 <= index < self.size or len(leaf) != HASH_SIZE:
            return False
        try:
            spelled: _Spelled = tuple(proof)  # type: ignore[arg-type]  # str checked as decoded
        except TypeError:
            return False
        return self._fold(index, leaf, spelled)

    def _fold(self, index: int, leaf: bytes, spelled: _Spelled) -> bool:
        """:meth:`accepts` for a leaf in the tree: the fold, as InclusionVerifier folds."""
        # Only the spellings below where a proof meets an accepted path are decoded, and
        # those are its own (a leaf's sibling, its parent's): no cache would be asked twice.
        size, known, decode = self.size, self._known, spelt_hash
        fn, sn, r, levels = index, size - 1, leaf, 0
        path: list[_Step] = []
        for used, text in enumerate(spelled, 1):
            try:  # b"" past the top of the tree, or unless the canonical spelling of a hash
                p = decode(text) if sn else b""
            except TypeError:  # a value with no length: not a spelling
                p = b""
            if not p:
                return False
            if fn & 1 or fn == sn:
                left, right = p, r
                while not fn & 1 and fn != 0:
                    fn, sn, levels = fn >> 1, sn >> 1, levels + 1
            else:
                left, right = r, p
            fn, sn, levels = fn >> 1, sn >> 1, levels + 1
            node = levels * size + fn  # fn < size: one int names one node, for any size
            met = known.get(node)
            # Log hashes are public: plain comparisons leak nothing.
            if met is not None and met[1] == left and met[2] == right:
                r = met[0]
                if spelled[used:] == met[3][met[4] :]:
                    self._remember(path, spelled)
                    return True
            else:
                r = node_hash(left, right)
            path.append((node, r, left, right, used))
        if sn != 0 or not hmac.compare_digest(r, self.root):
            return False
        self._remember(path, spelled)
        return True
