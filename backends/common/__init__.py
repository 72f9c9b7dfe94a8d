"""What every backend shares: the interface (`base`), its defaults (`defaults`), the import
environment of frameworks (`runtime`), the description of a group's processes (`engine`),
exact float64 sums over float32 transports (`exact_sum`)."""
