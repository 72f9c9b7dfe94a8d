"""Interop: the book's own checkpoint files (each framework's native format) in and out."""
