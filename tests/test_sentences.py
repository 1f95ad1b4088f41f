"""Norwegian sentence boundaries: the examples of issue 12 and the rules behind them."""

from __future__ import annotations

import pytest

from samskaping.documents import split_sentences

CASES = [
    # text is never lost after a section sign
    ("Vi viser til pbl. § 11-1.", ["Vi viser til pbl. § 11-1."]),
    (
        "Hjemmel er gitt i pbl. §§ 11-9 til 11-11. Retningslinjen gjelder alle.",
        ["Hjemmel er gitt i pbl. §§ 11-9 til 11-11.", "Retningslinjen gjelder alle."],
    ),
    (
        "Vi viser til fvl. § 13 flg. Opplysninger om noens personlige forhold er taushetsbelagt.",
        ["Vi viser til fvl. § 13 flg.", "Opplysninger om noens personlige forhold er taushetsbelagt."],
    ),
    # name abbreviations
    (
        "Kontoret ligger i Chr. Michelsens gate 4. Det er åpent hver dag.",
        ["Kontoret ligger i Chr. Michelsens gate 4.", "Det er åpent hver dag."],
    ),
    (
        "Det seier ordførar Per Kr. Nesheim. Han trur på planen.",
        ["Det seier ordførar Per Kr. Nesheim.", "Han trur på planen."],
    ),
    ("Billetten kostar 500 kr. Neste år blir han dyrare.", ["Billetten kostar 500 kr.", "Neste år blir han dyrare."]),
    # a number before a dash; an opening dash, quote or bracket starts the next sentence
    (
        "Planen ble vedtatt i 2024. – Det er en god plan, sa ordføreren.",
        ["Planen ble vedtatt i 2024.", "– Det er en god plan, sa ordføreren."],
    ),
    ("Vi gikk hjem. «Det var fint», sa hun.", ["Vi gikk hjem.", "«Det var fint», sa hun."]),
    (
        "Samskaping er et prinsipp. (Se figur 4.) Kommunen er tilrettelegger.",
        ["Samskaping er et prinsipp.", "(Se figur 4.)", "Kommunen er tilrettelegger."],
    ),
    # section numbers
    (
        "Tiltakene står i kap. 5.2.1. 5.3 omhandler økonomien.",
        ["Tiltakene står i kap. 5.2.1.", "5.3 omhandler økonomien."],
    ),
    ("Se kap. 3.2 om folkehelse.", ["Se kap. 3.2 om folkehelse."]),
    # dates, ordinals, abbreviations inside a sentence
    ("Planen ble vedtatt 14. mars 2024 i sak 23/24.", ["Planen ble vedtatt 14. mars 2024 i sak 23/24."]),
    (
        "Vi vil bl.a. styrke frivilligheten, jf. Plan- og bygningsloven.",
        ["Vi vil bl.a. styrke frivilligheten, jf. Plan- og bygningsloven."],
    ),
    (
        "Det gjeld t.d. skule og barnehage. Elles er alt som før.",
        ["Det gjeld t.d. skule og barnehage.", "Elles er alt som før."],
    ),
    (
        "Ulike definisjoner finnes. Hansen mfl. (2019) definerer samskaping bredt.",
        ["Ulike definisjoner finnes.", "Hansen mfl. (2019) definerer samskaping bredt."],
    ),
    # reported speech goes on after ? and !
    (
        "– Hvor lenge skal vi vente? spør Marit Hov. Hun har ventet i et år.",
        ["– Hvor lenge skal vi vente? spør Marit Hov.", "Hun har ventet i et år."],
    ),
    (
        "Fire måneder uten barnehage… Heldigvis stiller besteforeldrene opp.",
        ["Fire måneder uten barnehage…", "Heldigvis stiller besteforeldrene opp."],
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_issue_examples(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected
