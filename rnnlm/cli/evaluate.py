"""`rnnlm eval --checkpoint CK`: the perplexity of a corpus under a checkpoint."""

from rnnlm import api
from rnnlm.io.collisions import check_distinct
from rnnlm.io.outputs import check_writable
from rnnlm.cli.options import E, add_backend_options, add_checkpoint_option, integer
from rnnlm.config import EvalConfig
from rnnlm.training.metrics import write_json


def add_parser(sub):
    p = sub.add_parser("eval", help="perplexity of a corpus under a checkpoint")
    add_checkpoint_option(p)
    p.add_argument("--corpus", help="a UTF-8 text file (default: the embedded Time Machine)")
    p.add_argument("--max-tokens", type=integer, default=E.max_tokens, help="the first N tokens (0: the whole corpus)")
    p.add_argument("--batch-size", type=integer, default=E.batch_size, help="rows per minibatch")
    p.add_argument("--num-steps", type=integer, default=E.num_steps, help="time steps per minibatch")
    p.add_argument("--metrics-json", metavar="PATH", help="write the result as JSON")
    add_backend_options(p)
    p.set_defaults(run=run)


def run(args):
    cfg = EvalConfig(args.corpus, args.max_tokens, args.batch_size, args.num_steps)
    check_distinct(
        [(args.checkpoint, "--checkpoint"), (cfg.corpus, "--corpus")], [(args.metrics_json, "--metrics-json")]
    )
    if args.metrics_json:
        check_writable(args.metrics_json, "metrics")
    model = api.load(args.checkpoint, backend=args.backend, device=args.device)
    ids = model.token_ids(cfg.corpus, cfg.max_tokens)
    ppl = model.perplexity_of(ids, cfg.batch_size, cfg.num_steps, what=cfg.corpus)
    print(f"perplexity {ppl:.4f}")
    if args.metrics_json:
        write_json(
            args.metrics_json,
            {
                "perplexity": ppl,
                "backend": model.backend.NAME,
                "checkpoint": args.checkpoint,
                "corpus": cfg.corpus,
                "max_tokens": cfg.max_tokens,
                "tokens": len(ids),
                "batch_size": cfg.batch_size,
                "num_steps": cfg.num_steps,
            },
        )
    return 0
