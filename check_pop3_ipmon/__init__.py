"""check_pop3_ipmon: a POP3 check plugin for Nagios 4 and Icinga 2.

Kept import-free on purpose: the plugin's start-up time is its main cost in a
large installation, and every module imported here is paid on every check.

Module map: three products (check, alerting, recovery) and the report, over
a small shared core. Each module has one job; tests/packaging/test_layout.py
keeps this list complete, setup.cfg's import-linter contracts keep the layers.

    launcher.py               console scripts: a broken installation is one line, UNKNOWN
    __main__.py               `python -m check_pop3_ipmon`: the check, through the launcher
    manpage.py                the console scripts' manual pages, from their parsers (build time)
    completion.py             the console scripts' bash completion, from their parsers (build time)

    check/                    the check plugin (check_pop3_ipmon)
    check/run.py              the console script: argv to options, one address or all, run
    check/cli.py              the command line: check_pop's options and ours, to Options
    check/values.py           each option's text to its value, or one usage error
    check/extra_opts.py       --extra-opts: options from an ini file, as monitoring-plugins
    check/credentials.py      the password: a private file or an environment variable
    check/plugin.py           nagiosplugin glue for one session: states, status line, perfdata
    check/pool.py             nagiosplugin glue for --all-addresses
    check/addresses.py        every address of a name tested at once, one deadline
    check/roundtrip_plugin.py nagiosplugin glue for --round-trip
    check/roundtrip_options.py  --round-trip's options, checked
    check/roundtrip.py        --round-trip: SMTP submission, then POP3 until it arrives
    check/tokens.py           --round-trip's private state file: the tokens of the messages sent
    check/session.py          the test by protocol: the dialogs' registry, without nagiosplugin
    check/pop3.py             the POP3 dialog: greeting, STLS, CAPA, login, STAT, QUIT
    check/smtp.py             the SMTP submission dialog of --round-trip
    check/link.py             what every dialog shares: resolve, connect, TLS, phases, deadline
    check/failures.py         every failure kind: its state, the option that changes it
    check/phases.py           the session's phases, their names and what each waits for
    check/login.py            what a login is: credentials and method
    check/auth.py             USER/PASS, APOP, SASL PLAIN
    check/capabilities.py     what a CAPA list offers, and the policies on it
    check/tls.py              TLS context, handshake, what it tells us
    check/castore.py          the system CA store, read only as far as needed
    check/certificate.py      validity dates and names from a DER certificate
    check/connection.py       a TCP/TLS connection whose every wait is bounded
    check/bounded_match.py    --expect-regex's search, ended at the deadline whatever the pattern
    check/protocol.py         POP3 response lines, parsed strictly; sanitising
    check/record.py           core/record.py's plain data classes, for the check

    alerting/                 ipMonitor's alerting on Nagios 4 and Icinga 2
    alerting/handler.py       pop3_ipmon_alert: Nagios' handler, result to decision to actions
    alerting/arguments.py     its command line: engine macros in, a typed Invocation out
    alerting/actors.py        the engines' side of a decision: who performs the actions
    alerting/logsetup.py      the handler's log
    alerting/errors.py        the engines' failure, one type for both
    alerting/model.py         the notification control as a pure function
    alerting/statefile.py     the handler's per-service state file
    alerting/nagios.py        Nagios 4 actions: external commands
    alerting/definition.py    monitor definitions: an ini file, one section a monitor
    alerting/generate.py      pop3_ipmon_config: definitions to engine objects
    alerting/nagios_objects.py  checks on Nagios' resolved objects
    alerting/check_icinga2.py   pop3_ipmon_config check-icinga2: findings and exit code
    alerting/icinga2_target.py  its API target: a private [icinga2-api] file or options
    alerting/icinga2_api.py     Icinga 2's REST API, read only (queries)
    alerting/icinga2_objects.py the objects and node settings it reads
    alerting/icinga2_check.py   its rules: what breaks ipMonitor's timeline
    alerting/webhook.py       pop3_ipmon_webhook: an alert to a chat webhook
    alerting/proxy.py         the HTTP proxy https_proxy/no_proxy name for the webhook's URL

    recovery/                 ipMonitor's recovery actions
    recovery/cli.py           pop3_ipmon_recovery: one alert's actions
    recovery/hook.py          the alerting handler's way in
    recovery/engine.py        which actions an alert calls for, run safely
    recovery/config.py        the recovery configuration file
    recovery/credentials.py   named credential sets from a private file
    recovery/plan.py          each action as steps, each an exact argv
    recovery/transport.py     where a command runs: one class a transport (local, SSH)
    recovery/runner.py        one argv under the deadline, never through a shell
    recovery/state.py         per-service recovery state and its locks
    recovery/audit.py         the record of what recovery did
    recovery/nagios.py        what Nagios 4 tells an event handler
    recovery/selfcheck.py     is a target this very machine?
    recovery/validate.py      strict checks for every value that reaches a command

    report/                   pop3_ipmon_report: statistics from the engines' perfdata
    report/cli.py             the console script
    report/perfdata.py        one perfdata line, parsed
    report/ingest.py          perfdata files into the database, each once
    report/safefile.py        files opened and written safely as root
    report/spool.py           Nagios' processing command, shared with graphing tools
    report/store.py           the SQLite database
    report/model.py           what a report shows, per service
    report/availability.py    availability, outages, MTTR, MTBF
    report/percentiles.py     response-time percentiles
    report/html.py            the report as one static HTML page
    report/svg.py             the response-time chart
    report/export.py          JSON and CSV
    report/engine_settings.py the engine settings that feed the report

    core/                     what more than one product needs, once
    core/private_files.py     one rule for files that hold secrets or decide what runs
    core/statestore.py        reading a state file: one cap, one failure policy
    core/atomicfile.py        replace a file atomically
    core/directories.py       one rule for the directories that hold state, locks and logs
    core/logfile.py           opening a log file to append to, safely
    core/redact.py            URLs as a log may show them
    core/deadline.py          one deadline over a whole run
    core/monitor_name.py      ipMonitor's Monitor Name rule
    core/values.py            yes/no words, whole numbers, engine flags and depths
    core/perflabel.py         per-address perfdata labels every metric store keeps as one name
    core/record.py            plain data classes without `dataclasses` (start-up time)
    core/hold.py              who holds a Nagios problem after alert M (its author)
"""

__version__ = "0.1.0"
