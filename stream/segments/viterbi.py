"""The smoother's hidden Markov model and its (fixed-lag) Viterbi decoder.

States: for every genre g a chain of ``D`` sub-states (g, 0) … (g, D−1), where D is the
minimum duration in updates. A segment enters its genre at (g, 0) and must walk the chain
one update at a time, so it lasts at least D updates; only from the last sub-state, which
loops on itself, may it leave, to (h, 0) of another genre at the switching cost. The
emission score of every sub-state of g is the update's log calibrated probability of g
(the engine's probabilities are posteriors over balanced genres, so they are likelihoods
up to a constant), weighted by the update interval: the updates overlap heavily, so the
evidence is counted per second, and the switching cost means the same at any update rate.

The recording may start or end mid-segment, so the first segment starts in a last
sub-state (no minimum) and the last may end anywhere in its chain.

Decoding keeps, per update, only two small back pointers per genre (where (g, 0) came
from, and whether (g, D−1) looped), so an hour costs kilobytes. Online, a decision is
forced once it is ``lag`` updates old: the best current path is traced back, the oldest
updates are committed, and the forward pass is rerun from the committed state over the
updates still open, so every later decision stays consistent with the committed ones.
Memory and decision delay are bounded by the lag; with no lag (offline) the decoder is
exact Viterbi.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROBABILITY_FLOOR = 1e-6  # log(0) would forbid a genre outright; a calibrated model is never that sure


@dataclass
class BackPointers:
    """How each state of one update was reached."""

    entered_from: np.ndarray  # [G] int: the genre whose last sub-state (g, 0) came from
    stayed: np.ndarray  # [G] bool: (g, D−1) looped on itself rather than advancing from (g, D−2)


class MinDurationViterbi:
    """Viterbi over genres with a switching cost and a minimum duration; ``push`` one
    update's probabilities at a time, get back the genres (indices) now decided."""

    def __init__(
        self, n_genres: int, min_steps: int, switch_cost: float, step_weight: float, lag_steps: int | None = None
    ):
        if n_genres < 1 or min_steps < 1:
            raise ValueError("need at least one genre and a minimum duration of one update")
        self.n_genres, self.min_steps = n_genres, min_steps
        self.switch_cost, self.step_weight = switch_cost, step_weight
        self.lag_steps = lag_steps
        # Commit a quarter of the lag at once: the rerun of the open updates then costs
        # about four forward steps per update, and no decision waits longer than the lag.
        self.commit_steps = max(1, (lag_steps or 1) // 4)
        self._scores: np.ndarray | None = None  # [G, D] best log score of each state now
        self._emissions: list[np.ndarray] = []  # the open (undecided) updates, oldest first
        self._pointers: list[BackPointers] = []

    @property
    def open_steps(self) -> int:
        """Updates pushed but not yet decided (at most the lag)."""
        return len(self._emissions)

    def push(self, probabilities: np.ndarray) -> list[int]:
        """One update's probabilities [G]; returns the genres of the updates now decided."""
        emission = self.step_weight * np.log(np.maximum(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR))
        if self._scores is None:
            self._scores = np.full((self.n_genres, self.min_steps), -np.inf)
            self._scores[:, -1] = emission  # the recording may start mid-segment
            pointers = BackPointers(np.zeros(self.n_genres, dtype=np.int64), np.ones(self.n_genres, dtype=bool))
        else:
            self._scores, pointers = self._forward(self._scores, emission)
        self._emissions.append(emission)
        self._pointers.append(pointers)
        if self.lag_steps is not None and len(self._emissions) > self.lag_steps:
            return self._commit(self.commit_steps)
        return []

    def flush(self) -> list[int]:
        """End of the recording: every open update decided; the decoder starts afresh."""
        decided = self._commit(len(self._emissions)) if self._emissions else []
        self._scores = None
        return decided

    def tentative(self) -> list[int]:
        """The genres the open updates would get if the recording ended now."""
        return [genre for genre, _ in self._trace_back()] if self._emissions else []

    def _forward(self, scores: np.ndarray, emission: np.ndarray) -> tuple[np.ndarray, BackPointers]:
        """One Viterbi step over the chain topology: O(G·D), no transition matrix."""
        last = scores[:, -1]
        # A new segment of g comes from the best finished segment of another genre: the
        # best of all, or for that best genre itself the second best.
        best = int(last.argmax())
        entered_from = np.full(self.n_genres, best)
        entry = np.full(self.n_genres, last[best] - self.switch_cost)
        others = last.copy()
        others[best] = -np.inf
        entered_from[best] = int(others.argmax())
        entry[best] = others[entered_from[best]] - self.switch_cost
        new = np.empty_like(scores)
        if self.min_steps > 1:
            new[:, 1:-1] = scores[:, :-2]
            stayed = last >= scores[:, -2]
            np.maximum(last, scores[:, -2], out=new[:, -1])
            new[:, 0] = entry
        else:
            stayed = last >= entry
            np.maximum(last, entry, out=new[:, 0])
        new += emission[:, None]
        new -= new.max()  # keep the numbers small over hours; the argmax is unchanged
        return new, BackPointers(entered_from, stayed)

    def _previous(self, genre: int, sub: int, pointers: BackPointers) -> tuple[int, int]:
        """The state one update earlier on the best path into (genre, sub)."""
        last = self.min_steps - 1
        if sub == last and pointers.stayed[genre]:
            return genre, sub
        if sub > 0:
            return genre, sub - 1
        return int(pointers.entered_from[genre]), last

    def _trace_back(self) -> list[tuple[int, int]]:
        """The best path's states over the open updates, oldest first."""
        genre, sub = np.unravel_index(int(np.argmax(self._scores)), self._scores.shape)
        state = (int(genre), int(sub))
        path = [state]
        for pointers in reversed(self._pointers[1:]):
            state = self._previous(*state, pointers)
            path.append(state)
        return path[::-1]

    def _commit(self, count: int) -> list[int]:
        """Decide the oldest ``count`` open updates and rerun the rest from that decision."""
        path = self._trace_back()
        decided = [genre for genre, _ in path[:count]]
        anchor = path[count - 1]
        open_emissions = self._emissions[count:]
        self._emissions, self._pointers = [], []
        self._scores = np.full((self.n_genres, self.min_steps), -np.inf)
        self._scores[anchor] = 0.0
        for emission in open_emissions:
            self._scores, pointers = self._forward(self._scores, emission)
            self._emissions.append(emission)
            self._pointers.append(pointers)
        return decided
