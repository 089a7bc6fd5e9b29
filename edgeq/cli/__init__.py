"""The ``edgeq`` command line: a thin consumer of :mod:`edgeq.api`."""
