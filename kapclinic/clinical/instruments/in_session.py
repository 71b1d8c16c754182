"""In-session scales: dissociation (a 0-10 rating, CADSS-6) and sedation (MOAA/S, RASS), rated during dosing."""

from __future__ import annotations

from kapclinic.clinical.instruments.scoring import (
    DISSOCIATION_ATTENTION,
    NURSE_ATTENTION,
    SEDATION,
    SEDATION_EMERGENCY,
    Instrument,
    Item,
    SafetyRule,
    Use,
    one_band_per_value,
    ordered_options,
)

# --- In-session dissociation ---------------------------------------------------------------------------------

# CADSS uses its own five anchors (instruments.md, CADSS "Scale").
_CADSS_OPTIONS = ordered_options("Not at all", "Slightly", "Moderately", "Considerably", "Extremely")

DISSOCIATION_NRS = Instrument(
    code="dissociation_nrs",
    name="Dissociation rating (0-10)",
    version="1",
    construct="State dissociation during dosing",
    respondent="self",
    recall_period="right now",
    items=(Item("1", "How disconnected or unreal do you feel right now?", minimum=0, maximum=10),),
    source="instruments.md CADSS section: free fallback single 0-10 rating [policy, unvalidated]",
    licence="No licence (generic numeric rating).",
    licence_note="Unvalidated [policy]: a free fallback while CADSS permission is not confirmed.",
    missing_rule="A single item: unanswered means not scored.",
    wording_note="Item text as given in the domain notes; they give no end-point labels.",
    uses=(Use.PRE_SESSION, Use.IN_SESSION),
)

CADSS6 = Instrument(
    code="cadss6",
    name="CADSS-6",
    version="1",
    construct="State dissociation during dosing (tolerability, not efficacy)",
    respondent="clinician",
    recall_period="right now / this session",
    items=tuple(
        Item(n, f"CADSS item {n}", _CADSS_OPTIONS, text_is_label=True) for n in ("1", "2", "6", "7", "15", "22")
    ),
    source=(
        "Bremner JD et al. J Trauma Stress 1998;11:125-136 (CADSS); Rodrigues NB et al. J Affect Disord "
        "2021;282:160-164 (CADSS-6, validated only retrospectively)"
    ),
    licence="Author permission (J. Douglas Bremner).",
    licence_note=(
        "[unverified: no licence terms found in the author's instructions or papers]. Item wording is not shipped; "
        "the clinician administers the permitted form and enters the six scores. Free fallback: dissociation_nrs."
    ),
    # No severity bands: no clinical threshold exists for the CADSS-6 (the CADSS > 4 trial definition is
    # unverified and belongs to the full scale).
    safety_rules=(
        SafetyRule(
            DISSOCIATION_ATTENTION,
            "Nurse/therapist attention (also for patient distress at any score).",
            "instruments.md CADSS [policy]: flag CADSS-6 >= 12",
            item=None,
            at_least=12,
            policy=True,
        ),
    ),
    missing_rule=(
        "Not scored unless all 6 items are answered (no proration rule documented); the >= 12 flag still fires "
        "when the answered items alone reach 12."
    ),
    wording_note="Item texts are CADSS item numbers only (licence unverified); anchors are from the domain notes.",
    uses=(Use.IN_SESSION,),
)

# --- Sedation ------------------------------------------------------------------------------------------------

# The safety rules of the sedation ratings are [policy] thresholds on the one rating (item 1).
_EMERGENCY = "Emergency: airway, SpO2, call the prescriber."


def _rating_rule(
    flag: str, action: str, source: str, *, at_least: int | None = None, at_most: int | None = None
) -> SafetyRule:
    return SafetyRule(flag, action, source, item="1", at_least=at_least, at_most=at_most, policy=True)


MOAAS = Instrument(
    code="moaas",
    name="MOAA/S (0-5)",
    version="1",
    construct="Sedation depth",
    respondent="observer",
    recall_period="now",
    items=(
        Item(
            "1",
            "Responsiveness",
            ordered_options(
                "No response to painful trapezius squeeze",
                "Responds only after painful trapezius squeeze",
                "Responds only after mild prodding or shaking",
                "Responds only when name called loudly and/or repeatedly",
                "Lethargic response to name in normal tone",
                "Responds readily to name in normal tone (alert)",
            ),
            text_is_label=True,
        ),
    ),
    source=(
        "Chernik DA et al. J Clin Psychopharmacol 1990;10:244-251 (OAA/S); 0-5 MOAA/S table as in "
        "BMC Anesthesiol 2022 (s12871-022-01788-1)"
    ),
    licence="Free to use (published scale).",
    licence_note="Published variants differ at the bottom and a 0-6 version exists: this is the 0-5 table.",
    bands=one_band_per_value(
        "no response to pain",
        "responds to pain",
        "responds to prodding",
        "responds to loud voice",
        "lethargic",
        "alert",
    ),
    safety_rules=(
        _rating_rule(
            SEDATION,
            "Sedated: record as an adverse event; nurse at bedside.",
            "instruments.md MOAA/S [policy]: <= 3",
            at_most=3,
        ),
        _rating_rule(SEDATION_EMERGENCY, _EMERGENCY, "instruments.md MOAA/S [policy]: <= 1", at_most=1),
    ),
    missing_rule="A single rating: unrated means not scored.",
    wording_note="Level texts are the domain notes' table; the item text is a label.",
    uses=(Use.IN_SESSION,),
)

RASS = Instrument(
    code="rass",
    name="RASS",
    version="1",
    construct="Agitation and sedation",
    respondent="observer",
    recall_period="now",
    items=(
        Item(
            "1",
            "Agitation or sedation level",
            ordered_options(
                "Unarousable",
                "Deep sedation: no response to voice, movement to physical stimulus",
                "Moderate sedation: movement or eye opening to voice, no eye contact",
                "Light sedation: eye contact to voice under 10 seconds",
                "Drowsy: sustained awakening, eye contact to voice over 10 seconds",
                "Alert and calm",
                "Restless",
                "Agitated: frequent non-purposeful movement",
                "Very agitated",
                "Combative",
                start=-5,
            ),
            text_is_label=True,
        ),
    ),
    source="Sessler CN et al. Am J Respir Crit Care Med 2002;166:1338-1344",
    licence="Free to use (published scale).",
    bands=one_band_per_value(
        "unarousable",
        "deep sedation",
        "moderate sedation",
        "light sedation",
        "drowsy",
        "alert and calm",
        "restless",
        "agitated",
        "very agitated",
        "combative",
        start=-5,
    ),
    safety_rules=(
        _rating_rule(NURSE_ATTENTION, "Nurse attention.", "instruments.md RASS [policy]: <= -2", at_most=-2),
        _rating_rule(NURSE_ATTENTION, "Nurse attention.", "instruments.md RASS [policy]: >= +2", at_least=2),
        _rating_rule(SEDATION_EMERGENCY, _EMERGENCY, "instruments.md RASS [policy]: <= -4", at_most=-4),
    ),
    missing_rule="A single rating: unrated means not scored.",
    wording_note="Level texts paraphrase the domain notes (Sessler 2002); the item text is a label.",
    uses=(Use.IN_SESSION,),
)
