"""ipMonitor's alerting model through Nagios 4's and Icinga 2's own.

The engines turn a service HARD at failure F (max_check_attempts) and send
their own PROBLEM and RECOVERY notifications; our handler runs after every
result (Nagios: ocsp_command; Icinga 2: event command of a volatile service),
counts failures and tells the engine when the next PROBLEM may go (alerts at
F, 2F, ... M*F), which interval to test at (Down, Lost, Up) and ipMonitor's
state. See contrib/README.md.

model.py decides (pure), statefile.py remembers (locked, atomic), nagios.py
and icinga2.py talk to the engines, actors.py performs a decision on one,
arguments.py parses the handler's command line, logsetup.py its log,
handler.py runs it all (the console script), definition.py and generate.py
turn a monitor definition into config, nagios_objects.py checks Nagios'.
"""
