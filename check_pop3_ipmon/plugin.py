"""nagiosplugin glue: turn a ProbeResult into states, a status line and perfdata.

Thin on purpose: the session decides what happened, this decides what state
that is and how it reads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Sequence

import nagiosplugin
from nagiosplugin import Critical, Metric, Ok, Performance, Range, Result, Unknown, Warn

from check_pop3_ipmon import cli, session
from check_pop3_ipmon.protocol import BANNER_WIDTH, sanitise
from check_pop3_ipmon.session import ProbeResult

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional

_STATES = (Ok, Warn, Critical, Unknown)
PHASES = ("resolve", "connect", "tls", "greeting", "stls", "quit")


def number(value: float, digits: int = 6) -> str:
    """C-locale decimal without exponent, as the plugin guidelines require."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class Pop3(nagiosplugin.Resource):
    name = "POP3"

    def __init__(self, settings: session.Settings) -> None:
        self.settings = settings
        self.result: Optional[ProbeResult] = None

    def probe(self) -> Generator[Metric, None, None]:
        result = self.result = session.probe(self.settings)
        yield Metric("pop3", result, context="pop3")
        yield Metric("time", result.total, "s", min=0, max=self.settings.timeout, context="time")
        for phase in PHASES:
            if phase in result.timings:
                yield Metric(f"{phase}_time", result.timings[phase], "s", min=0, context="phase")
        if result.tls is not None and result.tls.days_left is not None:
            yield Metric("cert_days", result.tls.days_left, context="cert_days")
        if result.greeting is not None and result.failure is None:
            yield Metric("quit", result.quit_problem, context="quit")


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
        describe: str,
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
        text = self.describe_fmt.format(value=metric.value)
        for state, bound, word in (
            (Critical, self.critical, "critical"),
            (Warn, self.warning, "warning"),
        ):
            if bound is not None and not bound.match(metric.value):
                return Result(state, f"{text} (outside {word} range {self.specs[word]})", metric)
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
        probed = resource.result if isinstance(resource, Pop3) else None
        tls = probed.tls if probed is not None else None
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
    """The POP3 test's own verdict: failure kinds mapped to states."""

    def __init__(self, options: cli.Options) -> None:
        super().__init__("pop3")
        self.options = options
        self.expect = re.compile(options.expect) if options.expect is not None else None

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        result: ProbeResult = metric.value
        failure = result.failure
        if failure is not None:
            state = {
                session.REFUSED: self.options.refuse_state,
                session.TIMEOUT: self.options.timeout_state,
                session.CONFIG: 3,
            }.get(failure.kind, 2)
            return Result(_STATES[state], failure.message, metric)
        greeting = result.greeting
        if (
            self.expect is not None
            and greeting is not None
            and not self.expect.search(greeting.line)
        ):
            return Result(
                _STATES[self.options.mismatch_state],
                f"greeting does not match {_pattern(self.expect.pattern)}",
                metric,
            )
        return Result(Ok, None, metric)

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


def _pattern(expect: str) -> str:
    """The --expect pattern as the status line can show it.

    nagiosplugin deletes '|' from the status line and adds a warning line, so
    an alternation like 'Dovecot|Courier' would read as 'DovecotCourier'.
    """
    shown = repr(expect)
    if "|" in shown or len(shown) > BANNER_WIDTH:
        return "the --expect pattern"
    return shown


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

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._greeting_text(self._result(results))

    def problem(self, results: nagiosplugin.Results) -> str:
        problems = sorted(
            (r for r in results if r.state != Ok and r.hint), key=lambda r: -r.state.code
        )
        parts = [str(r.hint) for r in problems]
        result = self._result(results)
        if result.failure is None or result.failure.kind not in (
            session.ERR_GREETING,
            session.NOT_POP3,
        ):
            greeting = self._greeting_text(result)
            if greeting:
                parts.append(greeting)
        return "; ".join(parts)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        return long_output(self._result(results), self.options.verbose)


def long_output(result: ProbeResult, verbose: int) -> list[str]:
    s = result.settings
    lines = [f"target: {s.host} port {s.port}, TLS {s.tls}, timeout {s.timeout:g}s"]
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
    tls = result.tls
    if tls is not None:
        lines.append(
            f"tls: {tls.version} {tls.cipher}, certificate "
            + ("verified" if tls.verified else "NOT verified (--insecure)")
        )
        if verbose >= 2 and tls.certificate is not None:
            cert = tls.certificate
            lines.append(f"certificate subject: {sanitise(cert.subject, 200)}")
            lines.append(f"certificate issuer: {sanitise(cert.issuer, 200)}")
            lines.append(f"certificate notAfter: {cert.not_after:%Y-%m-%d %H:%M:%S} UTC")
        if tls.certificate_error:
            lines.append(f"certificate: {tls.certificate_error}")
    if verbose >= 2 and result.capa is not None:
        lines.append("capa: " + (", ".join(result.capa) or "(none)"))
    if result.quit_problem:
        lines.append(f"quit: {result.quit_problem}")
    if verbose >= 3:
        lines.extend(sanitise(line, 200) for line in result.transcript)
    return lines


def build_check(options: cli.Options) -> nagiosplugin.Check:
    return nagiosplugin.Check(
        Pop3(options.settings),
        Outcome(options),
        Thresholds("time", options.warning, options.critical, "response time {value:.3f}s"),
        Thresholds("phase", None, None, "{value:.6f}s"),
        CertDays(options.cert_warn, options.cert_crit),
        Quit(),
        Summary(options),
    )


# nagiosplugin-stubs lacks guarded's keyword-only form.
@nagiosplugin.guarded(verbose=0)  # type: ignore[call-arg,arg-type]
def main(argv: Optional[Sequence[str]] = None) -> None:
    options = cli.parse(argv)
    check = build_check(options)
    # Our own deadline ends the test; nagiosplugin's SIGALRM (whole seconds)
    # is only a backstop should something we did not foresee block.
    check.main(verbose=options.verbose, timeout=math.ceil(options.settings.timeout) + 1)
