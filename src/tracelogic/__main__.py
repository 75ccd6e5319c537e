"""``python -m tracelogic``: the same command as the ``tracelogic`` script."""
from tracelogic.cli import main

main()
