"""``python -m dirqkit``: the same as the ``dirqkit`` command."""

import sys

from dirqkit.cli import main

sys.exit(main())
