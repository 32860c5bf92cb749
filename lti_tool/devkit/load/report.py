"""The JSON report of `metis bench load`, summarised from Locust's own statistics file."""

from __future__ import annotations

from typing import Any


def percentile(times: dict[str, int], q: float) -> float:
    """`times` is Locust's histogram: response time in ms (rounded as Locust does) -> count."""
    ordered = sorted((float(ms), n) for ms, n in times.items())
    total = sum(n for _, n in ordered)
    if total == 0:
        return 0.0
    rank, seen = q * total, 0
    for ms, n in ordered:
        seen += n
        if seen >= rank:
            return ms
    return ordered[-1][0]


def run_span(stats: list[dict[str, Any]]) -> float:
    """Seconds from the first request to the last of any name: rates over the whole run (one
    name's own span would make two launches a second apart look like hundreds per second)."""
    starts = [float(raw["start_time"]) for raw in stats if raw.get("start_time")]
    ends = [float(raw["last_request_timestamp"]) for raw in stats
            if raw.get("last_request_timestamp")]
    return max(ends) - min(starts) if starts and ends else 0.0


def entry(raw: dict[str, Any], span: float) -> dict[str, Any]:
    times: dict[str, int] = {str(k): int(v) for k, v in (raw.get("response_times") or {}).items()}
    count = int(raw["num_requests"])
    return {
        "count": count,
        "failures": int(raw["num_failures"]),
        "per_s": round(count / span, 2) if span > 0 else None,
        "p50_ms": percentile(times, 0.50),
        "p95_ms": percentile(times, 0.95),
        "p99_ms": percentile(times, 0.99),
        "mean_ms": round(float(raw["total_response_time"]) / count, 1) if count else None,
        "max_ms": round(float(raw.get("max_response_time") or 0), 1),
    }


def summary(stats: list[dict[str, Any]], errors: list[dict[str, Any]],
            config: dict[str, Any]) -> dict[str, Any]:
    """Per reported name ("launch", "answer", "next set visible", ...) and in total."""
    span = run_span(stats)
    by_name = {str(raw["name"]): entry(raw, span) for raw in stats}
    return {
        "benchmark": "load_locust",
        "config": config,
        "measured_s": round(span, 1),
        "launches": by_name.get("launch", {}).get("count", 0),
        "answers": by_name.get("answer", {}).get("count", 0),
        "next_sets_seen": by_name.get("next set visible", {}).get("count", 0),
        "requests": sum(e["count"] for e in by_name.values()),
        "failures": sum(e["failures"] for e in by_name.values()),
        "by_name": by_name,
        "errors": [{"name": e.get("name"), "error": e.get("error"),
                    "occurrences": e.get("occurrences")} for e in errors],
    }
