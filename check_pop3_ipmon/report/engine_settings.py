"""The engine settings that feed pop3_ipmon_report ("Store Monitor Statistics").

Both engines write one line a check result in the same tab-separated
`KEY::VALUE` form (perfdata.py says why in this order: the engine's own
fields first, the plugin's perfdata and output last), into a file they
rotate every minute; pop3_ipmon_report ingests the rotated files. Both write
into /var/lib/check_pop3_ipmon/statistics, which the Debian package makes
for the engine's user (debian/check-pop3-ipmon.postinst). The generator
(pop3_ipmon_config) points at contrib/'s drop-in files when a monitor has
`store_statistics = yes`; tests check that they say what this module says.
"""

from __future__ import annotations

from collections.abc import Sequence

from check_pop3_ipmon.alerting.definition import Monitor

STATISTICS_DIR = "/var/lib/check_pop3_ipmon/statistics"
SPOOL = f"{STATISTICS_DIR}/spool"  # rotated files, ingested from here
LIVE_DIR = f"{STATISTICS_DIR}/live"  # the files the engines are writing
DATABASE = f"{STATISTICS_DIR}/statistics.sqlite"
NAGIOS_FILE = f"{LIVE_DIR}/service-perfdata"
REPORT_PROGRAM = "/usr/bin/pop3_ipmon_report"  # Debian's package
PROCESS_COMMAND = "pop3-ipmon-process-perfdata"
ROTATION_SECONDS = 60
# What the report knows as ipMonitor POP3 monitors: the Nagios command
# (contrib/nagios/pop3_ipmon_commands.cfg) and the Icinga 2 CheckCommand.
CHECK_COMMANDS = ("check_pop3_ipmon", "pop3_ipmon")
ICINGA2_OUTPUT_VAR = "pop3_ipmon_perfdata_output"
ICINGA2_OUTPUT_TEMPLATE = "pop3-ipmon-perfdata-output"

# Nagios turns "\t" in the template into a tab. $SERVICEOUTPUT$ is the
# output's first line only: Nagios keeps the rest in $LONGSERVICEOUTPUT$.
NAGIOS_TEMPLATE = "\\t".join(
    [
        "DATATYPE::SERVICEPERFDATA",
        "TIMET::$TIMET$",
        "HOSTNAME::$HOSTNAME$",
        "SERVICEDESC::$SERVICEDESC$",
        "SERVICECHECKCOMMAND::$SERVICECHECKCOMMAND$",
        "SERVICESTATE::$SERVICESTATE$",
        "SERVICESTATETYPE::$SERVICESTATETYPE$",
        "SERVICEDOWNTIME::$SERVICEDOWNTIME$",
        "HOSTDOWNTIME::$HOSTDOWNTIME$",
        "SERVICEPERFDATA::$SERVICEPERFDATA$",
        "SERVICEOUTPUT::$SERVICEOUTPUT$",
    ]
)

# Icinga 2's $service.output$ holds every line the plugin printed; the
# default template's function gives it with newlines (and backslashes)
# escaped, and "$" doubled, since Icinga 2 resolves macros once more in
# what a custom variable gives.
ICINGA2_TEMPLATE = "\\t".join(
    [
        "DATATYPE::SERVICEPERFDATA",
        "TIMET::$icinga.timet$",
        "HOSTNAME::$host.name$",
        "SERVICEDESC::$service.name$",
        "SERVICECHECKCOMMAND::$service.check_command$",
        "SERVICESTATE::$service.state$",
        "SERVICESTATETYPE::$service.state_type$",
        "SERVICEDOWNTIME::$service.downtime_depth$",
        "HOSTDOWNTIME::$host.downtime_depth$",
        "SERVICEPERFDATA::$service.perfdata$",
        f"SERVICEOUTPUT::$service.vars.{ICINGA2_OUTPUT_VAR}$",
    ]
)


def nagios_main(perfdata_file: str = NAGIOS_FILE, interval: int = ROTATION_SECONDS) -> list[str]:
    """The nagios.cfg lines (main configuration, not object files)."""
    return [
        "process_performance_data=1",
        f"service_perfdata_file={perfdata_file}",
        f"service_perfdata_file_template={NAGIOS_TEMPLATE}",
        "service_perfdata_file_mode=a",
        f"service_perfdata_file_processing_interval={interval}",
        f"service_perfdata_file_processing_command={PROCESS_COMMAND}",
    ]


def nagios_command(
    spool: str = SPOOL, program: str = REPORT_PROGRAM, downstream: Sequence[str] = ()
) -> list[str]:
    """The command Nagios runs on the closed file (it opens a new one after):
    a copy into the report's spool, then the file handed on (`downstream`,
    e.g. ["--to", "/var/spool/pnp4nagios"]) or removed."""
    words = [program, "spool", "$SERVICEPERFDATAFILE$", "--into", spool, *downstream]
    return [
        "define command {",
        f"    command_name    {PROCESS_COMMAND}",
        f"    command_line    {' '.join(words)}",
        "}",
    ]


def icinga2_writer(directory: str = STATISTICS_DIR, rotation: int = ROTATION_SECONDS) -> list[str]:
    """The output-escaping default template and a PerfdataWriter of its own,
    beside any other writer (the perfdata feature's, Graphite's)."""
    return [
        f'template Service "{ICINGA2_OUTPUT_TEMPLATE}" default {{',
        f"  vars.{ICINGA2_OUTPUT_VAR} = {{{{",
        '    macro("$service.output$").replace("\\\\", "\\\\\\\\").replace("\\n", "\\\\n")'
        '.replace("\\r", "\\\\r").replace("$", "$$")',
        "  }}",
        "}",
        "",
        'object PerfdataWriter "pop3-ipmon-statistics" {',
        f'  service_perfdata_path = "{directory}/spool/service-perfdata"',
        f'  service_temp_path = "{directory}/live/service-perfdata"',
        f'  host_perfdata_path = "{directory}/spool/host-perfdata"',
        f'  host_temp_path = "{directory}/live/host-perfdata"',
        f'  service_format_template = "{ICINGA2_TEMPLATE}"',
        '  host_format_template = "DATATYPE::HOSTPERFDATA"',
        f"  rotation_interval = {rotation}s",
        "}",
    ]


def _wanted(monitors: Sequence[Monitor]) -> bool:
    return any(monitor.store_statistics for monitor in monitors)


def nagios_settings(monitors: Sequence[Monitor]) -> list[str]:
    """For the generated object file: what goes into nagios.cfg, as comments
    (an object file cannot hold main settings), and where the command is."""
    if not _wanted(monitors):
        return []
    return [
        "# Store Monitor Statistics (pop3_ipmon_report, contrib/REPORTS.md): nagios.cfg needs",
        *(f"#   {line}" for line in nagios_main()),
        "# and contrib/nagios/pop3_ipmon_perfdata.cfg (the command that hands the file on).",
        "",
    ]


def icinga2_settings(monitors: Sequence[Monitor]) -> list[str]:
    """For the generated file: where the writer is. Not the writer itself:
    one per instance, whatever number of generated files (contrib/REPORTS.md)."""
    if not _wanted(monitors):
        return []
    return [
        "/* Store Monitor Statistics: include contrib/icinga2/pop3_ipmon_perfdata.conf once",
        " * per Icinga 2 instance (its PerfdataWriter writes the files pop3_ipmon_report",
        " * ingests; contrib/REPORTS.md). */",
        "",
    ]
