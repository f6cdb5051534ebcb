#!/usr/bin/env python3
"""Generates the labelled accuracy corpus of redactd (tests/accuracy/corpus.tsv).

    python3 tests/accuracy/gen_corpus.py > tests/accuracy/corpus.tsv

Deterministic: one fixed seed, `random.Random` only, standard library only. Every value is
made up here (Ofcom drama numbers, documentation address ranges, generated card numbers and
IBANs): no real person's data.

Output: a header line starting with `#`, then one record per line,

    FORMAT <TAB> LINE <TAB> LABELS

* FORMAT: `combined`, `json`, `syslog3164`, `syslog5424` or `text`: what the line is
  written as (the test checks that `--format auto` sees it so).
* LINE: the log line, JSON-encoded (a JSON string), so tabs and any byte survive.
* LABELS: a JSON list of `{"type": T, "value": V, "keep": K}`. `keep: false` marks
  personal data planted in the line: V, exactly as written in the line, must no longer
  appear in redactd's output. `keep: true` marks a look-alike that must survive: V must
  still appear in the output.

Every label value occurs in its line; every look-alike occurs exactly once and overlaps no
planted value (so its presence in the output is evidence it was kept).
"""

import base64
import json
import random
import sys

SEED = 20240115
LINES = 3000
EXTRA_LINES = 300

rng = random.Random(SEED)

# ─────────────────────────────── vocabulary ───────────────────────────────

FIRST = ["jane", "john", "amelia", "oliver", "priya", "mohammed", "chloe", "liam", "siobhan",
         "dmitri", "ana", "kwame", "emily", "george", "fatima", "thomas", "isla", "noah",
         "aoife", "wei", "lucy", "harry", "zara", "jack", "sophie", "rhys", "niamh", "omar"]
LAST = ["smith", "doe", "jones", "okafor", "patel", "nguyen", "obrien", "kowalski", "garcia",
        "williams", "taylor", "evans", "murphy", "khan", "walker", "wright", "hughes", "clarke",
        "macdonald", "fraser", "lewis", "morgan", "price", "ahmed", "chen", "davies", "kelly"]
DOMAINS = ["example.com", "example.co.uk", "example.org", "mail.example.net", "customers.example.io",
           "eu.mail.example.com", "staff.example.ac.uk", "example-shop.co.uk", "post.example.de",
           "example.fr", "inbox.example.info"]
HOSTS = ["web01", "web-02", "app3.prod.example.net", "mail.example.co.uk", "billing-1", "edge-lon-2",
         "ip-10-77-20-248", "whmcs.example.com", "api.internal", "db-replica-2"]
TAGS = ["sshd", "postfix/smtpd", "dovecot", "nginx", "php-fpm", "whmcs", "billing", "cron", "sudo",
        "api-gateway", "payments", "mailer"]
APPS = ["billing", "api", "checkout", "auth", "mailer", "support-portal", "whmcs", "crm"]
METHODS = ["GET"] * 6 + ["POST"] * 3 + ["PUT", "DELETE", "HEAD"]
STATUSES = [200] * 8 + [201, 204, 301, 302, 304, 400, 401, 403, 404, 422, 500, 502]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LEVELS = ["INFO", "WARN", "ERROR", "DEBUG", "NOTICE"]
PATHS = ["/", "/cart.php", "/clientarea.php", "/index.php", "/api/v1/orders", "/checkout",
         "/account/settings", "/submitticket.php", "/viewinvoice.php", "/dologin.php", "/register.php",
         "/search", "/api/v2/customers", "/contact", "/basket", "/login", "/oauth/callback"]

HEX = "0123456789abcdef"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64URL = ALNUM + "-_"


def pick(seq):
    return seq[rng.randrange(len(seq))]


def chance(p):
    return rng.random() < p


def digits(n):
    return "".join(str(rng.randrange(10)) for _ in range(n))


def rand_str(alphabet, n):
    return "".join(alphabet[rng.randrange(len(alphabet))] for _ in range(n))


def hexs(n):
    return rand_str(HEX, n)


def pct(s):
    """URL-encodes like a browser's form submission (space becomes `+`)."""
    out = []
    for ch in s:
        if ch.isalnum() and ch.isascii() or ch in "-._~":
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.extend("%%%02X" % b for b in ch.encode())
    return "".join(out)


# ─────────────────────────────── the line builder ───────────────────────────────

class Line:
    """Collects the labels of one line while its pieces are written."""

    def __init__(self):
        self.labels = []

    def pii(self, typ, written, value=None):
        """Plants personal data: returns `written`, labels `value` (default: all of it)."""
        self.labels.append({"type": typ, "value": written if value is None else value, "keep": False})
        return written

    def keep(self, typ, written, value=None):
        """Plants a look-alike that must survive."""
        self.labels.append({"type": typ, "value": written if value is None else value, "keep": True})
        return written


class Raw(str):
    """A JSON string's contents, already escaped as it is to be written."""


class Num(str):
    """A JSON number token, written as is."""


def jenc(obj, spaced):
    """JSON with the escaping of the values under our control (for `\\u0040`, `\\/`)."""
    colon, comma = (": ", ", ") if spaced else (":", ",")
    if isinstance(obj, dict):
        return "{" + comma.join(json.dumps(k) + colon + jenc(v, spaced) for k, v in obj.items()) + "}"
    if isinstance(obj, list):
        return "[" + comma.join(jenc(v, spaced) for v in obj) + "]"
    if isinstance(obj, Raw):
        return '"' + obj + '"'
    if isinstance(obj, Num):
        return str(obj)
    if isinstance(obj, bool) or obj is None:
        return json.dumps(obj)
    if isinstance(obj, (int, float)):
        return json.dumps(obj)
    return json.dumps(obj, ensure_ascii=False)


# ─────────────────────────────── value makers ───────────────────────────────

def email_parts():
    f, l = pick(FIRST), pick(LAST)
    local = pick([f + "." + l, f[0] + "." + l, f + l + digits(2), f + "_" + l, l + "." + f[0],
                  f + "-" + l])
    form = rng.random()
    domain = pick(DOMAINS)
    if form < 0.25:
        local += "+" + pick(["news", "shop", "billing", "2024", "test", "spam", "orders"])
    elif form < 0.40:
        local, domain = local.upper(), domain.upper()
    elif form < 0.50:
        local = local.capitalize()
        domain = domain[0].upper() + domain[1:]
    elif form < 0.65:
        domain = pick(["mail.", "eu.", "uk.mx.", "corp."]) + domain
    return local, domain


def email_written(ctx):
    """An e-mail as written in `ctx`: `query`/`path` (raw or %40), `json` (raw or \\u0040),
    anything else raw."""
    local, domain = email_parts()
    if ctx in ("query", "path") and chance(0.65):
        return local.replace("+", "%2B") + "%40" + domain
    if ctx == "json" and chance(0.35):
        return local + "\\u0040" + domain
    return local + "@" + domain


def ipv4():
    kind = rng.random()
    if kind < 0.15:
        return "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
    if kind < 0.25:
        return "192.168.%d.%d" % (rng.randrange(256), rng.randrange(1, 255))
    if kind < 0.32:
        return "172.%d.%d.%d" % (rng.randrange(16, 32), rng.randrange(256), rng.randrange(1, 255))
    if kind < 0.50:
        return pick(["192.0.2.", "198.51.100.", "203.0.113."]) + str(rng.randrange(1, 255))
    first = pick([2, 5, 31, 37, 51, 62, 77, 78, 81, 82, 86, 88, 90, 92, 94, 109, 146, 151, 176,
                  178, 185, 188, 193, 194, 195, 212, 213, 217, 223])
    return "%d.%d.%d.%d" % (first, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def ipv6_groups(n):
    return [format(rng.randrange(1, 0x10000), "x") for _ in range(n)]


def ipv6():
    """`(written address, form)`; form is one of full, compressed, mapped, upper."""
    kind = rng.random()
    prefix = pick(["2001:db8", "2a02:c7f", "2a00:23c6", "2001:4860", "2600:1f18", "2a01:4b00"])
    if kind < 0.2:
        groups = prefix.split(":") + ipv6_groups(6)
        return ":".join(g.zfill(4) for g in groups), "full"
    if kind < 0.35:
        return "::ffff:" + ipv4(), "mapped"
    if kind < 0.45:
        return (prefix + "::" + ":".join(ipv6_groups(rng.randrange(1, 4)))).upper(), "upper"
    if kind < 0.6:
        return prefix + ":" + ":".join(ipv6_groups(rng.randrange(1, 3))) + "::" + \
            ":".join(ipv6_groups(rng.randrange(1, 3))), "compressed"
    return prefix + ":" + ":".join(ipv6_groups(2)) + "::" + ":".join(ipv6_groups(2)), "compressed"


def link_local():
    return "fe80::" + ":".join(ipv6_groups(4))


def phone_uk():
    """`(written with spaces, digits-only national, E.164)`."""
    kind = rng.randrange(9)
    if kind in (0, 8):
        area, rest = "020", "7946 0" + digits(3)
    elif kind in (1, 2):
        area, rest = "07700", "900" + digits(3)
    elif kind == 3:
        area, rest = "01632", "960" + digits(3)
    elif kind == 4:
        area, rest = pick(["0113", "0114", "0115", "0116", "0117", "0118", "0121", "0131",
                           "0141", "0151", "0161"]), "496 0" + digits(3)
    elif kind == 5:
        area, rest = "0191", "498 0" + digits(3)
    elif kind == 6:
        area, rest = "028", "9649 6" + digits(3)
    else:
        area, rest = "07700", "900" + digits(3)
    if area == "01632":
        rest = rest[:3] + " " + rest[3:]  # written (01632) 960 001
    return area, rest


def phone_uk_written(ctx):
    area, rest = phone_uk()
    nat = area + " " + rest
    compact = nat.replace(" ", "")
    intl_area = area[1:]
    form = rng.randrange(10)
    if form == 0:
        w = compact
    elif form == 1:
        w = "+44 " + intl_area + " " + rest
    elif form == 2:
        w = "+44 (0)" + intl_area + " " + rest
    elif form == 3:
        w = "(" + area + ") " + rest
    elif form == 4:
        w = "+44" + compact[1:]
    elif form == 5:
        w = nat.replace(" ", "-")
    else:
        w = nat
    if ctx == "query":
        w = w.replace("+", "%2B").replace(" ", "+").replace("(", "%28").replace(")", "%29") \
            if chance(0.7) else w.replace("+", "%2B").replace(" ", "")
    return w


INTL = [  # country code, national digit groups
    ("1", [3, 3, 4]), ("1", [3, 3, 4]), ("33", [1, 2, 2, 2, 2]), ("49", [2, 8]), ("49", [3, 8]),
    ("61", [1, 4, 4]), ("353", [2, 3, 4]), ("91", [5, 5]), ("81", [2, 4, 4]), ("34", [3, 3, 3]),
    ("31", [1, 8]), ("39", [3, 3, 4]), ("48", [3, 3, 3]), ("46", [2, 3, 2, 2]), ("27", [2, 3, 4]),
    ("55", [2, 5, 4]), ("65", [4, 4]), ("971", [2, 3, 4]), ("234", [3, 3, 4]), ("86", [3, 4, 4]),
]


def phone_intl_written(ctx):
    cc, groups = pick(INTL)
    parts = [str(rng.randrange(1, 10)) + digits(groups[0] - 1)] + [digits(g) for g in groups[1:]]
    if cc == "1":
        parts[0] = pick(["415", "212", "646", "312", "617", "202", "206"])
        parts[1] = "555"
        parts[2] = "01" + digits(2)
    sep = pick(["", "", " ", " ", "-"])
    w = "+" + cc + sep + sep.join(parts)
    if ctx == "query":
        w = "%2B" + w[1:].replace(" ", "+") if chance(0.8) else w.replace(" ", "")
    return w


def luhn_check_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


CARD_SCHEMES = [  # prefixes, length
    (["4"], 16), (["4"], 16), (["4"], 13), (["51", "52", "53", "54", "55"], 16),
    (["2221", "2300", "2500", "2720"], 16), (["34", "37"], 15), (["6011", "65", "644", "649"], 16),
    (["3528", "3530", "3566", "3589"], 16),
]


def card_digits():
    prefixes, length = pick(CARD_SCHEMES)
    body = pick(prefixes)
    body += digits(length - 1 - len(body))
    return body + luhn_check_digit(body)


def group_card(num, sep):
    if len(num) == 15:
        return sep.join([num[:4], num[4:10], num[10:]])
    return sep.join(num[i:i + 4] for i in range(0, len(num), 4))


def card_written(ctx):
    num = card_digits()
    form = rng.random()
    if ctx == "query":
        if form < 0.5:
            return num
        if form < 0.95:
            return group_card(num, "-")
        return group_card(num, "+")  # a card pasted with spaces into a GET form
    if form < 0.4:
        return num
    if form < 0.75:
        return group_card(num, " ")
    return group_card(num, "-")


IBAN_COUNTRIES = [  # country, BBAN maker
    ("GB", lambda: pick(["NWBK", "BARC", "LOYD", "MIDL", "HBUK", "WEST"]) + digits(14)),
    ("GB", lambda: pick(["NWBK", "BARC", "LOYD", "MIDL", "HBUK", "WEST"]) + digits(14)),
    ("DE", lambda: digits(18)), ("FR", lambda: digits(23)), ("NL", lambda: pick(["ABNA", "INGB", "RABO"]) + digits(10)),
    ("ES", lambda: digits(20)), ("IT", lambda: "X" + digits(22)), ("BE", lambda: digits(12)),
    ("IE", lambda: pick(["AIBK", "BOFI"]) + digits(14)), ("CH", lambda: digits(17)),
    ("PL", lambda: digits(24)), ("AT", lambda: digits(16)), ("SE", lambda: digits(20)),
    ("NO", lambda: digits(11)), ("DK", lambda: digits(14)), ("PT", lambda: digits(21)),
    ("LU", lambda: digits(16)), ("FI", lambda: digits(14)),
]


def mod97(s):
    r = 0
    for ch in s[4:] + s[:4]:
        for d in (ch if ch.isdigit() else str(ord(ch.upper()) - 55)):
            r = (r * 10 + int(d)) % 97
    return r


def iban_compact(valid=True):
    cc, bban = pick(IBAN_COUNTRIES)
    bban = bban()
    check = 98 - mod97(cc + "00" + bban)
    iban = cc + "%02d" % check + bban
    assert mod97(iban) == 1, iban
    if valid:
        return iban
    while True:
        bad = cc + "%02d" % rng.randrange(2, 99) + bban
        if mod97(bad) != 1:
            return bad


def group4(s, sep=" "):
    return sep.join(s[i:i + 4] for i in range(0, len(s), 4))


def iban_written(ctx, valid=True):
    iban = iban_compact(valid)
    form = rng.random()
    if ctx == "query":
        if form < 0.8:
            return iban
        if form < 0.9:
            return iban.lower()
        return group4(iban, "+")  # spaced IBAN submitted through a GET form
    if form < 0.5:
        return iban
    return group4(iban)


def sort_code():
    return "%02d-%02d-%02d" % (pick([20, 30, 40, 60, 9, 11, 12, 16, 23, 77, 83, 87]),
                               rng.randrange(100), rng.randrange(100))


def vat_number():
    while True:
        d = [rng.randrange(10) for _ in range(7)]
        total = sum(x * w for x, w in zip(d, range(8, 1, -1)))
        check = (-total) % 97 if chance(0.5) else (-(total + 55)) % 97
        if check < 97:
            return "".join(map(str, d)) + "%02d" % check


POLICY_VAT = "GB 175 9482 60"


def vat_written(ctx):
    if chance(0.15):
        return "GB175948260" if ctx == "query" else POLICY_VAT
    n = vat_number()
    if chance(0.05):
        n += pick(["001", "002", "010"])  # a branch
    if ctx == "query" or chance(0.5):
        return "GB" + n
    spaced = n[:3] + " " + n[3:7] + " " + n[7:9] + (" " + n[9:] if len(n) > 9 else "")
    return "GB " + spaced if chance(0.7) else "GB" + spaced


NINO_FIRST = "ABCEGHJKLMNOPRSTWXYZ"
NINO_SECOND = "ABCEGHJKLMNPRSTWXYZ"
NINO_BAD = ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"]


def nino_written(ctx):
    while True:
        prefix = pick(NINO_FIRST) + pick(NINO_SECOND)
        if prefix not in NINO_BAD:
            break
    d = digits(6)
    suffix = pick("ABCD")
    if ctx != "query" and chance(0.35):
        w = prefix + " " + d[:2] + " " + d[2:4] + " " + d[4:] + " " + suffix
    else:
        w = prefix + d + suffix
    return w.lower() if chance(0.1) else w


POSTCODE_AREAS = ["SW", "SE", "EC", "WC", "W", "N", "E", "NW", "M", "B", "L", "LS", "G", "EH", "CF",
                  "BS", "OX", "CB", "BT", "AB", "CR", "DN", "NE", "S", "BN", "GU", "RG", "KT", "TW",
                  "YO", "PL", "EX", "LE", "NG", "CV", "SO", "PO", "HP", "LU", "AL"]
INWARD = "ABDEFGHJLNPQRSTUWXYZ"


def postcode():
    area = pick(POSTCODE_AREAS)
    district = str(rng.randrange(1, 10)) if chance(0.5) else str(rng.randrange(10, 30))
    if area in ("SW", "EC", "WC", "W", "N", "E") and len(district) == 1 and chance(0.3):
        district += pick("AB" if len(area) == 1 else "ABMNPRVWXY"[:4])
    if area in ("W", "E", "N") and district[-1].isalpha():
        district = district[0] + pick("ABCDEFGHJKPSTUW")
    if len(area) == 2 and district[-1].isalpha() and district[-1] not in "ABEHMNPRVWXY":
        district = district[:-1]
    if chance(0.08):
        return pick(["SW1A 1AA", "SW1A 2AA", "EC1A 1BB", "W1A 0AX", "M1 1AE", "B33 8TH",
                     "CR2 6XH", "DN55 1PT", "EH1 1YZ", "BT1 5GS"])
    return area + district + " " + str(rng.randrange(10)) + pick(INWARD) + pick(INWARD)


def postcode_written(ctx):
    pc = postcode()
    if ctx == "query":
        form = rng.random()
        if form < 0.55:
            return pc.replace(" ", "+")
        if form < 0.75:
            return pc.replace(" ", "%20")
        if form < 0.95:
            return pc.replace(" ", "")
        return pc.lower().replace(" ", "+")  # typed in lower case into a form
    return pc if chance(0.85) else pc.replace(" ", "")


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def jwt():
    header = {"alg": pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    if header["alg"] != "HS256" and chance(0.5):
        header["kid"] = hexs(16)
    payload = {"sub": str(rng.randrange(10 ** 6, 10 ** 9)), "iat": 1705300000 + rng.randrange(10 ** 7)}
    payload["exp"] = payload["iat"] + 3600
    if chance(0.5):
        payload["scope"] = pick(["read", "read write", "openid profile email", "billing:read"])
    if chance(0.3):
        payload["iss"] = "https://auth.example.com/"
    sig_len = {"HS256": 43, "RS256": 342, "ES256": 86}[header["alg"]]
    return (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
            b64url(json.dumps(payload, separators=(",", ":")).encode()) + "." +
            rand_str(B64URL, sig_len))


def opaque_token():
    return pick([
        lambda: rand_str(B64URL, rng.randrange(32, 48)) + digits(2),
        lambda: "ya29.a0" + rand_str(B64URL, 60) + digits(1),
        lambda: "ghp_" + rand_str(ALNUM, 34) + digits(2),
        lambda: hexs(40),
        lambda: "sk_live_" + rand_str(ALNUM, 22) + digits(2),
        lambda: "xoxb-" + digits(12) + "-" + digits(13) + "-" + rand_str(ALNUM, 24),
    ])()


WORDS = ["Summer", "Winter", "Dragon", "Monkey", "Sunshine", "Football", "Welcome", "Liverpool",
         "Password", "Letmein", "Chelsea", "Blue", "Purple", "Tiger", "Shadow", "Cardiff"]


def password():
    return pick([
        lambda: pick(WORDS) + str(rng.randrange(1990, 2026)) + pick(["!", "#", "", "?", "$"]),
        lambda: rand_str(ALNUM, rng.randrange(12, 20)),
        lambda: pick(WORDS).lower() + digits(3),
        lambda: rand_str(ALNUM, 6) + pick(["!", "*", "-", "_"]) + rand_str(ALNUM, 6),
        lambda: "P@ss" + pick(WORDS) + digits(2),
    ])()


def basic_credential():
    user = pick(FIRST) + pick(["", ".", "_"]) + pick(LAST) + digits(rng.randrange(0, 3))
    return base64.b64encode((user + ":" + password()).encode()).decode()


def php_session():
    return rand_str("abcdefghijklmnopqrstuv0123456789", 26)


def username():
    f, l = pick(FIRST), pick(LAST)
    return pick([f[0] + l, f + "." + l, f + l + digits(2), l + f[0] + digits(1), f + "_" + l[:3]])


def full_name():
    f, l = pick(FIRST).capitalize(), pick(LAST).capitalize()
    extra = [("Mar%C3%ADa", "Garc%C3%ADa"), ("Zo%C3%AB", "Br%C3%BCnner"), ("S%C3%B8ren", "M%C3%B8ller"),
             ("J%C3%BCrgen", "M%C3%BCller"), ("Ren%C3%A9e", "O%27Neil")]
    if chance(0.15):
        return "+".join(pick(extra))
    return f + pick(["+", "%20", "+"]) + l


# ─────────────────────────────── look-alike makers ───────────────────────────────

def chrome_version():
    major = rng.randrange(109, 127)
    if chance(0.4):
        return "%d.0.0.0" % major  # reduced user-agent string: every part a valid octet
    return "%d.0.%d.%d" % (major, rng.randrange(5400, 6500), rng.randrange(0, 230))


def version_token():
    return pick([
        lambda: "Chrome/" + chrome_version(),
        lambda: "Chrome/" + chrome_version(),
        lambda: "Edg/%d.0.%d.%d" % (rng.randrange(110, 127), rng.randrange(1500, 2500), rng.randrange(0, 120)),
        lambda: "zlib/1.2.%d.%d" % (rng.randrange(3, 9), rng.randrange(1, 5)),
        lambda: "zlib/1.2.3.4",
        lambda: "OpenSSL/%s" % pick(["1.1.1w", "3.0.13", "3.0.2", "1.0.2k-fips"]),
        lambda: "libcurl/%d.%d.%d" % (rng.randrange(7, 9), rng.randrange(0, 88), rng.randrange(0, 3)),
        lambda: "CriOS/%d.0.%d.%d" % (rng.randrange(110, 127), rng.randrange(5000, 6500), rng.randrange(0, 200)),
        lambda: "Shop/%d.%d.%d.%d" % (rng.randrange(1, 9), rng.randrange(0, 20), rng.randrange(0, 10), rng.randrange(1, 250)),
        lambda: "OPR/%d.0.0.0" % rng.randrange(100, 110),
    ])()


def ua(line):
    """A user agent with its version token labelled as a look-alike."""
    os_ = pick(["Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64",
                "Linux; Android 14; Pixel 8", "Linux; Android 13; SM-S918B"])
    kind = rng.randrange(7)
    if kind <= 2:
        v = line.keep("version", "Chrome/" + chrome_version())
        return "Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) %s Safari/537.36" % (os_, v)
    if kind == 3:
        v = line.keep("version", "Edg/%d.0.%d.%d" % (rng.randrange(110, 127), rng.randrange(1500, 2500),
                                                     rng.randrange(0, 120)))
        return "Mozilla/5.0 (%s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36 %s" % (
            os_, rng.randrange(110, 127), v)
    if kind == 4:
        v = line.keep("version", "curl/%d.%d.%d" % (rng.randrange(7, 9), rng.randrange(0, 88), rng.randrange(0, 3)))
        return v
    if kind == 5:
        v = line.keep("version", "Shop/%d.%d.%d.%d" % (rng.randrange(1, 9), rng.randrange(0, 20),
                                                      rng.randrange(0, 10), rng.randrange(1, 250)))
        return "%s (iPhone; iOS 17.%d; Scale/3.00)" % (v, rng.randrange(0, 5))
    v = line.keep("version", "CriOS/%d.0.%d.%d" % (rng.randrange(110, 127), rng.randrange(5000, 6500),
                                                  rng.randrange(0, 200)))
    return ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) %s Mobile/15E148 Safari/604.1" % v)


def ts_iso():
    return "2024-%02d-%02d %02d:%02d:%02d" % (rng.randrange(1, 13), rng.randrange(1, 29),
                                               rng.randrange(24), rng.randrange(60), rng.randrange(60))


def timestamp():
    return pick([
        ts_iso,
        lambda: ts_iso().replace(" ", "T") + "." + digits(3) + "Z",
        lambda: "2023%02d%02d%02d%02d%02d" % (rng.randrange(1, 13), rng.randrange(1, 29),
                                              rng.randrange(24), rng.randrange(60), rng.randrange(60)),
        lambda: str(rng.randrange(1690000000, 1740000000)),
        lambda: str(rng.randrange(1690000000000, 1740000000000)),
        lambda: "%02d/%s/2024:%02d:%02d:%02d +0000" % (rng.randrange(1, 29), pick(MONTHS), rng.randrange(24),
                                                     rng.randrange(60), rng.randrange(60)),
    ])()


def clock():
    return "%02d:%02d:%02d" % (rng.randrange(24), rng.randrange(60), rng.randrange(60))


def byte_count():
    return str(pick([rng.randrange(1000, 99999), rng.randrange(100000, 9999999),
                     rng.randrange(10 ** 9, 10 ** 11), 1048576, 65536, 10485760]))


def order_number():
    return pick([
        lambda: "ORD-0" + str(rng.randrange(1, 10)) + digits(8),
        lambda: "ORD-0123456789",
        lambda: "INV-2024-%06d" % rng.randrange(10 ** 6),
        lambda: "ORD-" + digits(10),
    ])()


def uuid():
    h = "%032x" % rng.getrandbits(128)
    h = h[:12] + "4" + h[13:16] + pick("89ab") + h[17:]
    return "-".join([h[:8], h[8:12], h[12:16], h[16:20], h[20:]])


def luhn_fail(sep):
    num = card_digits()
    while len(num) != 16:
        num = card_digits()
    bad = num[:-1] + str((int(num[-1]) + rng.randrange(1, 10)) % 10)
    return group_card(bad, sep) if sep else bad


def bad_nino():
    prefix = pick(NINO_BAD + ["QQ", "DA", "FY", "OO", "VA", "UB", "IZ", "AD"])
    return prefix + digits(6) + pick("ABCD")


def hex_id():
    return pick([lambda: hexs(32), lambda: hexs(16), lambda: hexs(40), lambda: hexs(12), lambda: hexs(24),
                 lambda: "0x7ff" + hexs(9)])()


def mac():
    octets = ["%02x" % rng.randrange(256) for _ in range(6)]
    form = rng.randrange(4)
    if form == 0:
        return ":".join(octets).upper()
    if form == 1:
        return ":".join(octets)
    if form == 2:
        return "-".join(octets).upper()
    return ".".join("".join(octets[i:i + 2]) for i in (0, 2, 4))


def cpp_path():
    return pick(["std::string", "std::vector<std::string>", "std::map<int, std::string>", "boost::asio::ip::tcp",
                 "tokio::runtime::Runtime", "std::io::Error", "serde_json::Value", "std::basic_string<char>::append",
                 "Illuminate\\Database\\QueryException", "App::Http::Kernel", "std::unique_ptr<Session>",
                 "hyper::Error", "std::runtime_error", "WHMCS::Billing::Invoice"])


def short_date():
    y, m, d = rng.randrange(19, 26), rng.randrange(1, 13), rng.randrange(1, 29)
    return pick(["%02d-%02d-%02d" % (y, m, d), "%02d-%02d-%02d" % (d, m, y), "%02d/%02d/%02d" % (d, m, y)])


# ─────────────────────────── planting, by type and context ───────────────────────────
#
# A planter plants one item of its kind and returns a fragment for the context:
#   "q"  a query/form parameter string (`a=b`, maybe `a=b&c=d`)
#   "t"  a phrase of free text
#   "j"  a dict of JSON members (values: str, Raw, Num, dict)
#   "sd" an RFC 5424 SD-PARAM (name, value as written unescaped), or None to fall back to "t"

def p_email(L, ctx):
    if ctx == "q":
        return pick(["email", "to", "login_email", "u", "recipient"]) + "=" + L.pii("email", email_written("query"))
    if ctx == "j":
        w = L.pii("email", email_written("json"))
        return pick([{"email": Raw(w)}, {"user": {"email": Raw(w), "id": rng.randrange(10 ** 5)}},
                     {"msg": Raw("password reset link sent to " + w)},
                     {"mail": {"to": [Raw(w)], "subject": "Invoice Payment Confirmation"}}])
    if ctx == "sd":
        return pick(["email", "user", "rcpt"]), L.pii("email", email_written("text"))
    w = L.pii("email", email_written("text"))
    return pick(["to=<%s>, relay=mx.example.net[198.51.100.25]:25, status=sent" % w,
                 "Email Sent to %s (Invoice Payment Confirmation)" % w,
                 "login failed for user %s" % w, "mailto:%s" % w, '"Customer" <%s>' % w,
                 "new ticket from %s: cannot log in" % w, "user=<%s>, method=PLAIN" % w])


def p_ipv4(L, ctx):
    ip = ipv4()
    if ctx == "q":
        return pick(["ip", "client_ip", "remote", "addr"]) + "=" + L.pii("ipv4", ip)
    if ctx == "j":
        w = L.pii("ipv4", ip)
        return pick([{"client_ip": w}, {"remote_addr": w + ":" + str(rng.randrange(1024, 65535))},
                     {"http": {"x_forwarded_for": w + ", " + pick(["10.0.0.1", "172.16.0.5"])}},
                     {"msg": "blocked " + w + " after 5 failures"}])
    if ctx == "sd":
        return pick(["src", "ip", "client"]), L.pii("ipv4", ip)
    w = L.pii("ipv4", ip)
    return pick(["Failed password for invalid user admin from %s port %d ssh2" % (w, rng.randrange(1024, 65535)),
                 "rip=%s, lip=10.0.0.5" % w, "client %s:%d connected" % (w, rng.randrange(1024, 65535)),
                 "connect from unknown[%s]" % w, "upstream http://%s:8080/api timed out" % w,
                 "IP Address: %s" % w, "banned %s." % w])


def p_ipv6(L, ctx):
    form = rng.random()
    if form < 0.15:
        addr = link_local()
        zone = pick(["%eth0", "%en0", "%wlan0", "%25eth0"] if ctx == "q" else ["%eth0", "%en0", "%wlan0", "%ens3"])
        w = addr + zone
        L.pii("ipv6", addr)
    elif form < 0.3:
        addr, _ = ipv6()
        port = str(pick([443, 8443, 8080, 22, rng.randrange(1024, 65535)]))
        w = "[" + addr + "]:" + port
        L.pii("ipv6", addr)
    else:
        addr, _ = ipv6()
        w = L.pii("ipv6", addr)
    if ctx == "q":
        return pick(["ip", "client_ip", "addr"]) + "=" + w
    if ctx == "j":
        return pick([{"client_ip": w}, {"peer": w}, {"msg": "accepted connection from " + w}])
    if ctx == "sd":
        return pick(["src", "ip6", "peer"]), w
    if w.startswith("["):
        return pick(["client %s connected" % w, "peer=%s" % w, "upstream https://%s/health failed" % w])
    return pick(["Accepted publickey for deploy from %s port 52211 ssh2" % w, "client %s connected" % w,
                 "connect from unknown[%s]" % w, "peer=%s" % w, "rip=%s, lip=::1" % w])


def p_phone_uk(L, ctx):
    if ctx == "q":
        return pick(["phone", "tel", "mobile", "phonenumber", "contact"]) + "=" + L.pii("phone_uk", phone_uk_written("query"))
    w = L.pii("phone_uk", phone_uk_written("text"))
    if ctx == "j":
        return pick([{"phone": w}, {"customer": {"phonenumber": w, "country": "GB"}},
                     {"msg": "SMS sent to " + w}, {"contact": {"mobile": w}}])
    if ctx == "sd":
        return pick(["phone", "tel", "msisdn"]), w
    return pick(["callback requested on %s" % w, "Phone: %s" % w, "call me on %s tomorrow" % w,
                 "updated phone number to %s." % w, "SMS to %s delivered" % w])


def p_phone_intl(L, ctx):
    if ctx == "q":
        return pick(["phone", "tel", "msisdn", "mobile"]) + "=" + L.pii("phone_intl", phone_intl_written("query"))
    w = L.pii("phone_intl", phone_intl_written("text"))
    if ctx == "j":
        return pick([{"phone": w}, {"customer": {"phonenumber": w}}, {"msg": "SMS sent to " + w}])
    if ctx == "sd":
        return pick(["phone", "msisdn"]), w
    return pick(["SMS to %s delivered" % w, "Phone: %s" % w, "tel:%s" % w, "customer phone %s, verified" % w])


def phone_nanp_written(ctx):
    area = pick(["212", "415", "646", "312", "617", "202", "206", "555", "800", "888", "303", "702"])
    exchange = pick(["555", digits(3)])
    number = digits(4)
    w = pick(["(%s) %s-%s", "%s-%s-%s", "%s.%s.%s", "1-%s-%s-%s", "(%s)%s-%s", "1 (%s) %s-%s"]) % (
        area, exchange, number)
    if ctx == "query":
        w = w.replace("(", "%28").replace(")", "%29").replace(" ", pick(["%20", "+"]))
    return w


def p_phone_nanp(L, ctx):
    if ctx == "q":
        return pick(["phone", "tel", "mobile", "callback"]) + "=" + L.pii("phone_nanp", phone_nanp_written("query"))
    w = L.pii("phone_nanp", phone_nanp_written("text"))
    if ctx == "j":
        return pick([{"phone": w}, {"customer": {"phonenumber": w, "country": "US"}},
                     {"msg": "SMS sent to " + w}, {"note": "call back on " + w + " after 5pm"}])
    if ctx == "sd":
        return pick(["phone", "tel"]), w
    return pick(["callback requested on %s" % w, "Phone: %s" % w, "customer called from %s" % w,
                 "updated phone number to %s." % w, "voicemail from %s, 2 min" % w])


def p_card(L, ctx):
    if ctx == "q":
        return pick(["card", "cc", "pan", "cardnum", "ccnumber"]) + "=" + L.pii("card", card_written("query"))
    if ctx == "j":
        if chance(0.5):
            num = card_digits()
            L.pii("card", num)
            return pick([{"card": Num(num)}, {"payment": {"card_number": Num(num), "amount": 49.99}},
                         {"cc": Num(num), "exp": "12/27"}])
        w = L.pii("card", card_written("text"))
        return pick([{"card_number": w}, {"payment": {"card": w, "currency": "GBP"}},
                     {"msg": "card " + w + " declined"}, {"notes": "customer read card out: " + w}])
    w = L.pii("card", card_written("text"))
    if ctx == "sd":
        return pick(["card", "pan"]), w
    return pick(["payment declined for card %s" % w, "ccnumber=%s" % w, "Card Number: %s" % w,
                 "customer sent card %s by email" % w, "pan %s exp 12/27" % w])


def p_iban(L, ctx):
    if ctx == "q":
        return pick(["iban", "account_iban", "bank_iban"]) + "=" + L.pii("iban", iban_written("query"))
    w = L.pii("iban", iban_written("text"))
    if ctx == "j":
        return pick([{"iban": w}, {"bank": {"iban": w, "bic": "NWBKGB2L"}}, {"msg": "refund to " + w + " queued"}])
    if ctx == "sd":
        return "iban", w
    return pick(["refund to IBAN %s queued" % w, "IBAN: %s" % w, "direct debit mandate %s created" % w,
                 "payout account %s" % w])


def p_bank(L, ctx):
    sc = sort_code()
    acct = digits(8)
    if ctx == "q":
        L.pii("uk_bank_account", acct)
        return pick(["sort_code=%s&account_number=%s" % (sc, acct),
                     "sortcode=%s&accountNumber=%s" % (sc.replace("-", ""), acct),
                     "sort_code=%s&acc_no=%s" % (sc, acct)])
    if ctx == "j":
        if chance(0.25):
            L.pii("uk_bank_account", acct)
            return {"bank": {"sort_code": sc, "account_number": acct}}  # split into labelled members
        L.pii("uk_bank_account", sc + " " + acct, acct)
        return pick([{"bank": sc + " " + acct}, {"msg": "payout to sort code " + sc + " account " + acct}])
    L.pii("uk_bank_account", acct)
    w = pick(["%s %s" % (sc, acct), "sort code %s, account number %s" % (sc, acct),
              "Sort Code: %s Account No: %s" % (sc, acct), "a/c %s sort code %s" % (acct, sc),
              "acct# %s" % acct, "%s/%s" % (sc, acct)])
    if ctx == "sd":
        return "bank", w
    return pick(["bank details updated: %s" % w, "BACS payment to %s" % w, "refund to %s" % w])


def p_vat(L, ctx):
    if ctx == "q":
        return pick(["vat", "vat_number", "vatid", "tax_id"]) + "=" + L.pii("vat_gb", vat_written("query"))
    if ctx == "j":
        if chance(0.15):
            n = vat_number()
            return {"company": {"vat_number": L.pii("vat_gb", n), "country": "GB"}}  # no GB prefix
        w = L.pii("vat_gb", vat_written("text"))
        return pick([{"vat_number": w}, {"company": {"vat": w}}, {"msg": "VAT number " + w + " validated"}])
    w = L.pii("vat_gb", vat_written("text"))
    if ctx == "sd":
        return "vat", w
    return pick(["VAT Reg No: %s" % w, "tax exemption check for %s ok" % w, "vat id %s" % w,
                 "Company VAT Number: %s" % w])


def p_nino(L, ctx):
    if ctx == "q":
        return pick(["nino", "ni_number", "ni"]) + "=" + L.pii("nino", nino_written("query"))
    w = L.pii("nino", nino_written("text"))
    if ctx == "j":
        return pick([{"nino": w}, {"employee": {"ni_number": w}}, {"msg": "identity check with NI " + w}])
    if ctx == "sd":
        return "nino", w
    return pick(["NI number %s verified" % w, "National Insurance: %s" % w, "nino=%s" % w])


def p_postcode(L, ctx):
    if ctx == "q":
        return pick(["postcode", "zip", "post_code", "billing_postcode"]) + "=" + L.pii("postcode_uk", postcode_written("query"))
    w = L.pii("postcode_uk", postcode_written("text"))
    if ctx == "j":
        return pick([{"address": {"postcode": w, "country": "GB"}}, {"postcode": w},
                     {"msg": "delivery to " + w + " booked"}])
    if ctx == "sd":
        return "postcode", w
    return pick(["address: 10 High Street, London %s" % w, "postcode %s not serviceable" % w,
                 "shipping to %s, UK" % w])


def p_jwt(L, ctx):
    w = L.pii("jwt", jwt())
    if ctx == "q":
        return pick(["id_token", "jwt", "t", "state"]) + "=" + w
    if ctx == "j":
        return pick([{"id_token": w}, {"claims_source": w}, {"msg": "refresh with " + w + " rejected"}])
    if ctx == "sd":
        return "jwt", w
    return pick(["invalid token %s" % w, "jwt=%s" % w, "X-Id-Token: %s" % w, "decoded %s ok" % w])


def p_auth(L, ctx):
    if ctx == "q" and chance(0.75):
        return None  # credentials travel in headers; a few clients put them in the query
    if chance(0.7):
        scheme, cred = "Bearer", opaque_token()
    else:
        scheme, cred = "Basic", basic_credential()
    L.pii("auth_credential", cred)
    if ctx == "q":
        return "authorization=" + scheme + "%20" + cred
    if ctx == "j":
        return pick([{"headers": {"Authorization": scheme + " " + cred, "Accept": "application/json"}},
                     {"request": {"authorization": scheme + " " + cred}},
                     {"msg": "upstream call with " + scheme + " " + cred + " failed: 401"}])
    if ctx == "sd":
        return "authorization", scheme + " " + cred
    return pick(["Authorization: %s %s" % (scheme, cred), "Proxy-Authorization: %s %s" % (scheme, cred),
                 "curl -H 'Authorization: %s %s' https://api.example.com/v1/me" % (scheme, cred),
                 "sent %s %s to upstream" % (scheme, cred)])


SECRET_NAMES_Q = ["password"] * 6 + ["token"] * 3 + ["access_token"] * 2 + ["api_key"] * 2 + [
    "passwd", "pwd", "refresh_token", "apikey", "client_secret", "secret", "auth_token", "new_password",
    "current_password", "X-Amz-Signature", "session_token", "pass"]


def p_secret(L, ctx):
    name = pick(SECRET_NAMES_Q)
    if name == "X-Amz-Signature":
        value = hexs(64)
    elif "token" in name or "key" in name or name == "secret":
        value = opaque_token()
    else:
        value = password()
    if ctx == "q":
        return name + "=" + L.pii("secret_param", pct(value))
    if ctx == "j":
        L.pii("secret_param", value)
        return pick([{name: value}, {"auth": {"password": value, "user": username()}},
                     {"config": {"api_key": value, "region": "eu-west-2"}}])
    if ctx == "sd":
        return None
    if chance(0.2):
        return "POST body: email_opt_in=1&password=%s&remember=1" % L.pii("secret_param", pct(value))
    L.pii("secret_param", value)
    return pick(["%s=%s" % (name, value), "%s: %s" % (name, value), "X-Api-Key: %s" % value,
                 "login attempt with %s=%s" % (name, value)])


def p_cookie(L, ctx, allow_set_cookie=True):
    if ctx in ("q", "sd"):
        return None  # cookies travel in headers
    au, fd = hexs(40) if chance(0.5) else rand_str(ALNUM, 32), hexs(32)
    name_x = "WHMCS" + rand_str(ALNUM, 12)
    sess = php_session()
    which = rng.randrange(4)
    pairs = []
    if which in (0, 3):
        pairs.append(("WHMCSAU", au))
    if which in (1, 3):
        pairs.append(("WHMCSFD", fd))
    if which in (2, 3) or not pairs:
        pairs.append((name_x, sess))
    rng.shuffle(pairs)
    for _, v in pairs:
        L.pii("whmcs_cookie", v)
    extra = pick(["", "; lang=english", "; _ga=GA1.2.%d.%d" % (rng.randrange(10 ** 9), rng.randrange(10 ** 9))])
    header = "; ".join("%s=%s" % p for p in pairs) + extra
    if ctx == "j":
        return pick([{"headers": {"Cookie": header}}, {"cookie": header},
                     {"request": {"headers": {"cookie": header, "accept": "text/html"}}}])
    if ctx == "sd":
        return None
    if allow_set_cookie and chance(0.25):
        name, v = pairs[0]
        return "Set-Cookie: %s=%s; path=/; secure; HttpOnly" % (name, v)
    return "Cookie: " + header


def p_url_password(L, ctx):
    user = pick(["app", "admin", "deploy", pick(FIRST), "billing_ro", "svc-mail"])
    pw = password()
    while user in pw:
        pw = password()
    pwq = pct(pw)
    L.pii("url_password", pwq)
    host = pick(["db.internal:5432/app", "cache.internal:6379/0", "example.com/", "mq.internal:5672/%2F",
                 "ftp.example.co.uk/uploads", "10.0.4.12:3306/whmcs"])
    scheme = pick(["postgres", "redis", "https", "amqp", "ftp", "mysql", "http"])
    url = "%s://%s:%s@%s" % (scheme, user, pwq, host)
    if ctx == "q":
        return "callback=" + url  # left unencoded, as some clients do
    if ctx == "j":
        return pick([{"dsn": url}, {"config": {"database_url": url}}, {"msg": "connecting to " + url}])
    if ctx == "sd":
        return "dsn", url
    return pick(["connecting to %s" % url, "DATABASE_URL=%s" % url, "fetch %s failed: 404" % url])


def p_name(L, ctx):
    if ctx == "sd":
        return None
    r = rng.random()
    if r < 0.4:
        q = "fullname=" + L.pii("person_name", full_name())
    elif r < 0.75:
        q = "username=" + L.pii("person_name", username())
    else:
        f, l = pick(FIRST).capitalize(), pick(LAST).capitalize()
        q = "first_name=%s&last_name=%s" % (L.pii("person_name", f + pick(["", "-Ann", "ie"])),
                                            L.pii("person_name", l + pick(["", "-Jones", "son"])))
    if ctx == "q":
        return q
    if ctx == "j":
        return pick([{"query": q}, {"request": {"body": q + "&submit=1"}}, {"msg": "POST /register.php " + q}])
    return pick(["POST body: %s" % q, "registration form: %s&country=GB" % q, "GET /search?%s" % q])


PII = {
    "email": p_email, "ipv4": p_ipv4, "ipv6": p_ipv6, "phone_uk": p_phone_uk, "phone_intl": p_phone_intl,
    "card": p_card, "iban": p_iban, "uk_bank_account": p_bank, "vat_gb": p_vat, "nino": p_nino,
    "postcode_uk": p_postcode, "jwt": p_jwt, "auth_credential": p_auth, "secret_param": p_secret,
    "whmcs_cookie": p_cookie, "url_password": p_url_password, "person_name": p_name,
}


# Look-alikes. Keys are chosen never to be secret-named (no `sid`, `token`, `session`, ...).

def k_version(L, ctx):
    v = L.keep("version", version_token())
    if ctx == "q":
        return "agent=" + v
    if ctx == "j":
        return pick([{"user_agent": "Mozilla/5.0 (X11; Linux x86_64) " + v}, {"client": v}, {"lib": v}])
    if ctx == "sd":
        return "agent", v
    return pick(["client %s negotiated TLSv1.3" % v, "built with %s" % v, "upgraded to %s" % v,
                 "curl 8.5.0 (x86_64-pc-linux-gnu) %s" % v])


def k_timestamp(L, ctx):
    t = timestamp()
    if ctx == "q":
        while "/" in t:
            t = timestamp()
        w = L.keep("timestamp", t.replace(" ", "+"))
        return pick(["since", "ts", "from", "updated"]) + "=" + w
    L.keep("timestamp", t)
    if ctx == "j":
        if t.isdigit():
            return pick([{"ts": Num(t)}, {"created": t}, {"event": {"time": Num(t)}}])
        return pick([{"time": t}, {"event": {"created_at": t}}])
    if ctx == "sd":
        return "at", t
    return pick(["scheduled for %s" % t, "last login %s" % t, "ts=%s" % t, "cron run %s finished" % t])


def k_bytes(L, ctx):
    b = L.keep("byte_count", byte_count())
    if ctx == "q":
        return pick(["size", "bytes", "length"]) + "=" + b
    if ctx == "j":
        return pick([{"bytes_sent": Num(b)}, {"http": {"response_bytes": Num(b)}}, {"size": b}])
    if ctx == "sd":
        return "bytes", b
    return pick(["sent %s bytes" % b, "size=%s" % b, "upload of %s bytes complete" % b, "Content-Length: %s" % b])


def k_order(L, ctx):
    o = L.keep("order_number", order_number())
    if ctx == "q":
        return pick(["order", "ref", "invoice"]) + "=" + o
    if ctx == "j":
        return pick([{"order_id": o}, {"order": {"number": o, "total": 19.99}}])
    if ctx == "sd":
        return "order", o
    return pick(["order %s paid" % o, "Invoice #%s created" % o, "refund for %s queued" % o])


def k_uuid(L, ctx):
    u = L.keep("uuid", uuid())
    if ctx == "q":
        return pick(["id", "request_id", "cart"]) + "=" + u
    if ctx == "j":
        return pick([{"request_id": u}, {"trace": {"id": u}}])
    if ctx == "sd":
        return "request", u
    return pick(["request_id=%s" % u, "job %s done" % u, "[%s] handled" % u])


def k_luhn(L, ctx):
    n = L.keep("luhn_fail", luhn_fail("" if ctx == "q" else pick(["", "", " ", "-"])))
    if ctx == "q":
        return pick(["ref", "tracking", "consignment"]) + "=" + n
    if ctx == "j":
        return pick([{"tracking_number": n}, {"ref": n}])
    if ctx == "sd":
        return "ref", n
    return pick(["tracking number %s" % n, "reference %s" % n, "parcel %s dispatched" % n])


def k_iban_bad(L, ctx):
    ib = iban_compact(valid=False)
    w = L.keep("iban_bad_check", ib if ctx == "q" or chance(0.5) else group4(ib))
    if ctx == "q":
        return "iban=" + w
    if ctx == "j":
        return pick([{"rejected_iban": w}, {"msg": "IBAN " + w + " failed validation"}])
    if ctx == "sd":
        return "iban", w
    return pick(["IBAN %s failed checksum" % w, "invalid IBAN %s" % w])


def k_nino_bad(L, ctx):
    n = L.keep("nino_bad_prefix", bad_nino())
    if ctx == "q":
        return "ref=" + n
    if ctx == "j":
        return pick([{"batch": n}, {"msg": "code " + n + " not recognised"}])
    if ctx == "sd":
        return "code", n
    return pick(["code %s not recognised" % n, "batch %s" % n, "part %s" % n])


def k_hex(L, ctx):
    h = L.keep("hex_id", hex_id())
    if ctx == "q":
        return pick(["trace_id", "v", "rev", "etag"]) + "=" + h
    if ctx == "j":
        return pick([{"trace_id": h}, {"span_id": h}, {"commit": h}])
    if ctx == "sd":
        return "trace", h
    return pick(["trace_id=%s" % h, "commit %s" % h, "etag %s" % h, "object %s" % h])


def k_mac(L, ctx):
    m = L.keep("mac", mac())
    if ctx == "q":
        return "mac=" + m
    if ctx == "j":
        return pick([{"mac": m}, {"device": {"hw_addr": m}}])
    if ctx == "sd":
        return "mac", m
    return pick(["DHCPREQUEST from %s via eth0" % m,
                 "link up, hwaddr %s" % m, "station %s associated" % m])


def k_time(L, ctx):
    t = L.keep("time", clock())
    if ctx == "q":
        return "at=" + t
    if ctx == "j":
        return pick([{"at": t}, {"duration": t}])
    if ctx == "sd":
        return "time", t
    return pick(["backup started at %s" % t, "elapsed %s" % t, "next run %s" % t])


def k_cpp(L, ctx):
    c = cpp_path()
    if ctx == "q":
        c = L.keep("cpp_path", pick(["std::string", "std::io::Error", "hyper::Error", "tokio::runtime::Runtime"]))
        return "type=" + c
    L.keep("cpp_path", c)
    if ctx == "j":
        return pick([{"exception": c}, {"error": {"type": c}}])
    if ctx == "sd":
        return "type", c
    return pick(["terminate called after throwing an instance of '%s'" % c, "in %s" % c,
                 "error: expected %s" % c])


def k_date(L, ctx):
    d = L.keep("short_date", short_date())
    if ctx == "q":
        return "date=" + d
    if ctx == "j":
        return pick([{"date": d}, {"backup": "db-" + d + ".sql.gz"}])
    if ctx == "sd":
        return "date", d
    return pick(["report for %s" % d, "backup-%s.tar.gz written" % d, "valid until %s" % d])


KEEP = {
    "version": k_version, "timestamp": k_timestamp, "byte_count": k_bytes, "order_number": k_order,
    "uuid": k_uuid, "luhn_fail": k_luhn, "iban_bad_check": k_iban_bad, "nino_bad_prefix": k_nino_bad,
    "hex_id": k_hex, "mac": k_mac, "time": k_time, "cpp_path": k_cpp, "short_date": k_date,
}


# A type every planted set must contain (the appended section), or None.
FORCE = None


def plant(L, ctx, n_pii, n_keep, pii_types=None):
    """Chooses kinds and plants them: returns the fragments, shuffled."""
    kinds = list(PII) if pii_types is None else pii_types
    frags = []
    chosen = rng.sample(kinds, n_pii)
    if FORCE and chosen and FORCE not in chosen:
        chosen[0] = FORCE
    for kind in chosen:
        frags.append(PII[kind](L, ctx))
    for kind in rng.sample(list(KEEP), n_keep):
        frags.append(KEEP[kind](L, ctx))
    frags = [f for f in frags if f is not None]
    rng.shuffle(frags)
    return frags


# ─────────────────────────────── line formats ───────────────────────────────

def apache_time():
    return "%02d/%s/2024:%s %s" % (rng.randrange(1, 29), pick(MONTHS), clock(), pick(["+0000", "+0100", "-0700"]))


def client_field(L):
    r = rng.random()
    if r < 0.55:
        return L.pii("ipv4", ipv4())
    if r < 0.75:
        return L.pii("ipv6", ipv6()[0])
    n = rng.randrange(2, 4)
    ips = [L.pii("ipv4", ipv4()) if chance(0.8) else L.pii("ipv6", ipv6()[0]) for _ in range(n)]
    return ", ".join(ips)


def query_string(L):
    n_pii = rng.choice([0, 1, 1, 1, 2, 2, 3])
    frags = plant(L, "q", n_pii, rng.choice([0, 1, 1, 2]))
    frags += [pick(["page=2", "lang=en", "utm_source=newsletter", "action=save", "step=3", "sort=desc"])
              for _ in range(rng.randrange(0, 2))]
    rng.shuffle(frags)
    return "&".join(frags)


def path_with_pii(L):
    r = rng.random()
    if r < 0.25:
        return "/users/%s/profile" % L.pii("email", email_written("path"))
    if r < 0.35:
        return "/unsubscribe/%s" % L.pii("email", email_written("path"))
    if r < 0.45:
        return "/api/v1/customers/by-phone/%s" % L.pii("phone_uk", phone_uk_written("text").replace(" ", ""))
    if r < 0.55:
        return "/reset-password/%s" % L.pii("jwt", jwt())
    if r < 0.65:
        return "/api/v1/orders/%s/receipt" % L.keep("uuid", uuid())
    if r < 0.75:
        return "/downloads/invoice-%s.pdf" % L.keep("order_number", order_number())
    if r < 0.85:
        return "/static/js/app.%s.js" % L.keep("hex_id", hexs(rng.choice([8, 12, 16])))
    return "/lookup/postcode/%s" % L.pii("postcode_uk", postcode().replace(" ", "%20"))


def combined(L):
    vhost = pick(["", "", "", "shop.example.co.uk:443 ", "example.com ", "billing.example.com:80 "])
    client = client_field(L)
    user = "-"
    if chance(0.3):
        user = L.pii("access_user", pick([username(), username(), email_written("text")]))
    ident = "-"
    t = apache_time()
    L.keep("timestamp", t)
    path = path_with_pii(L) if chance(0.35) else pick(PATHS)
    q = query_string(L)
    target = path + ("?" + q if q else "")
    method = pick(METHODS)
    status = pick(STATUSES)
    size = byte_count() if chance(0.7) else str(rng.randrange(0, 999))
    if len(size) >= 4:
        L.keep("byte_count", size)
    if chance(0.5):
        ref_q = query_string(L) if chance(0.5) else ""
        referrer = pick(["https://www.google.com/", "https://shop.example.co.uk" + pick(PATHS),
                         "https://billing.example.com/cart.php?a=checkout"])
        if ref_q:
            referrer += ("&" if "?" in referrer else "?") + ref_q
    else:
        referrer = "-"
    agent = ua(L)
    if chance(0.08):
        agent += " (contact: %s)" % L.pii("email", email_written("text"))
    line = '%s%s %s %s [%s] "%s %s HTTP/%s" %d %s "%s" "%s"' % (
        vhost, client, ident, user, t, method, target, pick(["1.1", "1.1", "2.0"]), status, size,
        referrer, agent)
    if chance(0.12):
        # nginx log_format with "$http_cookie" appended
        line += ' rt=0.%03d "%s"' % (rng.randrange(1000), cookie_header(L))
    return line


def cookie_header(L):
    return p_cookie(L, "t", allow_set_cookie=False)[len("Cookie: "):]


def json_line(L):
    spaced = chance(0.3)
    obj = {}
    style = rng.randrange(3)
    if style == 0:
        obj["@timestamp"] = ts_iso().replace(" ", "T") + "Z"
        obj["level"] = pick(LEVELS).lower()
    elif style == 1:
        obj["time"] = ts_iso()
        obj["severity"] = pick(LEVELS)
        obj["service"] = pick(APPS)
    else:
        obj["ts"] = Num(str(rng.randrange(1690000000, 1740000000)) + "." + digits(3))
        obj["lvl"] = pick(LEVELS)
    obj["msg"] = pick(["request completed", "payment failed", "user updated", "webhook received",
                       "login", "invoice created", "ticket opened", "Email Sent"])
    n_pii = rng.choice([1, 1, 2, 2, 3])
    for frag in plant(L, "j", n_pii, rng.choice([1, 1, 2])):
        for k, v in frag.items():
            key = k
            while key in obj:
                key = key + "_2"
            obj[key] = v
    if chance(0.2):
        obj["http"] = {"method": pick(METHODS), "url": pick(PATHS), "status": pick(STATUSES),
                       "ua": ua(L)}
    if chance(0.2):
        obj["note"] = pick(["café order", "naïve retry", "Zoë's ticket", "日本語のメッセージ"])
    line = jenc(obj, spaced)
    if chance(0.15):
        line = line.replace("/", "\\/")  # PHP's json_encode escapes slashes
        for lab in L.labels:
            lab["value"] = lab["value"].replace("/", "\\/")
    return line


def msg_text(L, ctx_frags):
    return pick(["", "", "warning: ", "error: ", "notice: "]) + pick([", ", "; ", " ", " | "]).join(ctx_frags)


def syslog3164(L):
    pri = "<%d>" % rng.randrange(0, 192) if chance(0.5) else ""
    day = rng.randrange(1, 29)
    t = clock()
    if chance(0.5):
        L.keep("time", t)
    stamp = "%s %2d %s" % (pick(MONTHS), day, t) if chance(0.7) else "%s %02d %s" % (pick(MONTHS), day, t)
    tag = pick(TAGS)
    frags = plant(L, "t", rng.choice([1, 1, 2, 2, 3]), rng.choice([0, 1, 1, 2]))
    return "%s%s %s %s[%d]: %s" % (pri, stamp, pick(HOSTS), tag, rng.randrange(100, 65000), msg_text(L, frags))


def sd_escape(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog5424(L):
    pri = "<%d>" % rng.randrange(0, 192) if chance(0.85) else ""
    stamp = ts_iso().replace(" ", "T") + pick([".%sZ" % digits(3), "Z", "+01:00", ".%s+00:00" % digits(6)])
    if chance(0.4):
        L.keep("timestamp", stamp)
    header = "%s1 %s %s %s %s %s" % (pri, stamp, pick(HOSTS), pick(APPS), pick([str(rng.randrange(100, 65000)), "-"]),
                                     pick(["ID47", "-", "audit", "login", "payment"]))
    params = []
    sd_pii = rng.choice([0, 1, 1, 2])
    for kind in rng.sample(list(PII), sd_pii):
        p = PII[kind](L, "sd")
        if p is None:
            continue
        params.append(p)
    for kind in rng.sample(list(KEEP), rng.choice([0, 1])):
        params.append(KEEP[kind](L, "sd"))
    if params:
        rng.shuffle(params)
        sd = "[%s %s]" % (pick(["meta@32473", "exampleSDID@32473", "origin", "request@41058"]),
                          " ".join('%s="%s"' % (k, sd_escape(v)) for k, v in params))
        if chance(0.2):
            sd = '[timeQuality tzKnown="1" isSynced="1"]' + sd
    else:
        sd = "-"
    frags = plant(L, "t", rng.choice([0, 1, 1, 2]), rng.choice([0, 1]))
    msg = msg_text(L, frags) if frags else pick(["", "heartbeat", "session closed"])
    return header + " " + sd + (" " + pick(["", "\ufeff"]) + msg if msg else "")


def text_line(L):
    frags = plant(L, "t", rng.choice([1, 1, 2, 2, 3]), rng.choice([0, 1, 1, 2]))
    prefix = pick([
        "[%s] production.%s: " % (ts_iso(), pick(LEVELS)),
        "%s,%s %s [%s] " % (ts_iso(), digits(3), pick(LEVELS), pick(["main", "worker-3", "http-nio-8080-exec-7"])),
        "%s " % pick(LEVELS),
        "",
        "PHP Warning:  ",
        "%s: " % pick(["billing", "checkout", "mailer", "crm", "api"]),
    ])
    return prefix + msg_text(L, frags)


FORMATS = [("combined", combined, 0.30), ("json", json_line, 0.25), ("syslog3164", syslog3164, 0.13),
           ("syslog5424", syslog5424, 0.12), ("text", text_line, 0.20)]


# ─────────────────────────────── checks and output ───────────────────────────────

def occurrences(hay, needle):
    out, i = [], hay.find(needle)
    while i >= 0:
        out.append((i, i + len(needle)))
        i = hay.find(needle, i + 1)
    return out


def sound(line, labels):
    """Every value is in the line; every look-alike occurs once and overlaps no PII value,
    and no PII value occurs inside a look-alike (else its absence would prove nothing)."""
    pii_spans = []
    for lab in labels:
        occ = occurrences(line, lab["value"])
        if not occ or not lab["value"]:
            return False
        if not lab["keep"]:
            pii_spans += occ
            # every occurrence is a planted one (else "still present" could mean the other)
            if len(occ) != sum(1 for o in labels if o["value"] == lab["value"] and not o["keep"]):
                return False
    for lab in labels:
        if lab["keep"]:
            occ = occurrences(line, lab["value"])
            if len(occ) != 1:
                return False
            s, e = occ[0]
            if any(ps < e and s < pe for ps, pe in pii_spans):
                return False
    return "\n" not in line and "\r" not in line


def main():
    global rng, FORCE
    out = sys.stdout
    out.write("# redactd accuracy corpus: generated by tests/accuracy/gen_corpus.py (seed %d); do not edit.\n" % SEED)
    out.write("# format<TAB>line (JSON string)<TAB>labels (JSON list of {type, value, keep})\n")
    write_lines(out, LINES)
    # Appended later, from a seed of its own, so the lines above stay as they were: North
    # American numbers, one or more in every line that plants personal data.
    rng = random.Random(SEED + 1)
    PII["phone_nanp"] = p_phone_nanp
    FORCE = "phone_nanp"
    write_lines(out, EXTRA_LINES)


def write_lines(out, count):
    names = [f[0] for f in FORMATS]
    weights = [f[2] for f in FORMATS]
    makers = {f[0]: f[1] for f in FORMATS}
    written = 0
    while written < count:
        fmt = rng.choices(names, weights)[0]
        while True:
            L = Line()
            line = makers[fmt](L)
            if sound(line, L.labels):
                break
        out.write("%s\t%s\t%s\n" % (fmt, json.dumps(line, ensure_ascii=False),
                                    json.dumps(L.labels, ensure_ascii=False, separators=(",", ":"))))
        written += 1


if __name__ == "__main__":
    main()
