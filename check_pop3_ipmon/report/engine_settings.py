"""The engine settings that feed pop3_ipmon_report ("Store Monitor Statistics").

Both engines write one line a check result in the same tab-separated
`KEY::VALUE` form, into a file they rotate every minute; pop3_ipmon_report
ingests the rotated files. The generator (pop3_ipmon_config) appends these
settings when a monitor has `store_statistics = yes`; contrib/ holds them as
drop-in files (tests check that both say the same).
"""

from __future__ import annotations

from collections.abc import Sequence

from check_pop3_ipmon.alerting.definition import Monitor

NAGIOS_DIR = "/var/lib/nagios4/pop3_ipmon"
NAGIOS_FILE = f"{NAGIOS_DIR}/service-perfdata"
NAGIOS_SPOOL = f"{NAGIOS_DIR}/spool"
ROTATE_COMMAND = "pop3-ipmon-rotate-perfdata"
ROTATION_SECONDS = 60

# Nagios turns "\t" in the template into a tab.
NAGIOS_TEMPLATE = "\\t".join(
    [
        "DATATYPE::SERVICEPERFDATA",
        "TIMET::$TIMET$",
        "HOSTNAME::$HOSTNAME$",
        "SERVICEDESC::$SERVICEDESC$",
        "SERVICEPERFDATA::$SERVICEPERFDATA$",
        "SERVICECHECKCOMMAND::$SERVICECHECKCOMMAND$",
        "SERVICESTATE::$SERVICESTATE$",
        "SERVICESTATETYPE::$SERVICESTATETYPE$",
        "SERVICEOUTPUT::$SERVICEOUTPUT$",
    ]
)

ICINGA2_TEMPLATE = "\\t".join(
    [
        "DATATYPE::SERVICEPERFDATA",
        "TIMET::$icinga.timet$",
        "HOSTNAME::$host.name$",
        "SERVICEDESC::$service.name$",
        "SERVICEPERFDATA::$service.perfdata$",
        "SERVICECHECKCOMMAND::$service.check_command$",
        "SERVICESTATE::$service.state$",
        "SERVICESTATETYPE::$service.state_type$",
        "SERVICEOUTPUT::$service.output$",
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
        f"service_perfdata_file_processing_command={ROTATE_COMMAND}",
    ]


def nagios_command(spool: str = NAGIOS_SPOOL) -> list[str]:
    """The command object that rotates the file (Nagios closes it around the command)."""
    return [
        "define command {",
        f"    command_name    {ROTATE_COMMAND}",
        f"    command_line    /bin/mv $SERVICEPERFDATAFILE$ {spool}/service-perfdata.$TIMET$",
        "}",
    ]


def icinga2_writer(
    name: str = "pop3-ipmon-statistics", rotation: int = ROTATION_SECONDS
) -> list[str]:
    """A PerfdataWriter of its own, beside any other (the perfdata feature's, Graphite's)."""
    return [
        f'object PerfdataWriter "{name}" {{',
        '  service_perfdata_path = SpoolDir + "/perfdata/pop3_ipmon-service-perfdata"',
        '  service_temp_path = SpoolDir + "/tmp/pop3_ipmon-service-perfdata"',
        '  host_perfdata_path = SpoolDir + "/perfdata/pop3_ipmon-host-perfdata"',
        '  host_temp_path = SpoolDir + "/tmp/pop3_ipmon-host-perfdata"',
        f'  service_format_template = "{ICINGA2_TEMPLATE}"',
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
        "# and contrib/nagios/pop3_ipmon_perfdata.cfg (the command that rotates the file),",
        f"# with {NAGIOS_SPOOL} owned by the nagios user.",
        "",
    ]


def icinga2_settings(monitors: Sequence[Monitor]) -> list[str]:
    """For the generated file: the PerfdataWriter itself (once per Icinga 2 instance)."""
    if not _wanted(monitors):
        return []
    return [
        "/* Store Monitor Statistics: the files pop3_ipmon_report ingests (contrib/REPORTS.md).",
        " * Define it once per Icinga 2 instance: drop it from all but one generated file,",
        " * or include contrib/icinga2/pop3_ipmon_perfdata.conf instead. */",
        *icinga2_writer(),
        "",
    ]
