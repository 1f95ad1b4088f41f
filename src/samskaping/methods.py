"""``methods.md``: what was done, in plain Norwegian and English, ready for a thesis's methods section.

Written by ``predict.py`` into every output folder from the run's
``summary.json`` (the model facts, including the test scores and data digests
saved with the model at training time) and rendered into ``report.html``
through markdown-it-py.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

from samskaping.labels import LABEL_SETS

PRIORS_NB = {
    "estimated": "estimert for dokumentene som ble klassifisert, med EM-algoritmen til Saerens, Latinne og "
    "Decaestecker (2002), regularisert mot treningsandelene (MAP med en Dirichlet-prior), "
    "så ingen merkelapp settes til 0",
    "training": "andelene i treningsdataene",
    "uniform": "like store andeler for alle merkelapper",
    "explicit": "andeler oppgitt av brukeren",
}
PRIORS_EN = {
    "estimated": "estimated for the documents classified, with the EM procedure of Saerens, Latinne and "
    "Decaestecker (2002), regularised towards the training shares (MAP under a Dirichlet prior), "
    "so that no label is set to 0",
    "training": "the label shares of the training data",
    "uniform": "equal shares for every label",
    "explicit": "shares given by the user",
}


PROJECT_ROOT = (
    Path(__file__).resolve().parents[2]
)  # the checkout, when the package is installed from it (pip install -e .)
SHIPPED_DATA = "samskaping-sentences.jsonl"
# The check on real plan sentences (a few hundred real, public sentences labelled by two annotators, kept outside the
# project so that it stays an honest test), run on the baseline trained on the 4,129 shipped sentences; macro-F1.
REAL_TEXT_F1 = {
    "conception": (0.64, 0.64),
    "factor": (0.36, 0.53),
    "polarity": (0.57, 0.63),
}  # (estimated, training priors)
# The same check on multilingual-e5-small fine-tuned by the full recipe (configs/multilingual-e5-small.yaml,
# 6 epochs, 4,129 sentences), as the check kept outside the project reported it (polarity under training priors
# was not reported).
REAL_TEXT_F1_E5 = {
    "conception": (0.68, 0.67),
    "factor": (0.46, 0.52),
    "polarity": (0.67, None),
}  # (estimated, training priors or None)


def data_name(path: str | None) -> str:
    """A training file as a reader can find it: relative to the project when it lies inside, else its file name.

    Never an absolute path: the card is pasted into theses, where a local path means nothing and tells
    where someone keeps their files.
    """
    if not path:
        return "?"
    pure = PurePath(path)
    if not pure.is_absolute():
        return pure.as_posix()
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except (ValueError, OSError):
        return pure.name


def _real_text(nb: bool, scores: dict[str, tuple[float, float | None]] = REAL_TEXT_F1) -> str:
    """The real-text macro-F1 per label set, under estimated and training priors where they differ."""
    words = (
        ("med estimerte priors", "med treningsdataenes priors")
        if nb
        else ("with estimated priors", "with training priors")
    )
    parts = []
    for ls, (estimated, training) in scores.items():
        if training is None:
            value = f"{estimated:.2f} {words[0]}"
        elif estimated == training:
            value = f"{estimated:.2f}"
        else:
            value = f"{estimated:.2f} {words[0]}, {training:.2f} {words[1]}"
        parts.append(f"{ls} {value.replace('.', ',') if nb else value}")
    return "; ".join(parts)


def _score(metrics: dict[str, Any], ls: str) -> str:
    value = metrics.get(f"test_{ls}_macro_f1")
    if value is None:
        return "–"
    low, high = metrics.get(f"test_{ls}_macro_f1_low"), metrics.get(f"test_{ls}_macro_f1_high")
    interval = f" (95 % CI {low:.2f}–{high:.2f})" if low is not None and high is not None else ""
    return f"{value:.2f}{interval}"


def methods_markdown(summary: dict[str, Any], generated: datetime | None = None) -> str:
    """The methods card of an output folder as Markdown (Norwegian first, then English)."""
    generated = generated or datetime.now()
    model = summary.get("model") or {}
    metrics = model.get("test_metrics") or {}
    rules = summary.get("decision_rules") or {}
    priors = (rules.get("priors") or {}).get("setting", "training")
    confidence = rules.get("confidence")
    files = model.get("data_files") or []
    label_sets = [ls for ls in model.get("label_sets", LABEL_SETS) if ls in LABEL_SETS]
    n_docs, n_sent = summary.get("documents", 0), summary.get("sentences", 0)
    kind = model.get("kind", "?")
    name = model.get("name", "?")
    version = model.get("samskaping_version", "?")
    scores_nb = "; ".join(f"{ls} {_score(metrics, ls)}" for ls in label_sets)
    ece = "; ".join(f"{ls} {metrics[f'test_{ls}_ece']:.3f}" for ls in label_sets if f"test_{ls}_ece" in metrics)
    data_lines = (
        "\n".join(
            (
                f"- `{data_name(f.get('path'))}`: {f.get('rows')} setninger / sentences, SHA-256 "
                f"`{str(f.get('sha256'))[:16]}…`"
            )
            for f in files
        )
        or "- (ikke registrert / not recorded)"
    )
    shipped = any(PurePath(str(f.get("path") or "")).name == SHIPPED_DATA for f in files)
    coverage_nb = f"{confidence:.0%}".replace(".", ",") if confidence else None
    lines = [
        "# Metode / Methods",
        "",
        f"*Laget / written {generated:%Y-%m-%d %H:%M} av / by samskaping {version}.*",
        "",
        "## Norsk",
        "",
        (
            f"{n_sent} setninger i {n_docs} dokumenter ble klassifisert maskinelt, setning for setning, etter "
            "merkeskjemaet "
            "til prosjektet samskaping (forståelse av samskaping: tjenesteproduksjon, demokratisk deltakelse, "
            "samarbeidsdrevet innovasjon eller ingen; faktor som fremmer eller hemmer samskaping; fremmer/hemmer). "
            f"Modellen er av typen «{kind}» ({name}), trent {model.get('trained_at', 'ukjent dato')} på disse dataene:"
        ),
        "",
        data_lines,
        "",
        (
            "Treffsikkerhet på testdelen av treningsdataene (makro-F1 med 95 % konfidensintervall, bootstrap over "
            f"setninger): {scores_nb}. "
        )
        + (
            "Trenings- og testsetningene i `data/samskaping-sentences.jsonl` er skrevet for prosjektet av "
            "språkmodeller, "
            "etter merkeskjemaet og i stilen til kommuneplaner; ingen er sitert fra en ekte plan. "
            if shipped
            else ""
        )
        + "Tallene fra testdelen er ikke treffsikkerheten å vente på ekte plantekst. "
        "Målt utenfor prosjektet, på noen hundre ekte, offentlige plansetninger merket av to personer, oppnådde "
        "baseline-modellen "
        f"trent på de utleverte dataene makro-F1 {_real_text(nb=True)}, og multilingual-e5-small finjustert med "
        f"hele oppskriften (6 epoker) makro-F1 {_real_text(True, REAL_TEXT_F1_E5)}; standardmodellen til "
        "predict.py er en raskere oppskrift av den samme e5-modellen og er ikke målt slik, heller ikke andre modeller.",
        "",
        (
            "Sannsynlighetene er kalibrert med temperaturskalering med skjevhetskorreksjon (Alexandari mfl. 2020) på "
            "valideringsdelen; "
            f"forventet kalibreringsfeil (ECE) på testdelen: {ece or '–'}. "
            f"Forventede andeler av hver merkelapp (priors) er {PRIORS_NB.get(priors, priors)}."
        ),
    ]
    if coverage_nb:
        lines.append(
            "Hver setning har også en mengde mulige merkelapper (konform prediksjon, klassebetinget) som "
            "inneholder riktig merkelapp "
            f"med minst {coverage_nb} sannsynlighet; setninger med mer enn én mulig merkelapp, eller ingen, er "
            "merket «usikker»."
        )
    lines += [
        (
            "Konfidensintervallene for andeler per plan er bootstrap-intervaller over planens setninger (1 000 trekk, "
            "persentilmetoden); "
            "de viser usikkerheten fra at en plan har et begrenset antall setninger, ikke modellens feil. "
            "Antallet planer som nevner samskaping er en ren ordtelling (samskaping og bøyningsformer)."
        ),
        "",
        "## English",
        "",
        (
            f"{n_sent} sentences in {n_docs} documents were classified automatically, sentence by sentence, with the "
            "label scheme "
            "of the samskaping project (conception of co-creation: service, democratic, innovation or none; the factor "
            "that "
            f"promotes or hinders co-creation; promoting or hindering). The model is a «{kind}» ({name}), trained "
            f"{model.get('trained_at', 'on an unrecorded date')} on the data listed above."
        ),
        "",
        (
            "Accuracy on the test split of the training data (macro-F1 with a 95 % bootstrap interval over "
            f"sentences): {scores_nb}. "
        )
        + (
            "The training and test sentences of `data/samskaping-sentences.jsonl` were written for the project by "
            "language "
            "models, following the label scheme in the style of municipal plans; none is quoted from a real plan. "
            if shipped
            else ""
        )
        + "The test-split scores are not the accuracy to expect on real plan text. "
        "Measured outside the project, on a few hundred real, public plan sentences labelled by two annotators, "
        "the baseline "
        f"trained on the shipped data reached macro-F1 {_real_text(nb=False)}, and multilingual-e5-small fine-tuned "
        f"by the full recipe (6 epochs) macro-F1 {_real_text(False, REAL_TEXT_F1_E5)}; predict.py's default model is "
        "a faster recipe of the same e5 model and was not measured this way, nor were other models.",
        "",
        (
            "Probabilities are calibrated by bias-corrected temperature scaling (Alexandari et al. 2020) on the "
            "validation split; "
            f"expected calibration error on the test split: {ece or '–'}. The class priors are "
            f"{PRIORS_EN.get(priors, priors)}."
        ),
    ]
    if confidence:
        lines.append(
            "Each sentence also has a class-conditional conformal prediction set that holds the true label with "
            "at least "
            f"{confidence:.0%} probability; sentences whose set has more than one label, or none, are marked uncertain."
        )
    lines += [
        (
            "Intervals for per-plan shares are percentile bootstrap intervals over the plan's sentences (1,000 "
            "resamples); they show "
            "the uncertainty from a plan's finite number of sentences, not the classifier's errors. The number of "
            "plans that "
            "mention samskaping is an exact word count."
        ),
        "",
    ]
    lines += validation_markdown(summary.get("validation"))
    return "\n".join(lines)


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f} %"


def validation_markdown(validation: dict[str, Any] | None) -> list[str]:
    """The card's section on validation: the corrected figures when ``review validate`` ran, else how to run it."""
    if not validation:
        return [
            "## Validering / Validation",
            "",
            (
                "Andelene over er modellens egne, ukorrigerte tall. For tall som kan siteres: kod et blindt tilfeldig "
                "utvalg "
                "(`python -m samskaping.review export OUT --strategy validation`) og kjør `python -m samskaping.review "
                "validate OUT --labels KODET.xlsx`."
            ),
            "",
            (
                "The shares above are the model's own, uncorrected figures. For figures to cite, code a blind random "
                "sample "
                "(`python -m samskaping.review export OUT --strategy validation`) and run `python -m samskaping.review "
                "validate OUT --labels CODED.xlsx`."
            ),
            "",
        ]
    share = validation.get("cocreation_share") or {}
    plans = validation.get("documents_with_cocreation_sentences") or {}
    f1 = "; ".join(f"{ls} {value:.2f}" for ls, value in (validation.get("macro_f1") or {}).items())
    n = validation.get("sample_sentences")
    design = validation.get("design", "")
    csv = "CSV" in design
    plans_nb = (
        (
            f" Korrigert antall planer med samskapingssetninger: {plans['estimate']:g} (95 % KI "
            f"{plans['low']}–{plans['high']}; modellen: {plans['raw']})."
        )
        if plans.get("estimate") is not None
        else ""
    )
    plans_en = (
        (
            f" Corrected number of plans with co-creation sentences: {plans['estimate']:g} (95 % CI "
            f"{plans['low']}–{plans['high']}; model: {plans['raw']})."
        )
        if plans.get("estimate") is not None
        else ""
    )
    return [
        "## Validering / Validation",
        "",
        f"{n} setninger ble kodet av mennesker uten å se modellens forslag"
        + (
            " (gitt som CSV og behandlet som et tilfeldig utvalg)"
            if csv
            else " (et tilfeldig utvalg, stratifisert etter plan)"
        )
        + f". Modellens makro-F1 mot koderne på dette korpuset: {f1}. "
        f"Andelen samskapingssetninger i korpuset er {_pct(share.get('estimate'))} (95 % KI "
        f"{_pct(share.get('low'))}–{_pct(share.get('high'))}), "
        "anslått med prediksjonsstyrt inferens (prediction-powered inference; Angelopoulos mfl. 2023, PPI++); "
        f"modellen alene gir {_pct(share.get('raw'))}. "
        "Andeler per plan er korrigert med modellens feilrater målt på utvalget (probabilistisk justert "
        "klassifiser-og-tell, "
        f"Forman 2008; Bella mfl. 2010), med bootstrap-intervaller over både utvalget og planens setninger.{plans_nb} "
        "Intervallene dekker både utvalget og modellens feil; siter de korrigerte tallene. Detaljer: "
        "`validation.json`.",
        "",
        f"{n} sentences were coded by people who did not see the model's suggestions"
        + (" (given as CSV and taken as a random sample)" if csv else " (a random sample, stratified by plan)")
        + f". The model's macro-F1 against the coders on this corpus: {f1}. "
        f"The corpus share of co-creation sentences is {_pct(share.get('estimate'))} (95 % CI "
        f"{_pct(share.get('low'))}–{_pct(share.get('high'))}), "
        "estimated by prediction-powered inference (Angelopoulos et al. 2023, with PPI++ power tuning); the model "
        f"alone gives {_pct(share.get('raw'))}. "
        "Per-plan shares are corrected with the model's error rates measured on the sample (probabilistic adjusted "
        "classify-and-count, "
        "Forman 2008; Bella et al. 2010), with bootstrap intervals over both the sample and the plan's "
        f"sentences.{plans_en} "
        "The intervals cover both the sampling and the model's errors; cite the corrected figures. Details: "
        "`validation.json`.",
        "",
    ]


def methods_html(markdown: str) -> str:
    """The card as HTML (markdown-it-py, CommonMark; raw HTML in the text is escaped, not passed through)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).render(markdown)
