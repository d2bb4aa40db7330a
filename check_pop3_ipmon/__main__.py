"""`python -m check_pop3_ipmon`: the check, through the launcher as the console script."""

from check_pop3_ipmon.launcher import SCRIPTS, launch

launch(SCRIPTS["check_pop3_ipmon"])
