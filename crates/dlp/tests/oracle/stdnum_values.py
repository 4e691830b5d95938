#!/usr/bin/env python3
"""Values of Sluice's identifier types judged by python-stdnum.

Prints JSON lines {"type", "text", "valid", "compare"}: for each type, random
values completed with every possible check character (stdnum's is_valid
picks the valid ones), each written compact or in stdnum's own format, plus
each valid value with one character changed, judged again by stdnum. Sluice's
test (tests/stdnum_oracle.rs) compares its own verdicts with these.

python-stdnum is LGPL and only a test oracle here: this script calls it, no
code or data of it is in the repository.

Usage: stdnum_values.py COUNT SEED
"""

import datetime
import json
import random
import string
import sys

from stdnum import bic, iban, luhn
from stdnum.au import abn, tfn
from stdnum.be import nn
from stdnum.br import cnpj, cpf
from stdnum.ca import sin
from stdnum.ch import ssn as ahv
from stdnum.cn import ric
from stdnum.de import idnr
from stdnum.dk import cpr
from stdnum.es import dni, nie
from stdnum.eu import vat
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.gb import nhs, utr
from stdnum.ie import pps
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.jp import in_ as mynumber
from stdnum.kr import rrn
from stdnum.mx import curp
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.pt import nif
from stdnum.se import personnummer
from stdnum.us import ein, itin, rtn, ssn
from stdnum.za import idnr as zaid

DIGITS = string.digits
LETTERS = string.ascii_uppercase
rnd = random.Random()


def d(n):
    return "".join(rnd.choice(DIGITS) for _ in range(n))


def letters(n, alphabet=LETTERS):
    return "".join(rnd.choice(alphabet) for _ in range(n))


def birth_date(start=1930, end=2019):
    day = datetime.date(start, 1, 1) + datetime.timedelta(days=rnd.randrange((end - start) * 365))
    return day


def ddmmyy(day):
    return day.strftime("%d%m%y")


def yymmdd(day):
    return day.strftime("%y%m%d")


def complete(template, alphabet, module_valid):
    """The template's `?` (or `??`) filled with each candidate; the valid ones."""
    if "??" in template:
        fills = ["%02d" % i for i in range(100)]
        hole = "??"
    else:
        fills = list(alphabet)
        hole = "?"
    return [template.replace(hole, f, 1) for f in fills if module_valid(template.replace(hole, f, 1))]


# Per type: a body template (with the check hole), the hole's alphabet, the
# stdnum judge, and how people write a value (None: compact only).
def templates():
    return {
        "us-ssn": (lambda: d(9), "", ssn.is_valid, ssn.format),
        "us-itin": (lambda: "9" + d(2) + str(rnd.choice(list(range(50, 66)) + list(range(70, 100)))) + d(4), "", itin.is_valid, itin.format),
        "us-ein": (lambda: d(9), "", ein.is_valid, ein.format),
        "aba-routing": (lambda: rnd.choice(["0", "1"]) + rnd.choice("012") + d(6) + "?", DIGITS, rtn.is_valid, None),
        "uk-nhs": (lambda: d(9) + "?", DIGITS, nhs.is_valid, nhs.format),
        "uk-utr": (lambda: "?" + d(9), DIGITS, utr.is_valid, None),
        "de-tax-id": (lambda: de_tax_body() + "?", DIGITS, idnr.is_valid, idnr.format),
        "fr-nir": (lambda: rnd.choice("12") + birth_date().strftime("%y%m") + rnd.choice(["%02d" % rnd.randrange(1, 96), "2A", "2B"]) + d(6) + "??", "", nir.is_valid, nir.format),
        "es-dni": (lambda: d(8) + "?", LETTERS, dni.is_valid, None),
        "es-nie": (lambda: rnd.choice("XYZ") + d(7) + "?", LETTERS, nie.is_valid, None),
        "it-fiscal-code": (fiscal_code_body, LETTERS, codicefiscale.is_valid, None),
        "nl-bsn": (lambda: str(rnd.randrange(1, 10)) + d(7) + "?", DIGITS, bsn.is_valid, bsn.format),
        "pl-pesel": (pesel_body, DIGITS, pesel.is_valid, None),
        "se-personal-number": (lambda: yymmdd(birth_date()) + d(3) + "?", DIGITS, personnummer.is_valid, personnummer.format),
        "dk-cpr": (cpr_body, "", cpr.is_valid, cpr.format),
        "fi-hetu": (hetu_body, "0123456789ABCDEFHJKLMNPRSTUVWXY", hetu.is_valid, None),
        "be-national-number": (lambda: yymmdd(birth_date(1930, 1999)) + d(3) + "??", "", nn.is_valid, nn.format),
        "ie-pps": (lambda: d(7) + "?" + rnd.choice(["", "", "A", "H"]), "WABCDEFGHIJKLMNOPQRSTUV", pps.is_valid, None),
        "pt-nif": (lambda: rnd.choice("123568") + d(7) + "?", DIGITS, nif.is_valid, None),
        "ch-ahv": (lambda: "756" + d(9) + "?", DIGITS, ahv.is_valid, ahv.format),
        "br-cpf": (lambda: d(9) + "??", "", cpf.is_valid, cpf.format),
        "br-cnpj": (lambda: d(8) + "0001" + "??", "", cnpj.is_valid, cnpj.format),
        "ca-sin": (lambda: rnd.choice("1234567") + d(7) + "?", DIGITS, sin.is_valid, sin.format),
        "mx-curp": (curp_body, DIGITS, curp.is_valid, None),
        "in-aadhaar": (lambda: rnd.choice("23456789") + d(10) + "?", DIGITS, aadhaar.is_valid, aadhaar.format),
        "in-pan": (lambda: letters(3) + rnd.choice("ABCFGHLJPT") + letters(1) + d(4) + letters(1), "", pan.is_valid, None),
        "jp-my-number": (lambda: d(11) + "?", DIGITS, mynumber.is_valid, mynumber.format),
        "au-tfn": (lambda: d(8) + "?", DIGITS, tfn.is_valid, tfn.format),
        "au-abn": (lambda: "??" + d(9), "", abn.is_valid, abn.format),
        "cn-resident-id": (lambda: rnd.choice(["110105", "310104", "440305", "510107", "330106"]) + birth_date().strftime("%Y%m%d") + d(3) + "?", DIGITS + "X", ric.is_valid, None),
        "kr-rrn": (lambda: yymmdd(birth_date(1930, 1999)) + rnd.choice("12") + "%02d" % rnd.randrange(0, 97) + d(3) + "?", DIGITS, rrn.is_valid, rrn.format),
        "za-id": (lambda: yymmdd(birth_date()) + d(4) + rnd.choice("01") + "8?", DIGITS, zaid.is_valid, None),
        "swift-bic": (lambda: letters(4) + rnd.choice(["DE", "FR", "GB", "NL", "US", "ZA", "JP", "QQ"]) + letters(2, LETTERS + DIGITS) + rnd.choice(["", "XXX", letters(3, LETTERS + DIGITS)]), "", bic.is_valid, None),
        "iban": (iban_body, "", iban.is_valid, iban.format),
        "credit-card": (card_body, DIGITS, luhn.is_valid, card_format),
        "eu-vat": (vat_body, DIGITS, vat.is_valid, None),
    }


def de_tax_body():
    # Ten digits, the first not 0, one digit twice.
    while True:
        body = str(rnd.randrange(1, 10)) + d(9)
        counts = sorted((body.count(c) for c in set(body)), reverse=True)
        if counts[0] in (2, 3) and (len(counts) < 2 or counts[1] == 1):
            return body


def fiscal_code_body():
    day = birth_date()
    month = "ABCDEHLMPRST"[day.month - 1]
    dd = day.day + rnd.choice([0, 40])
    return letters(6) + day.strftime("%y") + month + "%02d" % dd + rnd.choice(LETTERS) + d(3) + "?"


def pesel_body():
    day = birth_date(1930, 2019)
    month = day.month + (20 if day.year >= 2000 else 0)
    return day.strftime("%y") + "%02d" % month + day.strftime("%d") + d(4) + "?"


def cpr_body():
    day = birth_date(1937, 1999)
    return ddmmyy(day) + rnd.choice("0123") + d(3)


def hetu_body():
    day = birth_date()
    sign = "-" if day.year < 2000 else "A"
    return ddmmyy(day) + sign + "%03d" % rnd.randrange(2, 900) + "?"


def curp_body():
    day = birth_date(1930, 1999)
    return (letters(4) + yymmdd(day) + rnd.choice("HM") + rnd.choice(["DF", "JC", "NL", "VZ", "NE"])
            + letters(3, "BCDFGHJKLMNPQRSTVWXYZ") + rnd.choice(DIGITS) + "?")


IBAN_BBAN = {
    "DE": lambda: d(18),
    "NL": lambda: rnd.choice(["ABNA", "RABO", "INGB"]) + d(10),
    "GB": lambda: rnd.choice(["NWBK", "BARC", "MIDL"]) + d(14),
    "FR": lambda: d(10) + letters(1, LETTERS + DIGITS) + d(10) + "00",
    "ES": lambda: d(20),
    "BE": lambda: d(12),
}


def iban_body():
    country = rnd.choice(sorted(IBAN_BBAN))
    return country + "??" + IBAN_BBAN[country]()


def card_body():
    prefix, length = rnd.choice([("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3528", 16), ("36", 14), ("62", 16)])
    return prefix + d(length - len(prefix) - 1) + "?"


def card_format(number):
    if len(number) == 15:
        return " ".join((number[:4], number[4:10], number[10:]))
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


VAT_BODY = {
    "AT": lambda: "U" + d(7) + "?",
    "BE": lambda: "0" + d(8) + "??",
    "BG": lambda: d(8) + "?",
    "CY": lambda: rnd.choice("013459") + d(7) + rnd.choice(LETTERS),
    "CZ": lambda: rnd.choice("12345678") + d(6) + "?",
    "DE": lambda: str(rnd.randrange(1, 10)) + d(7) + "?",
    "DK": lambda: str(rnd.randrange(1, 10)) + d(6) + "?",
    "EE": lambda: d(8) + "?",
    "EL": lambda: d(8) + "?",
    "ES": lambda: rnd.choice(["A", "B", "X"]) + d(7) + "?",
    "FI": lambda: d(7) + "?",
    "FR": lambda: "??" + d(9),
    "HR": lambda: d(10) + "?",
    "HU": lambda: d(7) + "?",
    "IE": lambda: d(7) + rnd.choice("WABCDEFGHIJKLMNOPQRSTUV"),
    "IT": lambda: d(7) + "%03d" % rnd.randrange(1, 101) + "?",
    "LT": lambda: d(7) + "1" + "?",
    "LU": lambda: d(6) + "??",
    "LV": lambda: rnd.choice("456789") + d(9) + "?",
    "MT": lambda: str(rnd.randrange(1, 10)) + d(5) + "??",
    "NL": lambda: d(8) + "?" + "B01",
    "PL": lambda: d(9) + "?",
    "PT": lambda: rnd.choice("125689") + d(7) + "?",
    "RO": lambda: str(rnd.randrange(1, 10)) + d(rnd.randrange(1, 9)) + "?",
    "SE": lambda: d(9) + "?" + "01",
    "SI": lambda: str(rnd.randrange(1, 10)) + d(6) + "?",
    "SK": lambda: str(rnd.randrange(1, 10)) + d(1) + rnd.choice("234789") + d(6) + "?",
}


def vat_body():
    country = rnd.choice(sorted(VAT_BODY))
    return country + VAT_BODY[country]()


def mutate(value):
    """One letter or digit changed into another of its kind."""
    positions = [i for i, c in enumerate(value) if c.isalnum()]
    i = rnd.choice(positions)
    pool = DIGITS if value[i].isdigit() else LETTERS
    new = rnd.choice([c for c in pool if c != value[i]])
    return value[:i] + new + value[i + 1:]


def written(value, formatter):
    if formatter is not None and rnd.random() < 0.6:
        try:
            return formatter(value)
        except Exception:
            return value
    return value


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rnd.seed(seed)
    out = sys.stdout
    for name, (body, alphabet, is_valid, formatter) in sorted(templates().items()):
        valid = []
        tries = 0
        while len(valid) < count and tries < count * 200:
            tries += 1
            template = body()
            if "?" in template:
                found = complete(template, alphabet, is_valid)
                if found:
                    valid.append(rnd.choice(found))
            else:
                # No check character: stdnum's verdict on the random value.
                verdict = is_valid(template)
                out.write(json.dumps({"type": name, "text": written(template, formatter), "valid": verdict}) + "\n")
                if verdict:
                    valid.append(template)
        for value in valid:
            out.write(json.dumps({"type": name, "text": written(value, formatter), "valid": True}) + "\n")
            bad = mutate(value)
            out.write(json.dumps({"type": name, "text": written(bad, formatter), "valid": bool(is_valid(bad))}) + "\n")


if __name__ == "__main__":
    main()
