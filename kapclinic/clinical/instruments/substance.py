"""Substance use: AUDIT-C (alcohol), the single-question drug screen, and the craving scale."""

from __future__ import annotations

from kapclinic.clinical.instruments.scoring import Band, Instrument, Item, LoincCode, ScreenRule, Use, ordered_options

# --- AUDIT-C -------------------------------------------------------------------------------------------------

AUDITC = Instrument(
    code="auditc",
    name="AUDIT-C",
    version="1",
    construct="Alcohol consumption risk",
    respondent="self",
    recall_period="past year",
    items=(
        Item(
            "1",
            "How often do you have a drink containing alcohol?",
            ordered_options(
                "Never",
                "Monthly or less",
                "2 to 4 times a month",
                "2 to 3 times a week",
                "4 or more times a week",
            ),
            loinc="68518-0",
        ),
        Item(
            "2",
            # LOINC 68519-8's wording, as in the HL7 US Core AUDIT-C example (AUDIT-C-item-example-68519-8).
            "How many standard drinks containing alcohol do you have on a typical day?",
            ordered_options(
                "1 or 2",
                "3 or 4",
                "5 or 6",
                "7 to 9",
                "10 or more",
            ),
            loinc="68519-8",
        ),
        Item(
            "3",
            "How often do you have six or more drinks on one occasion?",
            ordered_options(
                "Never",
                "Less than monthly",
                "Monthly",
                "Weekly",
                "Daily or almost daily",
            ),
            loinc="68520-6",
        ),
    ),
    source="Bush K et al. Arch Intern Med 1998;158:1789-1795; Bradley KA et al. Alcohol Clin Exp Res 2007;31:1208-1217",
    licence="Public domain (the first 3 items of the WHO AUDIT).",
    # Bands restate the screening cut-offs (>= 3 women, >= 4 men; 7-12 high likelihood of AUD, Bradley 2007).
    bands=(
        Band(0, 2, "negative screen"),
        Band(3, 3, "positive screen for women (cut-off 3), negative for men (cut-off 4)"),
        Band(4, 6, "positive screen"),
        Band(7, 12, "high likelihood of alcohol use disorder"),
    ),
    missing_rule="Not scored unless all 3 items are answered: the domain notes give no proration rule.",
    screen=ScreenRule("positive alcohol screen", 4, "Bradley 2007: >= 4 men, >= 3 women", cutoff_female=3),
    loinc_panel=LoincCode("72109-2", "Alcohol Use Disorder Identification Test - Consumption [AUDIT-C]", "verified"),
    # Never 75624-7: that is the full 10-item AUDIT total (codes.md).
    loinc_result=LoincCode("75626-2", "Total score [AUDIT-C]", "confirmed"),
    wording_note=(
        "Item texts are LOINC's (68518-0, 68519-8, 68520-6; HL7 US Core AUDIT-C examples). Answer texts are the "
        "WHO AUDIT categories (public domain) and are not given in the domain notes: check them against the WHO "
        "AUDIT manual."
    ),
    uses=(Use.PRE_SCREEN, Use.PRE_SESSION, Use.FOLLOW_UP),
)

# --- Drug use: single-item screen (free alternative to the non-commercial DAST-10) ---------------------------

DRUG_SINGLE = Instrument(
    code="drug_single",
    name="Single-question drug screen",
    version="1",
    construct="Drug use (illegal drugs or non-medical use of prescription medication)",
    respondent="self",
    recall_period="past year",
    items=(
        Item(
            "1",
            "How many times in the past year have you used an illegal drug or used a prescription medication for "
            "non-medical reasons?",
            minimum=0,
        ),
    ),
    source="Smith PC et al. Arch Intern Med 2010;170:1155-1160",
    licence="Published single question; NIDA materials are US-government work.",
    licence_note="[unverified licence statement; not searched 2026-11-24] (instruments.md).",
    bands=(Band(0, 0, "negative"), Band(1, None, "positive")),
    missing_rule="A single item: unanswered means not scored.",
    screen=ScreenRule("positive drug screen", 1, "Smith 2010: >= 1 time = positive"),
    wording_note="Item text as given in the domain notes; the answer is a count of times.",
    uses=(Use.PRE_SCREEN, Use.PRE_SESSION),
)

# --- Craving VAS ---------------------------------------------------------------------------------------------

CRAVING_VAS = Instrument(
    code="craving_vas",
    name="Craving VAS",
    version="1",
    construct="Momentary craving for the target substance",
    respondent="self",
    recall_period="right now (or a stated window)",
    items=(
        Item(
            "1",
            "Craving right now",
            minimum=0,
            maximum=100,
            anchors=("No craving at all", "Strongest craving I have ever had"),
            text_is_label=True,
        ),
    ),
    source="Generic 100 mm visual analogue scale (instruments.md, Craving VAS)",
    licence="No licence (generic method).",
    # No bands, response or MCID: none is validated for KAP, so change is reported descriptively.
    missing_rule="A single item: unanswered means not scored.",
    context_fields=("substance", "window"),
    wording_note="The item text is a label; the anchors are the domain notes' wording. Store integer mm.",
    uses=(Use.PRE_SESSION,),
)
