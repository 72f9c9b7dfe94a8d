"""`rnnlm study`: the chapter's exercises answered with grids of measured runs.

One module per study (scratch, overfit, autoregressive, depth, compress), each with the
same functions: `points` (the grid), `run` (one grid point, in a worker), `summarize`,
`markdown` and `figure` (the report); `grid` runs a study and `store` keeps its runs.
"""

import sys
import types


def study(name, backends=None, quick=False, jobs=1, out=None, quiet=True):
    """Run study `name` (see `rnnlm study --help`); returns a StudyResult (runs, answer,
    files). `out=None` writes into a fresh temporary folder (nothing to resume from)."""
    import tempfile
    from rnnlm.study.grid import run_study

    if isinstance(backends, str):
        backends = [b.strip() for b in backends.split(",") if b.strip()]
    return run_study(
        name, backends, quick, jobs, out if out is not None else tempfile.mkdtemp(prefix="rnnlm-study-"), quiet
    )


class _CallableModule(types.ModuleType):
    """`rnnlm.study(...)` calls `study`: importing this package makes `rnnlm.study` the
    package itself, so the package is what must be callable."""

    def __call__(self, *args, **kwargs):
        return study(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
