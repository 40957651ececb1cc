"""Policy as code: rules in rules.py; the Pulumi policy pack entry point in __main__.py."""
