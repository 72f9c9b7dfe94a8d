"""The bar `rnnlm compress` and `decompress` show on a terminal: bytes done, kB/s, bits/char.

Shown only when stderr is a terminal and not `--quiet`; tqdm is imported only then, so coding
to a pipe or in tests costs nothing. Columns advance all R segments at once, so the bar moves
R characters a step (as bytes: scaled by the file's bytes per character).
"""

import sys


class CodingProgress:
    def __init__(self, n_bytes, n_chars, quiet=False, stream=None):
        stream = sys.stderr if stream is None else stream
        self.bar = None
        self.scale = n_bytes / n_chars if n_chars else 1.0
        self.done = 0
        if not quiet and n_chars and stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=n_bytes,
                unit="B",
                unit_scale=True,
                unit_divisor=1000,
                file=stream,
                leave=False,
                dynamic_ncols=True,
            )

    def __call__(self, chars_done, ideal_bits):
        if self.bar is None:
            return
        done = int(chars_done * self.scale)
        self.bar.update(done - self.done)
        self.done = done
        if chars_done:
            self.bar.set_postfix_str(f"{ideal_bits / chars_done:.3f} bits/char", refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()
