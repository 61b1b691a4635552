"""The shipped model at run time: a TF-IDF vocabulary and linear heads, evaluated with numpy alone.

Artefact (one directory per version): ``model.npz`` (idf, the stacked weight matrix, biases) and
``meta.json`` (version, vocabulary, heads with their class codes, column ranges, calibration and
thresholds). No pickle is ever loaded, so a model file cannot run code; scikit-learn is needed only to train.

Heads:
- ``conduct``: is this a complaint about an official's conduct at all (binary);
- ``family`` (3) and ``type`` (13): softmax with a fitted temperature;
- ``enterprise`` (涉企), one binary head per tag and per 五必查 trigger: Platt-calibrated sigmoids.

Every head is one slice of one weight matrix, so a clue costs one gather and one product for all heads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .features import normalise, words


@dataclass(frozen=True)
class Head:
    name: str
    kind: str  # "softmax" | "binary"
    classes: tuple[str, ...]
    start: int  # columns of the stacked weight matrix
    stop: int
    temperature: float = 1.0  # softmax
    platt: tuple[float, float] = (1.0, 0.0)  # binary: sigmoid(a·score + b)
    threshold: float = 0.5


@dataclass
class Scores:
    """One text's features and every head's calibrated output, kept for the evidence."""

    text: str  # normalised, as long as the original
    occurrences: np.ndarray  # vocabulary index of each character n-gram in order (-1: not in the vocabulary)
    idx: np.ndarray  # distinct vocabulary indices present
    values: np.ndarray  # their TF-IDF values
    probs: np.ndarray  # per output column: a probability (softmax within a head, sigmoid per binary column)
    _at: np.ndarray | None = None  # per occurrence: its position in ``idx`` (len(idx) when not in the vocabulary)

    def positions(self) -> np.ndarray:
        if self._at is None:
            occ = self.occurrences
            self._at = np.where(occ >= 0, np.searchsorted(self.idx, occ), len(self.idx))  # idx is sorted
        return self._at


def _key(gram: str) -> int:
    """A character n-gram (1-3) as an integer; -1 for anything else (a word feature)."""
    if gram.startswith("w:") and len(gram) > 3 or not 1 <= len(gram) <= 3:
        return -1
    key = 0
    for ch in gram:
        key = (key << 21) | ord(ch)
    return key


@lru_cache(maxsize=512)
def _layout(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a text of n characters, each n-gram in ``char_ngrams`` order: its length, and every (character
    position, n-gram) pair it covers — so spreading contributions over characters is one bincount."""
    starts = np.concatenate([np.arange(n - k + 1) for k in (1, 2, 3) if n - k + 1 > 0] or [np.zeros(0, int)])
    lengths = np.concatenate([np.full(max(0, n - k + 1), k) for k in (1, 2, 3)])
    gram = np.arange(len(starts))
    cover_pos = np.concatenate([starts[lengths > d] + d for d in range(3)])
    cover_gram = np.concatenate([gram[lengths > d] for d in range(3)])
    return lengths.astype(np.float64), cover_pos.astype(np.int64), cover_gram.astype(np.int64)


class LinearModel:
    def __init__(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.meta = meta
        self.version: str = meta["version"]
        self.use_words: bool = meta.get("use_words", False)
        self.names: list[str] = meta["vocabulary"]
        self.vocab: dict[str, int] = {g: i for i, g in enumerate(self.names)}
        # Every character n-gram as one integer (code points are < 2^21, so up to three fit in 63 bits and
        # lengths never collide): a text's n-grams are then looked up all at once with a binary search,
        # without a Python step per n-gram.
        keys = np.array([_key(g) for g in self.names], dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        self._keys, self._key_index = keys[order], order.astype(np.int64)
        self.idf = arrays["idf"].astype(np.float32)
        self.weights = np.ascontiguousarray(arrays["weights"].astype(np.float32))  # (features, outputs)
        self.bias = arrays["bias"].astype(np.float32)
        self.heads: dict[str, Head] = {}
        width = self.weights.shape[1]
        self._scale = np.ones(width, dtype=np.float32)
        self._offset = np.zeros(width, dtype=np.float32)
        self._binary = np.zeros(width, dtype=bool)
        self._softmax: list[tuple[int, int]] = []
        for h in meta["heads"]:
            head = Head(name=h["name"], kind=h["kind"], classes=tuple(h["classes"]), start=h["start"],
                        stop=h["stop"], temperature=float(h.get("temperature", 1.0)),
                        platt=tuple(h.get("platt", (1.0, 0.0))), threshold=float(h.get("threshold", 0.5)))
            self.heads[head.name] = head
            if head.kind == "softmax":
                self._scale[head.start : head.stop] = 1.0 / head.temperature
                self._softmax.append((head.start, head.stop))
            else:
                self._scale[head.start : head.stop], self._offset[head.start : head.stop] = head.platt
                self._binary[head.start : head.stop] = True

    @classmethod
    def load(cls, directory: Path) -> LinearModel:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        with np.load(directory / "model.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls(meta, arrays)

    # -- scoring --------------------------------------------------------------------------------------------
    def score(self, text: str) -> Scores:
        """Sublinear TF-IDF, L2-normalised (scikit-learn's TfidfVectorizer arithmetic), then every head."""
        norm = normalise(text)
        occurrences = self._lookup(norm)
        present = occurrences[occurrences >= 0]
        if self.use_words:
            get = self.vocab.get
            extra = [j for j in (get(w) for w in words(norm)) if j is not None]
            present = np.concatenate([present, np.array(extra, dtype=np.int64)])
        if len(present):
            idx, tf = np.unique(present, return_counts=True)
            values = (1.0 + np.log(tf.astype(np.float32))) * self.idf[idx]
            values /= np.linalg.norm(values)
            z = values @ self.weights[idx] + self.bias
        else:
            idx, values, z = present, np.zeros(0, dtype=np.float32), self.bias.copy()
        z = z * self._scale + self._offset
        probs = np.empty_like(z)
        probs[self._binary] = 1.0 / (1.0 + np.exp(-z[self._binary]))
        for a, b in self._softmax:
            e = np.exp(z[a:b] - z[a:b].max())
            probs[a:b] = e / e.sum()
        return Scores(norm, occurrences, idx, values.astype(np.float32), probs)

    def _lookup(self, norm: str) -> np.ndarray:
        """The vocabulary index of each character n-gram of ``norm`` in ``char_ngrams`` order, -1 if absent."""
        cp = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        grams = [cp]
        if len(cp) >= 2:
            grams.append((cp[:-1] << 21) | cp[1:])
        if len(cp) >= 3:
            grams.append((cp[:-2] << 42) | (cp[1:-1] << 21) | cp[2:])
        keys = np.concatenate(grams) if len(cp) else cp
        if not len(self._keys):
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return np.where(self._keys[pos] == keys, self._key_index[pos], -1)

    def probabilities(self, scores: Scores, head: str) -> np.ndarray:
        h = self.heads[head]
        return scores.probs[h.start : h.stop]

    def evidence(self, scores: Scores, head: str, column: int, limit: int = 4, *, sign: float = 1.0,
                 original: str | None = None) -> list[tuple[str, float]]:
        """The passages of this text that pushed ``head`` toward ``column`` the most (``sign=-1``: away
        from it). Each n-gram's contribution is spread over the characters it covers and the strongest runs
        of characters are the evidence, quoted from the citizen's own text. For a softmax head the weights
        are centred across classes (a softmax does not change when a constant is added to every class), so
        wording that argues for every class alike is not shown as evidence for one."""
        if not len(scores.idx):
            return []
        h = self.heads[head]
        w = self.weights[scores.idx, h.start : h.stop]
        col = w[:, column] - w.mean(axis=1) if h.kind == "softmax" and w.shape[1] > 1 else w[:, column]
        contrib = np.append(sign * scores.values * col, 0.0)  # the last slot: n-grams not in the vocabulary
        return spans(scores.text, contrib[scores.positions()], limit=limit, original=original)

    def top_grams(self, scores: Scores, head: str, column: int = 0, limit: int = 3) -> list[tuple[str, float]]:
        """The cheaper explanation for a secondary head (a 五必查 detector, 涉企): its strongest n-grams of
        two or three characters, without spreading them over the text."""
        if not len(scores.idx):
            return []
        h = self.heads[head]
        contrib = scores.values * self.weights[scores.idx, h.start + column]
        out: list[tuple[str, float]] = []
        for k in np.argsort(-contrib)[: 4 * limit]:
            gram = self.names[scores.idx[k]]
            if contrib[k] <= 0 or len(out) == limit:
                break
            if len(gram) >= 2 and "0" not in gram and not any(gram in g or g in gram for g, _ in out):
                out.append((gram, round(float(contrib[k]), 4)))
        return out


def spans(norm: str, per_gram: np.ndarray, *, limit: int, original: str | None = None,
          max_len: int = 10) -> list[tuple[str, float]]:
    """The strongest runs of characters, given each n-gram occurrence's contribution (``char_ngrams`` order)."""
    n = len(norm)
    if not n:
        return []
    lengths, cover_pos, cover_gram = _layout(n)
    share = per_gram / lengths
    per_char = np.bincount(cover_pos, weights=share[cover_gram], minlength=n)
    top = per_char.max()
    if top <= 0:
        return []
    hot = (per_char > 0.35 * top) & (np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32) != 32)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], hot.astype(np.int8), [0]))))
    cumulative = np.concatenate(([0.0], np.cumsum(per_char)))
    found: list[tuple[float, int, int]] = []
    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if b - a == 1:  # one strong character: quote it with its stronger neighbour
            left = per_char[a - 1] if a > 0 else -np.inf
            right = per_char[b] if b < n else -np.inf
            a, b = (a - 1, b) if left > right else (a, b + 1)
            if a < 0 or b > n:
                continue
        for lo in range(a, b, max_len):  # a long run is quoted in pieces of at most max_len
            hi = min(b, lo + max_len)
            if hi - lo >= 2:
                found.append((float(cumulative[hi] - cumulative[lo]), lo, hi))
    found.sort(key=lambda x: (-x[0], x[1]))
    source = original if original is not None and len(original) == n else norm
    return [(source[a:b], round(score, 4)) for score, a, b in found[:limit]]
