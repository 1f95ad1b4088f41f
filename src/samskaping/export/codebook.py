"""The label scheme as a REFI-QDA codebook: codes, names in Norwegian and English, descriptions, colours.

Source: REFI-QDA standard 1.5 (QDA-XML 1.0, schemas of 18 March 2019, www.qdasoftware.org), the
``CodeBook``/``Codes``/``Code`` elements of ``Codebook.xsd`` and ``Project.xsd``.

The tree a coder sees::

    Forståelse av samskaping / Conception            (a folder: isCodable false)
        Tjenesteproduksjon / Co-production of services ... Ingen samskaping / No co-creation
        Usikker (forståelse) / Uncertain (conception)
    Faktor / Factor                                  (a folder)
        Overskudd og ressurser / Surplus capacity and resources
            Overskudd og ressurser – fremmer / ... – promoting
            Overskudd og ressurser – hemmer / ... – hindering
        ... Ingen faktor / No factor
        Usikker (faktor) / Uncertain (factor), Usikker (fremmer/hemmer) / Uncertain (promoting/hindering)

Every code has a stable key (``conception/service``, ``factor/resources/hindering``) and a GUID
derived from it, the same in every ``.qdc`` and ``.qdpx`` this tool writes, so a project that
went through a QDA program maps back to labels by GUID, or by name when the program made new GUIDs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from samskaping.labels import FACTOR, NONE, NORWEGIAN

# Fixed namespace of every GUID this tool writes (codes, users, sources, selections): the same
# input gives the same GUIDs, so exports can be compared and re-imported.
GUID_NAMESPACE = uuid.UUID("6f0d3a52-1c0e-5b7a-9d5e-2a4c8e1f7b30")
UNCERTAIN = "uncertain"


def guid(key: str) -> str:
    """The GUID of ``key``: a name-based UUID (RFC 4122 version 5), upper case as QDA programs write them."""
    return str(uuid.uuid5(GUID_NAMESPACE, key)).upper()


@dataclass(frozen=True)
class Code:
    """One code of the codebook: ``key`` like ``factor/resources/promoting``; ``labels`` what coding it means."""

    key: str
    name: str
    description: str
    colour: str
    codable: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    children: tuple[Code, ...] = ()

    @property
    def guid(self) -> str:
        return guid("code:" + self.key)


ENGLISH: dict[str, dict[str, str]] = {
    "conception": {
        "service": "Co-production of services",
        "democratic": "Democratic participation",
        "innovation": "Collaborative innovation",
        "none": "No co-creation",
    },
    "factor": {
        "concept_role": "Understanding of the concept and one's own role",
        "resources": "Surplus capacity and resources",
        "social_process": "Co-creation as a social process",
        "roles_power": "Clarified roles and power structures",
        "holistic": "Holistic thinking",
        "anchoring": "Anchoring (forankring)",
        "none": "No factor",
    },
    "polarity": {"promoting": "promoting", "hindering": "hindering"},
}

# (Norwegian, English) descriptions, from docs/annotation-guide.md section 2 and shared/label-scheme.md.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "conception/service": (
        (
            "Samskaping som samproduksjon av velferd: brukere, pasienter, pårørende eller frivillige er med og "
            "utformer, "
            "justerer eller leverer en tjeneste, for en bedre, mer treffende eller billigere tjeneste eller bedre "
            "mestring."
        ),
        (
            "Co-creation as joint production of welfare: users, patients, relatives or volunteers help design, "
            "adjust or "
            "deliver a service, for a better, more fitting or cheaper service, or for the person's coping (mestring)."
        ),
    ),
    "conception/democratic": (
        (
            "Samskaping som deltakelse og innflytelse: innbyggere, lokalsamfunn, ungdom, råd og lag får si sitt om "
            "vedtak, "
            "planer, budsjetter og utviklingen av stedet sitt; eierskap, stemme og lokaldemokrati."
        ),
        (
            "Co-creation as participation and influence: inhabitants, local communities, young people, councils and "
            "associations get a say in decisions, plans, budgets and the development of their place."
        ),
    ),
    "conception/innovation": (
        (
            "Samskaping som samarbeidsdrevet innovasjon: kommunen arbeider med næringsliv, forskning, frivillige og "
            "innbyggere, ofte på tvers av sektorer, for å finne nye løsninger (piloter, utprøving, "
            "innovasjonspartnerskap)."
        ),
        (
            "Co-creation as joint innovation: the municipality works with business, research, voluntary "
            "organisations or "
            "inhabitants, often across sectors, to find new answers (pilots, testing, innovation partnerships)."
        ),
    ),
    "conception/none": (
        (
            "Setningen uttrykker ingen forståelse av samskaping: fakta, tall, arealbruk, økonomi, intern "
            "administrasjon, "
            "eller samarbeid bare mellom offentlige organer."
        ),
        (
            "No understanding of co-creation: facts and figures, land use, the economy, internal administration, or "
            "cooperation that involves only public bodies."
        ),
    ),
    "factor/concept_role": (
        (
            "Å vite hva samskaping er og hva ens egen rolle er: felles eller manglende forståelse av begrepet, "
            "kompetanse, "
            "nye roller for ansatte, politikere, brukere og frivillige."
        ),
        (
            "Knowing what co-creation is and what one's own part in it is: a shared or missing definition, competence, "
            "new roles for employees, politicians, users and volunteers."
        ),
    ),
    "factor/resources": (
        "Rom til å gjøre det: tid, penger, stillinger, kapasitet, prosjektmidler og overskudd utover daglig drift.",
        "Room to do it: time, money, positions, capacity, project funding and slack beyond daily operations.",
    ),
    "factor/social_process": (
        (
            "Samskaping som relasjoner: tillit, dialog, å lytte, bli kjent, møteplasser, kontinuitet og å ta den tiden "
            "det tar."
        ),
        (
            "Co-creation as relationships: trust, dialogue, listening, meeting places, continuity and taking the time "
            "it takes."
        ),
    ),
    "factor/roles_power": (
        (
            "Hvem bestemmer og hvem har ansvaret: mandat, beslutningsmyndighet, eierskap til prosessen, "
            "forventningsavklaring og maktforskjellen mellom kommunen og dem den samarbeider med."
        ),
        (
            "Who decides and who is responsible: mandates, decision rights, ownership of the process, managing "
            "expectations and the power gap between the municipality and the people it works with."
        ),
    ),
    "factor/holistic": (
        (
            "Å se helheten: arbeid på tvers av sektorer, enheter og nivåer, samordning; siloer og fragmentering som "
            "det motsatte."
        ),
        (
            "Seeing the whole: working across sectors, units and levels, coordination; silos and fragmentation as the "
            "opposite."
        ),
    ),
    "factor/anchoring": (
        (
            "Forankring i systemet: i planer og strategier, politiske vedtak, lederstøtte og oppfølging i handlingsdel "
            "og budsjett."
        ),
        (
            "Being rooted in the system: plans and strategies, political decisions, leadership support, and "
            "follow-up in "
            "the action plan (handlingsdel) and budget."
        ),
    ),
    "factor/none": (
        (
            "Setningen nevner ingen betingelse for at samskaping lykkes eller mislykkes (også alle setninger som bare "
            "beskriver en aktivitet)."
        ),
        (
            "The sentence names no condition that helps or hinders co-creation (including every sentence that only "
            "reports an activity)."
        ),
    ),
    "promoting": (
        "Fremmer: betingelsen er til stede, planlagt, lovet eller sagt å trengs («må», «skal», «det er behov for»).",
        "Promoting: the condition is in place, planned, promised or said to be needed.",
    ),
    "hindering": (
        "Hemmer: betingelsen mangler nå, står i veien eller nevnes som en risiko («mangler», «hindrer», «fare for»).",
        "Hindering: the condition is missing now, stands in the way, or is named as a risk.",
    ),
    "conception/uncertain": (
        (
            "Usikker: modellens prediksjonsmengde for forståelse er ikke én etikett (flere, eller ingen) ved den "
            "valgte "
            "dekningsgraden; sannsynlighetene står i utvalgets beskrivelse. Sett en kode selv."
        ),
        (
            "Uncertain: the model's prediction set for conception is not a single label (several, or none) at the "
            "chosen "
            "coverage; the probabilities are in the selection's description. Code it yourself."
        ),
    ),
    "factor/uncertain": (
        "Usikker: modellens prediksjonsmengde for faktor er ikke én etikett ved den valgte dekningsgraden.",
        "Uncertain: the model's prediction set for factor is not a single label at the chosen coverage.",
    ),
    "polarity/uncertain": (
        "Usikker: faktoren er sikker, men ikke om den fremmer eller hemmer.",
        "Uncertain: the factor is certain, but not whether it promotes or hinders.",
    ),
}

CONCEPTION_COLOURS = {"service": "#3B6EA5", "democratic": "#C8553D", "innovation": "#4F9D69", NONE: "#C9C9C9"}
FACTOR_COLOURS = {
    "concept_role": "#7B5EA7",
    "resources": "#D08C60",
    "social_process": "#3A9AB2",
    "roles_power": "#8C564B",
    "holistic": "#2CA58D",
    "anchoring": "#5C6BC0",
    NONE: "#C9C9C9",
}
UNCERTAIN_COLOUR = "#F2C14E"
FOLDER_COLOUR = "#808080"


def _shade(colour: str, towards: int, amount: float) -> str:
    """``colour`` moved ``amount`` of the way to white (255) or black (0): promoting lighter, hindering darker."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (towards - c) * amount):02X}" for c in rgb)


def _description(key: str, extra: tuple[str, str] | None = None) -> str:
    no, en = DESCRIPTIONS[key]
    if extra:
        no, en = f"{no} {extra[0]}", f"{en} {extra[1]}"
    return f"{no}\n\n{en}\n\nsamskaping: {key}"


def _conception_codes() -> tuple[Code, ...]:
    codes = [
        Code(
            f"conception/{label}",
            f"{NORWEGIAN['conception'][label]} / {ENGLISH['conception'][label]}",
            _description(f"conception/{label}"),
            CONCEPTION_COLOURS[label],
            labels={"conception": label},
        )
        for label in ("service", "democratic", "innovation", NONE)
    ]
    codes.append(
        Code(
            "conception/uncertain",
            "Usikker (forståelse) / Uncertain (conception)",
            _description("conception/uncertain"),
            UNCERTAIN_COLOUR,
        )
    )
    return tuple(codes)


def _factor_codes() -> tuple[Code, ...]:
    codes = []
    for label in FACTOR:
        no, en = NORWEGIAN["factor"][label], ENGLISH["factor"][label]
        if label == NONE:
            codes.append(
                Code(
                    "factor/none",
                    f"{no} / {en}",
                    _description("factor/none"),
                    FACTOR_COLOURS[NONE],
                    labels={"factor": NONE, "polarity": NONE},
                )
            )
            continue
        children = tuple(
            Code(
                f"factor/{label}/{polarity}",
                f"{no} – {NORWEGIAN['polarity'][polarity].lower()} / {en} – {ENGLISH['polarity'][polarity]}",
                _description(f"factor/{label}", DESCRIPTIONS[polarity]),
                _shade(FACTOR_COLOURS[label], 255 if polarity == "promoting" else 0, 0.3),
                labels={"factor": label, "polarity": polarity},
            )
            for polarity in ("promoting", "hindering")
        )
        # the factor itself stays codable: a coder may be sure of the factor and not of its direction
        codes.append(
            Code(
                f"factor/{label}",
                f"{no} / {en}",
                _description(f"factor/{label}"),
                FACTOR_COLOURS[label],
                labels={"factor": label},
                children=children,
            )
        )
    codes.append(
        Code(
            "factor/uncertain",
            "Usikker (faktor) / Uncertain (factor)",
            _description("factor/uncertain"),
            UNCERTAIN_COLOUR,
        )
    )
    codes.append(
        Code(
            "polarity/uncertain",
            "Usikker (fremmer/hemmer) / Uncertain (promoting/hindering)",
            _description("polarity/uncertain"),
            UNCERTAIN_COLOUR,
        )
    )
    return tuple(codes)


CODEBOOK: tuple[Code, ...] = (
    Code(
        "conception",
        "Forståelse av samskaping / Conception of co-creation",
        "Hvilken forståelse av samskaping setningen uttrykker (etikettsett conception).\n\n"
        "Which understanding of co-creation the sentence expresses (label set conception).",
        FOLDER_COLOUR,
        codable=False,
        children=_conception_codes(),
    ),
    Code(
        "factor",
        "Faktor / Factor",
        "Hvilken fremmende eller hemmende faktor setningen taler om, og om den fremmer eller hemmer (etikettsett "
        "factor "
        "og polarity).\n\nWhich promoting or hindering factor the sentence speaks about, and whether it promotes or "
        "hinders (label sets factor and polarity).",
        FOLDER_COLOUR,
        codable=False,
        children=_factor_codes(),
    ),
)


def all_codes(codes: tuple[Code, ...] = CODEBOOK) -> list[Code]:
    """Every code of the tree, parents before their children."""
    found: list[Code] = []
    for code in codes:
        found.append(code)
        found.extend(all_codes(code.children))
    return found


CODES_BY_KEY: dict[str, Code] = {code.key: code for code in all_codes()}


def code_keys_for(labels: dict[str, str | None], include_none: bool = False) -> list[str]:
    """The codes that one sentence's decided labels get.

    Args:
        labels: per label set the single label of the prediction set, or ``None`` when the set is not a single label.
        include_none: also code ``none`` (conception «Ingen samskaping», factor «Ingen faktor»).

    Returns:
        Code keys, conception first; empty for a sentence that is ``none`` throughout without ``include_none``.
    """
    keys: list[str] = []
    if "conception" in labels:
        conception = labels["conception"]
        if conception is None:
            keys.append("conception/uncertain")
        elif conception != NONE or include_none:
            keys.append(f"conception/{conception}")
    if "factor" in labels:
        factor, polarity = labels["factor"], labels.get("polarity")
        if factor is None:
            keys.append("factor/uncertain")
        elif factor == NONE:
            if include_none:
                keys.append("factor/none")
        elif polarity in ("promoting", "hindering"):
            keys.append(f"factor/{factor}/{polarity}")
        else:  # a sure factor with an unsure (or inconsistent) direction
            keys.extend([f"factor/{factor}", "polarity/uncertain"])
    return keys
