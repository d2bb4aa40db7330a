"""nagiosplugin glue: turn a ProbeResult into states, a status line and perfdata.

Thin on purpose: the session decides what happened, this decides what state
that is and how it reads.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator, Sequence

import nagiosplugin
from nagiosplugin import Critical, Metric, Ok, Performance, Range, Result, Unknown, Warn

from check_pop3_ipmon.check import cli, failures, session
from check_pop3_ipmon.check.failures import AS_ASKED, STATE_NAMES, overridden
from check_pop3_ipmon.check.phases import NAMES as PHASES
from check_pop3_ipmon.check.protocol import BANNER_WIDTH, expect_missing, sanitise
from check_pop3_ipmon.check.session import ProbeResult
from check_pop3_ipmon.core.deadline import Deadline

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Union

STATES = (Ok, Warn, Critical, Unknown)  # by exit code
__all__ = ["AS_ASKED", "STATES", "STATE_NAMES", "overridden"]


def failure_text(failure: session.Failure, options: cli.Options) -> str:
    return failures.text_of(failure.kind, failure.message, options)


def failure_state(kind: str, options: cli.Options) -> nagiosplugin.state.ServiceState:
    """A failed test's state, from the table of failure kinds (failures.py)."""
    return STATES[failures.state_of(kind, options)]


def messages(count: int) -> str:
    return f"{count} message{'' if count == 1 else 's'}"


def number(value: float, digits: int = 6) -> str:
    """C-locale decimal without exponent, as the plugin guidelines require."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def result_metrics(result: ProbeResult, options: cli.Options, prefix: str = "") -> Iterator[Metric]:
    """One session's metrics; `prefix` names the address under --all-addresses."""
    yield Metric(prefix + "pop3", result, context="pop3")
    timeout = options.settings.timeout
    yield Metric(prefix + "time", result.total, "s", min=0, max=timeout, context="time")
    for phase in PHASES:
        if phase in result.timings:
            name = f"{prefix}{phase}_time"
            yield Metric(name, result.timings[phase], "s", min=0, context="phase")
    if result.tls is not None and result.tls.days_left is not None:
        yield Metric(prefix + "cert_days", result.tls.days_left, context="cert_days")
    if options.require_capa and (result.capa is not None or result.capa_tls is not None):
        yield Metric(prefix + "capa", result, context="capa")
    if options.forbid_plaintext_auth and result.capa is not None:
        yield Metric(prefix + "plaintext_auth", result, context="plaintext_auth")
    if result.probed:
        yield Metric(prefix + "probe", result, context="probe")
    if options.check_interval is not None and result.final_capa:
        yield Metric(prefix + "login_delay", result, context="login_delay")
    if result.messages is not None and result.mailbox_size is not None:
        yield Metric(prefix + "messages", result.messages, min=0, context="messages")
        size = result.mailbox_size
        yield Metric(prefix + "mailbox_size", size, "B", min=0, context="mailbox_size")
    if result.greeting is not None and result.failure is None:
        yield Metric(prefix + "quit", result.quit_problem, context="quit")


class Pop3(nagiosplugin.Resource):
    name = session.SERVICE

    def __init__(self, options: cli.Options) -> None:
        self.options = options
        self.result: Optional[ProbeResult] = None

    def result_of(self, metric: Metric) -> Optional[ProbeResult]:
        """The session a metric came from (CertDays needs the certificate)."""
        return self.result

    def probe(self) -> Generator[Metric, None, None]:
        self.result = session.probe(self.options.settings)
        yield from result_metrics(self.result, self.options)


class Thresholds(nagiosplugin.Context):
    """Scalar thresholds where an absent one means none.

    nagiosplugin's ScalarContext reads an absent range as "0:", which would
    make a negative value (an expired certificate's days) CRITICAL by accident.
    """

    def __init__(
        self,
        name: str,
        warning: Optional[str],
        critical: Optional[str],
        describe: Union[str, Callable[[Any], str]],
        digits: int = 6,
    ) -> None:
        super().__init__(name)
        # Keep the text as given (cli checked its syntax): str(Range) would
        # print 0.0000001 as 1e-07, which perfdata must not contain.
        self.specs = {"warning": warning or "", "critical": critical or ""}
        self.warning = Range(warning) if warning else None
        self.critical = Range(critical) if critical else None
        self.describe_fmt = describe
        self.digits = digits

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        describe = self.describe_fmt
        text = (
            describe.format(value=metric.value)
            if isinstance(describe, str)
            else describe(metric.value)
        )
        for state, bound, word in (
            (Critical, self.critical, "critical"),
            (Warn, self.warning, "warning"),
        ):
            if bound is not None and not bound.match(metric.value):
                spec = self.specs[word]
                where = "inside" if spec.startswith("@") else "outside"
                return Result(state, f"{text} ({where} {word} range {spec})", metric)
        return Result(Ok, text, metric)

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> Performance:
        return Performance(
            metric.name,
            number(metric.value, self.digits),
            metric.uom or "",
            self.specs["warning"],
            self.specs["critical"],
            # Strings, not floats: nagiosplugin would print 1e-05 as is.
            "" if metric.min is None else number(metric.min),  # type: ignore[arg-type]
            "" if metric.max is None else number(metric.max),  # type: ignore[arg-type]
        )


class CertDays(Thresholds):
    """Days left of the certificate: --cert-warn 21 means WARNING below 21."""

    def __init__(self, warning: Optional[float], critical: Optional[float]) -> None:
        super().__init__(
            "cert_days",
            f"{number(warning, 3)}:" if warning is not None else None,
            f"{number(critical, 3)}:" if critical is not None else None,
            "certificate expires in {value:.1f} days",
            digits=3,
        )

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        result = super().evaluate(metric, resource)
        if result.state == Ok:
            return result
        result_of = getattr(resource, "result_of", None)
        probed = result_of(metric) if result_of is not None else None
        tls = getattr(probed, "tls", None)  # either leg's (--round-trip: smtp_cert_days)
        if tls is None or tls.certificate is None:
            return result
        when = tls.certificate.not_after.strftime("%Y-%m-%d %H:%M UTC")
        days = metric.value
        text = (
            f"certificate expired {-days:.1f} days ago ({when})"
            if days < 0
            else f"certificate expires in {days:.1f} days ({when})"
        )
        return Result(result.state, text, metric)


class Outcome(nagiosplugin.Context):
    """The POP3 test's own verdict: failure kinds mapped to states, then -e."""

    def __init__(self, options: cli.Options) -> None:
        super().__init__("pop3")
        self.options = options
        regex = options.expect_regex
        self.expect_regex = re.compile(regex) if regex is not None else None
        # Made before the probe starts its own: the match ends within -t too.
        self.deadline = Deadline(options.settings.timeout)
        self.found: dict[str, bool] = {}  # greeting line -> --expect-regex found in it

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        result: ProbeResult = metric.value
        failure = result.failure
        if failure is not None:
            state = failure_state(failure.kind, self.options)
            return Result(state, failure_text(failure, self.options), metric)
        greeting = result.greeting
        if greeting is not None and not self.regex_ends(greeting.line):
            code = self.options.timeout_state
            text = (
                f"--expect-regex did not finish matching the greeting within the deadline "
                f"({self.options.settings.timeout:g}s)"
            )
            return Result(STATES[code], overridden(text, code, 2, "--timeout-state"), metric)
        mismatch = self.mismatch(greeting.line) if greeting is not None else None
        if mismatch is None:
            return Result(Ok, None, metric)
        code = self.options.mismatch_state
        return Result(STATES[code], overridden(mismatch, code, 1, "-M"), metric)

    def regex_ends(self, line: str) -> bool:
        """Search --expect-regex in the line within the deadline; whether it finished."""
        if self.expect_regex is None:
            return True
        if line not in self.found:
            from check_pop3_ipmon.check import bounded_match

            found = bounded_match.search(self.expect_regex, line, self.deadline.remaining())
            if found is None:
                return False
            self.found[line] = found
        return True

    def mismatch(self, line: str) -> Optional[str]:
        """What -e / --expect-regex found wrong with the greeting line, if anything."""
        problems = []
        options = self.options
        absent = expect_missing(line, options.expect, options.expect_all)
        if absent:
            shown = [_shown(text, "-e") for text in absent]
            if len(shown) > 1 and not options.expect_all:
                problems.append(f"greeting contains none of {', '.join(shown)}")
            else:
                problems.append(f"greeting does not contain {' and '.join(shown)}")
        if self.expect_regex is not None and not self.found.get(line):
            problems.append(
                f"greeting does not match {_shown(self.expect_regex.pattern, '--expect-regex')}"
            )
        return "; ".join(problems) or None

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


def _shown(expect: str, option: str) -> str:
    """An expected text or pattern as the status line can show it.

    nagiosplugin deletes '|' from the status line and adds a warning line, so
    an alternation like 'Dovecot|Courier' would read as 'DovecotCourier'.
    """
    if "|" in expect or len(expect) > BANNER_WIDTH - 2 or sanitise(expect) != expect:
        return f"the {option} text"
    return f"'{expect}'"


class RequiredCapa(nagiosplugin.Context):
    """--require-capa: each name missing from what the server offers is CRITICAL."""

    def __init__(self, required: Sequence[str]) -> None:
        super().__init__("capa")
        self.required = required

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        from check_pop3_ipmon.check.capabilities import missing

        result: ProbeResult = metric.value
        # A command --probe tried is decided by the probe, not by CAPA.
        wanted = [name for name in self.required if name not in result.settings.probe]
        absent = missing(wanted, result.final_capa, result.capa)
        if not absent:
            return Result(Ok, None, metric)
        if result.capa_refused and not result.final_capa:
            # popa3d, solid-pop3d: no CAPA at all, though UIDL and TOP work.
            text = (
                f"server has no CAPA (it answered {result.capa_refused!r}): cannot tell "
                f"whether it offers {', '.join(absent)}"
            )
            commands = [name for name in absent if name in ("UIDL", "TOP")]
            if commands:
                text += f"; --login --probe {commands[0]} tries the command itself"
            return Result(Critical, text, metric)
        text = f"server does not offer {', '.join(absent)}"
        if result.capa_refused:
            text += f" (CAPA answered {result.capa_refused!r})"
        return Result(Critical, text, metric)

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


class Probe(nagiosplugin.Context):
    """--probe: each command refused is CRITICAL, as a missing --require-capa is."""

    def __init__(self) -> None:
        super().__init__("probe")

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        result: ProbeResult = metric.value
        refused = [f"{name}: {reply}" for name, reply in result.probed.items() if reply]
        if refused:
            return Result(Critical, f"--probe refused ({'; '.join(refused)})", metric)
        untried = [name for name, reply in result.probed.items() if reply is None]
        if untried:
            return Result(
                Unknown, f"--probe {untried[0]} needs a message: the mailbox is empty", metric
            )
        return Result(Ok, None, metric)

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


class LoginDelay(nagiosplugin.Context):
    """CAPA's LOGIN-DELAY (RFC 2449 6.8) against --check-interval: a server that
    refuses logins more often than every N seconds refuses every check between."""

    def __init__(self, interval: Optional[float]) -> None:
        super().__init__("login_delay")
        self.interval = interval

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        result: ProbeResult = metric.value
        delay = login_delay(result.final_capa or ())
        if delay is None or self.interval is None or delay <= self.interval:
            return Result(Ok, None, metric)
        return Result(
            Warn,
            f"CAPA LOGIN-DELAY {delay}s is longer than --check-interval {number(self.interval)}s: "
            "logins in between are refused",
            metric,
        )

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


def login_delay(capa: Sequence[str]) -> Optional[int]:
    """Seconds of "LOGIN-DELAY n" (n may be followed by USER: it may vary by user)."""
    for line in capa:
        words = line.split()
        if len(words) >= 2 and words[0].upper() == "LOGIN-DELAY" and words[1].isdigit():
            return int(words[1])
    return None


class PlaintextAuth(nagiosplugin.Context):
    """--forbid-plaintext-auth: USER or SASL PLAIN/LOGIN offered before TLS."""

    def __init__(self, state: int) -> None:
        super().__init__("plaintext_auth")
        self.code = state
        self.state = STATES[state]

    def _result(self, text: str, metric: Metric) -> Result:
        return Result(self.state, overridden(text, self.code, 1, "--policy-state"), metric)

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        from check_pop3_ipmon.check.capabilities import Capabilities

        result: ProbeResult = metric.value
        if result.capa_refused and not result.capa:
            return self._result(
                "CAPA refused before TLS: cannot tell whether plaintext authentication is offered",
                metric,
            )
        offered = Capabilities(result.capa or ()).plaintext_auth()
        if not offered:
            return Result(Ok, None, metric)
        return self._result(
            f"plaintext authentication offered before TLS: {', '.join(offered)}", metric
        )

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


class Quit(nagiosplugin.Context):
    def __init__(self) -> None:
        super().__init__("quit")

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        if metric.value:
            return Result(Warn, metric.value, metric)
        return Result(Ok, None, metric)

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


class Summary(nagiosplugin.Summary):
    def __init__(self, options: cli.Options) -> None:
        self.options = options

    def _greeting_text(self, result: ProbeResult) -> str:
        if result.greeting is None or result.greeting_at is None:
            return ""
        text = f"greeting in {result.greeting_at:.3f}s from {result.address}"
        if result.tls is not None:
            detail = result.tls.version
            if not result.tls.verified:
                detail += ", certificate NOT verified"
            text += f" ({detail})"
        if not self.options.hide_banner:
            text += f": {sanitise(result.greeting.line)}"
        return text

    def _result(self, results: nagiosplugin.Results) -> ProbeResult:
        result: ProbeResult = results["pop3"].metric.value  # type: ignore[union-attr]
        return result

    def _login_text(self, result: ProbeResult) -> str:
        login = result.settings.login
        if login is None or result.messages is None or result.login_method is None:
            return ""
        from check_pop3_ipmon.check.auth import NAMES

        return (
            f"{sanitise(login.username)} ({NAMES[result.login_method]}): "
            f"{messages(result.messages)}, {result.mailbox_size} B"
        )

    def text(self, result: ProbeResult) -> str:
        """The OK text: greeting and, after a login, the mailbox."""
        return "; ".join(
            part for part in (self._greeting_text(result), self._login_text(result)) if part
        )

    def ok(self, results: nagiosplugin.Results) -> str:
        # An overridden failure or mismatch (-r ok, -M ok) says what happened.
        hint = results["pop3"].hint
        text = self.text(self._result(results))
        return "; ".join(part for part in (str(hint or ""), text) if part)

    def problem(self, results: nagiosplugin.Results) -> str:
        problems = sorted(
            (r for r in results if r.state != Ok and r.hint), key=lambda r: -r.state.code
        )
        parts = [str(r.hint) for r in problems]
        result = self._result(results)
        if result.failure is None or failures.kind(result.failure.kind).shows_greeting:
            greeting = self._greeting_text(result)
            if greeting:
                parts.append(greeting)
        return "; ".join(parts)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        return long_output(self._result(results), self.options.verbose, self.options.show_capa)


def target_line(s: session.Settings) -> str:
    return f"target: {s.host} port {s.port}, TLS {s.tls}, timeout {s.timeout:g}s"


def long_output(result: ProbeResult, verbose: int, show_capa: bool = False) -> list[str]:
    s = result.settings
    lines = [target_line(s)]
    if result.address:
        lines.append(f"address: {result.address}")
    if len(result.tried) > 1:
        lines.append("addresses tried: " + ", ".join(result.tried))
    for phase in PHASES:
        if phase in result.timings:
            lines.append(f"{phase}: {result.timings[phase]:.6f}s")
    lines.append(f"total: {result.total:.6f}s")
    if result.greeting is not None:
        lines.append(f"greeting: {sanitise(result.greeting.line, 200)}")
        if result.greeting.code:
            lines.append(f"response code: [{sanitise(result.greeting.code)}]")
    lines += _tls_lines(result, verbose)
    if verbose >= 2 or show_capa:
        lines += _capa_lines(result)
    lines += _login_lines(result)
    if result.quit_problem:
        lines.append(f"quit: {result.quit_problem}")
    if verbose >= 3:
        lines.extend(sanitise(line, 200) for line in result.transcript)
    return lines


def _tls_lines(result: ProbeResult, verbose: int) -> list[str]:
    tls = result.tls
    if tls is None:
        return []
    lines = [
        f"tls: {tls.version} {tls.cipher}, certificate "
        + ("verified" if tls.verified else "NOT verified (--insecure)")
    ]
    if verbose >= 2 and tls.certificate is not None:
        cert = tls.certificate
        lines.append(f"certificate subject: {sanitise(cert.subject, 200)}")
        lines.append(f"certificate issuer: {sanitise(cert.issuer, 200)}")
        lines.append(f"certificate notAfter: {cert.not_after:%Y-%m-%d %H:%M:%S} UTC")
    if tls.certificate_error:
        lines.append(f"certificate: {tls.certificate_error}")
    return lines


def _capa_lines(result: ProbeResult) -> list[str]:
    lines = []
    if result.capa is not None:
        lines.append("capa: " + (", ".join(result.capa) or "(none)"))
    if result.capa_tls is not None:
        lines.append("capa after TLS: " + (", ".join(result.capa_tls) or "(none)"))
    if result.capa_refused:
        lines.append(f"capa refused: {result.capa_refused}")
    return lines


def _login_lines(result: ProbeResult) -> list[str]:
    lines = []
    login = result.settings.login
    if login is not None and result.login_method is not None:
        from check_pop3_ipmon.check.auth import NAMES

        lines.append(f"login: {sanitise(login.username)} with {NAMES[result.login_method]}")
    if result.messages is not None:
        lines.append(f"mailbox: {messages(result.messages)}, {result.mailbox_size} bytes")
    return lines


def contexts(options: cli.Options) -> list[nagiosplugin.Context]:
    return [
        Outcome(options),
        Thresholds("time", options.warning, options.critical, "response time {value:.3f}s"),
        Thresholds("phase", None, None, "{value:.6f}s"),
        CertDays(options.cert_warn, options.cert_crit),
        RequiredCapa(options.require_capa),
        PlaintextAuth(options.policy_state),
        LoginDelay(options.check_interval),
        Probe(),
        Thresholds("messages", options.messages_warn, options.messages_crit, messages, digits=0),
        Thresholds(
            "mailbox_size", options.size_warn, options.size_crit, "mailbox {value} B", digits=0
        ),
        Quit(),
    ]
