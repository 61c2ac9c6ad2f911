"""The fault tests' recovery times, printed at the end of the run (each test records its own)."""

import pytest

# What each recorded figure means, as the summary words it.
FIGURES = {
    "recovered_s": "batch done {}s after the fault",
    "failover_s": "new Redis primary named {}s after the kill",  # test_sentinel_failover.py
    "live_line_s": "a live line answered {}s after the kill",
    "measured": "{}",  # any other measured detail, as worded by the test
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        f"{report.nodeid.split('::')[-1]}: {FIGURES[name].format(value)}"
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", [])
        if name in FIGURES
    ]
    if lines:
        terminalreporter.section("recovery after faults")
        for line in dict.fromkeys(lines):
            terminalreporter.write_line(line)
