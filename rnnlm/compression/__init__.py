"""Compression models beside the RNN: the context model, the mixer, their integer arithmetic."""
