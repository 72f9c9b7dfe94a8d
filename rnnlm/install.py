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
    installed = [
        d for d in metadata.distributions(name=DISTRIBUTION) if not str(getattr(d, "_path", "")).endswith(".egg-info")
    ]
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


def unsupported_python(spec, version=None):
    """Why backend `spec` (a registry BackendSpec) cannot be installed on this Python
    (`version`: this one), or None: past its framework's last wheels no extra can help."""
    version = tuple(sys.version_info[:2] if version is None else version[:2])
    if spec.last_python is None or version <= spec.last_python:
        return None
    return spec.why_not_newer.format(python=f"{version[0]}.{version[1]}")


def python_fix(spec):
    """The command that gives backend `spec` a Python it installs on: a venv of the last one."""
    newest = "{}.{}".format(*spec.last_python)
    return f"python{newest} -m venv VENV && VENV/bin/{install_hint(spec.extra)}"
