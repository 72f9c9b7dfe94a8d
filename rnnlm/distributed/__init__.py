"""Distributed training: worker groups (sharding, checks) and the local launcher."""
