"""One thing, several names: "G7" is "Group of 7" and "Group of Seven", "UK" is "U.K.", "Britain" and
"British", "the Fed" is "the Federal Reserve".

``forms(name, context)`` gives the other ways of writing a name, from

- a built-in table (``_COUNTRIES``, ``_ORGANISATIONS``): a country's names, short forms and its demonyms
  ("France" / "French"), an organisation's name and initialism ("WHO" / "World Health Organization"),
  and, for the claim checker only (``seats=True``), the city or building that speaks for it ("Washington",
  "the Kremlin");
- numbers in names: "Group of 7" / "Group of Seven" / "G7" / "G-7";
- the text itself (``context``): an initialism it defines ("the Federal Reserve (Fed)", "Group of Seven
  (G7)"), and a capitalised name whose initials are the name's initialism when the text writes both.

A demonym is not its place: "Which Israeli officials …" is not held by a passage naming Israel in passing
(docs/results.md, session 5), so a demonym's forms are its own spellings only; a place's forms include its
demonyms ("What did the UK say?" is answered by "The British government said …").

An initialism is matched as written, in capitals (dots and "U. S." allowed; four letters or more also
title-cased: "Nato"): "US" is not "let us", "WHO" not "who", "Fed" not "fed up". Other forms are matched in
the folded text (lower case, no accents or dots: :func:`fold`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Countries: "names | demonyms | seats" (names first the usual one; "/" nothing). A form written with
# capitals (an initialism, "Fed") is matched as written.
_COUNTRIES = """
Afghanistan | Afghan, Afghans | Kabul
Albania | Albanian, Albanians | Tirana
Algeria | Algerian, Algerians | Algiers
Andorra | Andorran, Andorrans |
Angola | Angolan, Angolans | Luanda
Antigua and Barbuda | Antiguan, Antiguans |
Argentina | Argentine, Argentinian, Argentines, Argentinians | Buenos Aires
Armenia | Armenian, Armenians | Yerevan
Australia | Australian, Australians | Canberra
Austria | Austrian, Austrians | Vienna
Azerbaijan | Azerbaijani, Azerbaijanis, Azeri, Azeris | Baku
Bahamas, The Bahamas | Bahamian, Bahamians | Nassau
Bahrain | Bahraini, Bahrainis | Manama
Bangladesh | Bangladeshi, Bangladeshis | Dhaka
Barbados | Barbadian, Barbadians |
Belarus | Belarusian, Belarusians | Minsk
Belgium | Belgian, Belgians |
Belize | Belizean, Belizeans |
Benin | Beninese |
Bhutan | Bhutanese | Thimphu
Bolivia | Bolivian, Bolivians | La Paz
Bosnia and Herzegovina, Bosnia | Bosnian, Bosnians | Sarajevo
Botswana | Motswana, Batswana |
Brazil | Brazilian, Brazilians | Brasilia
Brunei | Bruneian, Bruneians |
Bulgaria | Bulgarian, Bulgarians | Sofia
Burkina Faso | Burkinabe |
Burundi | Burundian, Burundians |
Cambodia | Cambodian, Cambodians | Phnom Penh
Cameroon | Cameroonian, Cameroonians | Yaounde
Canada | Canadian, Canadians | Ottawa
Cape Verde, Cabo Verde | Cape Verdean, Cape Verdeans |
Central African Republic, CAR | Central African |
Chad | Chadian, Chadians | N'Djamena
Chile | Chilean, Chileans | Santiago
China, People's Republic of China, PRC | Chinese | Beijing
Colombia | Colombian, Colombians | Bogota
Comoros | Comoran, Comorian |
Democratic Republic of the Congo, Democratic Republic of Congo, DRC, DR Congo, Congo-Kinshasa | / | Kinshasa, Congo
Republic of the Congo, Congo-Brazzaville | / | Brazzaville
Costa Rica | Costa Rican, Costa Ricans |
Ivory Coast, Cote d'Ivoire | Ivorian, Ivorians |
Croatia | Croatian, Croatians, Croat, Croats | Zagreb
Cuba | Cuban, Cubans | Havana
Cyprus | Cypriot, Cypriots | Nicosia
Czech Republic, Czechia | Czech, Czechs | Prague
Denmark | Danish, Dane, Danes | Copenhagen
Djibouti | Djiboutian, Djiboutians |
Dominica | Dominican |
Dominican Republic | / | Santo Domingo
Ecuador | Ecuadorian, Ecuadorians | Quito
Egypt | Egyptian, Egyptians | Cairo
El Salvador | Salvadoran, Salvadorans, Salvadorian | San Salvador
Equatorial Guinea | Equatoguinean |
Eritrea | Eritrean, Eritreans | Asmara
Estonia | Estonian, Estonians | Tallinn
Eswatini, Swaziland | Swazi, Swazis |
Ethiopia | Ethiopian, Ethiopians | Addis Ababa
Fiji | Fijian, Fijians |
Finland | Finnish, Finn, Finns | Helsinki
France, French Republic | French, Frenchman, Frenchwoman | Paris, Elysee
Gabon | Gabonese |
Gambia, The Gambia | Gambian, Gambians |
Georgia | Georgian, Georgians | Tbilisi
Germany | German, Germans | Berlin
Ghana | Ghanaian, Ghanaians | Accra
Greece | Greek, Greeks | Athens
Grenada | Grenadian, Grenadians |
Guatemala | Guatemalan, Guatemalans |
Guinea | Guinean, Guineans | Conakry
Guinea-Bissau | Bissau-Guinean |
Guyana | Guyanese |
Haiti | Haitian, Haitians | Port-au-Prince
Honduras | Honduran, Hondurans | Tegucigalpa
Hungary | Hungarian, Hungarians | Budapest
Iceland | Icelandic, Icelander, Icelanders | Reykjavik
India | Indian, Indians | New Delhi
Indonesia | Indonesian, Indonesians | Jakarta
Iran, Islamic Republic of Iran | Iranian, Iranians | Tehran
Iraq | Iraqi, Iraqis | Baghdad
Ireland, Republic of Ireland | Irish | Dublin
Israel | Israeli, Israelis |
Italy | Italian, Italians | Rome
Jamaica | Jamaican, Jamaicans | Kingston
Japan | Japanese | Tokyo
Jordan | Jordanian, Jordanians | Amman
Kazakhstan | Kazakh, Kazakhs, Kazakhstani | Astana
Kenya | Kenyan, Kenyans | Nairobi
Kiribati | I-Kiribati |
Kosovo | Kosovar, Kosovars, Kosovan | Pristina
Kuwait | Kuwaiti, Kuwaitis |
Kyrgyzstan | Kyrgyz, Kyrgyzstani | Bishkek
Laos | Laotian, Laotians, Lao | Vientiane
Latvia | Latvian, Latvians | Riga
Lebanon | Lebanese | Beirut
Lesotho | Basotho, Mosotho |
Liberia | Liberian, Liberians | Monrovia
Libya | Libyan, Libyans | Tripoli
Liechtenstein | Liechtensteiner |
Lithuania | Lithuanian, Lithuanians | Vilnius
Luxembourg | Luxembourgish, Luxembourger, Luxembourgers |
Madagascar | Malagasy |
Malawi | Malawian, Malawians | Lilongwe
Malaysia | Malaysian, Malaysians | Kuala Lumpur
Maldives | Maldivian, Maldivians |
Mali | Malian, Malians | Bamako
Malta | Maltese | Valletta
Marshall Islands | Marshallese |
Mauritania | Mauritanian, Mauritanians | Nouakchott
Mauritius | Mauritian, Mauritians |
Mexico | Mexican, Mexicans | Mexico City
Micronesia | Micronesian, Micronesians |
Moldova | Moldovan, Moldovans | Chisinau
Monaco | Monegasque |
Mongolia | Mongolian, Mongolians | Ulaanbaatar
Montenegro | Montenegrin, Montenegrins | Podgorica
Morocco | Moroccan, Moroccans | Rabat
Mozambique | Mozambican, Mozambicans | Maputo
Myanmar, Burma | Burmese, Myanmarese | Naypyidaw
Namibia | Namibian, Namibians | Windhoek
Nauru | Nauruan |
Nepal | Nepali, Nepalese, Nepalis | Kathmandu
Netherlands, The Netherlands, Holland | Dutch | The Hague
New Zealand | New Zealander, New Zealanders, Kiwi, Kiwis | Wellington
Nicaragua | Nicaraguan, Nicaraguans | Managua
Niger | Nigerien, Nigeriens | Niamey
Nigeria | Nigerian, Nigerians | Abuja
North Korea, Democratic People's Republic of Korea, DPRK | North Korean, North Koreans | Pyongyang
North Macedonia, Macedonia | Macedonian, Macedonians | Skopje
Norway | Norwegian, Norwegians | Oslo
Oman | Omani, Omanis | Muscat
Pakistan | Pakistani, Pakistanis | Islamabad
Palau | Palauan |
Palestine, Palestinian territories, State of Palestine | Palestinian, Palestinians | Ramallah
Panama | Panamanian, Panamanians | Panama City
Papua New Guinea | Papua New Guinean |
Paraguay | Paraguayan, Paraguayans | Asuncion
Peru | Peruvian, Peruvians | Lima
Philippines, The Philippines | Filipino, Filipinos, Philippine | Manila
Poland | Polish, Pole, Poles | Warsaw
Portugal | Portuguese | Lisbon
Qatar | Qatari, Qataris | Doha
Romania | Romanian, Romanians | Bucharest
Russia, Russian Federation | Russian, Russians | Moscow, Kremlin
Rwanda | Rwandan, Rwandans | Kigali
Saint Kitts and Nevis | Kittitian |
Saint Lucia | Saint Lucian |
Saint Vincent and the Grenadines | Vincentian |
Samoa | Samoan, Samoans |
San Marino | Sammarinese |
Sao Tome and Principe | Santomean |
Saudi Arabia, Kingdom of Saudi Arabia | Saudi, Saudis, Saudi Arabian | Riyadh
Senegal | Senegalese | Dakar
Serbia | Serbian, Serbians, Serb, Serbs | Belgrade
Seychelles | Seychellois |
Sierra Leone | Sierra Leonean, Sierra Leoneans | Freetown
Singapore | Singaporean, Singaporeans |
Slovakia | Slovak, Slovaks, Slovakian | Bratislava
Slovenia | Slovenian, Slovenians, Slovene, Slovenes | Ljubljana
Solomon Islands | Solomon Islander |
Somalia | Somali, Somalis | Mogadishu
South Africa | South African, South Africans | Pretoria
South Korea, Republic of Korea, ROK | South Korean, South Koreans | Seoul
South Sudan | South Sudanese | Juba
Spain | Spanish, Spaniard, Spaniards | Madrid
Sri Lanka | Sri Lankan, Sri Lankans | Colombo
Sudan | Sudanese | Khartoum
Suriname | Surinamese |
Sweden | Swedish, Swede, Swedes | Stockholm
Switzerland | Swiss | Bern
Syria | Syrian, Syrians | Damascus
Taiwan, Republic of China | Taiwanese | Taipei
Tajikistan | Tajik, Tajiks | Dushanbe
Tanzania | Tanzanian, Tanzanians | Dodoma
Thailand | Thai, Thais | Bangkok
Timor-Leste, East Timor | Timorese |
Togo | Togolese |
Tonga | Tongan, Tongans |
Trinidad and Tobago | Trinidadian, Trinidadians |
Tunisia | Tunisian, Tunisians | Tunis
Turkey, Turkiye | Turkish, Turk, Turks | Ankara
Turkmenistan | Turkmen |
Tuvalu | Tuvaluan |
Uganda | Ugandan, Ugandans | Kampala
Ukraine | Ukrainian, Ukrainians | Kyiv, Kiev
United Arab Emirates, UAE | Emirati, Emiratis | Abu Dhabi, Emirates
United Kingdom, UK, Britain, Great Britain | British, Briton, Britons | London, England, Downing Street
United States, United States of America, US, USA, America | American, Americans | Washington
Uruguay | Uruguayan, Uruguayans | Montevideo
Uzbekistan | Uzbek, Uzbeks | Tashkent
Vanuatu | Ni-Vanuatu |
Vatican, Holy See, Vatican City | / |
Venezuela | Venezuelan, Venezuelans | Caracas
Vietnam, Viet Nam | Vietnamese | Hanoi
Yemen | Yemeni, Yemenis | Sanaa
Zambia | Zambian, Zambians | Lusaka
Zimbabwe | Zimbabwean, Zimbabweans | Harare
Greenland | Greenlandic, Greenlander, Greenlanders | Nuuk
Hong Kong | Hongkonger, Hongkongers |
Scotland | Scottish, Scot, Scots | Edinburgh
Wales | Welsh | Cardiff
England | English |
Northern Ireland | Northern Irish | Belfast
Puerto Rico | Puerto Rican, Puerto Ricans | San Juan
Gaza, Gaza Strip | Gazan, Gazans |
Europe | European, Europeans |
"""

# Organisations: "names | / | seats" (the same layout; no demonyms).
_ORGANISATIONS = """
European Union, EU | / | Brussels
United Nations, UN | / |
North Atlantic Treaty Organization, North Atlantic Treaty Organisation, NATO | / | alliance
World Health Organization, World Health Organisation, WHO | / |
International Monetary Fund, IMF | / |
World Bank | / |
World Trade Organization, World Trade Organisation, WTO | / |
Organization of the Petroleum Exporting Countries, OPEC, OPEC+ | / |
Organisation for Economic Co-operation and Development, OECD | / |
Organization for Economic Cooperation and Development, OECD | / |
Association of Southeast Asian Nations, ASEAN | / |
African Union, AU | / |
International Atomic Energy Agency, IAEA | / |
International Criminal Court, ICC | / |
International Court of Justice, ICJ | / |
UN Security Council, United Nations Security Council, UNSC, Security Council | / |
UN General Assembly, United Nations General Assembly, UNGA | / |
UNICEF, United Nations Children's Fund | / |
UNESCO | / |
UN Refugee Agency, UNHCR, United Nations High Commissioner for Refugees | / |
UNRWA | / |
World Food Programme, World Food Program, WFP | / |
Federal Reserve, Fed, Federal Reserve Board, US Federal Reserve | / |
European Central Bank, ECB | / |
Bank of England, BoE | / |
Bank of Japan, BoJ, BOJ | / |
Federal Bureau of Investigation, FBI | / |
Central Intelligence Agency, CIA | / |
National Security Agency, NSA | / |
Food and Drug Administration, FDA | / |
Centers for Disease Control and Prevention, Centers for Disease Control, CDC | / |
Environmental Protection Agency, EPA | / |
Securities and Exchange Commission, SEC | / |
Federal Trade Commission, FTC | / |
Federal Communications Commission, FCC | / |
Federal Aviation Administration, FAA | / |
Federal Emergency Management Agency, FEMA | / |
National Transportation Safety Board, NTSB | / |
National Aeronautics and Space Administration, NASA | / |
National Institutes of Health, NIH | / |
National Oceanic and Atmospheric Administration, NOAA | / |
National Weather Service, NWS | / |
Internal Revenue Service, IRS | / |
Transportation Security Administration, TSA | / |
Immigration and Customs Enforcement, ICE | / |
Department of Homeland Security, Homeland Security Department, DHS | / |
Department of Justice, Justice Department, DOJ | / |
Department of Defense, Defense Department, Pentagon, DOD, Department of War, War Department | / | Defence Ministry
Department of Government Efficiency, DOGE | / |
Israel Defense Forces, Israel Defence Forces, IDF | / |
Palestine Liberation Organization, PLO | / |
Palestinian Authority | / |
National Health Service, NHS | / |
Group of Seven, G7 | / |
Group of Twenty, G20 | / |
BRICS | / |
International Olympic Committee, IOC | / |
Republican Party, GOP, Republicans, Republican | / |
Democratic Party, Democrats | / |
Trump administration | / | White House, administration
"""

# Initialisms that spell a common word or stand for several things: never inferred from a text's
# capitalised runs, and matched only as written (see ``forms``; the claim checker's names too).
WORD_INITIALISMS = frozenset({
    "us", "who", "it", "ai", "is", "as", "at", "in", "on", "or", "an", "am", "be", "do", "go", "he", "hi", "me",
    "my", "no", "of", "ok", "so", "to", "up", "we", "pa", "ice", "fed", "car", "can", "ceo", "cfo", "tv", "pm",
    "pr", "all", "art", "bus", "cat", "dog", "man", "war", "win", "sun", "un", "eu",
})
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
                 "twenty")
_NUMBER_OF = {w: str(n) for n, w in enumerate(_NUMBER_WORDS)}
# Places named by a form and more words: "British Columbia" is not the UK.
_COMPOUNDS = ("british columbia", "british virgin islands", "french polynesia", "french guiana", "american samoa",
              "indian ocean", "english channel", "irish sea", "dutch caribbean", "new mexico", "new guinea",
              "south sudan", "guinea bissau", "equatorial guinea", "papua new guinea", "united states of america")
_SMALL_WORDS = frozenset({"of", "the", "and", "for", "on", "in", "de", "du", "des", "la", "le", "del", "to", "&"})


def fold(text: str) -> str:
    """Lower case without accents, dots or possessives ("U.S." -> "us", "Nicolás's" -> "nicolas"): how a
    question's names are compared with a passage's (``retrieval.evidence``)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"(?<=\w)['’]s\b", "", text)
    return text.replace(".", "").replace("’", "'")


# Names that are no evidence of a question's topic in US news (they qualify it: "US taxpayers").
EVERYWHERE = frozenset({"us", "usa", "united states", "america", "american", "americans"})


def everywhere(name: str) -> bool:
    """Whether ``name`` (folded) is the US (``EVERYWHERE``, "the" aside): no evidence either way of what a
    question is about, in US news. Every check of a question's names asks this one."""
    return name.removeprefix("the ") in EVERYWHERE


def key(name: str) -> str:
    """A name's look-up key: folded, words of letters and digits only, no leading "the", a letter and
    its number joined ("The G-7" -> "g7", "U.K." -> "uk")."""
    words = re.findall(r"[a-z0-9+]+", fold(name).replace("'", ""))
    if words and words[0] == "the" and len(words) > 1:
        words = words[1:]
    text = " ".join(words)
    return re.sub(r"\b([a-z]) (\d+)\b", r"\1\2", text)


@dataclass(frozen=True)
class _Entry:
    names: tuple[str, ...]  # as written in the table
    demonyms: tuple[str, ...]
    seats: tuple[str, ...]


def _parse(table: str) -> list[_Entry]:
    entries = []
    for line in table.strip().splitlines():
        parts = [[x.strip() for x in part.split(",") if x.strip() and x.strip() != "/"] for part in line.split("|")]
        parts += [[]] * (3 - len(parts))
        entries.append(_Entry(tuple(parts[0]), tuple(parts[1]), tuple(parts[2])))
    return entries


@functools.cache
def _table() -> dict[str, dict[str, list[_Entry]]]:
    """Entries by the key of one of their "names", "demonyms" and "seats"."""
    index: dict[str, dict[str, list[_Entry]]] = {"names": {}, "demonyms": {}, "seats": {}}
    for entry in _parse(_COUNTRIES) + _parse(_ORGANISATIONS):
        for field, by in index.items():
            for form in getattr(entry, field):
                by.setdefault(key(form), []).append(entry)
    return index


def _numbered(k: str) -> set[str]:
    """Number forms of a key: "group of 7" <-> "group of seven" <-> "g7"; "apollo 11" <-> "apollo eleven"."""
    out = {k}
    if m := re.fullmatch(r"g(\d+)", k):
        n = int(m.group(1))
        out |= {f"group of {m.group(1)}"} | ({f"group of {_NUMBER_WORDS[n]}"} if n < len(_NUMBER_WORDS) else set())
    words = k.split()
    for i, w in enumerate(words):
        if w.isdigit() and int(w) < len(_NUMBER_WORDS):
            out.add(" ".join([*words[:i], _NUMBER_WORDS[int(w)], *words[i + 1:]]))
        elif w in _NUMBER_OF and len(words) > 1:
            out.add(" ".join([*words[:i], _NUMBER_OF[w], *words[i + 1:]]))
    for form in list(out):
        if m2 := re.fullmatch(r"group of (\d+)", form):
            out.add(f"g{m2.group(1)}")
    return out


def table_forms(name: str, *, seats: bool = False) -> frozenset[str]:
    """The table's forms of ``name`` as written (with ``name``'s own look-up key): a place's names and
    demonyms; a demonym's own spellings only; an organisation's names and initialisms; ``seats`` adds the
    city or building that speaks for it (the claim checker's aliases)."""
    index = _table()
    out: set[str] = set()
    for k in _numbered(key(name)):
        for entry in index["names"].get(k, ()):
            out |= {*entry.names, *entry.demonyms, *(entry.seats if seats else ())}
        for entry in index["demonyms"].get(k, ()):
            out |= {*entry.demonyms, *((*entry.names, *entry.seats) if seats else ())}
        for entry in index["seats"].get(k, ()) if seats else ():
            out |= {*entry.names, *entry.demonyms, *entry.seats}
        out.add(k)
    return frozenset(out)


def _cased_pattern(form: str) -> str:
    """A regex matching an initialism as written, with optional dots ("U.S.", "U. S."), four letters or
    more also title-cased ("Nato"); "Fed", "BoE" as written."""
    if not form.isupper():
        return rf"(?<![\w.]){re.escape(form)}(?!\w)"
    letters = [re.escape(ch) for ch in form if ch.isalnum() or ch == "+"]
    dotted = r"\.?\s?".join(letters) + r"\.?"
    options = [dotted]
    if len(letters) >= 4 and form.isalpha():
        options.append(re.escape(form.title()))
    return rf"(?<![\w.])(?:{'|'.join(options)})(?![\w])"


def _folded_pattern(k: str) -> str:
    """A regex matching a key in folded text: words apart by spaces or hyphens, "g7" also "g-7", "g 7";
    not the start or the end of a longer place ("British Columbia", "New Mexico")."""
    parts = []
    for word in k.split():
        m = re.fullmatch(r"([a-z])(\d+)", word)
        parts.append(rf"{m.group(1)}[\s-]?{m.group(2)}" if m else re.escape(word))
    after = [c[len(k) + 1:] for c in _COMPOUNDS if c.startswith(f"{k} ")]
    before = [c[:-len(k) - 1] for c in _COMPOUNDS if c.endswith(f" {k}")]
    ahead = rf"(?![\s-]+(?:{'|'.join(map(re.escape, after))})\b)" if after else ""
    behind = "".join(rf"(?<!{re.escape(b)} )" for b in before)
    return r"(?<![\w])" + behind + r"[\s-]+".join(parts) + r"(?![\w])" + ahead


# A name inside a longer proper name is another thing: "British Airways", "Taipei 101", "Dick Clark
# Productions", "Michael Jordan", "Northern Ireland" (:func:`in_longer_name`). Not when the capitalised words
# after it are a government body or an office of the country or body it names ("the Canada Security
# Intelligence Service", "US Cyber Command", "British Prime Minister Keir Starmer", "Chinese Foreign
# Ministry"): the words of offices (a title and what qualifies it) and of bodies (the last word of one).
OFFICE_WORDS = frozenset({
    "president", "vice", "prime", "minister", "premier", "chancellor", "secretary", "general", "ambassador",
    "envoy", "consul", "spokesman", "spokeswoman", "spokesperson", "king", "queen", "prince", "princess",
    "emperor", "crown", "royal", "monarch", "sheikh", "emir", "sultan", "president-elect", "leader", "chief",
    "head", "deputy", "acting", "interim", "special", "senior", "assistant", "under", "foreign", "defence",
    "defense", "home", "interior", "finance", "trade", "health", "justice", "treasury", "economy", "economic",
    "state", "commerce", "energy", "environment", "education", "transport", "transportation", "culture",
    "agriculture", "labour", "labor", "security", "intelligence", "national", "federal", "central", "armed",
    "senator", "sen", "rep", "representative", "governor", "gov", "mayor", "speaker", "attorney", "judge",
    "commander", "admiral", "gen", "lt", "col", "officials", "official", "authorities", "lawmakers",
    "mr", "mrs", "ms", "dr", "sir", "dame", "lord", "lady", "former", "ex", "top", "supreme",
})
BODY_WORDS = frozenset({
    "government", "govt", "ministry", "ministries", "department", "office", "service", "services", "agency",
    "command", "army", "navy", "force", "forces", "guard", "guards", "corps", "marines", "military", "police",
    "administration", "parliament", "congress", "senate", "house", "assembly", "court", "treasury", "embassy",
    "consulate", "council", "commission", "cabinet", "authority", "authorities", "bureau", "mission",
    "delegation", "committee", "kremlin", "palace", "party", "regime", "junta", "presidency", "state",
    "officials", "leaders", "leadership", "team", "diplomats", "troops",
})
# Capitalised words that are no part of a name: the start of a sentence or a clause, days and months.
_NOT_NAME_WORDS = frozenset({
    "the", "a", "an", "in", "on", "at", "by", "for", "from", "as", "after", "before", "but", "and", "or", "nor",
    "if", "when", "while", "since", "meanwhile", "yesterday", "today", "now", "last", "this", "that", "these",
    "those", "both", "so", "still", "also", "then", "under", "over", "with", "without", "despite", "although",
    "though", "unlike", "like", "across", "inside", "outside", "within", "against", "among", "between", "to",
    "of", "yet", "how", "what", "why", "where", "who", "which", "did", "does", "do", "will", "would", "can",
    "could", "should", "is", "are", "was", "were", "has", "have", "had", "it", "he", "she", "they", "we", "i",
    "you", "its", "his", "her", "their", "our", "my", "your", "many", "some", "all", "every", "each", "no",
    "not", "only", "even", "just", "here", "there", "once", "until", "through", "during", "amid", "following",
    "according", "than", "about", "into", "upon", "via", "per", "because", "whether", "said", "says",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
    "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
_NAME_WORD = re.compile(r"[A-Z][\w'’&.]*|\d[\w]*")
_AFTER = re.compile(r"[ \t]*-?[ \t]*([A-Za-z0-9][\w'’&.-]*)")
_BEFORE = re.compile(r"([A-Za-z][\w'’&.-]*)[ \t]+$")
_YEAR = re.compile(r"(?:1[89]|20)\d\d")


def _words_after(text: str, end: int) -> list[str]:
    """The capitalised words (and numbers) right after ``text[:end]``, up to a word that is no part of a
    name (lower case, a day, a month, a year, after a punctuation mark)."""
    out: list[str] = []
    pos = end
    if text[end - 1:end] == ".":  # "… in the U.K. Later …": the sentence may end there
        return out
    while m := _AFTER.match(text, pos):
        word = m.group(1).rstrip(".'’")
        if not word or not _NAME_WORD.fullmatch(word) or word.lower() in _NOT_NAME_WORDS or _YEAR.fullmatch(word):
            break
        if word.endswith(("'s", "’s")):  # "British Airways's": the name ends there
            out.append(word[:-2])
            break
        out.append(word)
        pos = m.end()
        if m.group(1).endswith("."):
            break
    return out


_SMALL_TITLE_WORDS = frozenset({"a", "an", "the", "of", "to", "in", "for", "and", "on", "at", "by", "with", "as",
                                 "or", "from", "vs", "but", "over", "into", "after", "amid"})


def _headline(text: str, start: int) -> bool:
    """Whether the line around ``start`` is written in title case (a headline: "UK Says It Will Raise
    Fuel Duty"), where capitals tell no names apart: four capitalised words or more, and no word in lower
    case but the small ones title case leaves so."""
    line = text[text.rfind("\n", 0, start) + 1:]
    line = line[:line.find("\n")] if "\n" in line else line
    words = re.findall(r"[A-Za-z][\w'’-]*", line)
    capitals = sum(w[0].isupper() for w in words)
    return capitals >= 4 and all(w[0].isupper() or w in _SMALL_TITLE_WORDS for w in words)


def in_longer_name(text: str, start: int, end: int, *, phrase: bool = False, before: bool = True) -> bool:
    """Whether the name at ``text[start:end]`` is part of a longer proper name — another thing: capitalised
    words or a number go on after it ("British Airways", "Taipei 101", "Dick Clark Productions") unless
    they are an office or a body of it ("British Prime Minister", "US Cyber Command", "Chinese Foreign
    Ministry"), or a capitalised word stands right before it inside a sentence ("Michael Jordan", "Air
    France", "Northern Ireland"; not "In France", "President Macron's France": ``before``, for a place or a
    body, not a person's surname — "Brian Hughes" is Hughes). In a sentence or a text, a headline's capitals
    tell nothing (:func:`_headline`); in a noun ``phrase`` cut from a parsed sentence ("Michael Jordan",
    "A British Airways spokesman") its first word is no sentence's first, and it is no headline."""
    after = _words_after(text, end)
    longer = False
    if after:
        first = next((i for i, w in enumerate(after) if any(p.lower() in OFFICE_WORDS for p in w.split("-"))), None)
        head = after[:first] if first is not None else after
        longer = bool(head) and head[-1].lower() not in BODY_WORDS
    if before and not longer and (m := _BEFORE.search(text, 0, start)):
        word = m.group(1)
        prefix = text[:m.start()].rstrip(" \t")
        # not a sentence's or a clause's first word (a phrase's may be: "Michael Jordan")
        inside = phrase if not prefix else prefix[-1] not in ".!?:;\"“”\n(—"
        longer = (inside and word[0].isupper() and bool(_NAME_WORD.fullmatch(word.rstrip(".")))
                  and word.lower().rstrip(".") not in _NOT_NAME_WORDS and word.lower() not in OFFICE_WORDS
                  and not word.endswith(("'s", "’s")))
    return longer and (phrase or not _headline(text, start))


def fold_map(text: str) -> tuple[str, list[int]]:
    """:func:`fold` of ``text`` and, for each of its characters, the index in ``text`` it comes from."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(c):
                continue
            for low in c.lower():
                chars.append(low)
                index.append(i)
    lowered = "".join(chars)
    drop = {i for m in re.finditer(r"(?<=\w)['’]s\b", lowered) for i in range(m.start(), m.end())}
    drop |= {i for i, c in enumerate(lowered) if c == "."}
    kept = [i for i in range(len(lowered)) if i not in drop]
    return "".join(lowered[i] for i in kept).replace("’", "'"), [index[i] for i in kept]


@dataclass(frozen=True)
class Forms:
    """The other ways of writing one name, and where a text holds one of them."""

    folded: re.Pattern[str] | None  # in the folded text
    cased: re.Pattern[str] | None  # in the text as written (initialisms)
    keys: frozenset[str]  # look-up keys of all the forms

    def found(self, text: str, folded: str | None = None) -> bool:
        """Whether ``text`` (``folded``: its :func:`fold`, when the caller has it) holds one of the forms,
        not as part of a longer name (:func:`in_longer_name`: "British Airways" is not the UK's)."""
        if self.cased is not None and any(not in_longer_name(text, m.start(), m.end())
                                          for m in self.cased.finditer(text)):
            return True
        if self.folded is None or not self.folded.search(fold(text) if folded is None else folded):
            return False
        mapped, index = fold_map(text)
        return any(not in_longer_name(text, index[m.start()], index[m.end() - 1] + 1)
                   for m in self.folded.finditer(mapped))


def _as_written(form: str, k: str) -> bool:
    """Whether a form is matched only as written: an initialism ("UK", "BoE"; not "G7": "g-7", "g 7" are
    the same), or a form that is also a word ("Fed", "us")."""
    initialism = form != form.lower() and " " not in form and not form.istitle() and not any(c.isdigit() for c in k)
    return initialism or k in WORD_INITIALISMS


def _forms_of(written: Iterable[str], own: str) -> Forms:
    folded: set[str] = set()
    cased: set[str] = set()
    keys: set[str] = set()
    for form in written:
        k = key(form)
        if not k:
            continue
        keys.add(k)
        if k == own:
            continue
        if _as_written(form, k):
            cased.add(form if form != form.lower() else form.upper())
        else:
            folded.add(k)
    return Forms(
        re.compile("|".join(_folded_pattern(k) for k in sorted(folded))) if folded else None,
        re.compile("|".join(_cased_pattern(f) for f in sorted(cased))) if cased else None,
        frozenset(keys),
    )


# "Full Name (ABBR)" and "ABBR (Full Name)": an initialism the text defines.
_RUN = r"[A-Z][\w'’&.-]*(?:\s+(?:(?:of|the|and|for|on|de|du|la)\s+)*[A-Z][\w'’&.-]*)*"
_SHORT = r"[A-Z][A-Za-z0-9&.+-]{0,8}"
_DEFINED = re.compile(rf"({_RUN})\s*\((?:the\s+)?({_SHORT})\)|\b({_SHORT})\s*\(({_RUN})\)")
# A capitalised run of two words or more (small words between): a name whose initials may be an initialism.
_CAPITAL_RUN = re.compile(r"(?:\b[A-Z][\w'’-]*(?:\s+(?:of|for|and|the|de|on)\b)*\s*){2,}")


def _initials(words: Iterable[str]) -> str:
    """Initials of the capitalised words ("Group of Seven" -> "g7", "Federal Bureau of Investigation" -> "fbi")."""
    out = []
    for w in words:
        lw = key(w)
        if not lw or lw in _SMALL_WORDS:
            continue
        out.append(_NUMBER_OF.get(lw, lw[0]))
    return "".join(out)


def _abbreviates(short: str, full_words: list[str]) -> bool:
    """Whether ``short`` abbreviates the name ``full_words``: its initials, a start of its first word
    ("Fed" for "Federal Reserve"), or its letters in order from the first one ("Nasdaq")."""
    s, words = key(short).replace(" ", ""), [key(w) for w in full_words if key(w)]
    if len(s) < 2 or not words or s[0] != words[0][0]:
        return False
    if s == _initials(full_words) or (len(s) >= 3 and words[0].startswith(s)):
        return True
    letters = iter("".join(words))
    return len(s) >= 3 and all(ch in letters for ch in s)


@functools.lru_cache(maxsize=512)
def definitions(text: str) -> tuple[tuple[str, str], ...]:
    """The initialisms ``text`` defines, as (look-up key of the full name, the initialism as written):
    "the Federal Reserve (Fed)" -> ("federal reserve", "Fed"), "Group of Seven (G7)" -> ("group of seven", "G7")."""
    out = []
    for m in _DEFINED.finditer(text):
        full, short = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        words = full.split()
        # the shortest end of the run that the initialism abbreviates ("On Monday the Federal Reserve (Fed)")
        for start in range(len(words)):
            if key(words[start]) in _SMALL_WORDS:
                continue
            if _abbreviates(short, words[start:]):
                out.append((key(" ".join(words[start:])), short))
                break
    return tuple(dict.fromkeys(out))


@functools.lru_cache(maxsize=512)
def _runs(text: str) -> dict[str, frozenset[str]]:
    """The capitalised runs of ``text`` (keys) by their initials."""
    out: dict[str, set[str]] = {}
    for m in _CAPITAL_RUN.finditer(text):
        words = [w for w in m.group(0).split()]
        caps = [i for i, w in enumerate(words) if w[0].isupper()]
        for start in caps:  # "Officials at the Canadian Security Intelligence Service": every end of it
            tail = words[start:]
            if sum(1 for w in tail if w[0].isupper()) >= 2:
                out.setdefault(_initials(tail), set()).add(key(" ".join(tail)))
    return {k: frozenset(v) for k, v in out.items()}


@functools.lru_cache(maxsize=4096)
def _static(name: str, seats: bool) -> tuple[frozenset[str], str]:
    return table_forms(name, seats=seats), key(name)


@functools.lru_cache(maxsize=4096)
def forms(name: str, context: str = "", *, seats: bool = False) -> Forms:
    """The other ways of writing ``name`` (a name as written or folded: "UK", "the uk", "group of 7"):
    the table's (:func:`table_forms`), and from ``context`` (the text the name is looked for in, or the
    article it is part of) the initialism it defines for the name or the name it defines the initialism
    for, and a capitalised name whose initials are the name's initialism (three letters or more, not a
    word: "CSIS" -> "Canada Security Intelligence Service") or the initialism of the name, when
    ``context`` writes both. ``name`` itself is left to the caller (its own, stricter rules)."""
    table, own = _static(name, seats)
    written = set(table)
    if context:
        keys = {key(w) for w in written}
        for full, short in definitions(context):
            if full in keys or key(short) in keys:
                written |= {full, short}
        # "CSIS" asked, and the text writes it and "Canada Security Intelligence Service"
        if 3 <= len(own) <= 6 and own.isalnum() and own not in WORD_INITIALISMS and re.search(
                _cased_pattern(own.upper()), context):
            written |= _runs(context).get(own, frozenset())
        # the full name asked, and the text writes it and its initialism
        initials = _initials(own.split()) if len(own.split()) >= 3 else ""
        if len(initials) >= 3 and initials not in WORD_INITIALISMS and re.search(
                _cased_pattern(initials.upper()), context) and own in _runs(context).get(initials, ()):
            written.add(initials.upper())
    return _forms_of(written, own)


def blank_longer(name: str, text: str, *, seats: bool = False) -> str:
    """``text`` (a short phrase: who speaks, "A British Airways spokesman") with every mention of ``name`` that
    is part of a longer proper name (:func:`in_longer_name` of a phrase) blanked out: the name itself, its
    last word (a surname: "Clark" of "Dick Clark" in "Clark Productions") and its other forms (:func:`forms`,
    ``seats`` too): "Dick Clark Productions" holds no "Dick Clark" and "British Airways" no "UK"."""
    own = key(name)
    if not own:
        return text
    place = len(table_forms(name, seats=seats)) > 1  # a place or a body of the table: "Michael Jordan" is no Jordan
    mapped, index = fold_map(text)
    whole = [(m.start(), m.end()) for m in re.finditer(_folded_pattern(own), mapped)]
    last = own.split()[-1]
    parts = [(m.start(), m.end()) for m in re.finditer(_folded_pattern(last), mapped)] if " " in own else []
    other = forms(name, seats=seats)
    found = [*whole, *(p for p in parts if not any(s <= p[0] < e for s, e in whole))]
    if other.folded is not None:
        found += [(m.start(), m.end()) for m in other.folded.finditer(mapped)]
    spans = [(index[s], index[e - 1] + 1) for s, e in found if e > s]
    if other.cased is not None:
        spans += [(m.start(), m.end()) for m in other.cased.finditer(text)]
    out = text
    for s, e in spans:
        if in_longer_name(text, s, e, phrase=True, before=place):
            out = out[:s] + " " * (e - s) + out[e:]
    return out


@functools.cache
def _country_keys() -> frozenset[str]:
    return frozenset(key(n) for e in _parse(_COUNTRIES) for n in e.names)


def is_country(name: str) -> bool:
    """Whether ``name`` is one of a country's names in the table ("UK", "the United States", "Italy")."""
    return key(name) in _country_keys()


@functools.lru_cache(maxsize=1024)
def demonym_country(name: str) -> str | None:
    """The country a demonym names ("Italian" -> "Italy", "British" -> "United Kingdom"), None for any other
    name."""
    entries = _table()["demonyms"].get(key(name), [])
    return entries[0].names[0] if entries and entries[0].names else None



# Who speaks for a country by its demonym, besides its offices and bodies ("Italian lawmakers").
_VOICES = frozenset({"legislator", "negotiator", "regulator", "prosecutor", "diplomat", "spokesmen", "spokeswomen",
                     "media", "broadcaster", "mission"})


def voice(word: str) -> bool:
    """Whether a word (lower case) after a demonym makes it a voice of the country: an office, a body,
    "lawmakers" (singular or plural)."""
    word = word.split("-")[0]
    return any(w in OFFICE_WORDS or w in BODY_WORDS or w in _VOICES for w in (word, word.removesuffix("s")))


def official(country: str, phrase: str) -> bool:
    """Whether ``phrase`` (who speaks: "Italy's foreign minister", "The Italian carmaker") names ``country``
    as one who speaks for it: by one of its names or seats ("Italy", "Rome"), or by its demonym before an
    office or a body ("Italian officials", "the Italian government", "Italian Prime Minister Giorgia
    Meloni"), or by the demonym alone (a name the sentences before give "the ministry said") — not "the
    Italian carmaker" nor "Italian fans". A mention inside a longer name is none (:func:`blank_longer`)."""
    shown = blank_longer(country, phrase, seats=True)
    entries = [e for k in _numbered(key(country)) for e in _table()["names"].get(k, ())]
    named = _forms_of({country, *(n for e in entries for n in (*e.names, *e.seats))}, "")
    if named.found(shown):
        return True
    mapped = fold(shown)
    demonyms = sorted({key(d) for e in entries for d in e.demonyms})
    if key(shown) in demonyms:  # the demonym alone: an antecedent's name ("Chinese officials met … The ministry said")
        return True
    return any(voice(m.group(1)) for d in demonyms
               for m in re.finditer(_folded_pattern(d) + r"[\s-]+([a-z][\w-]*)", mapped))
