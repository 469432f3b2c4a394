"""Random strings of the kinds people redact: words, names, e-mails, URLs, IDs, secrets."""

from __future__ import annotations

import random
import string

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "you",
    "that",
    "it",
    "he",
    "was",
    "for",
    "on",
    "are",
    "as",
    "with",
    "his",
    "they",
    "at",
    "be",
    "this",
    "have",
    "from",
    "or",
    "one",
    "had",
    "by",
    "word",
    "but",
    "not",
    "what",
    "all",
    "were",
    "we",
    "when",
    "your",
    "can",
    "said",
    "there",
    "use",
    "an",
    "each",
    "which",
    "she",
    "do",
    "how",
    "their",
    "if",
    "will",
    "up",
    "other",
    "about",
    "out",
    "many",
    "then",
    "them",
    "these",
    "so",
    "some",
    "her",
    "would",
    "make",
    "like",
    "him",
    "into",
    "time",
    "has",
    "look",
    "two",
    "more",
    "write",
    "go",
    "see",
    "number",
    "no",
    "way",
    "could",
    "people",
    "my",
    "than",
    "first",
    "water",
    "been",
    "call",
    "who",
    "oil",
    "its",
    "now",
    "find",
    "long",
    "down",
    "day",
    "did",
    "get",
    "come",
    "made",
    "may",
    "part",
    "account",
    "password",
    "secret",
    "token",
    "invoice",
    "balance",
    "transfer",
    "customer",
    "address",
    "street",
    "city",
    "phone",
    "email",
    "login",
    "username",
    "admin",
    "server",
    "database",
    "backup",
    "private",
    "public",
    "confidential",
    "salary",
    "meeting",
    "project",
    "deadline",
    "report",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "friday",
    "budget",
    "client",
    "contract",
    "payment",
    "order",
    "delivery",
    "shipping",
    "refund",
    "support",
    "ticket",
    "status",
]
FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Anna",
    "Thomas",
    "Sarah",
    "Daniel",
    "Karen",
    "Matthew",
    "Nancy",
    "Anthony",
    "Lisa",
    "Mark",
    "Sandra",
    "Paul",
    "Emily",
    "Steven",
    "Ashley",
    "Lucas",
    "Sophie",
    "Oliver",
    "Emma",
    "Noah",
    "Mia",
    "Liam",
    "Olivia",
    "Jan",
    "Eva",
    "Pierre",
    "Marie",
    "Hans",
    "Ingrid",
    "Yuki",
    "Chen",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Weber",
]
DOMAINS = ("gmail.com", "example.org", "corp.net", "mail.io", "company.de", "uni.edu", "proton.me")
TLDS = ("com", "org", "net", "io", "dev", "co.uk", "de")


def word_phrase(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 5))]
    if rng.random() < 0.4:
        words[0] = words[0].capitalize()
    return " ".join(words)


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def email(rng: random.Random) -> str:
    user = rng.choice(FIRST).lower() + rng.choice([".", "_", ""]) + rng.choice(LAST).lower()
    if rng.random() < 0.4:
        user += str(rng.randint(1, 99))
    return f"{user}@{rng.choice(DOMAINS)}"


def url(rng: random.Random) -> str:
    host = rng.choice(WORDS) + rng.choice(["", "-" + rng.choice(WORDS)])
    path = "/".join(rng.choice(WORDS) for _ in range(rng.randint(0, 2)))
    return f"https://{host}.{rng.choice(TLDS)}/{path}"


def number(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:  # phone
        return f"+{rng.randint(1, 49)} {rng.randint(100, 999)} {rng.randint(1000000, 9999999)}"
    if kind == 1:  # amount
        return f"{rng.randint(0, 99999):,}.{rng.randint(0, 99):02d}"
    if kind == 2:  # card-like groups
        return " ".join(f"{rng.randint(0, 9999):04d}" for _ in range(4))
    if kind == 3:  # date
        return f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1970, 2030)}"
    return str(rng.randint(0, 10 ** rng.randint(3, 12)))


def identifier(rng: random.Random) -> str:
    prefix = rng.choice(["ID", "INV", "ACC", "REF", "user", "order", "TX"])
    return f"{prefix}{rng.choice(['-', '_', '#', ''])}{rng.randint(0, 10 ** rng.randint(3, 9))}"


def hex_token(rng: random.Random) -> str:
    n = rng.choice([8, 12, 16, 24, 32])
    alphabet = "0123456789abcdef" if rng.random() < 0.7 else "0123456789ABCDEF"
    return "".join(rng.choice(alphabet) for _ in range(n))


def password(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*-_=+?"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 16)))


def uuid_like(rng: random.Random) -> str:
    """A UUID (request ids, API keys in dashboards), in its usual 8-4-4-4-12 groups."""
    hexes = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return "-".join(hexes[a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)))


def code_line(rng: random.Random) -> str:
    """A line of code or config that holds a secret, as seen in editors and terminals."""
    key = rng.choice(["api_key", "token", "password", "SECRET_KEY", "db_pass", "auth"])
    value = rng.choice([hex_token, password, uuid_like])(rng)
    return rng.choice(
        [
            f'{key} = "{value}"',
            f"export {key.upper()}={value}",
            f'"{key}": "{value}",',
            f"{key}: {value}",
            f"const {key} = '{value}';",
        ]
    )


GENERATORS = {
    "words": word_phrase,
    "name": person_name,
    "email": email,
    "url": url,
    "number": number,
    "id": identifier,
    "hex": hex_token,
    "password": password,
    "uuid": uuid_like,
    "code": code_line,
}


def random_text(rng: random.Random, kinds: dict[str, float] | None = None) -> str:
    """One string; ``kinds`` maps generator names to relative weights (default: uniform)."""
    kinds = kinds or {k: 1.0 for k in GENERATORS}
    unknown = set(kinds) - set(GENERATORS)
    if unknown:
        raise ValueError(f"unknown text kinds {sorted(unknown)}; choose from {sorted(GENERATORS)}")
    names = list(kinds)
    kind = rng.choices(names, weights=[kinds[n] for n in names])[0]
    return GENERATORS[kind](rng)
