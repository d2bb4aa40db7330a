"""ipMonitor's alerting model through Nagios 4's and Icinga 2's own.

The engines turn a service HARD at failure F (max_check_attempts) and send
their own PROBLEM and RECOVERY notifications. On Nagios our handler runs
after every result (ocsp_command), counts failures and tells Nagios when the
next PROBLEM may go (alerts at F, 2F, ... M*F), which interval to test at
(Down, Lost, Up) and ipMonitor's state. Icinga 2 needs no handler: the
shipped Notification template expresses F and M in the Notification itself
(interval, times.end). See contrib/README.md.

model.py decides (pure), statefile.py remembers (locked, atomic), nagios.py
talks to Nagios, actors.py performs a decision on it,
arguments.py parses the handler's command line, logsetup.py its log,
handler.py runs it all (the console script), definition.py and generate.py
turn a monitor definition into config, nagios_objects.py checks Nagios'.
"""
