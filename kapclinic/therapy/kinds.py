"""Therapy note kinds and the template each one follows; the patient's reflection prompts.

Plain Python (no Django): the service validates against these, the pages render them as fields,
the API accepts their keys beside `body`. Pathway stages 4-6 (../shared/design/pathway.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Longest text kept in one place: a whole note's free text, one template section, one addendum, one reflection.
BODY_MAX = 20_000
SECTION_MAX = 5_000
ADDENDUM_MAX = 10_000
REASON_MAX = 2_000
REFLECTION_MAX = 5_000
MINUTES_MAX = 600


class NoteKind(StrEnum):
    PREPARATION = "preparation"
    IN_SESSION = "in_session"
    INTEGRATION = "integration"
    THERAPY = "therapy"
    # Psychotherapy (process) notes: HIPAA 45 CFR 164.501 gives them extra protection; only the
    # author and those the author shares them with may read them (roles.md).
    PROCESS = "process"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    NoteKind.PREPARATION: "Preparation session",
    NoteKind.IN_SESSION: "In-session (guiding)",
    NoteKind.INTEGRATION: "Integration session",
    NoteKind.THERAPY: "Other therapy session",
    NoteKind.PROCESS: "Psychotherapy process note (private)",
}


class Modality(StrEnum):
    IN_PERSON = "in_person"
    VIDEO = "video"
    PHONE = "phone"

    @property
    def label(self) -> str:
        return {"in_person": "In person", "video": "Video", "phone": "Telephone"}[self.value]


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    hint: str = ""


SECTIONS: dict[NoteKind, tuple[Section, ...]] = {
    NoteKind.PREPARATION: (
        Section("intentions", "Intentions", "What the patient hopes to explore or change, in their words."),
        Section("expectations", "Expectations discussed", "What the session will feel like; how it may go."),
        Section("safety_plan", "Safety plan", "Signals, support, who to call; the agreed stop word or gesture."),
        Section("support", "Support at home", "Who is with them after the session; ride home."),
    ),
    NoteKind.IN_SESSION: (
        Section("music", "Music", "Playlist, changes made, the patient's response."),
        Section("imagery", "Imagery and experience", "What the patient described during the session."),
        Section("what_came_up", "What came up", "Themes, emotions, memories; moments of difficulty."),
        Section("support_given", "Support given", "Grounding, reassurance, touch (with consent), interventions."),
    ),
    NoteKind.INTEGRATION: (
        Section("reported", "What the patient reported", "Since the dosing session, in their words."),
        Section("themes", "Themes"),
        Section("insights", "Insights"),
        Section("coping", "Coping strategies agreed"),
        Section("goals_progress", "Goals progress", "Progress on each goal is also recorded beside the note."),
        Section("risk", "Risk assessment", "Suicidal ideation, self-harm, safety at home; actions taken."),
        Section("plan", "Plan", "Next sessions, homework, referrals."),
    ),
    NoteKind.THERAPY: (
        Section("focus", "Focus of the session"),
        Section("interventions", "Interventions"),
        Section("response", "The patient's response"),
        Section("risk", "Risk assessment"),
        Section("plan", "Plan"),
    ),
    NoteKind.PROCESS: (),
}


@dataclass(frozen=True)
class Prompt:
    key: str
    text: str


# Optional prompts for the patient's journal and post-session reflections (pathway stage 6).
PROMPTS: tuple[Prompt, ...] = (
    Prompt("stood_out", "What stood out for you?"),
    Prompt("carry", "What do you want to carry into daily life?"),
    Prompt("body", "What did you notice in your body?"),
    Prompt("hard", "Was anything difficult, or still with you?"),
    Prompt("grateful", "Is there something you feel grateful for?"),
)
PROMPT_TEXT = {p.key: p.text for p in PROMPTS}


class ReflectionKind(StrEnum):
    JOURNAL = "journal"
    POST_SESSION = "post_session"

    @property
    def label(self) -> str:
        return "Journal entry" if self is ReflectionKind.JOURNAL else "Reflection after a session"


class ProgressLevel(StrEnum):
    """How a goal moved, in words the patient also reads (shown as words, never as a colour)."""

    WORSE = "worse"
    NO_CHANGE = "no_change"
    SOME = "some"
    MUCH = "much"
    ACHIEVED = "achieved"

    @property
    def label(self) -> str:
        return PROGRESS_LABELS[self]


PROGRESS_LABELS = {
    ProgressLevel.WORSE: "Harder than before",
    ProgressLevel.NO_CHANGE: "No change yet",
    ProgressLevel.SOME: "Some progress",
    ProgressLevel.MUCH: "Much progress",
    ProgressLevel.ACHIEVED: "Achieved",
}


def section_keys(kind: NoteKind) -> tuple[str, ...]:
    return tuple(s.key for s in SECTIONS[kind])


def section_problems(kind: NoteKind, sections: dict[str, object]) -> dict[str, str]:
    """Return {field: problem} for template fields that do not belong to `kind` or are too long."""
    allowed = set(section_keys(kind))
    problems: dict[str, str] = {}
    for key, value in sections.items():
        if key not in allowed:
            problems[key] = f"A {kind.label.lower()} note has no field {key!r}."
        elif not isinstance(value, str):
            problems[key] = "Write text here."
        elif len(value) > SECTION_MAX:
            problems[key] = f"Keep this under {SECTION_MAX:,} characters (it has {len(value):,})."
    return problems


def searchable_text(sections: dict[str, str], body: str) -> str:
    """Return the note's words for search: every section's text, then the free text."""
    return "\n".join([*(v for v in sections.values() if v), body]).strip()
