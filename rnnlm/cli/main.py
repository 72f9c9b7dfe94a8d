"""The `rnnlm` command line: each command's module adds its parser; this is the one place
errors become exit statuses (`EXIT`).

Bad input (a UsageError, or an argument argparse rejects) prints one line
`error: ...` on stderr and exits 2; no traceback reaches the user.
"""

import contextlib
import os
import sys

from rnnlm import __version__
from rnnlm.cli import compare, doctor, evaluate, export_native, import_native, launch, plot, predict, study, train
from rnnlm.cli import compress as compress_commands
from rnnlm.cli.options import Parser
from rnnlm.distributed.group import SUPERVISED
from rnnlm.errors import EXIT, GroupFailed, Stopped, TrainingDiverged, UsageError
from rnnlm.stop_signals import Terminated, restored_stop_signals, sigterm_stops, stop_word

COMMANDS = (
    train,
    predict,
    evaluate,
    launch,
    compare,
    import_native,
    export_native,
    compress_commands,
    study,
    plot,
    doctor,
)


def build_parser():
    parser = Parser(
        prog="rnnlm", description="The d2l.ai character-level RNN language model, in any of its frameworks."
    )
    parser.add_argument("--version", action="version", version=f"rnnlm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _quiet_stdout():
    """After a reader closed stdout (`rnnlm train | head -1`): send whatever is still
    buffered to /dev/null, so the interpreter's final flush stays silent too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def stop_status(request):
    """The status of a stop: 143 after SIGTERM (Terminated), 130 after Ctrl-C."""
    return EXIT["terminated"] if isinstance(request, Terminated) else EXIT["interrupted"]


def _say(line):
    if line:
        print(line, file=sys.stderr)


def main(argv=None):
    # called with arguments, main runs inside someone's process: a stop's ignored signals are
    # undone on return; as the command (argv None) they last until the process exits
    keep = restored_stop_signals() if argv is not None else contextlib.nullcontext()
    try:
        args = build_parser().parse_args(argv)
        with keep, sigterm_stops():  # SIGTERM stops (and saves) as Ctrl-C does
            return args.run(args)
    except UsageError as exc:
        _say(f"error: {exc}")
        return EXIT["usage"]
    except TrainingDiverged as exc:
        _say(f"error: {exc}{exc.kept}")
        return EXIT["failed"]
    except GroupFailed as exc:
        _say(exc.line)
        return exc.status or EXIT["failed"]
    except Stopped as exc:  # the work saved and says what it kept
        _say(exc.line)
        return stop_status(exc.request)
    except KeyboardInterrupt as exc:
        if not os.environ.get(SUPERVISED):  # under `rnnlm launch`, the launcher alone speaks
            _say(f"error: {stop_word(exc)}")
        return stop_status(exc)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT["broken_pipe"]  # as a shell reports a process ended by SIGPIPE
