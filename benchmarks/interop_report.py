"""Bring your own model, end to end (the README's "Bring your own model" numbers).

    python benchmarks/interop_report.py [--epochs 100] [--cell rnn] [--num-hiddens 256]

For each framework: train the book's RNNModel with the book's own loop (tests/support/book_models.py),
save it natively (torch.save of the state_dict; Gluon save_parameters), `rnnlm import` it,
then compare the book's own perplexity and greedy text with `rnnlm eval`/`predict` on every
backend (torch, mxnet, onnxruntime). Then `rnnlm export` the checkpoint to both native formats
and ONNX, load the files into the book's classes (and the .onnx as a checkpoint), and compare
again.
"""

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnlm.cli.main import main
from rnnlm.config import CELLS
from rnnlm.data.corpus import load_corpus
from tests.support import book_models as book

BATCH, STEPS, PREFIX, CHARS = 32, 35, "time traveller", 50


def rnnlm(*argv):
    """`rnnlm ARGV` in process; its stdout. Prints the command as a user would type it."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"rnnlm {' '.join(map(str, argv))} exited {code}")
    return out.getvalue()


def rnnlm_numbers(ck, backend, folder):
    metrics = os.path.join(folder, "m.json")
    rnnlm("eval", "--checkpoint", ck, "--backend", backend, "--metrics-json", metrics)
    with open(metrics) as f:
        ppl = json.load(f)["perplexity"]
    text = rnnlm("predict", PREFIX, "--checkpoint", ck, "--backend", backend).rstrip("\n")
    return ppl, text


def book_numbers(source, net, corpus, vocab):
    if source == "torch":
        return (book.torch_perplexity(net, corpus, BATCH, STEPS), book.torch_predict(PREFIX, CHARS, net, vocab))
    return book.mxnet_perplexity(net, corpus, BATCH, STEPS), book.mxnet_predict(PREFIX, CHARS, net, vocab)


def row(what, ppl, text, ref_ppl, ref_text):
    rel = abs(ppl - ref_ppl) / ref_ppl
    print(f"  {what:<34} {ppl:>12.6f} {rel:>9.1e}  {'same' if text == ref_text else 'DIFFERENT'}")


def main_report():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--cell", default="rnn", choices=CELLS)
    parser.add_argument("--num-hiddens", type=int, default=256)
    args = parser.parse_args()
    corpus, vocab = load_corpus(None, 10000)
    folder = tempfile.mkdtemp(prefix="rnnlm-interop-")
    for source in ("torch", "mxnet"):
        start = time.perf_counter()
        if source == "torch":
            import torch

            net = book.torch_model(args.cell, len(vocab), args.num_hiddens)
            train_ppl = book.torch_train_ch8(net, corpus, 1.0, args.epochs)
            native = os.path.join(folder, "book.pt")
            torch.save(net.state_dict(), native)
        else:
            net = book.mxnet_model(args.cell, len(vocab), args.num_hiddens)
            train_ppl = book.mxnet_train_ch8(net, corpus, 1.0, args.epochs)
            native = os.path.join(folder, "book.params")
            net.save_parameters(native)
        ref_ppl, ref_text = book_numbers(source, net, corpus, vocab)
        print(
            f"\n{source}: the book's {args.cell}, {args.num_hiddens} hidden, {args.epochs} epochs "
            f"(train perplexity {train_ppl:.2f}, {time.perf_counter() - start:.0f} s)"
        )
        print(f"  {'book code, ' + source:<34} {ref_ppl:>12.6f} {'':>9}  {ref_text!r}")
        ck = os.path.join(folder, f"{source}.npz")
        print("  $ " + rnnlm("import", native, "--out", ck).strip())
        print(f"  {'':<34} {'perplexity':>12} {'rel diff':>9}  greedy text")
        for backend in ("torch", "mxnet", "onnxruntime"):
            row(f"rnnlm import -> {backend}", *rnnlm_numbers(ck, backend, folder), ref_ppl, ref_text)
        # and back out: the book's classes load rnnlm's exports
        cfg_act = {"torch": "tanh", "mxnet": "relu"}[source]
        out_pt, out_params, out_onnx = (os.path.join(folder, f"out.{e}") for e in ("pt", "params", "onnx"))
        rnnlm("export", ck, "--format", "torch", "--out", out_pt)
        rnnlm("export", ck, "--format", "mxnet", "--out", out_params)
        rnnlm("export", ck, "--format", "onnx", "--out", out_onnx)
        import torch

        tnet = book.torch_model(args.cell, len(vocab), args.num_hiddens, nonlinearity=cfg_act)
        tnet.load_state_dict(torch.load(out_pt, weights_only=True), strict=True)
        row("export torch -> book's torch class", *book_numbers("torch", tnet, corpus, vocab), ref_ppl, ref_text)
        mnet = book.mxnet_model(args.cell, len(vocab), args.num_hiddens, activation=cfg_act)
        mnet.load_parameters(out_params)
        row("export mxnet -> book's mxnet class", *book_numbers("mxnet", mnet, corpus, vocab), ref_ppl, ref_text)
        row("export onnx -> rnnlm onnxruntime", *rnnlm_numbers(out_onnx, "onnxruntime", folder), ref_ppl, ref_text)


if __name__ == "__main__":
    main_report()
