"""check_pop3_ipmon: a POP3 check plugin for Nagios, Icinga 2, Naemon and Checkmk.

Kept import-free on purpose: the plugin's start-up time is its main cost in a
large installation, and every module imported here is paid on every check.
"""

__version__ = "0.1.0"
