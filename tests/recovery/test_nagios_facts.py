"""Reading what Nagios gives a handler: environment macros and status.dat."""

from __future__ import annotations

from pathlib import Path

from check_pop3_ipmon.recovery import nagios

STATUS = """\
info {
\tcreated=1700000000
\t}

servicestatus {
\thost_name=mail1
\tservice_description=IMAP
\tproblem_has_been_acknowledged=1
\t}

servicestatus {
\thost_name=mail1
\tservice_description=POP3
\tcurrent_state=2
\tproblem_has_been_acknowledged=ACK
\tplugin_output=POP3 CRITICAL - a=b { }
\t}
"""


def test_acknowledgement_comes_from_status_dat(tmp_path: Path) -> None:
    path = tmp_path / "status.dat"
    path.write_text(STATUS.replace("ACK", "0"))
    assert not nagios.acknowledged(path, "mail1", "POP3")
    assert nagios.acknowledged(path, "mail1", "IMAP")
    assert not nagios.acknowledged(path, "mail2", "POP3")
    path.write_text(STATUS.replace("ACK", "1"))
    assert nagios.acknowledged(path, "mail1", "POP3")
    status = nagios.service_status(path, "mail1", "POP3")
    assert status is not None and status["plugin_output"] == "POP3 CRITICAL - a=b { }"


_COMMENT_IDS = iter(range(1, 1000))


def comment(author: str, entry_type: int = 4, service: str = "POP3") -> str:
    """A servicecomment block as Nagios writes it, numbered upwards."""
    return (
        f"servicecomment {{\n\thost_name=mail1\n\tservice_description={service}\n"
        f"\tentry_type={entry_type}\n\tcomment_id={next(_COMMENT_IDS)}\n"
        f"\tauthor={author}\n\tcomment_data=x {{\n\t}}\n\n"
    )


def test_the_alertings_own_hold_is_not_an_administrators_acknowledgement(
    tmp_path: Path,
) -> None:
    """The hold after alert M (a sticky acknowledgement by pop3_ipmon) must not
    hold back the recovery actions due at alert M; an administrator's does,
    alone or beside it, and so does one whose comment is missing."""
    path = tmp_path / "status.dat"
    acked = STATUS.replace("ACK", "1")
    path.write_text(acked + comment("pop3_ipmon"))
    assert not nagios.acknowledged(path, "mail1", "POP3")
    path.write_text(acked + comment("pop3_ipmon") + comment("alice"))
    assert nagios.acknowledged(path, "mail1", "POP3")
    # A persistent comment of an earlier outage's acknowledgement is older than the hold.
    path.write_text(acked + comment("alice") + comment("pop3_ipmon"))
    assert not nagios.acknowledged(path, "mail1", "POP3")
    # A user comment by someone else, or an acknowledgement of another service, is not it.
    path.write_text(acked + comment("pop3_ipmon") + comment("alice", 1) + comment("bob", 4, "IMAP"))
    assert not nagios.acknowledged(path, "mail1", "POP3")
    path.write_text(acked)
    assert nagios.acknowledged(path, "mail1", "POP3")
    # Not acknowledged at all: the comment alone does not make it so.
    path.write_text(STATUS.replace("ACK", "0") + comment("alice"))
    assert not nagios.acknowledged(path, "mail1", "POP3")


def test_environment_facts_are_taken_verbatim() -> None:
    env = {
        "NAGIOS_HOSTADDRESS": "x';touch /tmp/pwned;'",
        "NAGIOS_HOSTSTATE": "DOWN",
        "NAGIOS_SERVICEOUTPUT": "POP3 CRITICAL - refused",
        "NAGIOS_LONGSERVICEOUTPUT": "detail",
        "NAGIOS__SERVICEPOP3_IPMON_RECOVERY_TARGET": "mail1.example.com",
        "NAGIOS_SERVICEDISPLAYNAME": "M" * 70,
    }
    facts = nagios.env_facts(env)
    # Data, not code: validation (not this reader) refuses the address later.
    assert facts["address"] == "x';touch /tmp/pwned;'"
    assert (facts["host_state"], facts["target"]) == ("DOWN", "mail1.example.com")
    assert facts["output"] == "POP3 CRITICAL - refused\ndetail"
    assert facts["monitor"] == "M" * 64
    assert set(nagios.env_facts({}).values()) == {""}


def test_the_environment_names_only_declared_facts() -> None:
    from check_pop3_ipmon.recovery.engine import FACT_NAMES

    assert set(nagios.env_facts({})) <= set(FACT_NAMES)
