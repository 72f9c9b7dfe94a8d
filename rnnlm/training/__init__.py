"""Training: the loop (the book's `train_ch8`), one run with resume and checkpoints, its outputs,
progress, metrics and plots."""
