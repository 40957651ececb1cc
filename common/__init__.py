"""The bottom layer: the one home of every part the upper layers share.

Nothing here imports another project package (`make lint` checks it with import-linter), so
the sandbox, verify, the Pulumi program and the automation can all use it without knowing each
other. The deployed app (`app/passport_app`) is the one exception: its bundle ships alone, so it
imports only itself (see docs/architecture.md).
"""
