"""What the three CLIs (`automation`, `sandbox`, `verify`) share: the exit-code table
(`exitcodes`), signals (`interrupts`), one guard from errors and signals to exit codes (`guard`),
one reporter per command (`console`), common options and `run_app` (`options`), stacks."""
