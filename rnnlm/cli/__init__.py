"""The `rnnlm` command line: one module per command, each adding its own parser."""
