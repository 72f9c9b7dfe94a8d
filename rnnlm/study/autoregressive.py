"""Exercise 3: "Implement the autoregressive model of the introduction using an RNN."

The chapter introduction's experiment: x_t = sin(0.01 t) + normal(0, 0.2), t = 1..1000,
features the tau = 4 previous values, the first 600 examples for training (batch 16,
shuffled), MSE, Adam lr 0.01, 5 epochs. The book's MLP (4 -> 10 ReLU -> 1, Xavier) against
an RNN that reads the window one real number a step (a regression head on its last state).
Both predict one step ahead, then many steps from t = 604 on their own predictions, and
k steps ahead for k = 1, 4, 16, 64 (the book's figure).
"""

import numpy as np

from rnnlm.study import common
from rnnlm.training.figure_style import readable

T, TAU, N_TRAIN, MAX_STEPS, KS = 1000, 4, 600, 64, (1, 4, 16, 64)
MODELS = {"mlp": 10, "rnn": 16}  # hidden units


def quick_grid():
    return "seed 0 alone, of the full grid's 0, 1 and 2"


def check(backends):
    pass


def points(backends, quick):
    seeds = (0,) if quick else (0, 1, 2)
    return [
        {
            "backend": b,
            "model": m,
            "num_hiddens": MODELS[m],
            "seed": s,
            "epochs": 5,
            "batch_size": 16,
            "lr": 0.01,
            "dtype": "float32",
        }
        for b in backends
        for m in MODELS
        for s in seeds
    ]


def label(c):
    return f"{c['backend']} {c['model']} seed {c['seed']}"


def series(seed):
    """(time, x): the book's noisy sine, drawn from a NumPy generator."""
    time = np.arange(1, T + 1, dtype=np.float64)
    x = np.sin(0.01 * time) + np.random.default_rng([seed, 0xA5]).normal(0, 0.2, T)
    return time, x


def windows(x):
    """features[i] = x[i : i + tau], labels[i] = x[i + tau]: the book's `features`, `labels`."""
    features = np.stack([x[i : T - TAU + i] for i in range(TAU)], axis=1)
    return features, x[TAU:]


def build(c):
    from rnnlm.study.models import load_study_backend
    from rnnlm.study.weights import mlp_weights, regressor_weights

    b = load_study_backend(c["backend"])
    b.set_num_threads(1)
    w = (
        mlp_weights(TAU, c["num_hiddens"], c["seed"], c["dtype"])
        if c["model"] == "mlp"
        else regressor_weights(c["num_hiddens"], c["seed"], c["dtype"])
    )
    return b, b.Regressor(w, c["model"], c["dtype"])


def run(c):
    b, model = build(c)
    time, x = series(c["seed"])
    features, labels = windows(x)
    dtype = np.dtype(c["dtype"])
    rng, adam, losses = np.random.default_rng([c["seed"], 0xB7]), b.make_adam(model), []
    for _ in range(c["epochs"]):
        order = rng.permutation(N_TRAIN)
        for i in range(0, N_TRAIN, c["batch_size"]):
            idx = order[i : i + c["batch_size"]]
            b.regressor_train_step(model, adam, features[idx].astype(dtype), labels[idx].astype(dtype), c["lr"])
        pred = b.regressor_predict(model, features[:N_TRAIN].astype(dtype))
        losses.append(float(np.mean((pred - labels[:N_TRAIN]) ** 2)))
    predict = lambda X: b.regressor_predict(model, np.asarray(X, dtype=dtype)).astype(np.float64)  # noqa: E731
    onestep = predict(features)
    multistep = x.copy()
    for i in range(N_TRAIN + TAU, T):  # from t = 604 on, on its own predictions
        multistep[i] = predict(multistep[None, i - TAU : i])[0]
    n = T - TAU - MAX_STEPS + 1
    kfeat = np.zeros((n, TAU + MAX_STEPS))
    for i in range(TAU):
        kfeat[:, i] = x[i : i + n]
    for i in range(TAU, TAU + MAX_STEPS):
        kfeat[:, i] = predict(kfeat[:, i - TAU : i])
    kstep = {}
    for k in KS:
        target = x[TAU + k - 1 : TAU + k - 1 + n]
        test = np.arange(n) + TAU + k - 1 >= N_TRAIN + TAU  # predictions of t >= 605 (index 604)
        kstep[str(k)] = {
            "mse": float(np.mean((kfeat[:, TAU + k - 1] - target) ** 2)),
            "test_mse": float(np.mean((kfeat[test, TAU + k - 1] - target[test]) ** 2)),
            "pred": kfeat[:, TAU + k - 1].tolist(),
        }
    test_rows = slice(N_TRAIN, None)
    return {
        "train_loss": losses,
        "final_train_mse": losses[-1],
        "onestep_test_mse": float(np.mean((onestep[test_rows] - labels[test_rows]) ** 2)),
        "multistep_mse": float(np.mean((multistep[N_TRAIN + TAU :] - x[N_TRAIN + TAU :]) ** 2)),
        "kstep": kstep,
        "onestep": onestep.tolist(),
        "multistep": multistep.tolist(),
        "noise_variance": 0.04,
    }


# ---- the report ------------------------------------------------------------------------------


def _mean(runs, backend, model, get):
    vals = [get(r["result"]) for r in runs if r["config"]["backend"] == backend and r["config"]["model"] == model]
    return float(np.mean(vals))


def summarize(runs):
    backends = list(dict.fromkeys(r["config"]["backend"] for r in runs))
    table = {}
    for b in backends:
        for m in MODELS:
            table[f"{b} {m}"] = {
                "final_train_mse": _mean(runs, b, m, lambda r: r["final_train_mse"]),
                "onestep_test_mse": _mean(runs, b, m, lambda r: r["onestep_test_mse"]),
                "multistep_mse": _mean(runs, b, m, lambda r: r["multistep_mse"]),
                **{f"k{k}": _mean(runs, b, m, lambda r, k=k: r["kstep"][str(k)]["test_mse"]) for k in KS},
            }
    b = backends[0]
    mlp, rnn = table[f"{b} mlp"], table[f"{b} rnn"]
    better = "RNN" if rnn["onestep_test_mse"] < mlp["onestep_test_mse"] else "MLP"
    answer = (
        f"On {b}, one step ahead the {better} predicts better (test MSE: RNN "
        f"{rnn['onestep_test_mse']:.4f}, MLP {mlp['onestep_test_mse']:.4f}; the noise variance alone is "
        f"0.04). Both degrade with the horizon: 64 steps ahead the test MSE is RNN {rnn['k64']:.3f}, "
        f"MLP {mlp['k64']:.3f}, and the multi-step prediction from t = 604 ends at MSE RNN "
        f"{rnn['multistep_mse']:.3f}, MLP {mlp['multistep_mse']:.3f}: feeding predictions back accumulates "
        "their errors for either model."
    )
    return {"table": table, "answer": answer}


def markdown(runs, summary):
    seeds = sorted({r["config"]["seed"] for r in runs})
    out = [
        "# Study `autoregressive`: the book's MLP against an RNN on the noisy sine\n",
        f"T = {T}, tau = {TAU}, {N_TRAIN} training examples, batch 16, Adam lr 0.01, 5 epochs, MSE; "
        f"seeds {', '.join(map(str, seeds))} (means over seeds). Test: predictions of t >= 605.\n",
    ]
    rows = [
        [
            name,
            *(common.fmt(v[key]) for key in ("final_train_mse", "onestep_test_mse", "multistep_mse")),
            *(common.fmt(v[f"k{k}"]) for k in KS),
        ]
        for name, v in summary["table"].items()
    ]
    out.append(
        common.table(
            [
                "backend model",
                "train MSE",
                "one-step test MSE (from the data)",
                "multi-step MSE (from 604)",
                *(f"k = {k}: test MSE" for k in KS),
            ],
            rows,
        )
    )
    out.append(f"\n**Answer (from the numbers above).** {summary['answer']}\n")
    return "\n".join(out)


def figure(runs, summary, path):
    first = [
        r
        for r in runs
        if r["config"]["seed"] == runs[0]["config"]["seed"] and r["config"]["backend"] == runs[0]["config"]["backend"]
    ]
    fig, axes = common.new_figure(2, len(first), width=6, height=3)
    time, x = series(first[0]["config"]["seed"])
    n = T - TAU - MAX_STEPS + 1
    for row, r in enumerate(first):
        res, name = r["result"], f"{r['config']['backend']} {r['config']['model']}"
        ax = axes[row][0]
        ax.plot(time, x, color="0.7", label="data")
        ax.plot(time[TAU:], res["onestep"], label="1-step preds")
        ax.plot(time[N_TRAIN + TAU :], res["multistep"][N_TRAIN + TAU :], label="multistep preds")
        ax.set(xlabel="time", ylabel="x", title=name)
        readable(ax, markers=False)
        ax = axes[row][1]
        for k in KS:
            ax.plot(time[TAU + k - 1 : TAU + k - 1 + n], res["kstep"][str(k)]["pred"], label=f"{k}-step preds")
        ax.set(xlabel="time", ylabel="x", title=f"{name}: k-step-ahead predictions")
        readable(ax, markers=False)
    common.save_figure(fig, path)
