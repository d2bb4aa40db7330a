"""nagiosplugin glue for --all-addresses: each address's metrics, the pool's summary.

Each address's metrics are the single check's, their names prefixed with the
address in a form every metric store keeps as one name ("ip4_127_0_0_1_time",
core/perflabel.py), evaluated by the same contexts; the worst state
is the exit code. Imported only with --all-addresses.
"""

from __future__ import annotations

from collections.abc import Generator

import nagiosplugin
from nagiosplugin import Metric, Ok, Result

from check_pop3_ipmon.check import addresses, cli, session
from check_pop3_ipmon.check.plugin import (
    AS_ASKED,
    STATES,
    Summary,
    contexts,
    failure_state,
    failure_text,
    long_output,
    result_metrics,
    target_line,
)
from check_pop3_ipmon.check.session import ProbeResult
from check_pop3_ipmon.core.perflabel import address_label

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Optional


class Pop3Pool(nagiosplugin.Resource):
    name = session.SERVICE

    def __init__(self, options: cli.Options) -> None:
        self.options = options
        self.pool: Optional[addresses.PoolResult] = None
        self.owner: dict[str, int] = {}  # metric name -> index in pool.results

    def result_of(self, metric: Metric) -> Optional[ProbeResult]:
        index = self.owner.get(metric.name)
        if self.pool is None or index is None:
            return None
        return self.pool.results[index][1]

    def probe(self) -> Generator[Metric, None, None]:
        pool = self.pool = addresses.probe_all(self.options.settings)
        yield Metric("pool", pool, context="pool")
        timeout = self.options.settings.timeout
        # The whole test; -w/-c apply to each address's own time instead.
        yield Metric("time", pool.total, "s", min=0, max=timeout, context="phase")
        if pool.resolve_time is not None:
            yield Metric("resolve_time", pool.resolve_time, "s", min=0, context="phase")
        for index, (ip, result) in enumerate(pool.results):
            for metric in result_metrics(result, self.options, address_label(ip) + "_"):
                self.owner[metric.name] = index
                yield metric


class PoolOutcome(nagiosplugin.Context):
    """Failures of the name itself: it does not resolve, or to too many addresses."""

    def __init__(self, options: cli.Options) -> None:
        super().__init__("pool")
        self.options = options

    def evaluate(self, metric: Metric, resource: nagiosplugin.Resource) -> Result:
        failure = metric.value.failure
        if failure is None:
            return Result(Ok, None, metric)
        state = failure_state(failure.kind, self.options)
        return Result(state, failure_text(failure, self.options), metric)

    def performance(self, metric: Metric, resource: nagiosplugin.Resource) -> None:
        return None


class PoolSummary(nagiosplugin.Summary):
    def __init__(self, options: cli.Options, resource: Pop3Pool) -> None:
        self.options = options
        self.resource = resource
        self.single = Summary(options)

    def _addresses(
        self, results: nagiosplugin.Results
    ) -> list[tuple[str, ProbeResult, nagiosplugin.state.ServiceState, str]]:
        """(IP, result, worst state, text) for each address, in the resolver's order."""
        pool = self.resource.pool
        if pool is None:
            return []
        grouped: list[list[Result]] = [[] for _ in pool.results]
        for result in results:
            index = self.resource.owner.get(result.metric.name) if result.metric else None
            if index is not None:
                grouped[index].append(result)
        out = []
        for (ip, probed), group in zip(pool.results, grouped):
            # An OK with a hint is a failure an option made OK (-r ok): said too.
            problems = sorted(
                (r for r in group if r.hint and (r.state != Ok or _is_outcome(r))),
                key=lambda r: -r.state.code,
            )
            state = max((r.state for r in group), key=lambda s: s.code, default=Ok)
            if problems:
                text = "; ".join(_without_address(str(r.hint), probed.address) for r in problems)
            else:
                text = self.single.text(probed)
            out.append((ip, probed, state, text))
        return out

    def _line(self, results: nagiosplugin.Results) -> str:
        found = self._addresses(results)
        parts = []
        for state in STATES:
            members = [(ip, text) for ip, _probed, st, text in found if st == state]
            if not members:
                continue
            part = f"{len(members)} {state.text.upper()}"
            if state == Ok:
                members = [(ip, text) for ip, text in members if AS_ASKED in text]
            if members:
                # The first reason of each address keeps the line short;
                # -v has them all.
                part += " (" + "; ".join(f"{ip}: {text.split('; ')[0]}" for ip, text in members)
                part += ")"
            parts.append(part)
        count = len(found)
        return f"{count} address{'' if count == 1 else 'es'}: " + ", ".join(parts)

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._line(results)

    def problem(self, results: nagiosplugin.Results) -> str:
        pool = self.resource.pool
        if pool is not None and pool.failure is not None:
            return pool.failure.message
        return self._line(results)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        s = self.options.settings
        lines = [target_line(s)]
        pool = self.resource.pool
        if pool is not None and pool.resolve_time is not None:
            lines.append(f"resolve: {pool.resolve_time:.6f}s, {len(pool.results)} addresses")
        for ip, probed, state, text in self._addresses(results):
            lines.append(f"{ip}: {state.text.upper()} - {text}")
            detail = long_output(probed, self.options.verbose, self.options.show_capa)
            lines.extend("  " + line for line in detail[1:])  # [0] repeats the target
        return lines


def _is_outcome(result: Result) -> bool:
    return result.metric is not None and result.metric.context == "pop3"


def _without_address(text: str, address: Optional[str]) -> str:
    """ "connection refused by 127.0.0.3:110" reads "connection refused" after its address."""
    if not address:
        return text
    return text.replace(f" by {address}", "").replace(f" to {address}", "")


def build_check(options: cli.Options) -> nagiosplugin.Check:
    resource = Pop3Pool(options)
    return nagiosplugin.Check(
        resource, *contexts(options), PoolOutcome(options), PoolSummary(options, resource)
    )
