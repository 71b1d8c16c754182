"""Scored instruments as data, and pure scoring: totals, severity bands, safety flags, response, remission.

Each instrument is defined once from the domain notes (../shared/domain/instruments.md, outcomes.md, codes.md).
Plain Python, no Django: the portal, the API, the charts and the benchmarks all call these. A rule the notes mark
[policy] carries `policy=True` (a clinic default the settings layer may override); a code or licence the notes
mark [verify] or [unverified] says so in the data.

The modules: `scoring` (the types, and scoring a response against them); one module per family of instruments,
`phq` (PHQ-9, GAD-7), `trauma` (PCL-5), `suicide` (C-SSRS screener), `substance` (AUDIT-C, the drug screen, the
craving scale), `in_session` (dissociation and sedation during dosing); `registry` (INSTRUMENTS by code); and
`batch` (many responses to one instrument scored at once with numpy: `score_many`, `score_array`, identical to
score()).
Import from the package (`from kapclinic.clinical.instruments import PHQ9, score`).
"""

from kapclinic.clinical.instruments.batch import BatchAnswersError, BatchScores, answer_array, score_array, score_many
from kapclinic.clinical.instruments.in_session import CADSS6, DISSOCIATION_NRS, MOAAS, RASS
from kapclinic.clinical.instruments.phq import GAD7, PHQ9, PHQ9_SOURCE_OF_WORDING
from kapclinic.clinical.instruments.registry import INSTRUMENTS, NOT_SHIPPED, get_instrument, instruments_for
from kapclinic.clinical.instruments.scoring import (
    DISSOCIATION_ATTENTION,
    NURSE_ATTENTION,
    RISK_ITEM_MISSING,
    RISK_TAKING_REVIEW,
    SAFETY_FLAGS_BY_URGENCY,
    SEDATION,
    SEDATION_EMERGENCY,
    SUICIDE_RISK,
    SUICIDE_RISK_URGENT,
    Band,
    ClusterRule,
    Instrument,
    Item,
    LoincCode,
    LoincStatus,
    Option,
    Proration,
    Respondent,
    ResponseRule,
    SafetyRule,
    ScoreResult,
    ScreenRule,
    Subscale,
    Threshold,
    TriageLevel,
    Use,
    band_for,
    meaningful_improvement,
    meets_cluster_rule,
    remission,
    response,
    safety_items,
    score,
    screen_positive,
    triage_level,
    validated_answers,
    worsened,
)
from kapclinic.clinical.instruments.substance import AUDITC, CRAVING_VAS, DRUG_SINGLE
from kapclinic.clinical.instruments.suicide import CSSRS_SCREEN
from kapclinic.clinical.instruments.trauma import PCL5, PCL5_WEEK

__all__ = [
    "AUDITC",
    "CADSS6",
    "CRAVING_VAS",
    "CSSRS_SCREEN",
    "DISSOCIATION_ATTENTION",
    "DISSOCIATION_NRS",
    "DRUG_SINGLE",
    "GAD7",
    "INSTRUMENTS",
    "MOAAS",
    "NOT_SHIPPED",
    "NURSE_ATTENTION",
    "PCL5",
    "PCL5_WEEK",
    "PHQ9",
    "PHQ9_SOURCE_OF_WORDING",
    "RASS",
    "RISK_ITEM_MISSING",
    "RISK_TAKING_REVIEW",
    "SAFETY_FLAGS_BY_URGENCY",
    "SEDATION",
    "SEDATION_EMERGENCY",
    "SUICIDE_RISK",
    "SUICIDE_RISK_URGENT",
    "Band",
    "BatchAnswersError",
    "BatchScores",
    "ClusterRule",
    "Instrument",
    "Item",
    "LoincCode",
    "LoincStatus",
    "Option",
    "Proration",
    "Respondent",
    "ResponseRule",
    "SafetyRule",
    "ScoreResult",
    "ScreenRule",
    "Subscale",
    "Threshold",
    "TriageLevel",
    "Use",
    "answer_array",
    "band_for",
    "get_instrument",
    "instruments_for",
    "meaningful_improvement",
    "meets_cluster_rule",
    "remission",
    "response",
    "safety_items",
    "score",
    "score_array",
    "score_many",
    "screen_positive",
    "triage_level",
    "validated_answers",
    "worsened",
]
