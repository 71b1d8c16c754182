"""The scoring workload of `make bench`: score() per response and the batch path, each as a ratio to a baseline.

Generates N random but valid responses (default 100,000; seeded, so every run scores the same
ones) over the shipped total-scored instruments, in a clinic-like mix (MIX below; the C-SSRS
screener gives a triage category, not a total, and is left out). Answers are answer lists in
item order, as the portal and the API pass them. Where the instrument allows a missing item,
some responses leave one out: a PHQ-9 with one of items 1-8 unanswered (None) is prorated, and
PHQ-9 item 10 (recorded, not scored, optional) is answered, left None or left off the end.

Pure Python and numpy, in the calling process: kapclinic.clinical.instruments imports no Django,
so no settings, database or django.setup() are needed. Untimed first, instrument by instrument:
the answer lists become an answer array and missing mask (answer_array: int8, int64 for the
unbounded drug count), score_array scores them, and every response is scored with score() and
checked twice: its total against the answers, and the batch result against score()'s, field by
field (the run stops on a mismatch). Then, taking turns for REPS repetitions:

- per response: the baseline (sum() over the same answer lists; None and 0 add nothing, so
  filter(None, ...) lets it take the prorated lists too) and score() over all responses in their
  shuffled order; score_many over each instrument's answer lists (the list path: conversion to
  arrays and one ScoreResult per response included), as a ratio to the same sum() baseline;
- batch (at least BATCH_REPS turns): the baseline a plain numpy pass, values.sum(axis=1) over each
  instrument's answer array (numpy_rowsum), and score_array over the same arrays (batch_all),
  whose ratio the issue asks to be at most 3 at 1,000,000 responses (--scoring-responses 1000000);
  numpy_matvec (values @ ones, numpy's faster integer row sum, which score_array uses) is shown
  with its ratio to the row sum too, so the batch can be read against either;

then the same per instrument over its own responses. The garbage collector stays on, as in the
app; it is run before each timed pass.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from kapclinic.clinical.instruments import INSTRUMENTS, Instrument, answer_array, score, score_array, score_many

SCORING_RESPONSES = 100_000
SCORING_REPS = 3
BATCH_REPS = 9  # batch passes are short: more turns for a steadier median
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
# One instrument's responses: its answer lists, and the same as an answer array and missing mask.
Group = tuple[Instrument, list[Answers], npt.NDArray[np.signedinteger[Any]], npt.NDArray[np.bool_]]


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


def _groups(responses: Sequence[Response]) -> list[Group]:
    """Return each instrument's responses (in MIX order), as answer lists and as an answer array and mask."""
    lists: dict[str, list[Answers]] = {code: [] for code in MIX}
    for instrument, answers in responses:
        lists[instrument.code].append(answers)
    return [
        (INSTRUMENTS[code], answers, *answer_array(INSTRUMENTS[code], answers))
        for code, answers in lists.items()
        if answers
    ]


def _check(groups: Sequence[Group]) -> dict[str, int]:
    """Score every response once with score() and with the batch path (untimed), check the totals and that the
    two agree; return what the scores held."""
    seen: Counter[str] = Counter()
    for instrument, lists, values, missing in groups:
        batch = score_array(instrument, values, missing).results()
        for answers, from_batch in zip(lists, batch, strict=True):
            result = score(instrument, answers)
            scored = [a for a, item in zip(answers, instrument.items, strict=False) if item.scored]
            answered = [a for a in scored if a is not None]
            if len(answered) == len(instrument.scored_items):
                expected: int | None = sum(answered)
            else:
                expected = (2 * sum(answered) * len(instrument.scored_items) + len(answered)) // (2 * len(answered))
            if result.total != expected or result.prorated != (len(answered) < len(instrument.scored_items)):
                raise SystemExit(f"{instrument.code} {answers}: score gave {result.total}, expected {expected}")
            if from_batch != result:
                raise SystemExit(f"{instrument.code} {answers}: score gave {result}, the batch {from_batch}")
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


def _score_many_all(groups: Sequence[Group]) -> None:
    for instrument, lists, _, _ in groups:
        score_many(instrument, lists)


def _rowsum_all(groups: Sequence[Group]) -> None:
    for _, _, values, _ in groups:
        values.sum(axis=1)


def _matvec_all(groups: Sequence[Group]) -> None:
    for _, _, values, _ in groups:
        values @ np.ones(values.shape[1], dtype=values.dtype)


def _batch_all(groups: Sequence[Group]) -> None:
    for instrument, _, values, missing in groups:
        score_array(instrument, values, missing)


def _time(run: Callable[[Any], None], work: Any) -> float:
    gc.collect()
    begin = time.perf_counter()
    run(work)
    return time.perf_counter() - begin


def _pair(responses: Sequence[Response], reps: int) -> tuple[list[float], list[float]]:
    """Time the baseline and score() over `responses`, taking turns, `reps` times each."""
    sums: list[float] = []
    scores: list[float] = []
    for _ in range(reps):
        sums.append(_time(_sum_all, responses))
        scores.append(_time(_score_all, responses))
    return sums, scores


def _turns(runs: dict[str, Callable[[Any], None]], work: Any, reps: int) -> dict[str, list[float]]:
    """Time each of `runs` over `work`, taking turns, `reps` times each."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            times[name].append(_time(run, work))
    return times


def _row(
    workload: str,
    times: list[float],
    count: int,
    baseline: list[float] | None,
    against: str = "sum_baseline",
) -> dict[str, Any]:
    median = statistics.median(times)
    digits = 2 if against == "numpy_rowsum" else 1
    ratio = None if baseline is None else round(median / statistics.median(baseline), digits)
    return {
        "workload": workload,
        "responses": count,
        "n": len(times),
        "median_ms": round(median * 1000, 2),
        "min_ms": round(min(times) * 1000, 2),
        "us_per_response": round(median / count * 1e6, 3),
        "responses_per_s": round(count / median),
        "baseline": None if baseline is None else against,
        "ratio": ratio,
        # The fastest pass of each: on a busy machine, less of what other processes take.
        "ratio_of_min": None if baseline is None else round(min(times) / min(baseline), digits),
        "ratio_to_sum": ratio if against == "sum_baseline" else None,
    }


def measure_scoring(count: int = SCORING_RESPONSES, reps: int = SCORING_REPS) -> dict[str, Any]:
    """Generate `count` responses and time score() and the batch path over them, as a whole and per instrument."""
    started = time.perf_counter()
    responses = make_responses(count)
    groups = _groups(responses)
    generate_seconds = time.perf_counter() - started
    checked = _check(groups)
    per_instrument = Counter(instrument.code for instrument, _ in responses)
    print(
        f"  scoring: {count:,} responses over {len(per_instrument)} instruments "
        f"({checked['prorated']:,} prorated), {generate_seconds:.1f} s to generate; batch results = score()'s"
    )

    sums, scores = _pair(responses, reps)
    many = _turns({"score_many": _score_many_all}, groups, reps)["score_many"]
    batch_reps = max(reps, BATCH_REPS)
    batch = _turns({"rowsum": _rowsum_all, "matvec": _matvec_all, "batch": _batch_all}, groups, batch_reps)
    rows = [
        _row("sum_baseline", sums, count, None),
        _row("score_all", scores, count, sums),
        _row("score_many_all", many, count, sums),
        _row("numpy_rowsum", batch["rowsum"], count, None),
        _row("numpy_matvec", batch["matvec"], count, batch["rowsum"], "numpy_rowsum"),
        _row("batch_all", batch["batch"], count, batch["rowsum"], "numpy_rowsum"),
    ]
    for group in groups:
        code = group[0].code
        subset = [response for response in responses if response[0].code == code]
        sub_sums, sub_scores = _pair(subset, reps)
        rows.append(_row(f"score_{code}", sub_scores, len(subset), sub_sums))
    for group in groups:
        code = group[0].code
        sub = _turns({"rowsum": _rowsum_all, "batch": _batch_all}, [group], batch_reps)
        rows.append(_row(f"batch_{code}", sub["batch"], len(group[1]), sub["rowsum"], "numpy_rowsum"))
    return {
        "data": {
            "responses": count,
            "seed": SEED,
            "per_instrument": dict(per_instrument.most_common()),
            "array_dtypes": {group[0].code: str(group[2].dtype) for group in groups},
            **checked,
            "generate_seconds": round(generate_seconds, 2),
            "seconds": round(time.perf_counter() - started, 1),
        },
        "rows": rows,
    }


def scoring_table(rows: list[dict[str, Any]]) -> str:
    line = "{:<22} {:>9} {:>3} {:>10} {:>10} {:>8} {:>9} {:>7} {:>9}  {}"
    header = line.format(
        "workload", "responses", "n", "median ms", "min ms", "us/resp", "resp/s", "ratio", "min ratio", "to"
    )
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
            "-"
            if r["ratio"] is None
            else f"{r['ratio']:.2f}"
            if r["baseline"] == "numpy_rowsum"
            else f"{r['ratio']:.1f}",
            "-" if r["ratio_of_min"] is None else f"{r['ratio_of_min']:.2f}",
            "" if r["baseline"] is None else "sum()" if r["baseline"] == "sum_baseline" else "row sum",
        )
        for r in rows
    ]
    return "\n".join(lines)
