"""What the three CLIs (`automation`, `sandbox`, `verify`) share: exit codes, interrupts, stacks."""
