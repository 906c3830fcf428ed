import sys

import pytest
from drivers_testutil import BROKEN


@pytest.fixture
def broken():
    """The command line of a driver broken in the given way (see broken_driver.py)."""
    return lambda mode: [sys.executable, str(BROKEN), mode]
