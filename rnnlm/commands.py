"""What each subcommand does, given its parsed arguments. Argument parsing is in cli.py."""

import os
import sys

import numpy as np

from rnnlm.backend import BACKENDS, build_model, load_backend, select_backend
from rnnlm.batches import check_corpus_length
from rnnlm.checkpoint import load_checkpoint, save_checkpoint
from rnnlm.config import ModelConfig, TrainConfig
from rnnlm.corpus import load_corpus
from rnnlm.distributed import SUPERVISED
from rnnlm.errors import TrainingDiverged, UsageError
from rnnlm.metrics import write_json
from rnnlm.plot import plot_history
from rnnlm.predict import predict, prefix_ids
from rnnlm.run import TrainingRun
from rnnlm.train import evaluate

PROBE_PREFIXES = ("time traveller", "traveller")  # what the book prints after training


# train flags that name ModelConfig fields differently
_MODEL_FLAGS = {"model": "cell", "num_hiddens": "num_hiddens", "num_layers": "num_layers",
                "bidirectional": "bidirectional", "activation": "activation"}


def configs_from_args(args, vocab_size):
    tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, num_steps=args.num_steps,
                       lr=args.lr, clip=args.clip, max_tokens=args.max_tokens, iter=args.iter,
                       seed=args.seed, dtype=args.dtype)
    mcfg = ModelConfig(vocab_size=vocab_size, **{field: getattr(args, flag) for flag, field in _MODEL_FLAGS.items()})
    return mcfg, tcfg


def resume_point(args):
    """The run saved in --save PATH, to continue: its data, model and training settings
    replace the command line's (all but --epochs). Returns (weights, checkpoint metadata)."""
    if not args.save:
        raise UsageError("--resume needs --save PATH (the checkpoint to continue)")
    if args.resume == "auto" and not os.path.exists(args.save):
        return None  # nothing saved yet: start afresh
    mcfg, _, weights, meta = load_checkpoint(args.save)
    if "train" not in meta or "rng_state" not in meta:
        raise UsageError(f"checkpoint '{args.save}' holds no training state to resume from")
    for field, value in meta["train"].items():
        if field != "epochs":
            setattr(args, field, value)
    for flag, field in _MODEL_FLAGS.items():
        setattr(args, flag, getattr(mcfg, field))
    args.corpus, args.val_fraction = meta.get("corpus"), meta.get("val_fraction", 0.0)
    return weights, meta


def load_training_data(args):
    corpus, vocab = load_corpus(args.corpus, args.max_tokens)
    what = f"corpus '{args.corpus}'" if args.corpus else "the corpus"
    check_corpus_length(len(corpus), args.batch_size, args.num_steps, args.iter, what)
    return corpus, vocab


def start_run(backend, args, corpus, vocab, **options):
    mcfg, tcfg = configs_from_args(args, len(vocab))
    device = backend.resolve_device(args.device)
    return TrainingRun(backend, device, mcfg, tcfg, vocab, corpus, **options)


def cmd_train(args):
    backend = select_backend(args.backend)
    resume = resume_point(args) if args.resume else None
    complete_ok = args.resume == "auto"  # a blind restart after the last epoch just reports
    corpus, vocab = load_training_data(args)
    run = start_run(backend, args, corpus, vocab, val_fraction=args.val_fraction, save=args.save,
                    save_every=args.save_every, resume=resume, corpus_path=args.corpus,
                    complete_ok=complete_ok)
    agent = backend.restart_note(os.environ)  # the engine's own agent (torchrun) restarts groups
    if agent and resume and run.group.is_main:
        print(f"{agent}; resuming from epoch {len(run.history)}", file=sys.stderr, flush=True)
    probe = lambda: predict(backend, run.model, vocab, PROBE_PREFIXES[0])  # noqa: E731
    try:
        metrics = run.run(quiet=args.quiet, sample=probe)
    except KeyboardInterrupt:
        saved = f"; checkpoint of epoch {len(run.history)} in {args.save}" if args.save and run.history else ""
        print(f"interrupted{saved}", file=sys.stderr)
        return 130
    except TrainingDiverged as exc:
        kept = f"; last good checkpoint kept in {args.save}" if args.save and run.history else ""
        print(f"error: {exc}{kept}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        if run.group.world_size == 1:
            raise
        # a peer died or hung up (e.g. gloo: connection reset); the launcher names which
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        if not os.environ.get(SUPERVISED):  # under `rnnlm launch`, its one line says it all
            print(f"error: rank {run.group.rank}: the worker group failed ({reason})", file=sys.stderr)
        return 1
    if not run.group.is_main:
        return 0  # rank 0 reports for the group
    print(f"perplexity {metrics['perplexity']:.1f}, {metrics['tokens_per_sec']:.1f} tokens/sec "
          f"on {metrics['device']}")
    for prefix in PROBE_PREFIXES:
        print(predict(backend, run.model, vocab, prefix))
    if args.plot:
        plot_history(args.plot, run.history, f"{metrics['model']} on {metrics['backend']}")
    if args.metrics_json:
        write_json(args.metrics_json, metrics)
    return 0


def load_model(backend, path, device_spec):
    mcfg, vocab, weights, meta = load_checkpoint(path)
    dtype = meta.get("dtype", "float32")
    model = build_model(backend, mcfg, backend.resolve_device(device_spec), dtype, weights)
    return model, vocab


def cmd_predict(args):
    if not args.prefix:
        raise UsageError("the prefix is empty; give at least one character")
    backend = select_backend(args.backend)
    model, vocab = load_model(backend, args.checkpoint, args.device)
    _, unknown = prefix_ids(vocab, args.prefix)
    if unknown:
        print(f"warning: characters not in the vocabulary map to <unk>: {''.join(unknown)!r}",
              file=sys.stderr)
    rng = np.random.default_rng(args.seed)
    for _ in range(args.num_samples):
        print(predict(backend, model, vocab, args.prefix, args.num_chars, args.temperature, args.top_k, rng))
    return 0


def cmd_eval(args):
    backend = select_backend(args.backend)
    model, vocab = load_model(backend, args.checkpoint, args.device)
    corpus, corpus_vocab = load_corpus(args.corpus, args.max_tokens)
    # re-index the text with the checkpoint's vocabulary; unseen characters become <unk>
    corpus = np.array(vocab[corpus_vocab.to_tokens(corpus.tolist())], dtype=np.int64)
    what = f"corpus '{args.corpus}'" if args.corpus else "the corpus"
    check_corpus_length(len(corpus), args.batch_size, args.num_steps, "eval", what)
    ppl = evaluate(backend, model, corpus, args.batch_size, args.num_steps)
    print(f"perplexity {ppl:.4f}")
    if args.metrics_json:
        write_json(args.metrics_json, {
            "perplexity": ppl, "backend": backend.NAME, "checkpoint": args.checkpoint,
            "corpus": args.corpus, "max_tokens": args.max_tokens, "tokens": int(len(corpus)),
            "batch_size": args.batch_size, "num_steps": args.num_steps})
    return 0


def first_epoch_above(rel_diffs, threshold):
    return next((i + 1 for i, d in enumerate(rel_diffs) if d > threshold), None)


def cmd_compare(args):
    backends = [load_backend(name) for name in BACKENDS]
    corpus, vocab = load_training_data(args)
    runs = {}
    for backend in backends:
        print(f"training with {backend.NAME} ...", flush=True)
        runs[backend.NAME] = start_run(backend, args, corpus, vocab).run(quiet=True)
    a, b = (runs[name]["history"] for name in BACKENDS)
    rel = [abs(x["perplexity"] - y["perplexity"]) / abs(y["perplexity"]) for x, y in zip(a, b)]
    print(f"{'epoch':>5}  {'ppl torch':>18}  {'ppl mxnet':>18}  {'rel diff':>9}  "
          f"{'tok/s torch':>11}  {'tok/s mxnet':>11}")
    for x, y, d in zip(a, b, rel):
        print(f"{x['epoch']:>5}  {x['perplexity']:>18.12f}  {y['perplexity']:>18.12f}  {d:>9.2e}  "
              f"{x['tokens_per_sec']:>11.1f}  {y['tokens_per_sec']:>11.1f}")
    print(f"max relative difference {max(rel):.3e}")
    for threshold in (1e-9, 1e-6, 1e-3):
        epoch = first_epoch_above(rel, threshold)
        print(f"first epoch above {threshold:.0e}: {epoch if epoch else 'none'}")
    if args.metrics_json:
        write_json(args.metrics_json, {**runs, "max_rel_diff": max(rel)})
    return 0
