"""The command-line layer: argument parsing, logging set-up and exit statuses.

Library modules never import this package. Every command goes through
:func:`samskaping.cli.common.run_command`, which turns the project's errors into
one plain line and an exit status:

====  ==========================================================
0     done
1     done, but some inputs could not be read (listed on screen and in summary.json)
2     bad arguments, model, data or configuration; nothing useful could be done
3     internal error (a bug): the message says where the traceback was saved
130   interrupted (Ctrl-C)
====  ==========================================================
"""

from samskaping.cli.common import EXIT_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL

__all__ = ["EXIT_ERROR", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL"]
