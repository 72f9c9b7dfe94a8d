"""The model, framework-neutral: its canonical weight layout and NumPy initialization, and
generation (greedy, as the book's `predict_ch8`, or sampled) over any backend."""
