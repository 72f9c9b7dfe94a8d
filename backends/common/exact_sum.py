"""Exact float64 sums through a transport that adds float32 (MXNet's ps-lite kvstore).

ps-lite carries float32 only (measured here: 1/3 + 1/3 pulled back as 2/3 + 2e-8), so each
float64 value travels as three integer chunks of 20 bits against a power-of-two scale the
workers share. Integers below 2**24 add exactly in float32, so with at most 16 workers the
servers' sums of chunks are exact, and the float64 total is rounded once, on decoding:

    u = x / scale  (|u| < 1)       u = (c1 + (c2 + c3 / 2**20) / 2**20) / 2**20
    c1, c2 truncated, c3 rounded   each |c| <= 2**20, and the sum of N workers' c < 2**24

The scale of a segment comes from the sum over workers of their peaks |x|, rounded up to a
power of two with one more doubling of headroom (that sum is itself carried in float32).
"""

import numpy as np

CHUNK = 2.0**20
MAX_WORKERS = 16


def peaks(segments):
    """This worker's max |x| of each segment, for the shared scale."""
    return np.array([np.abs(seg).max() if seg.size else 0.0 for seg in segments], dtype=np.float32)


def scales_from(total_peaks):
    """Powers of two strictly above every worker's |x| (given the float32 sum of peaks)."""
    tiny = np.finfo(np.float32).tiny
    return np.exp2(np.ceil(np.log2(np.maximum(np.asarray(total_peaks, np.float64), tiny))) + 1)


def encode(segments, scales):
    """(3, n) float32 integer chunks of all segments, flattened in order."""
    u = np.concatenate([np.asarray(seg, np.float64).ravel() / sc for seg, sc in zip(segments, scales)])
    chunks = []
    for i in range(3):
        u = u * CHUNK
        whole = np.trunc(u) if i < 2 else np.rint(u)
        chunks.append(whole)
        u = u - whole
    return np.stack(chunks).astype(np.float32)


def decode(summed_chunks, segments, scales):
    """The float64 sums, shaped as `segments`, from the workers' summed chunks."""
    s = np.asarray(summed_chunks, np.float64)
    flat = (s[0] + (s[1] + s[2] / CHUNK) / CHUNK) / CHUNK
    return [part * sc for part, sc in zip(split(flat, segments), scales)]


def split(flat, segments):
    """A flat array cut back into pieces shaped as `segments`."""
    out, at = [], 0
    for seg in segments:
        out.append(flat[at : at + seg.size].reshape(seg.shape))
        at += seg.size
    return out
