"""Entry point of the Pulumi policy pack (`pulumi preview --policy-pack policy`).

PolicyPack() serves the analyzer over gRPC until the engine stops it; the policies themselves
live in pack.py (and the rules in rules.py) so that tests and the sandbox can use them.
"""

import sys
from pathlib import Path

# The engine runs this file from the pack folder; the rules are imported as the `policy` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.pack import PACK_NAME, policies  # noqa: E402

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
