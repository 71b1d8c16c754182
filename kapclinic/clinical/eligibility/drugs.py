"""Drug names: the classes the interaction rules and the treatment-resistance count look for.

Each class lists ingredients (RxNorm-style names) and a few common US brand names; a medication entry names a
member when a name appears in it as whole words, in any case (eligibility.md section 2 lists the classes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache


def normalise_text(text: str) -> str:
    """Return the text in lower case, words separated by single spaces, punctuation dropped."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


@cache
def _pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = sorted((normalise_text(name) for name in names), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(name) for name in alternatives) + r")\b")


@dataclass(frozen=True)
class DrugClass:
    """A class of drugs named by ingredients (RxNorm-style) and a few common US brand names."""

    label: str
    ingredients: tuple[str, ...]
    brands: tuple[tuple[str, str], ...] = ()  # (brand, ingredient)

    def find(self, entries: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Return the entries that name a member (whole words, any case) and the ingredients they name."""
        to_ingredient = {normalise_text(name): name for name in self.ingredients}
        to_ingredient.update({normalise_text(brand): ingredient for brand, ingredient in self.brands})
        pattern = _pattern(tuple(to_ingredient))
        matched: list[str] = []
        found: list[str] = []
        for entry in entries:
            hits = pattern.findall(normalise_text(entry))
            if hits:
                matched.append(entry)
                found += [to_ingredient[hit] for hit in hits if to_ingredient[hit] not in found]
        return tuple(matched), tuple(found)


BENZODIAZEPINES = DrugClass(
    "Benzodiazepine",
    (
        "alprazolam",
        "chlordiazepoxide",
        "clobazam",
        "clonazepam",
        "clorazepate",
        "diazepam",
        "estazolam",
        "lorazepam",
        "midazolam",
        "oxazepam",
        "temazepam",
        "triazolam",
    ),
    (("xanax", "alprazolam"), ("ativan", "lorazepam"), ("klonopin", "clonazepam"), ("valium", "diazepam")),
)
LAMOTRIGINE = DrugClass("Lamotrigine", ("lamotrigine",), (("lamictal", "lamotrigine"),))
NMDA_AGENTS = DrugClass(
    "Other NMDA/glutamate agent",
    ("memantine", "dextromethorphan"),
    (("namenda", "memantine"), ("auvelity", "dextromethorphan"), ("nuedexta", "dextromethorphan")),
)
MAOIS = DrugClass(
    "MAOI",
    ("phenelzine", "tranylcypromine", "isocarboxazid", "selegiline"),
    (("nardil", "phenelzine"), ("parnate", "tranylcypromine"), ("marplan", "isocarboxazid"), ("emsam", "selegiline")),
)
PSYCHOSTIMULANTS = DrugClass(
    "Psychostimulant",
    (
        "amphetamine",
        "dextroamphetamine",
        "lisdexamfetamine",
        "methamphetamine",
        "methylphenidate",
        "dexmethylphenidate",
        "modafinil",
        "armodafinil",
    ),
    (
        ("adderall", "amphetamine"),
        ("vyvanse", "lisdexamfetamine"),
        ("ritalin", "methylphenidate"),
        ("concerta", "methylphenidate"),
        ("focalin", "dexmethylphenidate"),
        ("provigil", "modafinil"),
        ("nuvigil", "armodafinil"),
    ),
)
OPIOIDS = DrugClass(
    "Opioid",
    (
        "buprenorphine",
        "codeine",
        "fentanyl",
        "hydrocodone",
        "hydromorphone",
        "meperidine",
        "methadone",
        "morphine",
        "oxycodone",
        "oxymorphone",
        "tapentadol",
        "tramadol",
    ),
    (("suboxone", "buprenorphine"), ("oxycontin", "oxycodone"), ("percocet", "oxycodone"), ("norco", "hydrocodone")),
)
NALTREXONE = DrugClass("Naltrexone", ("naltrexone",), (("vivitrol", "naltrexone"),))
OTHER_SEDATIVES = DrugClass(
    "Other sedative",
    (
        # Z-drugs
        "zolpidem",
        "zaleplon",
        "zopiclone",
        "eszopiclone",
        # gabapentinoids
        "gabapentin",
        "pregabalin",
        # sedating antihistamines
        "diphenhydramine",
        "doxylamine",
        "hydroxyzine",
        "promethazine",
        # antipsychotics
        "aripiprazole",
        "brexpiprazole",
        "cariprazine",
        "chlorpromazine",
        "clozapine",
        "haloperidol",
        "lurasidone",
        "olanzapine",
        "paliperidone",
        "quetiapine",
        "risperidone",
        "ziprasidone",
    ),
    (("ambien", "zolpidem"), ("neurontin", "gabapentin"), ("lyrica", "pregabalin"), ("seroquel", "quetiapine")),
)
# Only drugs with a published ketamine study are listed as evidenced; the inducers are a class inference.
CYP_MODULATORS = DrugClass(
    "CYP3A4/CYP2B6 inhibitor or inducer",
    ("clarithromycin", "ticlopidine", "rifampin", "rifampicin", "carbamazepine", "phenytoin", "St John's wort"),
    (("st johns wort", "St John's wort"), ("hypericum", "St John's wort"), ("tegretol", "carbamazepine")),
)
THEOPHYLLINES = DrugClass("Theophylline/aminophylline", ("theophylline", "aminophylline"))
THYROID_HORMONES = DrugClass(
    "Thyroid hormone",
    ("levothyroxine", "liothyronine", "thyroid desiccated"),
    (("synthroid", "levothyroxine"), ("cytomel", "liothyronine"), ("armour thyroid", "thyroid desiccated")),
)
# For treatment resistance only: oral antidepressants (SSRIs, SNRIs, TCAs, oral MAOIs and others). Transdermal
# selegiline is not oral; mark such a trial with `antidepressant=True` if the prescriber counts it.
ORAL_ANTIDEPRESSANTS = DrugClass(
    "Oral antidepressant",
    (
        "citalopram",
        "escitalopram",
        "fluoxetine",
        "fluvoxamine",
        "paroxetine",
        "sertraline",
        "venlafaxine",
        "desvenlafaxine",
        "duloxetine",
        "levomilnacipran",
        "amitriptyline",
        "clomipramine",
        "desipramine",
        "doxepin",
        "imipramine",
        "nortriptyline",
        "protriptyline",
        "trimipramine",
        "phenelzine",
        "tranylcypromine",
        "isocarboxazid",
        "bupropion",
        "mirtazapine",
        "trazodone",
        "nefazodone",
        "vilazodone",
        "vortioxetine",
    ),
    (
        ("prozac", "fluoxetine"),
        ("zoloft", "sertraline"),
        ("lexapro", "escitalopram"),
        ("celexa", "citalopram"),
        ("paxil", "paroxetine"),
        ("effexor", "venlafaxine"),
        ("pristiq", "desvenlafaxine"),
        ("cymbalta", "duloxetine"),
        ("wellbutrin", "bupropion"),
        ("remeron", "mirtazapine"),
        ("trintellix", "vortioxetine"),
        ("viibryd", "vilazodone"),
    ),
)

# Hypersensitivity: ketamine, esketamine, their products, and the benzethonium chloride preservative in
# multi-dose ketamine vials (dosing.md section 1).
KETAMINE_ALLERGENS = DrugClass(
    "Ketamine product",
    ("ketamine", "esketamine", "benzethonium"),
    (("ketalar", "ketamine"), ("spravato", "esketamine")),
)
