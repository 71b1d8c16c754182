"""The scoring workload of `make bench`: score() over 100,000 responses, as a ratio to a plain sum().

Generates N random but valid responses (default 100,000; seeded, so every run scores the same
ones) over the shipped total-scored instruments, in a clinic-like mix (MIX below; the C-SSRS
screener gives a triage category, not a total, and is left out). Answers are answer lists in
item order, as the portal and the API pass them. Where the instrument allows a missing item,
some responses leave one out: a PHQ-9 with one of items 1-8 unanswered (None) is prorated, and
PHQ-9 item 10 (recorded, not scored, optional) is answered, left None or left off the end.

Pure Python, in the calling process: kapclinic.clinical.instruments imports no Django, so no
settings, database or django.setup() are needed. An untimed first pass scores every response
and checks each total against the answers (the run stops on a mismatch); then, taking turns
for REPS repetitions, the baseline (sum() over the same answer lists; None and 0 add nothing,
so filter(None, ...) lets it take the prorated lists too) and score() over all responses in
their shuffled order; then the same per instrument over its own responses. The garbage
collector stays on, as in the app; it is run before each timed pass.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from kapclinic.clinical.instruments import INSTRUMENTS, Instrument, score

SCORING_RESPONSES = 100_000
SCORING_REPS = 3
SEED = 2026
# Share of the responses per instrument (sums to 100): weekly PHQ-9 and GAD-7 most, session scales some.
MIX = {
    "phq9": 25,
    "gad7": 20,
    "pcl5": 8,
    "pcl5_week": 4,
    "auditc": 10,
    "cadss6": 8,
    "drug_single": 5,
    "craving_vas": 5,
    "dissociation_nrs": 5,
    "moaas": 5,
    "rass": 5,
}
PHQ9_ONE_MISSING = 0.10  # share of PHQ-9 responses with one of items 1-8 unanswered (prorated)
DRUG_SINGLE_TOP = 30  # drug_single has no upper limit: days of use in the past month, say

Answers = list[int | None]
Response = tuple[Instrument, Answers]


def _answers(instrument: Instrument, rng: random.Random) -> Answers:
    """Return one random valid answer list for `instrument`, in item order."""
    answers: Answers = []
    for item in instrument.items:
        if item.options:
            answers.append(rng.choice(item.options).value)
        else:
            top = item.maximum if item.maximum is not None else item.lowest + DRUG_SINGLE_TOP
            answers.append(rng.randint(item.lowest, top))
    if instrument.code == "phq9":
        if rng.random() < PHQ9_ONE_MISSING:
            answers[rng.randrange(8)] = None  # items 1-8; item 9 is never prorated
        item10 = rng.random()
        if item10 < 1 / 3:
            answers.pop()  # a trailing optional unscored item may be left off
        elif item10 < 2 / 3:
            answers[-1] = None
    return answers


def make_responses(count: int, seed: int = SEED) -> list[Response]:
    """Return `count` responses in the MIX shares (largest remainder), shuffled."""
    for code in MIX:
        if INSTRUMENTS[code].scoring != "sum":
            raise ValueError(f"{code} gives no total score")
    rng = random.Random(seed)
    weight = sum(MIX.values())
    exact = {code: count * share / weight for code, share in MIX.items()}
    counts = {code: int(value) for code, value in exact.items()}
    for code in sorted(exact, key=lambda c: counts[c] - exact[c])[: count - sum(counts.values())]:
        counts[code] += 1
    responses = [
        (instrument, _answers(instrument, rng))
        for code, n in counts.items()
        for instrument in [INSTRUMENTS[code]]
        for _ in range(n)
    ]
    rng.shuffle(responses)
    return responses


def _check(responses: Sequence[Response]) -> dict[str, int]:
    """Score every response once (untimed) and check the totals; return what the scores held."""
    seen: Counter[str] = Counter()
    for instrument, answers in responses:
        result = score(instrument, answers)
        scored = [a for a, item in zip(answers, instrument.items, strict=False) if item.scored]
        answered = [a for a in scored if a is not None]
        if len(answered) == len(instrument.scored_items):
            expected: int | None = sum(answered)
        else:
            expected = (2 * sum(answered) * len(instrument.scored_items) + len(answered)) // (2 * len(answered))
        if result.total != expected or result.prorated != (len(answered) < len(instrument.scored_items)):
            raise SystemExit(f"{instrument.code} {answers}: score gave {result.total}, expected {expected}")
        seen["prorated"] += result.prorated
        seen["incomplete"] += not result.complete
        seen["with_flags"] += bool(result.flags)
        seen["with_severity"] += result.severity is not None
    return {key: seen[key] for key in ("prorated", "incomplete", "with_flags", "with_severity")}


def _score_all(responses: Sequence[Response]) -> None:
    for instrument, answers in responses:
        score(instrument, answers)


def _sum_all(responses: Sequence[Response]) -> None:
    for _, answers in responses:
        sum(filter(None, answers))


def _time(run: Callable[[Sequence[Response]], None], responses: Sequence[Response]) -> float:
    gc.collect()
    begin = time.perf_counter()
    run(responses)
    return time.perf_counter() - begin


def _pair(responses: Sequence[Response], reps: int) -> tuple[list[float], list[float]]:
    """Time the baseline and score() over `responses`, taking turns, `reps` times each."""
    sums: list[float] = []
    scores: list[float] = []
    for _ in range(reps):
        sums.append(_time(_sum_all, responses))
        scores.append(_time(_score_all, responses))
    return sums, scores


def _row(workload: str, times: list[float], count: int, baseline: float | None) -> dict[str, Any]:
    median = statistics.median(times)
    return {
        "workload": workload,
        "responses": count,
        "n": len(times),
        "median_ms": round(median * 1000, 2),
        "min_ms": round(min(times) * 1000, 2),
        "us_per_response": round(median / count * 1e6, 3),
        "responses_per_s": round(count / median),
        "ratio_to_sum": None if baseline is None else round(median / baseline, 1),
    }


def measure_scoring(count: int = SCORING_RESPONSES, reps: int = SCORING_REPS) -> dict[str, Any]:
    """Generate `count` responses and time score() over them, as a whole and per instrument."""
    started = time.perf_counter()
    responses = make_responses(count)
    generate_seconds = time.perf_counter() - started
    checked = _check(responses)
    per_instrument = Counter(instrument.code for instrument, _ in responses)
    print(
        f"  scoring: {count:,} responses over {len(per_instrument)} instruments "
        f"({checked['prorated']:,} prorated), {generate_seconds:.1f} s to generate"
    )

    sums, scores = _pair(responses, reps)
    baseline = statistics.median(sums)
    rows = [_row("sum_baseline", sums, count, None), _row("score_all", scores, count, baseline)]
    for code in MIX:
        subset = [response for response in responses if response[0].code == code]
        sub_sums, sub_scores = _pair(subset, reps)
        rows.append(_row(f"score_{code}", sub_scores, len(subset), statistics.median(sub_sums)))
    return {
        "data": {
            "responses": count,
            "seed": SEED,
            "per_instrument": dict(per_instrument.most_common()),
            **checked,
            "generate_seconds": round(generate_seconds, 2),
            "seconds": round(time.perf_counter() - started, 1),
        },
        "rows": rows,
    }


def scoring_table(rows: list[dict[str, Any]]) -> str:
    line = "{:<22} {:>9} {:>3} {:>10} {:>10} {:>8} {:>9} {:>7}"
    header = line.format("workload", "responses", "n", "median ms", "min ms", "us/resp", "resp/s", "ratio")
    lines = [header, "-" * len(header)]
    lines += [
        line.format(
            r["workload"],
            r["responses"],
            r["n"],
            f"{r['median_ms']:.1f}",
            f"{r['min_ms']:.1f}",
            f"{r['us_per_response']:.2f}",
            r["responses_per_s"],
            "-" if r["ratio_to_sum"] is None else f"{r['ratio_to_sum']:.1f}",
        )
        for r in rows
    ]
    return "\n".join(lines)
