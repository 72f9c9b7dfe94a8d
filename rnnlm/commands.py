"""What each subcommand does with its typed configs: a thin layer over rnnlm.api that
prints. Argument parsing is in cli.py."""

import os
import sys

import numpy as np

from rnnlm import api
from rnnlm.distributed import SUPERVISED
from rnnlm.errors import TrainingDiverged
from rnnlm.library_errors import library_reason
from rnnlm.metrics import write_json
from rnnlm.outputs import check_writable
from rnnlm.plot import plot_history
from rnnlm.predict import prefix_ids
from rnnlm.stop_signals import exit_status, ignore_stop_signals, stop_word


def cmd_train(mcfg, tcfg, dcfg, opts, backend=None, device="auto"):
    run = api.start_training(mcfg, tcfg, dcfg, opts, backend=backend, device=device)
    model = api.model_of(run)
    agent = run.backend.restart_note(os.environ)  # the engine's own agent (torchrun) restarts groups
    if agent and run.resumed and run.group.is_main:
        print(f"{agent}; resuming from epoch {len(run.history)}", file=sys.stderr, flush=True)
    try:
        metrics = run.run(sample=lambda: model.predict(api.PROBE_PREFIXES[0]))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (stop_signals.Terminated)
        # the run has saved; a second SIGINT (a launcher passing the terminal's on) must not
        # end the interpreter's exit in a traceback
        ignore_stop_signals()
        # the epoch the checkpoint holds: a stop between an epoch's end and its snapshot keeps the one before
        epoch = run.last_good["extra"]["epoch"] if run.last_good else 0
        saved = f"; checkpoint of epoch {epoch} in {opts.save}" if run.save_path and epoch else ""
        if not os.environ.get(SUPERVISED):  # under `rnnlm launch`, the launcher says it once
            print(f"{stop_word(exc)}{saved}", file=sys.stderr)
        return exit_status(exc)
    except TrainingDiverged as exc:
        kept = f"; last good checkpoint kept in {opts.save}" if run.save_path and run.history else ""
        print(f"error: {exc}{kept}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        if run.group.world_size == 1:
            raise
        # a peer died or hung up (e.g. gloo: connection reset); the launcher names which
        reason = library_reason(exc)
        if not os.environ.get(SUPERVISED):  # under `rnnlm launch`, its one line says it all
            print(f"error: rank {run.group.rank}: the worker group failed ({reason})", file=sys.stderr)
        return 1
    if not run.group.is_main:
        return 0  # rank 0 reports for the group
    print(f"perplexity {metrics['perplexity']:.1f}, {metrics['tokens_per_sec']:.1f} tokens/sec "
          f"on {metrics['device']}")
    for prefix in api.PROBE_PREFIXES:
        print(model.predict(prefix))
    if opts.plot:
        plot_history(opts.plot, run.history, f"{metrics['model']} on {metrics['backend']}")
    if opts.metrics_json:
        write_json(opts.metrics_json, metrics)
    return 0


def cmd_predict(args):
    model = api.load(args.checkpoint, backend=args.backend, device=args.device)
    _, unknown = prefix_ids(model.vocab, args.prefix)
    if unknown:
        print(f"warning: characters not in the vocabulary map to <unk>: {''.join(unknown)!r}",
              file=sys.stderr)
    rng = np.random.default_rng(args.seed)  # one stream for all the samples
    for _ in range(args.num_samples):
        print(model.predict(args.prefix, args.num_chars, args.temperature, args.top_k, rng=rng))
    return 0


def cmd_eval(args):
    if args.metrics_json:
        check_writable(args.metrics_json, "metrics")
    model = api.load(args.checkpoint, backend=args.backend, device=args.device)
    ids = model.token_ids(args.corpus, args.max_tokens)
    ppl = model.perplexity_of(ids, args.batch_size, args.num_steps, what=args.corpus)
    print(f"perplexity {ppl:.4f}")
    if args.metrics_json:
        write_json(args.metrics_json, {
            "perplexity": ppl, "backend": model.backend.NAME, "checkpoint": args.checkpoint,
            "corpus": args.corpus, "max_tokens": args.max_tokens, "tokens": len(ids),
            "batch_size": args.batch_size, "num_steps": args.num_steps})
    return 0


def cmd_compare(mcfg, tcfg, dcfg, opts, device="auto"):
    names = api.BACKENDS
    result = api.compare_configs(mcfg, tcfg, dcfg, device=device,
                                 on_start=lambda name: print(f"training with {name} ...", flush=True))
    a, b = (result.runs[name]["history"] for name in names)
    print(f"{'epoch':>5}  " + "  ".join(f"{'ppl ' + n:>18}" for n in names) + f"  {'rel diff':>9}  "
          + "  ".join(f"{'tok/s ' + n:>11}" for n in names))
    for x, y, d in zip(a, b, result.rel_diffs):
        print(f"{x['epoch']:>5}  {x['perplexity']:>18.12f}  {y['perplexity']:>18.12f}  {d:>9.2e}  "
              f"{x['tokens_per_sec']:>11.1f}  {y['tokens_per_sec']:>11.1f}")
    print(f"max relative difference {result.max_rel_diff:.3e}")
    for threshold in (1e-9, 1e-6, 1e-3):
        epoch = result.first_epoch_above(threshold)
        print(f"first epoch above {threshold:.0e}: {epoch if epoch else 'none'}")
    if opts.metrics_json:
        write_json(opts.metrics_json, {**result.runs, "max_rel_diff": result.max_rel_diff})
    return 0
