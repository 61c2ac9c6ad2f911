"""The fault tests' recovery times, printed at the end of the run (each test records its own)."""

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        f"{report.nodeid.split('::')[-1]}: batch done {value}s after the fault"
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", [])
        if name == "recovered_s"
    ]
    if lines:
        terminalreporter.section("recovery after faults")
        for line in dict.fromkeys(lines):
            terminalreporter.write_line(line)
