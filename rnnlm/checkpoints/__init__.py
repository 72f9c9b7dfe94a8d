"""Checkpoints: the pickle-free .npz file, its schema (every field checked before use), and
atomic, checked-in-advance outputs."""
