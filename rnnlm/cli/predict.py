"""`rnnlm predict PREFIX --checkpoint CK`: continue a prefix, greedily (the book's
`predict_ch8`) or sampled."""

import sys

import numpy as np

from rnnlm import api
from rnnlm.cli.options import G, add_backend_options, add_checkpoint_option, integer, number
from rnnlm.config import GenerateConfig
from rnnlm.errors import UsageError
from rnnlm.model.generate import prefix_ids


def add_parser(sub):
    p = sub.add_parser("predict", help="continue a prefix with a trained checkpoint")
    p.add_argument("prefix", help="the text to continue")
    add_checkpoint_option(p)
    p.add_argument("--num-chars", type=integer, default=G.num_chars, help="characters to generate")
    p.add_argument(
        "--temperature",
        type=number,
        default=G.temperature,
        help="0: greedy, as the book; above 0: sample from softmax(logits / T)",
    )
    p.add_argument(
        "--top-k", type=integer, default=G.top_k, help="with a temperature: sample only from the k likeliest (0: all)"
    )
    p.add_argument("--seed", type=integer, default=G.seed, help="sampling seed")
    p.add_argument("--num-samples", type=integer, default=G.num_samples, metavar="M", help="continuations to print")
    add_backend_options(p)
    p.set_defaults(run=run)


def run(args):
    if not args.prefix:
        raise UsageError("the prefix is empty; give at least one character")
    gen = GenerateConfig(args.num_chars, args.temperature, args.top_k, args.seed, args.num_samples)
    model = api.load(args.checkpoint, backend=args.backend, device=args.device, batch_size=1)
    _, unknown = prefix_ids(model.vocab, args.prefix)
    if unknown:
        print(f"warning: characters not in the vocabulary map to <unk>: {''.join(unknown)!r}", file=sys.stderr)
    rng = np.random.default_rng(gen.seed)  # one stream for all the samples
    for _ in range(gen.num_samples):
        print(model.predict(args.prefix, gen.num_chars, gen.temperature, gen.top_k, rng=rng))
    return 0
