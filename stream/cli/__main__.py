"""`python -m genrescope.stream.cli`: the same as the `genrescope` command."""

import sys

from genrescope.stream.cli import main

sys.exit(main())
