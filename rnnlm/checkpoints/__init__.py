"""Checkpoints: the pickle-free .npz file and its schema (every field checked before use)."""
