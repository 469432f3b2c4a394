"""The text of the evaluation lines: an own seeded source, independent of the training generator.

The training generator (``depix.data.text``) draws from fixed word lists and templates (its
URLs start ``https://``, its IDs use seven prefixes, its hex tokens have five lengths). A model
or a reader trained on it learns those lists as a prior; scored on text drawn from the same
lists, it can look like it reads when it only recalls. So the benchmark's strings come from
here: the same *kinds* people redact (words, names, e-mail addresses, URLs, IDs, hex tokens,
passwords, numbers) built from vocabularies and templates that share no entry with the
training generator's (``tests/test_eval_texts.py`` checks that the word, name, domain and
top-level-domain lists are disjoint from it). Nothing here may be imported by training code.

Every string is printable ASCII (what Tesseract's English model and the decoders' default
charset read) and drawn from a ``random.Random`` the caller seeds, so a benchmark line is the
same on every machine.
"""

from __future__ import annotations

import random
import string


def _words(text: str) -> tuple[str, ...]:
    """A word list written as text (reads better than a literal of quoted words)."""
    return tuple(text.split())


# Everyday and technical words outside the training list (no 100 most common English words,
# no account/payment vocabulary it uses).
WORDS = _words(
    "harbor velvet orbit lantern quarry meadow pebble summit thunder violet walnut anchor "
    "bicycle canyon dolphin ember falcon glacier hammock island jigsaw kettle lagoon marble "
    "nectar oyster paddle quiver raven saddle tundra umbrella vessel willow yonder zephyr "
    "almond basket candle desert engine fabric garden helmet insect jacket kitchen ladder "
    "magnet needle orchard pepper quartz ribbon silver turnip velcro wagon yogurt blanket "
    "compass drizzle elbow fossil gravel hollow igloo jungle kernel lemon mirror noodle "
    "opera riddle scarlet timber uniform vintage whistle cobalt crimson dusk evening frost "
    "gentle humble ivory jolly keen lively mellow nimble quiet rapid sturdy tender upbeat "
    "vivid wander brisk clever daring eager fancy golden hasty migrate render compile "
    "deploy archive cluster socket sandbox pipeline cache gateway firewall router tenant "
    "webhook bucket replica shard cursor lambda payload schema vector tensor buffer thread "
    "daemon module branch commit rebase staging sprint roadmap quarterly forecast ledger "
    "audit voucher receipt tariff pension mortgage premium surplus deficit dividend escrow "
    "appraisal warranty subsidy rebate patient dosage clinic referral allergy vaccine ward "
    "nurse pharmacy therapy tenancy lease landlord courier depot freight customs cargo "
    "manifest"
)

FIRST_NAMES = _words(
    "Aiden Beatrix Caspar Delphine Eamon Freya Gideon Harriet Ignatius Juniper Kofi Leonie "
    "Mateo Nadia Orla Priya Quentin Rosalind Soren Tamsin Ulrich Valentina Wendell Ximena "
    "Yusuf Zara Amara Bodhi Cormac Dagny Esme Florian Greta Hamish Ines Joaquin Katja "
    "Lorenzo Maeve Niamh Oskar Pilar Rafael Saoirse Tobias Ursula Vikram Wilhelmina Yara "
    "Zoltan Adaeze Bjorn Chiara Dmitri Elif Fintan Gulnara Hiroshi Ivana Jovan Kalani "
    "Ludmila Mihai Nkechi Olufemi Paloma Radek Sunita Teodor Umaima Vesna"
)

LAST_NAMES = _words(
    "Abernathy Bergstrom Castellanos Dubois Eriksen Fitzgerald Gallagher Haraldsen Ibarra "
    "Janssen Kowalczyk Lindqvist Mbeki Novak Okonkwo Petrakis Quintero Rasmussen Szabo "
    "Tanaka Underhill Vasquez Whitfield Yamamoto Zielinski Achterberg Brennan Cardoso "
    "Delacroix Esposito Fairweather Gonzaga Hoffmann Iwasaki Jablonski Kaplan Lombardi "
    "Mackenzie Nakamura Oyelaran Pellegrini Quigley Rosenthal Sorensen Thornbury Urquhart "
    "Vandermeer Wojcik Yilmaz Zamora Albrecht Bianchi Chaudhry Dragomir Ekwueme Fonseca "
    "Grunwald Halvorsen Ishikawa Jovanovic Kristiansen Lefebvre Moreau Nieminen Osei "
    "Papadopoulos Ruiz Stavros Takahashi Uddin Volkov"
)

# Mail providers and organisations' domains (none of the training generator's).
DOMAINS = (
    "outlook.com",
    "yahoo.fr",
    "posteo.de",
    "fastmail.fm",
    "icloud.com",
    "web.de",
    "hey.com",
    "zoho.eu",
    "acme-labs.io",
    "northwind.biz",
    "contoso.ca",
    "fabrikam.nl",
    "stateu.ac.uk",
    "city.gov.au",
)
TLDS = ("fr", "nl", "ca", "info", "app", "biz", "eu", "ch", "se", "tech", "xyz", "com.au")
URL_SCHEMES = ("http://", "www.", "ftp://", "", "http://www.")
ID_PATTERNS = ("LLDD-DDDD", "LLL-DDDDD-L", "DDDD/DD/LL", "L-DDDDDDD", "LLDDLLDD", "#DDDDDL")
SYMBOLS = "~.,;:()[]{}<>/|!?%&*"


def words(rng: random.Random) -> str:
    """1-4 words; sometimes capitalised, sometimes ending in a full stop."""
    phrase = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.3:
        phrase = phrase.capitalize()
    return phrase + ("." if rng.random() < 0.2 else "")


def name(rng: random.Random) -> str:
    """``First Last``, ``Last, First`` or ``F. Last``."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    form = rng.randrange(3)
    if form == 0:
        return f"{first} {last}"
    if form == 1:
        return f"{last}, {first}"
    return f"{first[0]}. {last}"


def email(rng: random.Random) -> str:
    """An address: initial + surname, surname.first, or a word and a year."""
    first, last = rng.choice(FIRST_NAMES).lower(), rng.choice(LAST_NAMES).lower()
    form = rng.randrange(3)
    if form == 0:
        user = first[0] + last
    elif form == 1:
        user = f"{last}.{first}"
    else:
        user = f"{rng.choice(WORDS)}{rng.randint(1950, 2029)}"
    return f"{user}@{rng.choice(DOMAINS)}"


def url(rng: random.Random) -> str:
    """A web address without ``https://``: other schemes, ports, query strings."""
    host = rng.choice(WORDS) + rng.choice(
        ("", "hub", "-" + rng.choice(WORDS), str(rng.randint(2, 9)))
    )
    address = f"{rng.choice(URL_SCHEMES)}{host}.{rng.choice(TLDS)}"
    if rng.random() < 0.2:
        address += f":{rng.choice((8080, 8443, 3000, 5000))}"
    path = "/".join(rng.choice(WORDS) for _ in range(rng.randint(0, 2)))
    if path:
        address += "/" + path
    if rng.random() < 0.3:
        address += f"?{rng.choice(('id', 'q', 'ref', 'page'))}={rng.randint(1, 9999)}"
    return address


def identifier(rng: random.Random) -> str:
    """A reference in one of several letter/digit patterns (L = capital, D = digit)."""
    pattern = rng.choice(ID_PATTERNS)
    return "".join(
        rng.choice(string.ascii_uppercase)
        if c == "L"
        else rng.choice(string.digits)
        if c == "D"
        else c
        for c in pattern
    )


def hex_token(rng: random.Random) -> str:
    """Hex digits as shown in tools: ``0x`` values, git short hashes, MAC-like pairs."""
    form = rng.randrange(3)
    if form == 0:
        return "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice((6, 10))))
    if form == 1:
        return "".join(rng.choice("0123456789abcdef") for _ in range(rng.choice((7, 14, 20))))
    return ":".join(f"{rng.randrange(256):02X}" for _ in range(6))


def password(rng: random.Random) -> str:
    """A passphrase of capitalised words, digits and a symbol, or a random string over other
    symbols than the training generator's."""
    if rng.random() < 0.5:
        parts = [rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 3))]
        return rng.choice("-.~").join(parts) + str(rng.randint(0, 99)) + rng.choice(SYMBOLS)
    alphabet = string.ascii_letters + string.digits + SYMBOLS
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(8, 20)))


def number(rng: random.Random) -> str:
    """Phone numbers, ISO dates, times and amounts in formats the training does not draw."""
    form = rng.randrange(4)
    if form == 0:
        return f"({rng.randint(200, 989)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    if form == 1:
        return f"{rng.randint(1990, 2035)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if form == 2:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    currency = rng.choice(("$", "EUR ", "CHF ", ""))
    return f"{currency}{rng.randint(1, 999)}.{rng.randint(0, 999):03d},{rng.randint(0, 99):02d}"


KINDS = {
    "words": words,
    "name": name,
    "email": email,
    "url": url,
    "id": identifier,
    "hex": hex_token,
    "password": password,
    "number": number,
}


def eval_text(rng: random.Random, kinds: tuple[str, ...] | None = None) -> str:
    """One evaluation string of a kind drawn uniformly from ``kinds`` (default: all of ``KINDS``).

    Raises ``ValueError`` for an unknown kind.
    """
    names = tuple(kinds) if kinds else tuple(KINDS)
    unknown = set(names) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown text kinds {sorted(unknown)}; choose from {sorted(KINDS)}")
    return KINDS[rng.choice(names)](rng)
