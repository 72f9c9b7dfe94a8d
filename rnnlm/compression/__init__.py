"""Compression: lossless coding of text with the model's predictions (a range coder, the
container file, checkpoint and online modes)."""
