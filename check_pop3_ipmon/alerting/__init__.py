"""ipMonitor's alerting model on top of Nagios 4 and Icinga 2.

The engines run the check (SOFT retries that never turn HARD) and call our
event handler after every result; the handler counts failures, decides the
ipMonitor state, and asks the engine for a custom notification at failures
F, 2F, ... M*F and once more on recovery. See contrib/README.md.

model.py decides (pure), statefile.py remembers (locked, atomic),
nagios.py and icinga2.py talk to the engines, handler.py is the console
script, definition.py and generate.py turn a monitor definition into config.
"""
