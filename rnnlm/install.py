"""The distribution's name, and install hints that are right wherever rnnlm came from.

The import name and the command are `rnnlm`, but the index already holds an unrelated
project called `rnnlm`, so the distribution is `d2l-rnnlm`: a hint must never send a user
to `pip install rnnlm`. Installed from a clone, the hint names the clone's folder.
"""

import json
import sys
from importlib import metadata
from urllib.parse import unquote, urlparse

DISTRIBUTION = "d2l-rnnlm"


def _source():
    """('index', None), ('clone', folder) or ('editable', folder): where rnnlm came from."""
    # a source tree's own *.egg-info (build debris on sys.path) is not an installation
    installed = [d for d in metadata.distributions(name=DISTRIBUTION)
                 if not str(getattr(d, "_path", "")).endswith(".egg-info")]
    if not installed:
        return "editable", "."  # run from a source tree that was never installed
    raw = installed[0].read_text("direct_url.json")
    try:
        info = json.loads(raw) if raw else {}
    except ValueError:
        info = {}
    url = info.get("url", "") if isinstance(info, dict) else ""
    if "dir_info" not in info or not url.startswith("file://"):
        return "index", None
    folder = unquote(urlparse(url).path)
    return ("editable" if info["dir_info"].get("editable") else "clone"), folder


def install_hint(extra):
    """The pip command that adds the extra `extra` to this installation."""
    kind, folder = _source()
    if kind == "index":
        return f"pip install '{DISTRIBUTION}[{extra}]'"
    return f"pip install {'-e ' if kind == 'editable' else ''}'{folder}[{extra}]'"


# the last Python each framework publishes wheels for, and why: past it, no extra can help
_LAST_PYTHON = {
    "mxnet": ((3, 12), "MXNet 1.9.1, its last release, needs NumPy < 2, which has no wheel for "
                       "Python {python}"),
}


def unsupported_python(backend, version=None):
    """Why `backend` cannot be installed on this Python (`version`: this one), or None."""
    last = _LAST_PYTHON.get(backend)
    version = tuple(sys.version_info[:2] if version is None else version[:2])
    if last is None or version <= last[0]:
        return None
    return last[1].format(python=f"{version[0]}.{version[1]}")


def python_fix(backend):
    """The command that gives `backend` a Python it installs on: a venv of the last one."""
    newest = "{}.{}".format(*_LAST_PYTHON[backend][0])
    return f"python{newest} -m venv VENV && VENV/bin/{install_hint(backend)}"
