"""`python -m rnnlm` is the same as the `rnnlm` console script."""

import sys

from rnnlm.cli.main import main

sys.exit(main())
