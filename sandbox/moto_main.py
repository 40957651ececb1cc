"""`python -m sandbox.moto_main -H 127.0.0.1 -p PORT`: moto's server, AWS policy semantics.

The sandbox's long-lived per-stack moto process. It is moto's own server entry point after
`apply_aws_condition_semantics()` (see sandbox/moto_server.py for the moto behaviour it fixes).
"""

from __future__ import annotations

import sys

from moto.server import main as moto_main

from sandbox.moto_server import apply_aws_condition_semantics


def main(argv: list[str] | None = None) -> None:
    apply_aws_condition_semantics()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
