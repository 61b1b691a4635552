"""重复线索合并: clustering of duplicate clues across channels, sub-quadratic.

MinHash signatures of character 3-gram shingles (Chinese has no spaces, so characters, not words) are
computed for a whole batch at once with numpy, then Locality-Sensitive Hashing with ``bands`` × ``rows``
buckets proposes candidate pairs: only clues that share a bucket are ever compared, so the cost grows with
the number of clues and the size of the buckets, never with all pairs. A clue is a duplicate of an earlier
primary clue when
their signatures agree on at least ``threshold`` of their positions (an estimate of the Jaccard
similarity), both arrived within ``window`` of each other, and their stated subjects (if both have one) are
alike.
The result is deterministic: the same batch always gives the same clusters and the same primary clue.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

_MERSENNE = np.uint64((1 << 61) - 1)
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_SHINGLE = 3


@dataclass(frozen=True)
class DedupeItem:
    text: str
    subject: str | None
    received_at: datetime


def normalise(text: str) -> str:
    """Punctuation and whitespace carry no meaning for duplicates across channels."""
    return _NOISE.sub("", text)


def _parameters(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20250101)  # fixed: signatures must be reproducible across runs
    # Multipliers over the whole field (as datasketch does); the product wraps mod 2**64 in numpy, which
    # still scrambles the order. Small multipliers would keep it monotonic: every minimum the same shingle.
    a = rng.integers(1, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
    b = rng.integers(0, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
    return a, b


def signatures(texts: Sequence[str], *, num_perm: int = 32, chunk: int = 20_000) -> np.ndarray:
    """MinHash signatures, one row per text, computed chunk by chunk without a Python loop per text."""
    a, b = _parameters(num_perm)
    out = np.empty((len(texts), num_perm), dtype=np.uint64)
    for start in range(0, len(texts), chunk):
        part = [normalise(t) for t in texts[start : start + chunk]]
        part = [t if len(t) >= _SHINGLE else t.ljust(_SHINGLE, "\x00") for t in part]
        lengths = np.fromiter((len(t) for t in part), dtype=np.int64, count=len(part))
        cps = np.frombuffer("".join(part).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        # Rolling 3-gram hash at every position; positions that straddle two texts are dropped below.
        h = (cps[:-2] * np.uint64(1_000_003) + cps[1:-1] * np.uint64(10_007) + cps[2:]) & np.uint64(0xFFFFFFFF)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        counts = lengths - (_SHINGLE - 1)
        doc_of = np.repeat(np.arange(len(part)), lengths)[: len(h)]
        offset_in_doc = np.arange(len(h)) - starts[doc_of]
        valid = h[offset_in_doc < counts[doc_of]]
        bounds = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for i in range(num_perm):
            permuted = ((valid * a[i] + b[i]) % _MERSENNE) & np.uint64(0xFFFFFFFF)
            out[start : start + len(part), i] = np.minimum.reduceat(permuted, bounds)
    return out


def _subject_alike(x: str | None, y: str | None) -> bool:
    if not x or not y:
        return True
    x, y = normalise(x), normalise(y)
    if x in y or y in x:
        return True
    gx, gy = {x[i : i + 2] for i in range(len(x) - 1)}, {y[i : i + 2] for i in range(len(y) - 1)}
    return bool(gx and gy) and len(gx & gy) / len(gx | gy) >= 0.3


def cluster(
    items: Sequence[DedupeItem],
    *,
    threshold: float = 0.6,
    window: timedelta = timedelta(days=7),
    bands: int = 8,
    rows: int = 4,
) -> list[int]:
    """For each item, the index of its cluster's primary (the earliest item of the cluster; items are
    expected in arrival order). An item that duplicates nothing is its own primary."""
    n = len(items)
    roots = list(range(n))
    if n < 2:
        return roots
    sig = signatures([it.text for it in items], num_perm=bands * rows)
    mixers = np.random.default_rng(7).integers(1, 1 << 62, size=rows, dtype=np.uint64) | np.uint64(1)
    pairs: list[np.ndarray] = []
    for band in range(bands):
        keys = (sig[:, band * rows : (band + 1) * rows] * mixers).sum(axis=1)  # wraps mod 2**64: a hash
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same_as_prev = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1]) + 1
        if len(same_as_prev):
            # link each bucket member to its predecessor in the bucket: linear in the bucket's size
            pairs.append(np.stack((order[same_as_prev - 1], order[same_as_prev]), axis=1))
    if not pairs:
        return roots
    candidates = np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)
    similarity = (sig[candidates[:, 0]] == sig[candidates[:, 1]]).mean(axis=1)
    candidates = candidates[similarity >= threshold]
    earlier: dict[int, list[int]] = defaultdict(list)
    for i, j in candidates.tolist():
        earlier[j].append(i)

    def alike(p: int, j: int) -> bool:
        x, y = items[p], items[j]
        return (abs(x.received_at - y.received_at) <= window and _subject_alike(x.subject, y.subject)
                and float((sig[p] == sig[j]).mean()) >= threshold)

    # Leader clustering rather than transitive closure: a clue joins an earlier primary only if it is
    # itself like that primary, so chains of partial overlaps (A~B, B~C, A≁C) never snowball.
    for j in sorted(earlier):
        for p in sorted({roots[i] for i in earlier[j]}):
            if alike(p, j):
                roots[j] = p
                break
    return roots
