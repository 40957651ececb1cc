"""Automation API pipeline: check → preview → up → verify → rollback, over two engines."""
