"""`python -m casegold_intake.dev`: the local stack's intake, with the documented dev keys.

`make up` starts this entry point; production starts `python -m casegold_intake` with real keys.
"""

from __future__ import annotations

import sys

from casegold_intake.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["--dev-keys", *sys.argv[1:]]))
