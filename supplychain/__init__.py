"""Supply-chain gates run by `make lint` and the security workflow: what we ship may be shipped."""
