"""Reading a referral's FHIR R4 Bundle (issue 17 item 4): what it offers the clinic's record, item by item. Plain
Python, no Django: the structure is checked by hand here (fhir.resources is for the tests; it is slow).

Offered: Condition (ICD-10-CM, or SNOMED CT with an ICD-10-CM coding beside it), MedicationRequest and
MedicationStatement (RxNorm), AllergyIntolerance (SNOMED CT or RxNorm substance) and Observation totals of the
instruments the clinic scores (LOINC result codes of kapclinic/clinical/instruments: PHQ-9 44261-6, GAD-7 70274-6,
PCL-5 101698-9; ../shared/domain/codes.md "Questionnaires"). Anything coded otherwise is shown as not recognised
and cannot be taken: a code is never guessed (a SNOMED CT condition without its ICD-10-CM code is not mapped here).
Every text is kept as text: the pages escape it.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from kapclinic.clinical.icd10 import is_icd10_cm
from kapclinic.clinical.instruments import INSTRUMENTS, Instrument

# A referral's whole record from a primary-care EHR runs to a few MB (a Synthea life: 0.5-5 MB); past this it is
# refused, not read.
BUNDLE_MAX_BYTES = 10 * 1024 * 1024
ENTRIES_MAX = 20_000
TEXT_MAX = 300

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SYSTEM_NAMES = {LOINC: "LOINC", SNOMED: "SNOMED CT", RXNORM: "RxNorm", ICD10CM: "ICD-10-CM"}
BUNDLE_TYPES = ("transaction", "collection", "batch", "document", "searchset")
# Transaction and collection carry a record; a searchset and a document are accepted as the same list of resources.
ACCEPTED_TYPES = frozenset({"transaction", "collection", "searchset", "document"})

# The instruments whose total the LOINC result code names (the C-SSRS screener's result is a risk level, not a sum).
SCORE_CODES: dict[str, Instrument] = {
    i.loinc_result.code: i for i in INSTRUMENTS.values() if i.loinc_result is not None and i.scoring == "sum"
}
# Statuses that say the item is not part of the patient's present record (FHIR R4 value sets: condition-clinical,
# medicationrequest-status, medication-statement-status, allergyintolerance-clinical, observation-status).
CONDITION_NOT_CURRENT = frozenset({"inactive", "resolved", "remission"})
MEDICATION_NOT_CURRENT = frozenset({"stopped", "completed", "cancelled", "entered-in-error", "not-taken", "draft"})
ALLERGY_NOT_CURRENT = frozenset({"inactive", "resolved"})
OBSERVATION_USABLE = frozenset({"final", "amended", "corrected"})
ENTERED_IN_ERROR = "entered-in-error"

Kind = Literal["condition", "medication", "allergy", "score"]


class BundleProblem(ValueError):
    """The file cannot be imported; the message says why, in words for the person who uploaded it."""


@dataclass(frozen=True)
class BundlePerson:
    """The patient the bundle is about, as it names them."""

    family: str
    given: tuple[str, ...]
    birth_date: str  # as written (YYYY-MM-DD, or shorter), "" when absent

    @property
    def shown(self) -> str:
        return " ".join([*self.given, self.family]).strip() or "(no name)"


@dataclass(frozen=True)
class Offer:
    """One item the bundle offers: what it says, what would be written, and whether it may be taken."""

    key: str  # "e<entry index>": the stored bundle never changes, so the key is stable
    kind: Kind
    label: str  # the bundle's words for it
    system: str  # the code system's name ("SNOMED CT"), "" when uncoded
    code: str
    value: str  # what the record would hold: an ICD-10-CM code, a medication or substance name, a total
    instrument: str  # a score's instrument code, else ""
    when: str  # the item's own date as the bundle writes it
    status: str
    why_not: str  # "" when it may be taken, else why not (not recognised, stopped, out of range...)

    @property
    def takeable(self) -> bool:
        return not self.why_not

    @property
    def recognised(self) -> bool:
        return not self.why_not.startswith("Not recognised")


@dataclass(frozen=True)
class ReadBundle:
    bundle_type: str
    identifier: str
    person: BundlePerson
    source: str
    entries: int
    offers: tuple[Offer, ...]


def _text(value: object, limit: int = TEXT_MAX) -> str:
    if not isinstance(value, str):
        return ""
    clean = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C" or ch == " ")
    return " ".join(clean.split())[:limit]


def _codings(concept: object) -> list[tuple[str, str, str]]:
    """(system, code, display) of a CodeableConcept's codings that have a system and a code."""
    if not isinstance(concept, dict):
        return []
    found = []
    codings = concept.get("coding")
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict):
            system, code = _text(coding.get("system"), 200), _text(coding.get("code"), 60)
            if system and code:
                found.append((system, code, _text(coding.get("display"))))
    return found


def _concept_text(concept: object) -> str:
    if not isinstance(concept, dict):
        return ""
    text = _text(concept.get("text"))
    if text:
        return text
    return next((display for _, _, display in _codings(concept) if display), "")


def _status(resource: dict[str, Any], field: str) -> str:
    value = resource.get(field)
    if isinstance(value, str):
        return _text(value, 40)
    # A status CodeableConcept's system is fixed by its element (condition-clinical and the like): the code suffices.
    codings = value.get("coding") if isinstance(value, dict) else None
    for coding in codings if isinstance(codings, list) else []:
        if isinstance(coding, dict) and _text(coding.get("code"), 40):
            return _text(coding.get("code"), 40)
    return ""


def _first_date(resource: dict[str, Any], *fields: str) -> str:
    for field in fields:
        value = resource.get(field)
        if isinstance(value, dict):
            value = value.get("start")
        if isinstance(value, str) and value.strip():
            return _text(value, 40)
    return ""


def _unrecognised(codes: list[tuple[str, str, str]]) -> str:
    if not codes:
        return "Not recognised: it carries no code."
    shown = ", ".join(f"{SYSTEM_NAMES.get(s, s)} {c}" for s, c, _ in codes[:3])
    return f"Not recognised: {shown} is not a code the clinic's record takes here."


def _condition(key: str, resource: dict[str, Any]) -> Offer:
    codes = _codings(resource.get("code"))
    label = _concept_text(resource.get("code")) or "(no description)"
    status = _status(resource, "clinicalStatus")
    when = _first_date(resource, "onsetDateTime", "onsetPeriod", "recordedDate")
    icd = next((c.upper() for s, c, _ in codes if s == ICD10CM), "")
    snomed = next((c for s, c, _ in codes if s == SNOMED), "")
    system, code = ("ICD-10-CM", icd) if icd else (("SNOMED CT", snomed) if snomed else ("", ""))
    why_not = ""
    if icd and not is_icd10_cm(icd):
        why_not = f"Not recognised: {icd} is not in the ICD-10-CM list."
    elif not icd and snomed:
        why_not = "Not recognised: SNOMED CT only; the evaluation records ICD-10-CM codes and none is given."
    elif not icd:
        why_not = _unrecognised(codes)
    elif _status(resource, "verificationStatus") in (ENTERED_IN_ERROR, "refuted"):
        why_not = "Marked entered in error or refuted in the referral's record."
    elif status in CONDITION_NOT_CURRENT:
        why_not = f"{status.capitalize()} in the referral's record: not a present diagnosis."
    return Offer(key, "condition", label, system, code, icd, "", when, status, why_not)


def _medication(key: str, resource: dict[str, Any], contained: dict[str, dict[str, Any]]) -> Offer:
    concept = resource.get("medicationCodeableConcept")
    reference = resource.get("medicationReference")
    if concept is None and isinstance(reference, dict):
        target = contained.get(_text(reference.get("reference"), 200))
        concept = target.get("code") if target else None
    codes = _codings(concept)
    label = _concept_text(concept) or "(no name)"
    status = _status(resource, "status")
    when = _first_date(resource, "authoredOn", "effectiveDateTime", "effectivePeriod", "dateAsserted")
    rxnorm = next(((c, d) for s, c, d in codes if s == RXNORM), None)
    why_not = ""
    if rxnorm is None:
        why_not = _unrecognised(codes)
    elif not rxnorm[0].isdigit():
        why_not = f"Not recognised: {rxnorm[0]} is not an RxNorm concept id."
    elif status in MEDICATION_NOT_CURRENT:
        why_not = f"{status.capitalize().replace('-', ' ')} in the referral's record: not a current medication."
    value = _text(rxnorm[1] or label, 200) if rxnorm else ""
    return Offer(
        key,
        "medication",
        label,
        "RxNorm" if rxnorm else "",
        rxnorm[0] if rxnorm else "",
        value,
        "",
        when,
        status,
        why_not,
    )


def _allergy(key: str, resource: dict[str, Any]) -> Offer:
    codes = _codings(resource.get("code"))
    label = _concept_text(resource.get("code")) or "(no substance)"
    status = _status(resource, "clinicalStatus")
    when = _first_date(resource, "onsetDateTime", "recordedDate")
    known = next(((s, c, d) for s, c, d in codes if s in (SNOMED, RXNORM)), None)
    why_not = ""
    if known is None:
        why_not = _unrecognised(codes)
    elif _status(resource, "verificationStatus") in (ENTERED_IN_ERROR, "refuted"):
        why_not = "Marked entered in error or refuted in the referral's record."
    elif status in ALLERGY_NOT_CURRENT:
        why_not = f"{status.capitalize()} in the referral's record: not a present allergy."
    value = _text(known[2] or label, 200) if known else ""
    return Offer(
        key,
        "allergy",
        label,
        SYSTEM_NAMES[known[0]] if known else "",
        known[1] if known else "",
        value,
        "",
        when,
        status,
        why_not,
    )


def _score(key: str, resource: dict[str, Any]) -> Offer | None:
    """A questionnaire total, or None for an Observation that is not one (vital signs, labs: not offered)."""
    codes = _codings(resource.get("code"))
    loinc = next((c for s, c, _ in codes if s == LOINC and c in SCORE_CODES), None)
    label = _concept_text(resource.get("code")) or "(no name)"
    status = _status(resource, "status")
    when = _first_date(resource, "effectiveDateTime", "effectivePeriod", "issued")
    if loinc is None:
        categories = resource.get("category")
        survey = isinstance(categories, list) and any(
            isinstance(cat, dict)
            and isinstance(cat.get("coding"), list)
            and any(isinstance(c, dict) and c.get("code") == "survey" for c in cat["coding"])
            for cat in categories
        )
        if not survey:
            return None
        return Offer(key, "score", label, "", "", "", "", when, status, _unrecognised(codes))
    instrument = SCORE_CODES[loinc]
    number = resource.get("valueQuantity", {}).get("value") if isinstance(resource.get("valueQuantity"), dict) else None
    if number is None:
        number = resource.get("valueInteger")
    why_not = ""
    total = ""
    low, high = instrument.min_total, instrument.max_total
    if isinstance(number, bool) or not isinstance(number, int | float):
        why_not = "The total is missing or not a number."
    elif number != int(number):
        why_not = f"The total {number:g} is not a whole number."
    elif high is not None and not low <= int(number) <= high:
        shown = f"{number:g}" if isinstance(number, float) else str(number) if abs(number) < 10**12 else "far"
        why_not = f"The total {shown} is outside {instrument.name}'s {low} to {high}."
    else:
        total = str(int(number))
    if not why_not and status not in OBSERVATION_USABLE:
        why_not = f"Its status is {status or 'missing'}: only final results are taken."
    if not why_not and fhir_instant(when) is None:
        why_not = "It has no full date: a score is kept with the day it was taken."
    return Offer(key, "score", label, "LOINC", loinc, total, instrument.code, when, status, why_not)


def fhir_instant(when: str) -> datetime | None:
    """A FHIR date or dateTime to an aware instant (a day alone: its noon UTC, so the day shows the same in the
    Americas); None for a partial date (a year, a month) or anything else."""
    try:
        if len(when) == 10:
            return datetime.combine(date.fromisoformat(when), datetime.min.time().replace(hour=12), tzinfo=UTC)
        found = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None


def _person(resource: dict[str, Any]) -> BundlePerson:
    names = resource.get("name")
    chosen: dict[str, Any] = {}
    if isinstance(names, list):
        usable = [n for n in names if isinstance(n, dict)]
        chosen = next((n for n in usable if n.get("use") == "official"), usable[0] if usable else {})
    given = chosen.get("given")
    return BundlePerson(
        family=_text(chosen.get("family"), 100),
        given=tuple(_text(g, 100) for g in given if _text(g, 100)) if isinstance(given, list) else (),
        birth_date=_text(resource.get("birthDate"), 10),
    )


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not a JSON number")


def bundle_read(raw: bytes) -> ReadBundle:
    """Read the uploaded bytes; raise BundleProblem with the reason when they are not an importable Bundle."""
    if len(raw) > BUNDLE_MAX_BYTES:
        raise BundleProblem(
            f"The file is {len(raw) / 1_048_576:.1f} MB; "
            f"the largest bundle taken is {BUNDLE_MAX_BYTES // 1_048_576} MB."
        )
    if not raw.strip():
        raise BundleProblem("The file is empty.")
    # No clinical text holds one, and PostgreSQL refuses it in a text column (as kapclinic/middleware.py for forms).
    if b"\x00" in raw or b"\\u0000" in raw:
        raise BundleProblem("The file contains a NUL character, which no FHIR text holds.")
    try:
        # NaN and Infinity are not JSON (RFC 8259 section 6), though Python's reader takes them.
        document = json.loads(raw.decode("utf-8-sig"), parse_constant=_not_json)
    except UnicodeDecodeError:
        raise BundleProblem("The file is not UTF-8 text: FHIR JSON is UTF-8.") from None
    except (ValueError, RecursionError) as exc:  # a JSONDecodeError, or a number of more than 4,300 digits
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise BundleProblem(f"The file is not valid JSON{where}.") from None
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        found = document.get("resourceType") if isinstance(document, dict) else None
        named = f"a {_text(found, 40)}" if isinstance(found, str) and _text(found, 40) else "not a FHIR resource"
        raise BundleProblem(f"The file is {named}, not a FHIR Bundle.")
    bundle_type = document.get("type")
    if bundle_type not in ACCEPTED_TYPES:
        shown = _text(bundle_type, 40) if isinstance(bundle_type, str) else "missing"
        raise BundleProblem(
            f"The Bundle's type is {shown or 'missing'}: a referral is a transaction or a collection bundle."
        )
    entries = document.get("entry")
    if not isinstance(entries, list) or not entries:
        raise BundleProblem("The Bundle has no entries.")
    if len(entries) > ENTRIES_MAX:
        raise BundleProblem(f"The Bundle has {len(entries)} entries; the most taken is {ENTRIES_MAX}.")
    resources: list[tuple[int, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BundleProblem(f"Entry {index + 1} has no resource with a resourceType.")
        resources.append((index, resource))
    people = [r for _, r in resources if r["resourceType"] == "Patient"]
    if len(people) != 1:
        raise BundleProblem(
            "The Bundle names no patient."
            if not people
            else f"The Bundle names {len(people)} patients; a referral is about one."
        )
    # Medications by reference: a Medication resource elsewhere in the bundle, by fullUrl or Medication/<id>.
    medications: dict[str, dict[str, Any]] = {}
    for entry, (_, resource) in zip(entries, resources, strict=True):
        if resource["resourceType"] == "Medication":
            for name in (_text(entry.get("fullUrl"), 200), f"Medication/{_text(resource.get('id'), 64)}"):
                if name:
                    medications[name] = resource
    offers: list[Offer] = []
    organisations: list[str] = []
    for index, resource in resources:
        key, kind = f"e{index}", resource["resourceType"]
        if kind == "Condition":
            offers.append(_condition(key, resource))
        elif kind in ("MedicationRequest", "MedicationStatement"):
            offers.append(_medication(key, resource, medications))
        elif kind == "AllergyIntolerance":
            offers.append(_allergy(key, resource))
        elif kind == "Observation":
            score = _score(key, resource)
            if score is not None:
                offers.append(score)
        elif kind == "Organization" and _text(resource.get("name")) and len(organisations) < 3:
            organisations.append(_text(resource.get("name"), 100))
    identifier = document.get("identifier")
    return ReadBundle(
        bundle_type=bundle_type,
        identifier=_text(identifier.get("value"), 200)
        if isinstance(identifier, dict)
        else _text(document.get("id"), 64),
        person=_person(people[0]),
        source="; ".join(dict.fromkeys(organisations)),
        entries=len(entries),
        offers=tuple(offers),
    )


def _folded(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def person_mismatch(person: BundlePerson, *, family: str, given: str, birth_date: date) -> str:
    """Why the bundle's patient is not this patient ("" when the family name, a given name and the birth date all
    agree). Accents, case, spaces and hyphens are ignored; anything else differing refuses the import."""
    problems = []
    if person.birth_date != birth_date.isoformat():
        problems.append(
            f"the birth date is {person.birth_date or 'missing'} in the bundle, {birth_date.isoformat()} here"
        )
    if _folded(person.family) != _folded(family):
        problems.append(f"the family name is {person.family or 'missing'!r} in the bundle, {family!r} here")
    givens = {_folded(g) for g in person.given} | {_folded(" ".join(person.given))}
    if _folded(given) not in givens:
        shown = " ".join(person.given) or "missing"
        problems.append(f"the given name is {shown!r} in the bundle, {given!r} here")
    if not problems:
        return ""
    return "The bundle's patient is not this patient: " + "; ".join(problems) + "."
