"""Who holds a Nagios problem once alert M is out.

Alerting writes a sticky acknowledgement with this author (alerting/nagios.py);
recovery must tell it from an administrator's, which holds back recovery
actions (recovery/nagios.py). Nothing is imported: the handler loads this on
every failure.
"""

AUTHOR = "pop3_ipmon"
