#!/usr/bin/env python3
"""Phone numbers written the ways people write them, and what libphonenumber makes of them.

Usage: phones.py > cases.json
Prints a JSON list of {"raw", "region", "e164"}: `region` is the default region the number is
read under ("US" for the international forms), `e164` libphonenumber's E.164 when it rates the
number valid, else null. The rule nurture documents on top of libphonenumber is applied here
too: a leading "00" is the international prefix. Pinned by .ci/run (phonenumbers==9.0.42, the
metadata of rlibphonenumber 2.2.15).
"""
import json

import phonenumbers as pn
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T

REGIONS = ["US", "CA", "GB", "DE", "FR", "AT", "CH", "IT", "ES", "NL", "BE", "SE", "NO", "DK", "PL",
           "IE", "PT", "AU", "NZ", "JP", "IN", "BR", "MX", "AR", "ZA", "EG", "SA", "AE", "MA", "TR",
           "IL", "SG", "KR", "LB", "JO"]
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def expect(raw, region):
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        n = pn.parse(text, region)
    except pn.NumberParseException:
        return None
    return pn.format_number(n, F.E164) if pn.is_valid_number(n) else None


def numbers(region):
    for kind in (T.MOBILE, T.FIXED_LINE):
        example = pn.example_number_for_type(region, kind)
        if example is None:
            continue
        yield example
        other = pn.PhoneNumber(country_code=example.country_code,
                               national_number=example.national_number + 7,
                               italian_leading_zero=example.italian_leading_zero)
        yield other


def written(n, region):
    intl = pn.format_number(n, F.INTERNATIONAL)
    e164 = pn.format_number(n, F.E164)
    national = pn.format_number(n, F.NATIONAL)
    cc = "+%d" % n.country_code
    forms = [(e164, "US"), (intl, "US"), (intl.replace(" ", "."), "US"), (intl.replace(" ", "-"), "US"),
             ("00" + intl[1:], "US"), (intl.translate(ARABIC), "US"), (national, region),
             (national.translate(ARABIC), region)]
    meta = pn.PhoneMetadata.metadata_for_region(region)
    if meta is not None and meta.national_prefix == "0" and intl.startswith(cc + " "):
        forms.append((cc + " (0)" + intl[len(cc) + 1:], "US"))
    if region not in ("US", "CA"):
        forms.append((national, "US"))  # a foreign national number read under the wrong region
    if n.country_code == 1:
        forms.append(("+1 (%s) %s" % (national[1:4], national[6:]), "US") if national.startswith("(") else (intl, "US"))
    return forms


cases = []
for region in REGIONS:
    for n in numbers(region):
        for raw, default in written(n, region):
            cases.append({"raw": raw, "region": default, "e164": expect(raw, default)})
        e164 = pn.format_number(n, F.E164)
        for raw in (e164[:-3], e164 + "999"):
            cases.append({"raw": raw, "region": "US", "e164": expect(raw, "US")})
seen = set()
unique = []
for c in cases:
    key = (c["raw"], c["region"])
    if key not in seen:
        seen.add(key)
        unique.append(c)
print(json.dumps(unique, ensure_ascii=False))
