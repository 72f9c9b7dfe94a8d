"""When a run has diverged: the rule `train`'s summary and every study apply.

A model that guesses uniformly among V characters has perplexity V. A run has diverged at
the first epoch whose training perplexity is not finite or exceeds DIVERGE_FACTOR x V: ten
times worse than knowing nothing. (Measured by hand: `--clip 10` ended at a finite 4.1e13,
exit 0, printing `eea eea`; a non-finite loss already stops training with an error.)
"""

import math

DIVERGE_FACTOR = 10.0


def diverged_at(perplexities, vocab_size):
    """(epoch, perplexity) of the first diverged epoch (epochs count from 1), or None."""
    limit = DIVERGE_FACTOR * vocab_size
    for epoch, ppl in enumerate(perplexities, start=1):
        if ppl is None or not math.isfinite(ppl) or ppl > limit:
            return epoch, ppl
    return None


def describe(found, vocab_size):
    epoch, ppl = found
    return f"diverged at epoch {epoch} (perplexity {ppl:.3g} > {DIVERGE_FACTOR:g} x vocabulary {vocab_size})"
