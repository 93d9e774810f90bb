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
            "businessphone",
            "homephone",
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
    /// `name`, `alias`, `--map`, `custom`.
    pub shown: Vec<(String, String, &'static str)>,
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

/// Maps `headers` to fields; `overrides` are the `--map "Column=field"` pairs. A column whose
/// field an earlier column already took stays a custom field. Fails when an override names no
/// column, or when no column is an email or a phone (the message lists what was found).
pub fn map(headers: &[String], overrides: &[(String, String)]) -> Result<Mapping, String> {
    for (column, _) in overrides {
        if !headers.iter().any(|h| h.trim() == column.trim() || fold(h) == fold(column)) {
            return Err(format!(
                "--map {column:?}: no such column (the header has: {})",
                headers.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let mut taken: HashSet<String> = HashSet::new();
    let (mut fields, mut shown) = (Vec::new(), Vec::new());
    for h in headers {
        let forced = overrides
            .iter()
            .find(|(c, _)| h.trim() == c.trim() || fold(h) == fold(c))
            .map(|(_, f)| (known(f).map_or_else(|| custom_name(f), |(k, _)| k.to_string()), "--map"));
        let choice = forced.or_else(|| {
            known(h)
                .filter(|(field, _)| !taken.contains(*field))
                .map(|(field, how)| (field.to_string(), how))
        });
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
    if !taken.contains("email") && !taken.contains("phone") {
        return Err(format!(
            "the header row needs an email or a phone column; found: {} — rename one (e.g. `email`, `E-mail`, `Mobile`) or map it: --map \"COLUMN=email\"",
            headers.iter().map(|h| format!("{h:?}")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(Mapping { fields, shown })
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
        let h: Vec<String> = ["Name", "Mail Adresse", "Fon"].iter().map(|s| s.to_string()).collect();
        let err = map(&h, &[]).unwrap_err();
        assert!(err.contains("\"Mail Adresse\"") && err.contains("--map"), "{err}");
        let m = map(&h, &[("Mail Adresse".into(), "email".into()), ("fon".into(), "phone".into())]).unwrap();
        assert_eq!(m.shown[1], ("Mail Adresse".to_string(), "email".to_string(), "--map"));
        assert_eq!(m.fields[2].as_deref(), Some("phone"));
        assert!(map(&h, &[("Nope".into(), "email".into())]).unwrap_err().contains("no such column"));
    }
}
