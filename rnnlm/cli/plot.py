"""`rnnlm plot A.json B.json -o CMP.png`: its parser and what it prints (the figure is
rnnlm.training.plot.plot_runs). One module per command, registered with `add_parser(sub)`."""


def add_parser(sub):
    p = sub.add_parser("plot", help="overlay several runs' --metrics-json files in one PNG")
    p.add_argument("metrics", nargs="+", metavar="JSON", help="metrics files written by train --metrics-json")
    p.add_argument("-o", "--out", required=True, metavar="PNG", help="the PNG to write")
    p.set_defaults(run=run)
    return p


def run(args):
    from rnnlm.io.collisions import check_distinct
    from rnnlm.io.outputs import check_writable
    from rnnlm.training.plot import plot_runs, read_metrics

    check_distinct([(path, "metrics file") for path in args.metrics], [(args.out, "-o")])
    check_writable(args.out, "plot")
    for path in args.metrics:  # every file checked before the figure is drawn
        read_metrics(path)
    print(f"plotted {plot_runs(args.out, args.metrics)} runs in {args.out}")
    return 0
