"""nagiosplugin glue for --round-trip: both legs' metrics, the delivery, the summary.

The POP3 leg's metrics are the plain check's (its last session), evaluated by
the same contexts; the SMTP leg adds smtp_* phases and its certificate's
days, the round trip delivery_time and the pending, lost and late counts.
Imported only with --round-trip.
"""

from __future__ import annotations

from collections.abc import Generator

import nagiosplugin
from nagiosplugin import Critical, Metric, Ok, Result

from check_pop3_ipmon.check import cli, failures, roundtrip
from check_pop3_ipmon.check.phases import SMTP_NAMES
from check_pop3_ipmon.check.plugin import (
    STATES,
    Summary,
    Thresholds,
    contexts,
    failure_state,
    failure_text,
    long_output,
    number,
    result_metrics,
)
from check_pop3_ipmon.check.protocol import sanitise
from check_pop3_ipmon.check.session import SERVICE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from check_pop3_ipmon.check.link import LinkResult


class RoundTrip(nagiosplugin.Resource):
    name = SERVICE

    def __init__(self, options: cli.Options) -> None:
        self.options = options
        self.result: Optional[roundtrip.RoundTripResult] = None

    def result_of(self, metric: Metric) -> Optional[LinkResult]:
        """The leg a metric came from (CertDays needs its certificate)."""
        if self.result is None:
            return None
        return self.result.smtp if metric.name.startswith("smtp_") else self.result.pop3

    def probe(self) -> Generator[Metric, None, None]:
        rt = self.options.round_trip
        assert rt is not None  # noqa: S101 - run.py builds this check only then
        result = self.result = roundtrip.run(self.options.settings, rt)
        yield Metric("round_trip", result, context="round_trip")
        timeout = self.options.settings.timeout
        yield Metric("time", result.total, "s", min=0, max=timeout, context="time")
        sent = result.smtp
        if sent is not None:
            for phase in SMTP_NAMES:
                if phase in sent.timings:
                    yield Metric(f"{phase}_time", sent.timings[phase], "s", min=0, context="phase")
            if sent.tls is not None and sent.tls.days_left is not None:
                yield Metric("smtp_cert_days", sent.tls.days_left, context="cert_days")
        if result.delivery_time is not None:
            yield Metric("delivery_time", result.delivery_time, "s", min=0, context="delivery")
        if result.pop3 is not None:
            for metric in result_metrics(result.pop3, self.options):
                if metric.name != "time":  # the round trip's, above
                    yield metric
        if not (result.failure is not None and result.failure.kind == failures.CONFIG):
            for name in ("pending", "lost", "late"):
                yield Metric(name, getattr(result, name), min=0, context="count")


class RoundTripOutcome(nagiosplugin.Context):
    """What the POP3 leg's contexts do not judge: the state file, the SMTP leg, the delivery."""

    def __init__(self, options: cli.Options) -> None:
        super().__init__("round_trip")
        self.options = options

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        result: roundtrip.RoundTripResult = metric.value
        sent = result.smtp
        if result.failure is not None and result.failure.kind == failures.CONFIG:
            return Result(STATES[3], result.failure.message, metric)
        if sent is not None and sent.failure is not None:
            text = failure_text(sent.failure, self.options)
            if not text.startswith("SMTP"):
                text = f"SMTP: {text}"
            return Result(failure_state(sent.failure.kind, self.options), text, metric)
        if result.pop3 is not None and result.pop3.failure is not None:
            return Result(Ok, None, metric)  # the POP3 leg's own context says it
        if result.failure is not None:
            return Result(Critical, result.failure.message, metric)
        return Result(Ok, None, metric)

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


class RoundTripSummary(Summary):
    def __init__(self, options: cli.Options, resource: RoundTrip) -> None:
        super().__init__(options)
        self.resource = resource

    def _counts(self) -> str:
        result = self.resource.result
        if result is None:
            return ""
        text = f"{result.pending} pending, {result.lost} lost"
        if result.late:
            text += f", {result.late} late arrived"
        return text

    def ok(self, results: nagiosplugin.Results) -> str:
        result = self.resource.result
        if result is None or result.delivery_time is None or result.pop3 is None:
            return self._counts()
        sent = result.smtp
        via = ""
        if sent is not None:
            via = f" (SMTP {sent.address}"
            if sent.tls is not None:
                via += f" {sent.tls.version}"
                if not sent.tls.verified:
                    via += ", certificate NOT verified"
            via += ")"
        hint = results["round_trip"].hint
        parts = [
            str(hint or ""),
            f"message delivered in {number(result.delivery_time, 3)}s{via}",
            self._counts(),
            self.text(result.pop3),
        ]
        return "; ".join(part for part in parts if part)

    def problem(self, results: nagiosplugin.Results) -> str:
        problems = sorted(
            (r for r in results if r.state != Ok and r.hint), key=lambda r: -r.state.code
        )
        parts = [str(r.hint) for r in problems]
        counts = self._counts()
        if counts and results["round_trip"].state != STATES[3]:
            parts.append(counts)
        return "; ".join(parts)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        result = self.resource.result
        if result is None:
            return []
        lines = []
        if result.state_problem:
            lines.append(result.state_problem)
        sent = result.smtp
        if sent is not None:
            s = sent.settings
            lines.append(f"smtp: {s.host} port {s.port}, TLS {s.tls}, to {s.mail_to}")
            if sent.address:
                lines.append(f"smtp address: {sent.address}")
            if sent.tls is not None:
                verified = "verified" if sent.tls.verified else "NOT verified (--insecure)"
                lines.append(
                    f"smtp tls: {sent.tls.version} {sent.tls.cipher}, certificate {verified}"
                )
            if sent.auth_method:
                lines.append(f"smtp login: {sanitise(s.username)} with {sent.auth_method.upper()}")
            if sent.accepted is not None:
                lines.append(f"smtp accepted: {sent.accepted.text}")
            if sent.quit_problem:
                lines.append(f"smtp quit: {sent.quit_problem}")
            if self.options.verbose >= 3:
                lines.extend("smtp " + sanitise(line, 200) for line in sent.transcript)
        lines.append(f"token: {result.token}, POP3 logins: {result.polls}")
        if result.newly_lost:
            lines.append(f"counted lost now: {result.newly_lost}")
        if result.pop3 is not None:
            lines += long_output(result.pop3, self.options.verbose, self.options.show_capa)
            lines.append(f"deleted: {result.pop3.deleted} of the check's own messages")
        return lines


def build_check(options: cli.Options) -> nagiosplugin.Check:
    rt = options.round_trip
    assert rt is not None  # noqa: S101
    resource = RoundTrip(options)
    warn, crit = rt.delivery_warn, rt.delivery_crit
    return nagiosplugin.Check(
        resource,
        *contexts(options),
        RoundTripOutcome(options),
        Thresholds(
            "delivery",
            number(warn) if warn is not None else None,
            number(crit) if crit is not None else None,
            "delivered in {value:.3f}s",
        ),
        Thresholds("count", None, None, "{value}", digits=0),
        RoundTripSummary(options, resource),
    )
