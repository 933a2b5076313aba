"""Helpers for the few-shot citation-screening report (see the README's architecture section).

Importing the package changes nothing in the host process: no environment variable, no working
directory. The command-line entry points (``python -m helpers.commands.report``, ``slr-screen``) set
offline mode for themselves (``helpers.core.cli.offline``); no model or data set is ever
downloaded at run time.
"""

__version__ = "0.3.0"
