"""Published outcome figures to set beside the clinic's, each labelled by its design and its denominator so nobody
compares unlike with like (../shared/domain/outcomes.md section 4 and its real-world table; issue 19 item 3).

Plain data with sources. Open-label and real-world figures are not efficacy claims (outcomes.md: "do not present
open-label cohort rates as efficacy claims"); completer-only figures overstate what a clinic sees across everyone
who starts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    study: str
    design: str  # "RCT", "open-label", "real-world", "meta-analysis of real-world studies"
    setting: str
    measure: str
    response_percent: float | None
    remission_percent: float | None
    worsened_percent: float | None
    denominator: str  # whom the rates are of: "completers", "everyone treated", "randomised", ...
    source: str


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "McInnes 2022",
        "real-world",
        "IV ketamine in 178 community practices (Osmind records), n = 537",
        "PHQ-9",
        53.6,
        28.9,
        8.4,
        "patients with a baseline and follow-up PHQ-9",
        "McInnes LA et al. 2022 (outcomes.md, real-world benchmarks added 2026-12-04)",
    ),
    Benchmark(
        "Alnefeesi 2022",
        "meta-analysis of real-world studies",
        "79 real-world studies of ketamine for depression",
        "various",
        45.0,
        30.0,
        None,
        "pooled across studies",
        "Alnefeesi Y et al. 2022 (outcomes.md)",
    ),
    Benchmark(
        "Hull 2022",
        "real-world (open-label)",
        "At-home sublingual ketamine, 4 sessions, n = 1,247",
        "PHQ-9",
        62.8,
        32.6,
        0.9,
        "completers",
        "J Affect Disord 2022;314:59-67, doi 10.1016/j.jad.2022.07.004",
    ),
    Benchmark(
        "ELEKT-D (Anand 2023)",
        "RCT (open, noninferiority vs ECT)",
        "IV ketamine, 6 infusions over 3 weeks, n = 403",
        "QIDS-SR16",
        55.4,
        None,
        None,
        "randomised (ketamine arm)",
        "N Engl J Med 2023;388:2315-2325",
    ),
    Benchmark(
        "KetECT (Ekstrand 2022)",
        "RCT (open, vs ECT)",
        "IV ketamine inpatients, up to 12 infusions, n = 186",
        "MADRS",
        None,
        46.0,
        None,
        "randomised (ketamine arm)",
        "Int J Neuropsychopharmacol 2022;25:339-349",
    ),
    Benchmark(
        "Esketamine monotherapy trial (TRD4005)",
        "RCT (double-blind, placebo-controlled)",
        "Spravato alone in TRD, week 4",
        "MADRS (remission <= 12)",
        None,
        22.5,
        None,
        "randomised (esketamine arm; placebo 7.6 %)",
        "Janssen TRD4005 (outcomes.md section 4; primary paper unverified)",
    ),
)
