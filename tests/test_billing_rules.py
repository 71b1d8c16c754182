"""Coding rules (issue 18, item 3): worked examples from the sources cited in kapclinic/clinical/billing.py.
Pure: no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kapclinic.clinical.billing import (
    CODES,
    PSYCHOTHERAPY_LADDER,
    Coding,
    Concept,
    EsketamineScheme,
    Modality,
    Monitor,
    NoCodeInForce,
    PatientLocation,
    code_for,
    code_in_force,
    esketamine,
    infusion_additional_hours,
    iv_infusion,
    ketamine_drug,
    monitoring_hours,
    office_visit,
    psychedelic_monitoring,
    psychotherapy,
    setting_for,
)

DAY = date(2026, 12, 3)
OFFICE = setting_for(Modality.IN_PERSON, PatientLocation.UNKNOWN, DAY)


def _codes(coding: Coding) -> list[tuple[str, int]]:
    return [(line.code, line.units) for line in coding.lines]


# --- the code table ---------------------------------------------------------------------------------------


def test_esketamine_per_mg_is_s0013_before_2026_and_j0013_from_2026() -> None:
    # codes.md: J0013 replaced S0013 on 1 January 2026.
    assert code_for(Concept.ESKETAMINE_PER_MG, date(2025, 12, 31)).code == "S0013"
    assert code_for(Concept.ESKETAMINE_PER_MG, date(2026, 1, 1)).code == "J0013"
    assert code_in_force("S0013", date(2026, 1, 1)) is None


def test_every_concept_has_at_most_one_code_on_any_day() -> None:
    # Overlapping rows would make "which code on this date" ambiguous.
    for concept in Concept:
        rows = [c for c in CODES if c.concept is concept]
        days = {r.effective_from for r in rows} | {r.effective_to for r in rows if r.effective_to}
        for day in days:
            assert sum(r.in_force(day) for r in rows) <= 1 or concept in (
                Concept.OFFICE_VISIT_NEW,
                Concept.OFFICE_VISIT_ESTABLISHED,
            ), (concept, day)


def test_a_concept_with_no_code_on_the_day_is_refused() -> None:
    with pytest.raises(NoCodeInForce):
        code_for(Concept.PSYCHEDELIC_MONITORING_FIRST, date(2023, 6, 1))


# --- psychotherapy by time ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "alone", "with_em"),
    [
        (15, None, None),
        (16, "90832", "90833"),
        (37, "90832", "90833"),
        (38, "90834", "90836"),
        (52, "90834", "90836"),
        (53, "90837", "90838"),
        (55, "90837", "90838"),
        (90, "90837", "90838"),
    ],
)
def test_psychotherapy_codes_follow_the_cpt_time_bands(minutes: int, alone: str | None, with_em: str | None) -> None:
    # CPT time rule: 16-37 / 38-52 / >= 53 minutes; under 16 no code.
    got_alone = psychotherapy(minutes=minutes, day=DAY, with_em=False, setting=OFFICE, who="note")
    got_em = psychotherapy(minutes=minutes, day=DAY, with_em=True, setting=OFFICE, who="note")
    assert [line.code for line in got_alone.lines] == ([alone] if alone else [])
    assert [line.code for line in got_em.lines] == ([with_em] if with_em else [])
    if alone is None:
        assert "16 minutes" in got_alone.not_proposed[0]


def test_the_justification_names_the_fact() -> None:
    coding = psychotherapy(minutes=55, day=DAY, with_em=False, setting=OFFICE, who="Therapy note signed by A. Rowan")
    assert coding.lines[0].justification.startswith("Therapy note signed by A. Rowan, 55 documented minutes")
    assert "→ 90837" in coding.lines[0].justification


def test_no_documented_time_proposes_nothing() -> None:
    coding = psychotherapy(minutes=None, day=DAY, with_em=False, setting=OFFICE, who="note")
    assert coding.lines == () and "no duration" in coding.not_proposed[0]


def test_the_ladder_is_longest_first() -> None:
    assert [row[0] for row in PSYCHOTHERAPY_LADDER] == sorted((row[0] for row in PSYCHOTHERAPY_LADDER), reverse=True)


# --- telehealth ------------------------------------------------------------------------------------------------


def test_video_from_home_is_pos_10_with_modifier_95() -> None:
    s = setting_for(Modality.VIDEO, PatientLocation.HOME, DAY)
    assert (s.place_of_service, s.modifiers, s.caveats) == ("10", ("95",), ())


def test_phone_elsewhere_is_pos_02_with_modifier_93() -> None:
    s = setting_for(Modality.PHONE, PatientLocation.ELSEWHERE, DAY)
    assert (s.place_of_service, s.modifiers) == ("02", ("93",))


def test_an_unknown_location_is_flagged_for_the_biller() -> None:
    s = setting_for(Modality.VIDEO, PatientLocation.UNKNOWN, DAY)
    assert s.place_of_service == "10" and "confirm" in s.caveats[0]


def test_before_2022_home_telehealth_was_pos_02() -> None:
    assert setting_for(Modality.VIDEO, PatientLocation.HOME, date(2021, 6, 1)).place_of_service == "02"


def test_in_person_is_pos_11_without_modifier() -> None:
    assert (OFFICE.place_of_service, OFFICE.modifiers) == ("11", ())


def test_a_telehealth_psychotherapy_line_carries_pos_and_modifier() -> None:
    s = setting_for(Modality.VIDEO, PatientLocation.HOME, DAY)
    line = psychotherapy(minutes=45, day=DAY, with_em=False, setting=s, who="note").lines[0]
    assert (line.code, line.place_of_service, line.modifiers) == ("90834", "10", ("95",))


# --- IV infusion -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "extra"), [(40, 0), (60, 0), (75, 0), (90, 0), (91, 1), (105, 1), (150, 1), (151, 2), (210, 2)]
)
def test_additional_infusion_hours_count_past_30_minutes(minutes: int, extra: int) -> None:
    # AAPC: a 75-minute infusion is 96365 only; 1 h 45 min is 96365 + 96366.
    assert infusion_additional_hours(minutes) == extra


def test_a_40_minute_ketamine_infusion_is_96365() -> None:
    assert _codes(iv_infusion(minutes=40, day=DAY, who="session")) == [("96365", 1)]


def test_a_105_minute_infusion_adds_one_96366() -> None:
    assert _codes(iv_infusion(minutes=105, day=DAY, who="session")) == [("96365", 1), ("96366", 1)]


def test_a_push_or_no_stop_time_is_not_an_infusion() -> None:
    assert iv_infusion(minutes=15, day=DAY, who="s").lines == ()
    assert "push" in iv_infusion(minutes=15, day=DAY, who="s").not_proposed[0]
    assert iv_infusion(minutes=None, day=DAY, who="s").lines == ()


# --- drugs ---------------------------------------------------------------------------------------------------------


def test_ketamine_is_j3490_with_ndc_and_quantity() -> None:
    coding = ketamine_drug(
        given_mg=Decimal("35.5"), mg_per_unit=Decimal(50), product_unit="mL", ndc="0409-2051-05", day=DAY, who="s"
    )
    (line,) = coding.lines
    assert (line.code, line.units, line.ndc, line.ndc_quantity, line.ndc_unit) == (
        "J3490",
        1,
        "0409-2051-05",
        Decimal("0.710"),
        "ML",
    )


def test_ketamine_without_an_ndc_is_not_proposed() -> None:
    coding = ketamine_drug(given_mg=Decimal(35), mg_per_unit=Decimal(50), product_unit="mL", ndc="", day=DAY, who="s")
    assert coding.lines == () and "NDC" in coding.not_proposed[0]


@pytest.mark.parametrize(("mg", "code"), [(28, "G2082"), (56, "G2082"), (84, "G2083")])
def test_esketamine_visit_code_by_dose(mg: int, code: str) -> None:
    # G2082 up to 56 mg, G2083 more than 56 mg (CMS descriptors, codes.md).
    coding = esketamine(given_mg=Decimal(mg), day=DAY, scheme=EsketamineScheme.VISIT_CODE, ndc="", who="s")
    assert _codes(coding) == [(code, 1)]


def test_esketamine_drug_per_mg_changes_code_with_the_year() -> None:
    scheme = EsketamineScheme.DRUG_PER_MG
    before = esketamine(given_mg=Decimal(56), day=date(2025, 11, 3), scheme=scheme, ndc="50458-028-02", who="s")
    after = esketamine(given_mg=Decimal(56), day=date(2026, 1, 5), scheme=scheme, ndc="50458-028-02", who="s")
    assert _codes(before) == [("S0013", 56)] and _codes(after) == [("J0013", 56)]


# --- psychedelic monitoring ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("minutes", "units"), [(30, 0), (31, 1), (90, 1), (91, 2), (120, 2), (150, 2), (151, 3)])
def test_monitoring_hours(minutes: int, units: int) -> None:
    assert monitoring_hours(minutes) == units


def test_monitoring_by_who_monitored() -> None:
    first = psychedelic_monitoring(minutes=120, day=DAY, monitor=Monitor.FIRST_CLINICIAN, who="n")
    staff = psychedelic_monitoring(minutes=120, day=DAY, monitor=Monitor.CLINICAL_STAFF, who="n")
    assert _codes(first) == [("0820T", 2)] and _codes(staff) == [("0822T", 2)]
    assert "[verify]" in first.lines[0].caveats[0]


def test_monitoring_before_the_codes_existed_is_not_proposed() -> None:
    coding = psychedelic_monitoring(minutes=120, day=date(2023, 5, 1), monitor=Monitor.FIRST_CLINICIAN, who="n")
    assert coding.lines == () and "in force" in coding.not_proposed[0]


# --- E/M -------------------------------------------------------------------------------------------------------------


def test_the_em_level_is_the_clinicians_and_must_be_an_office_em_code() -> None:
    assert _codes(office_visit(code="99214", day=DAY, setting=OFFICE, who="Dr")) == [("99214", 1)]
    with pytest.raises(ValueError, match="not an office E/M"):
        office_visit(code="90837", day=DAY, setting=OFFICE, who="Dr")
    with pytest.raises(ValueError):
        office_visit(code="99201", day=DAY, setting=OFFICE, who="Dr")  # deleted in 2021
