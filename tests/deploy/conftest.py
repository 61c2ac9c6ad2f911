"""The compose test's times (set-up, image build, to a healthy stack, to the batch's end),
printed at the end of the run."""

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    times = {
        name.removeprefix("compose_").removesuffix("_s"): value
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", [])
        if name.startswith("compose_")
    }
    if times:
        terminalreporter.section("compose stack")
        terminalreporter.write_line(", ".join(f"{name} {value}s" for name, value in times.items()))
