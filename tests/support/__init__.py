"""What many tests share, imported as a library (conftest.py holds the fixtures alone)."""
