"""The shipped kommun table: all 290 kommuner of Sweden's 21 län (SCB's kommunlista), those of
Gävleborg (21), Västerbotten (24) and Norrbotten (25) exactly as domain.md §4 lists them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
import unicodedata
from importlib.resources import files

import pytest

from hub.errors import IdentifierError
from hub.schemas.geography import Kommun, is_known_kommunkod, kommun, kommuner, lan_name

# copied from domain.md §4
EXPECTED = {
    "21": ("Gävleborgs län", {
        "2101": "Ockelbo", "2104": "Hofors", "2121": "Ovanåker", "2132": "Nordanstig",
        "2161": "Ljusdal", "2180": "Gävle", "2181": "Sandviken", "2182": "Söderhamn",
        "2183": "Bollnäs", "2184": "Hudiksvall"}),
    "24": ("Västerbottens län", {
        "2401": "Nordmaling", "2403": "Bjurholm", "2404": "Vindeln", "2409": "Robertsfors",
        "2417": "Norsjö", "2418": "Malå", "2421": "Storuman", "2422": "Sorsele", "2425": "Dorotea",
        "2460": "Vännäs", "2462": "Vilhelmina", "2463": "Åsele", "2480": "Umeå", "2481": "Lycksele",
        "2482": "Skellefteå"}),
    "25": ("Norrbottens län", {
        "2505": "Arvidsjaur", "2506": "Arjeplog", "2510": "Jokkmokk", "2513": "Överkalix",
        "2514": "Kalix", "2518": "Övertorneå", "2521": "Pajala", "2523": "Gällivare",
        "2560": "Älvsbyn", "2580": "Luleå", "2581": "Piteå", "2582": "Boden", "2583": "Haparanda",
        "2584": "Kiruna"}),
}


@pytest.mark.parametrize(("lanskod", "count"), [("21", 10), ("24", 15), ("25", 14)])
def test_lan_has_exactly_the_listed_kommuner(lanskod: str, count: int) -> None:
    name, listed = EXPECTED[lanskod]
    shipped = kommuner(lanskod)
    assert len(shipped) == count == len(listed)
    assert {k.code: k.name for k in shipped} == listed
    assert {(k.lanskod, k.lan_name) for k in shipped} == {(lanskod, name)}
    assert lan_name(lanskod) == name


def test_stockholm() -> None:
    assert kommun("0180") == Kommun("0180", "Stockholm", "01", "Stockholms län",
                                    dt.date(2007, 1, 1), None)
    assert lan_name("01") == "Stockholms län"
    assert len(kommuner("01")) == 26
    assert kommun("0184").name == "Solna"


def test_all_of_sweden_290_kommuner_in_21_lan() -> None:
    everything = kommuner()
    assert len(everything) == 290
    per_lan = {k.lanskod for k in everything}
    assert len(per_lan) == 21
    assert {lan_name(code) for code in per_lan} >= {"Västra Götalands län", "Skåne län",
                                                      "Jämtlands län", "Gotlands län"}
    assert kommun("1480").name == "Göteborg" and kommun("1480").lanskod == "14"
    assert kommun("0980").name == "Gotland"
    assert len(kommuner("14")) == 49 and len(kommuner("12")) == 33


def test_rows_carry_valid_from_and_a_code_is_known_only_while_in_force() -> None:
    solna = kommun("0184")
    assert solna.valid_from == dt.date(2007, 1, 1) and solna.valid_to is None
    assert is_known_kommunkod("0184", on=dt.date(2026, 3, 1))
    assert not is_known_kommunkod("0184", on=dt.date(2006, 12, 31))
    assert solna.valid_on(dt.date(2030, 1, 1))


def test_data_file_names_its_public_source() -> None:
    header = [ln for ln in (files("hub.schemas") / "data" / "kommuner.csv").read_text(
        encoding="utf-8").splitlines() if ln.startswith("#")]
    text = " ".join(header)
    assert "SCB" in text and "sjbrg/swedish-geodata" in text


def test_whole_table_is_consistent_and_sorted() -> None:
    everything = kommuner()
    assert len(everything) == 290
    codes = [k.code for k in everything]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    for k in everything:
        assert len(k.code) == 4 and k.code.isdigit() and k.code[:2] == k.lanskod
        assert lan_name(k.lanskod) == k.lan_name
        assert unicodedata.is_normalized("NFC", k.name + k.lan_name)
    assert {k.code for k in everything} >= {"0180", *(c for _, m in EXPECTED.values() for c in m)}


def test_swedish_characters_are_real_utf8() -> None:
    assert kommun("2482").name == "Skellefte\u00e5"
    assert kommun("2513").name == "\u00d6verkalix"
    assert kommun("2560").name == "\u00c4lvsbyn"
    raw = (files("hub.schemas") / "data" / "kommuner.csv").read_bytes()
    data = [ln for ln in raw.decode("utf-8").splitlines() if not ln.startswith("#")]
    assert data[0] == "kommunkod,name,lanskod,lan_name,valid_from,valid_to"
    assert "Ume\u00e5".encode() in raw


def test_lookups() -> None:
    assert kommun("2480").name == "Umeå"
    assert is_known_kommunkod("2584")
    assert not is_known_kommunkod("2499")
    assert not is_known_kommunkod(" 2480")
    assert kommuner("99") == ()


def test_unknown_codes_raise_identifier_error_not_key_error() -> None:
    with pytest.raises(IdentifierError, match="unknown kommunkod 2499"):
        kommun("2499")
    with pytest.raises(IdentifierError, match="unknown länskod 99"):
        lan_name("99")
    with pytest.raises(IdentifierError) as exc:
        kommun("191212121212")  # garbage is not echoed
    assert "191212121212" not in str(exc.value) and "<masked>" in str(exc.value)


def test_kommun_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        kommun("2480").name = "Other"  # type: ignore[misc]


def test_table_is_loaded_lazily() -> None:
    code = ("import hub.schemas.geography as g; before = g._table.cache_info().currsize; "
            "g.kommun('2480'); print(before, g._table.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "1"]
