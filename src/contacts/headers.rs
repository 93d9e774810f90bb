//! Which column is which field. Headers are matched case-, space- and punctuation-insensitively
//! against the field names and the names other tools and people use (`E-mail`, `Email
//! Address`, `Mobile Phone`, `Given Name`, `Surname`, `الجوال`, `البريد الإلكتروني`, ...);
//! `--map "Column=field"` names any other. Every other column is kept as a custom field under
//! its snake-cased header (`Pet Name` → `pet_name`).

use std::collections::HashSet;

/// Field → the header spellings (normalized: letters and digits only, lower case, Arabic
/// alef forms folded) that mean it.
const ALIASES: &[(&str, &[&str])] = &[
    ("id", &["id", "contactid", "customerid", "clientid", "recordid", "leadid"]),
    (
        "first_name",
        &[
            "firstname",
            "givenname",
            "first",
            "fname",
            "forename",
            "vorname",
            "prénom",
            "nombre",
            "الاسمالاول",
            "الاسم",
        ],
    ),
    (
        "last_name",
        &[
            "lastname",
            "surname",
            "familyname",
            "lname",
            "nachname",
            "nom",
            "apellido",
            "apellidos",
            "اسمالعائلة",
            "العائلة",
            "اللقب",
        ],
    ),
    (
        "email",
        &[
            "email",
            "emailaddress",
            "mail",
            "emailaddress1",
            "primaryemail",
            "email1",
            "email1value",
            "personalemail",
            "email2address",
            "email2value",
            "courriel",
            "correo",
            "correoelectrónico",
            "البريدالالكتروني",
            "البريد",
            "الايميل",
        ],
    ),
    (
        "phone",
        &[
            "phone",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cell",
            "cellphone",
            "cellular",
            "phonenumber",
            "telephone",
            "tel",
            "primaryphone",
            "handy",
            "telefon",
            "telefonnummer",
            "téléphone",
            "portable",
            "teléfono",
            "móvil",
            "phone1",
            "phone1value",
            "homephone",
            "phone2value",
            "businessphone",
            "otherphone",
            "الجوال",
            "رقمالجوال",
            "جوال",
            "الهاتف",
            "رقمالهاتف",
            "الموبايل",
        ],
    ),
    ("timezone", &["timezone", "tz", "zone", "المنطقةالزمنية"]),
    ("plan", &["plan", "actionplan", "الخطة"]),
    ("enrolled_on", &["enrolledon", "enrolled", "enrollmentdate", "startdate"]),
    (
        "birthday",
        &[
            "birthday",
            "birthdate",
            "dateofbirth",
            "dob",
            "geburtstag",
            "geburtsdatum",
            "datedenaissance",
            "fechadenacimiento",
            "تاريخالميلاد",
            "الميلاد",
        ],
    ),
    ("anniversary", &["anniversary", "weddinganniversary", "ذكرىالزواج"]),
    ("home_purchase", &["homepurchase", "purchasedate", "closingdate"]),
    ("source", &["source", "leadsource", "المصدر"]),
    ("agent", &["agent", "assignedto", "owner", "الوكيل", "المندوب"]),
    ("status", &["status", "stage", "leadstatus", "الحالة"]),
    ("locale", &["locale", "language", "lang", "اللغة"]),
    (
        "street",
        &[
            "street",
            "streetaddress",
            "address1",
            "addressline1",
            "homestreet",
            "businessstreet",
            "otherstreet",
            "address1street",
            "العنوان",
            "الشارع",
        ],
    ),
    (
        "city",
        &[
            "city",
            "town",
            "homecity",
            "businesscity",
            "othercity",
            "address1city",
            "stadt",
            "ort",
            "ville",
            "ciudad",
            "المدينة",
        ],
    ),
    (
        "state",
        &[
            "state",
            "province",
            "region",
            "homestate",
            "businessstate",
            "otherstate",
            "address1region",
            "المنطقة",
        ],
    ),
    (
        "postal_code",
        &[
            "postalcode",
            "zip",
            "zipcode",
            "postcode",
            "homepostalcode",
            "businesspostalcode",
            "otherpostalcode",
            "address1postalcode",
            "الرمزالبريدي",
        ],
    ),
    (
        "country",
        &[
            "country",
            "homecountryregion",
            "businesscountryregion",
            "othercountryregion",
            "countryregion",
            "address1country",
            "الدولة",
            "البلد",
        ],
    ),
    (
        "sms_consent",
        &[
            "smsconsent",
            "smsok",
            "smsoptin",
            "textok",
            "textoptin",
            "textingok",
            "consenttotext",
            "optintext",
            "optinsms",
            "موافقةالرسائل",
            "موافقةالرسائلالنصية",
        ],
    ),
];

/// What each column of a file becomes.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Per column, the field it fills (`None`: a column without a header, ignored).
    pub fields: Vec<Option<String>>,
    /// Per column, how it was chosen, for the summary: `(header, field, how)` with `how` one of
    /// `name`, `alias`, `--map`, `custom`, `fallback`.
    pub shown: Vec<(String, String, &'static str)>,
    /// Columns for a field another column fills first (`Home Phone` beside `Mobile Phone`,
    /// `Business City` beside `Home City`), best first: a row whose first column is empty
    /// takes the field from them ([`Mapping::fill_in`]).
    pub fallbacks: Vec<Fallback>,
}

/// A second column for a known field.
#[derive(Debug, Clone)]
pub struct Fallback {
    /// The field it can fill.
    pub field: &'static str,
    /// Its column.
    pub column: usize,
    /// The address it belongs to (`business`, `home`, `address2`): an address is taken
    /// whole from one of them.
    pub group: String,
    rank: usize,
}

/// The parts of an address, taken together from one column group.
const ADDRESS: [&str; 5] = ["street", "city", "state", "postal_code", "country"];

impl Mapping {
    /// Adds to a row's `(field, value)` pairs what its fallback columns give where the first
    /// column of a field is empty: the address of the best group that has one (whole, never
    /// a street from one and a city from another), else per field the best non-empty column.
    pub fn fill_in<'a>(&self, cells: &'a [String], raw: &mut Vec<(&'a str, &'a str)>) {
        if self.fallbacks.is_empty() {
            return;
        }
        let cell = |i: usize| cells.get(i).map_or("", |c| c.trim());
        let has = |raw: &[(&str, &str)], field: &str| raw.iter().any(|(f, v)| *f == field && !v.trim().is_empty());
        let is_address = |f: &Fallback| ADDRESS.contains(&f.field);
        if !ADDRESS.iter().any(|f| has(raw, f)) {
            let group = self
                .fallbacks
                .iter()
                .filter(|f| is_address(f) && !cell(f.column).is_empty())
                .map(|f| f.group.clone())
                .next();
            if let Some(group) = group {
                for f in self.fallbacks.iter().filter(|f| is_address(f) && f.group == group) {
                    if !cell(f.column).is_empty() && !has(raw, f.field) {
                        raw.push((f.field, cell(f.column)));
                    }
                }
            }
        }
        for f in self.fallbacks.iter().filter(|f| !is_address(f)) {
            if !cell(f.column).is_empty() && !has(raw, f.field) {
                raw.push((f.field, cell(f.column)));
            }
        }
    }
}

/// A header spelling reduced to what tells it apart: lower-case letters and digits (Arabic
/// alef forms and taa marbuta folded, tatweel and diacritics dropped).
pub fn fold(header: &str) -> String {
    header
        .trim_start_matches('\u{feff}')
        .chars()
        .filter_map(|c| match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => Some('ا'),
            'ى' => Some('ي'),
            'ـ' => None,
            '\u{064B}'..='\u{065F}' => None,
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The custom field name of a header: trimmed, lower-cased, runs of spaces, dashes and dots
/// become `_`.
pub fn custom_name(header: &str) -> String {
    let mut out = String::new();
    for c in header.trim().trim_start_matches('\u{feff}').chars() {
        if c.is_whitespace() || matches!(c, '-' | '.' | '/') {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The known field a header means (`E-mail` → `email`), if any.
pub fn known_field(header: &str) -> Option<&'static str> {
    known(header).map(|(field, _)| field)
}

/// The field a header means, and whether it was by the field's own name or an alias.
fn known(header: &str) -> Option<(&'static str, &'static str)> {
    let f = fold(header);
    ALIASES.iter().find_map(|(field, spellings)| {
        if fold(field) == f {
            Some((*field, "name"))
        } else if spellings.iter().any(|s| fold(s) == f) {
            Some((*field, "alias"))
        } else {
            None
        }
    })
}

/// How well `header` names its field: 0 for the field's own name, else the place of its
/// spelling in the field's list (a mobile phone before a business phone, a home address before
/// a business one).
fn rank(field: &str, header: &str) -> usize {
    let f = fold(header);
    ALIASES
        .iter()
        .find(|(name, _)| *name == field)
        .and_then(|(name, spellings)| {
            (fold(name) == f)
                .then_some(0)
                .or_else(|| spellings.iter().position(|s| fold(s) == f).map(|i| i + 1))
        })
        .unwrap_or(usize::MAX)
}

/// The address group a header names: what is left of it without the field's part
/// (`Business City` → `business`, `Address 2 - Region` → `address2`).
fn group_of(field: &str, header: &str) -> String {
    let f = fold(header);
    let part = ALIASES
        .iter()
        .find(|(name, _)| *name == field)
        .map_or(&[][..], |(_, spellings)| *spellings)
        .iter()
        .map(|s| fold(s))
        .chain(std::iter::once(fold(field)))
        .filter(|s| !s.is_empty() && f.ends_with(s.as_str()))
        .min_by_key(String::len)
        .unwrap_or_default();
    f[..f.len() - part.len()].to_string()
}

/// Maps `headers` to fields; `overrides` are the `--map "Column=field"` pairs. When several
/// columns name one field the best spelling fills it ([`rank`]); the others stay custom fields
/// and fill it in a row where it is empty ([`Mapping::fallbacks`]). Fails when an override
/// names no column, or when no column is an email or a phone (the message lists what was
/// found).
pub fn map(headers: &[String], overrides: &[(String, String)]) -> Result<Mapping, String> {
    for (column, _) in overrides {
        if !headers.iter().any(|h| h.trim() == column.trim() || fold(h) == fold(column)) {
            return Err(format!(
                "--map {column:?}: no such column (the header has: {})",
                headers.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let forced = |h: &String| {
        overrides
            .iter()
            .find(|(c, _)| h.trim() == c.trim() || fold(h) == fold(c))
            .map(|(_, f)| known(f).map_or_else(|| custom_name(f), |(k, _)| k.to_string()))
    };
    // Per known field, the column that fills it first: a --map, else the best spelling, else
    // the first such column.
    let mut first: std::collections::HashMap<String, (usize, usize)> = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let (field, r) = match (forced(h), known(h)) {
            (Some(f), _) => (f, 0),
            (None, Some((field, _))) => (field.to_string(), 1 + rank(field, h)),
            (None, None) => continue,
        };
        let best = first.entry(field).or_insert((i, r));
        if r < best.1 {
            *best = (i, r);
        }
    }
    let mut taken: HashSet<String> = HashSet::new();
    let (mut fields, mut shown, mut fallbacks) = (Vec::new(), Vec::new(), Vec::new());
    for (i, h) in headers.iter().enumerate() {
        let choice = match (forced(h), known(h)) {
            (Some(f), _) => Some((f, "--map")),
            (None, Some((field, how))) if first.get(field).is_some_and(|(c, _)| *c == i) => Some((field.to_string(), how)),
            (None, Some((field, _))) if !custom_name(h).is_empty() => {
                fallbacks.push(Fallback {
                    field,
                    column: i,
                    group: group_of(field, h),
                    rank: rank(field, h),
                });
                Some((custom_name(h), "fallback"))
            }
            _ => None,
        };
        let (field, how) = match choice {
            Some(c) => c,
            None if custom_name(h).is_empty() => {
                fields.push(None);
                continue;
            }
            None => (custom_name(h), "custom"),
        };
        taken.insert(field.clone());
        shown.push((h.clone(), field.clone(), how));
        fields.push(Some(field));
    }
    fallbacks.sort_by_key(|f| (f.rank, f.column));
    if !taken.contains("email") && !taken.contains("phone") {
        return Err(format!(
            "the header row needs an email or a phone column; found: {} — rename one (e.g. `email`, `E-mail`, `Mobile`) or map it: --map \"COLUMN=email\"",
            headers.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(Mapping { fields, shown, fallbacks })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(headers: &[&str]) -> Vec<String> {
        let h: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        map(&h, &[]).unwrap().fields.into_iter().map(|f| f.unwrap_or_default()).collect()
    }

    #[test]
    fn headers_as_tools_and_people_write_them() {
        assert_eq!(
            fields(&[
                "E-mail",
                "Mobile Phone",
                "Given Name",
                "Surname",
                "Birth Date",
                "ZIP Code",
                "Pet Name"
            ]),
            ["email", "phone", "first_name", "last_name", "birthday", "postal_code", "pet_name"]
        );
        assert_eq!(
            fields(&["Email Address", "First Name", "Last Name", "Cell"]),
            ["email", "first_name", "last_name", "phone"]
        );
        assert_eq!(
            fields(&["الاسم الأول", "اسم العائلة", "البريد الإلكتروني", "الجوال", "تاريخ الميلاد"]),
            ["first_name", "last_name", "email", "phone", "birthday"]
        );
        assert_eq!(fields(&["\u{feff}EMAIL", "phone_number"]), ["email", "phone"]);
    }

    #[test]
    fn a_second_column_for_a_field_stays_custom_and_map_wins() {
        assert_eq!(fields(&["Email", "E-mail 2", "Mail"]), ["email", "e_mail_2", "mail"]);
        // The better spelling fills the field wherever it stands; the other fills in for it.
        assert_eq!(fields(&["Business Phone", "Mobile Phone"]), ["business_phone", "phone"]);
        let h: Vec<String> = ["Name", "Mail Adresse", "Fon"].iter().map(|s| s.to_string()).collect();
        let err = map(&h, &[]).unwrap_err();
        assert!(err.contains("\"Mail Adresse\"") && err.contains("--map"), "{err}");
        let m = map(&h, &[("Mail Adresse".into(), "email".into()), ("fon".into(), "phone".into())]).unwrap();
        assert_eq!(m.shown[1], ("Mail Adresse".to_string(), "email".to_string(), "--map"));
        assert_eq!(m.fields[2].as_deref(), Some("phone"));
        assert!(map(&h, &[("Nope".into(), "email".into())]).unwrap_err().contains("no such column"));
    }

    #[test]
    fn an_address_is_taken_whole_from_the_best_group_that_has_one() {
        let h: Vec<String> = [
            "E-mail Address",
            "Business Street",
            "Business City",
            "Home Street",
            "Home City",
            "Home Postal Code",
            "Business Phone",
            "Mobile Phone",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = map(&h, &[]).unwrap();
        let row = |cells: &[&str]| {
            let cells: Vec<String> = cells.iter().map(|s| s.to_string()).collect();
            let mut raw: Vec<(String, String)> = Vec::new();
            {
                let mut pairs: Vec<(&str, &str)> = m
                    .fields
                    .iter()
                    .zip(&cells)
                    .filter_map(|(f, v)| Some((f.as_deref()?, v.as_str())))
                    .collect();
                m.fill_in(&cells, &mut pairs);
                for (f, v) in pairs.into_iter().filter(|(_, v)| !v.is_empty()) {
                    if ["street", "city", "postal_code", "phone"].contains(&f) {
                        raw.push((f.to_string(), v.to_string()));
                    }
                }
            }
            raw.sort();
            raw
        };
        let pairs = |p: &[(&str, &str)]| {
            let mut v: Vec<_> = p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            v.sort();
            v
        };
        // Home first; a row without a home address takes the business one, whole.
        assert_eq!(
            row(&[
                "a@x.com",
                "1 Office Rd",
                "Dallas",
                "2 Home Ln",
                "Plano",
                "75023",
                "+12145550100",
                ""
            ]),
            pairs(&[
                ("street", "2 Home Ln"),
                ("city", "Plano"),
                ("postal_code", "75023"),
                ("phone", "+12145550100")
            ])
        );
        assert_eq!(
            row(&["a@x.com", "1 Office Rd", "Dallas", "", "", "", "", "+12145550111"]),
            pairs(&[("phone", "+12145550111"), ("street", "1 Office Rd"), ("city", "Dallas")])
        );
        assert_eq!(group_of("city", "Business City"), "business");
        assert_eq!(group_of("state", "Address 2 - Region"), "address2");
    }
}
