"""`rnnlm train`: train a model (no options: the book's run), print the summary and the
book's two probe continuations, write the plot and metrics asked for."""

import os
import sys

from rnnlm import api
from rnnlm.cli.options import R, D, add_backend_options, add_train_options, integer, number, resume_mode, train_job
from rnnlm.distributed.group import SUPERVISED
from rnnlm.errors import GroupFailed, Stopped, TrainingDiverged
from rnnlm.library_errors import library_reason
from rnnlm.stop_signals import ignore_stop_signals, stop_word
from rnnlm.training.metrics import write_json
from rnnlm.training import divergence
from rnnlm.training.plot import plot_history


def add_parser(sub):
    p = sub.add_parser("train", help="train a model (no options: the book's run)")
    add_backend_options(p)
    add_train_options(p)
    p.add_argument(
        "--val-fraction",
        type=number,
        default=D.val_fraction,
        help="hold out the last F of the token stream for validation",
    )
    p.add_argument("--plot", metavar="PATH", help="write a PNG of perplexity per epoch")
    p.add_argument("--save", metavar="PATH", help="write a checkpoint (.npz) at the end")
    p.add_argument(
        "--save-best",
        metavar="PATH",
        help="also keep the checkpoint of the best validation epoch (needs --val-fraction)",
    )
    p.add_argument(
        "--save-every",
        type=integer,
        default=R.save_every,
        metavar="N",
        help="also checkpoint every N epochs (0: only at the end)",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        type=resume_mode,
        metavar="auto",
        help="continue the run saved in --save PATH up to --epochs; --resume auto: "
        "only if that file exists (start afresh otherwise), so a supervisor can "
        "restart the same command line",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        default=R.overwrite,
        help="replace a checkpoint already at --save or --save-best (another run's)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output, only the summary")
    p.add_argument(
        "--threads",
        type=integer,
        default=R.threads,
        metavar="N",
        help="CPU threads; 0: OMP_NUM_THREADS if set, else chosen once from the cores and "
        "the model's size; recorded in the checkpoint and reused on --resume",
    )
    p.set_defaults(run=run)


def run(args):
    job = train_job(args)
    return train(job.model, job.train, job.data, job.run, job.backend, job.device)


def train(mcfg, tcfg, dcfg, opts, backend=None, device="auto"):
    """Train on typed configs and report; returns 0, or raises what `rnnlm.cli.main` reports."""
    run = api.start_training(mcfg, tcfg, dcfg, opts, backend=backend, device=device)
    model = api.model_of(run)
    agent = run.backend.restart_note(os.environ)  # the engine's own agent (torchrun) restarts groups
    # said under --quiet too: it is what the run does, not progress (--quiet keeps the summary),
    # as pytorch/examples' imagenet says "=> loaded checkpoint (epoch N)" whatever its
    # --print-freq and Keras' verbose governs only the bar; on stderr, so stdout stays the
    # summary. Under `rnnlm launch` the launcher's restart line says it already.
    if run.resumed and run.group.is_main and (agent or not os.environ.get(SUPERVISED)):
        note = f"{agent}; resuming" if agent else "resuming"
        print(f"{note} from epoch {len(run.history)}", file=sys.stderr, flush=True)
    try:
        metrics = run.run(sample=lambda: model.predict(api.PROBE_PREFIXES[0]))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (stop_signals.Terminated)
        # the run has saved; a second SIGINT (a launcher passing the terminal's on) must not
        # end the interpreter's exit in a traceback
        ignore_stop_signals()
        epoch = run.held_epochs()  # the bar's last count too
        saved = f"; checkpoint of epoch {epoch} in {opts.save}" if run.save_path and epoch else ""
        supervised = os.environ.get(SUPERVISED)  # under `rnnlm launch`, the launcher says it once
        raise Stopped(exc, None if supervised else f"{stop_word(exc)}{saved}") from None
    except TrainingDiverged as exc:
        exc.kept = f"; last good checkpoint kept in {opts.save}" if run.save_path and run.history else ""
        raise
    except RuntimeError as exc:
        if run.group.world_size == 1:
            raise
        # a peer died or hung up (e.g. gloo: connection reset); the launcher names which
        line = f"error: rank {run.group.rank}: the worker group failed ({library_reason(exc)})"
        raise GroupFailed(None if os.environ.get(SUPERVISED) else line) from None
    if not run.group.is_main:
        return 0  # rank 0 reports for the group
    print(f"perplexity {metrics['perplexity']:.1f}, {metrics['tokens_per_sec']:.1f} tokens/sec on {metrics['device']}")
    if metrics["best_epoch"] is not None:
        print(
            f"validation perplexity {metrics['val_perplexity']:.2f} (best {metrics['best_val_perplexity']:.2f} "
            f"at epoch {metrics['best_epoch']})"
        )
    if metrics["diverged"]:
        found = metrics["diverged"]
        print(divergence.describe((found["epoch"], found["perplexity"]), run.mcfg.vocab_size))
    for prefix in api.PROBE_PREFIXES:
        print(model.predict(prefix))
    if opts.plot:
        plot_history(opts.plot, run.history, f"{metrics['model']} on {metrics['backend']}")
    if opts.metrics_json:
        write_json(opts.metrics_json, metrics)
    return 0
