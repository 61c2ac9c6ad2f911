"""Reading GET /metrics in tests: each sample by name and labels, and the names exposed."""

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

# The sample names of each family type besides the family's own name (Prometheus's text format).
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: Samples, name: str, **labels: str) -> float:
    """One sample's value; a series not shown yet (an engine with no error so far) is 0."""
    return scraped.get((name, frozenset(labels.items())), 0.0)


def exposed_names(text: str) -> set[str]:
    """Every metric name a query may use: a counter's `_total`, a histogram's `_bucket`, `_sum`
    and `_count`, a gauge's own name; whether or not a series has a sample yet."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(text)
        for suffix in _SUFFIXES.get(family.type, ("",))
    }
